//go:build linux

package main

import (
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/etcdtest"
)

// logLoop is the COMMAND of the fault runs: it appends the time to LOG
// every 20 ms, and ends by itself at END (Unix nanoseconds), so that an
// orphan that no one could kill does not run for ever.
const logLoop = `while :; do t=$(date +%s%N); echo "$t" >>"$1"; [ "$t" -lt "$2" ] || exit 0; sleep 0.02; done`

// overlap is what a fault run saw of the two commands.
type overlap struct {
	overlap time.Duration // the time both commands were logging
	ongoing bool          // the first holder's command still ran when the watch ended
	gap     time.Duration // with no overlap: from A's last line to B's first
}

func (o overlap) String() string {
	switch {
	case o.ongoing:
		return ">= " + secs(o.overlap) + " (A's command still running)"
	case o.overlap > 0:
		return secs(o.overlap)
	default:
		return fmt.Sprintf("0 (A's last line %s before B's first)", secs(o.gap))
	}
}

type faultRow struct {
	fault         string
	etcdctl, sole overlap
	notes         []string
}

// faults runs the two faults against etcdctl lock and sole.
func (b *bench) faults() ([]faultRow, error) {
	kc, kn, err := b.faultEtcdctl("fault-ctl-kill", syscall.SIGKILL)
	if err != nil {
		return nil, fmt.Errorf("etcdctl lock, SIGKILL: %w", err)
	}
	sc, ks, err := b.faultSole("fault-sole-kill", false)
	if err != nil {
		return nil, fmt.Errorf("sole, SIGKILL: %w", err)
	}
	kt, tn, err := b.faultEtcdctl("fault-ctl-stop", syscall.SIGSTOP)
	if err != nil {
		return nil, fmt.Errorf("etcdctl lock, SIGSTOP: %w", err)
	}
	ft, fs, err := b.faultSole("fault-sole-freeze", true)
	if err != nil {
		return nil, fmt.Errorf("sole, frozen link: %w", err)
	}
	return []faultRow{
		{fault: "SIGKILL of the holding client", etcdctl: kc, sole: sc, notes: []string{kn, ks}},
		{fault: "holder frozen (SIGSTOP etcdctl / frozen link)", etcdctl: kt, sole: ft, notes: []string{tn, fs}},
	}, nil
}

// measure waits until B's log has a line, watches both logs for
// b.observe, and returns what they show.
func (b *bench) measure(logA, logB string, ps ...*proc) (overlap, error) {
	var o overlap
	if err := waitFor(b.ttl+15*time.Second, "the second holder's first line", ps, func() (bool, error) {
		ts, err := readLog(logB)
		return len(ts) > 0, err
	}); err != nil {
		return o, err
	}
	time.Sleep(b.observe)
	now := time.Now().UnixNano()
	as, err := readLog(logA)
	if err != nil {
		return o, err
	}
	bs, err := readLog(logB)
	if err != nil {
		return o, err
	}
	if len(as) == 0 || len(bs) == 0 {
		return o, fmt.Errorf("a log is empty: A %d lines, B %d", len(as), len(bs))
	}
	lastA, firstB := slices.Max(as), slices.Min(bs)
	if d := time.Duration(lastA - firstB); d > 0 {
		o.overlap = d
	} else {
		o.gap = -d
	}
	o.ongoing = time.Duration(now-lastA) < 250*time.Millisecond
	return o, nil
}

// waitLine waits until the log at path has a line.
func waitLine(path string, ps ...*proc) error {
	return waitFor(15*time.Second, "a line in "+path, ps, func() (bool, error) {
		ts, err := readLog(path)
		return len(ts) > 0, err
	})
}

func (b *bench) loopArgs(log string) []string {
	end := time.Now().Add(60 * time.Second).UnixNano()
	return []string{"/bin/sh", "-c", logLoop, "sh", log, strconv.FormatInt(end, 10)}
}

// faultEtcdctl: A holds `etcdctl lock NAME -- logLoop`, B waits with the
// same; sig (SIGKILL or SIGSTOP) goes to A's etcdctl alone, as the kernel
// or an operator would send it, not to the command it started.
func (b *bench) faultEtcdctl(name string, sig syscall.Signal) (overlap, string, error) {
	logA, logB := b.path(name+".a"), b.path(name+".b")
	ttl := strconv.Itoa(int(b.ttl / time.Second))
	ctl := func(log string) []string {
		return append([]string{b.etcdctl, "--endpoints=" + b.addr, "lock", "--ttl", ttl, name, "--"}, b.loopArgs(log)...)
	}
	a, err := b.start("etcdctl A", name+"-a.log", nil, ctl(logA)...)
	if err != nil {
		return overlap{}, "", err
	}
	a.orphans = true
	// Its group holds the orphaned command: kill it, whatever happens.
	defer func() { a.killGroup(); a.Wait(5 * time.Second) }()
	if err := waitLine(logA, a); err != nil {
		return overlap{}, "", err
	}
	bp, err := b.start("etcdctl B", name+"-b.log", nil, ctl(logB)...)
	if err != nil {
		return overlap{}, "", err
	}
	bp.orphans = true
	defer func() { bp.killGroup(); bp.Wait(5 * time.Second) }()
	if err := b.waitContenders(name+"/", 2, a, bp); err != nil {
		return overlap{}, "", err
	}
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if sig == syscall.SIGSTOP {
		a.Freeze()
	} else {
		a.Signal(sig)
	}
	o, err := b.measure(logA, logB, bp)
	if err != nil {
		return o, "", err
	}
	bs, err := readLog(logB)
	if err != nil {
		return o, "", err
	}
	what := "its orphaned command"
	if sig == syscall.SIGSTOP {
		what = "its command"
	}
	note := fmt.Sprintf("etcdctl: %s to A's etcdctl at 0; B's command started at %s; %s ", sigName(sig), secs(time.Unix(0, slices.Min(bs)).Sub(t0)), what)
	if o.ongoing {
		note += "was still logging when the harness killed it"
	} else {
		note += "had ended"
	}
	return o, note, nil
}

// faultSole: A holds `sole run --fleet ... -- logLoop`, B waits with
// --wait. Without freeze, A's sole gets SIGKILL; with freeze, A reaches
// etcd through a proxy, which gets SIGSTOP. It returns what it saw and a
// note on A's end.
func (b *bench) faultSole(name string, freeze bool) (overlap, string, error) {
	logA, logB := b.path(name+".a"), b.path(name+".b")
	ttl := []string{"--fleet-ttl", b.ttl.String()}
	urlA := b.url
	var px *etcdtest.Proxy
	if freeze {
		// A failure is bt.Fatalf: it reports, cleans up and exits 1.
		px = etcdtest.StartProxy(bt, b.addr)
		defer px.Kill()
		urlA = "etcd://" + px.Addr()
	}
	a, err := b.start("sole A", name+"-a.log", nil, b.soleArgs(urlA, name, "a", ttl, b.loopArgs(logA)...)...)
	if err != nil {
		return overlap{}, "", err
	}
	defer a.Stop(5 * time.Second)
	if err := waitLine(logA, a); err != nil {
		return overlap{}, "", err
	}
	bp, err := b.start("sole B", name+"-b.log", nil, b.soleArgs(b.url, name, "b", append(ttl, "--wait"), b.loopArgs(logB)...)...)
	if err != nil {
		return overlap{}, "", err
	}
	defer bp.Stop(5 * time.Second)
	if err := b.waitContenders("sole/"+name+"/lock/", 2, a, bp); err != nil {
		return overlap{}, "", err
	}
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if freeze {
		px.Freeze()
	} else {
		a.Signal(syscall.SIGKILL)
	}
	o, err := b.measure(logA, logB, bp)
	if err != nil {
		return o, "", err
	}
	as, err := readLog(logA)
	if err != nil {
		return o, "", err
	}
	bs, err := readLog(logB)
	if err != nil {
		return o, "", err
	}
	lastA, firstB := time.Unix(0, slices.Max(as)), time.Unix(0, slices.Min(bs))
	if !a.Wait(10 * time.Second) {
		return o, "", fmt.Errorf("node A's sole still running 10 s after the fault")
	}
	code := a.exitCode()
	var note string
	if freeze {
		note = fmt.Sprintf("sole: link frozen at 0; A's command's last line at %s, A's sole exited %d (76: lock lost), B's command started at %s",
			secs(lastA.Sub(t0)), code, secs(firstB.Sub(t0)))
		if code != 76 {
			note += " [expected 76]"
		}
	} else {
		note = fmt.Sprintf("sole: SIGKILL to A's sole at 0; A's command's last line %s (its tree dies with sole), B's command started at %s",
			rel(lastA.Sub(t0)), secs(firstB.Sub(t0)))
	}
	return o, note, nil
}

func sigName(s syscall.Signal) string {
	if s == syscall.SIGSTOP {
		return "SIGSTOP"
	}
	return "SIGKILL"
}

// rel says where d lies from the fault: "0.02s before it", "0.01s after
// it" (log lines come every 20 ms and more).
func rel(d time.Duration) string {
	if d < 0 {
		return secs(-d) + " before it"
	}
	return secs(d) + " after it"
}
