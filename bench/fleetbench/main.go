//go:build linux

// Command fleetbench measures sole's fleet lock (sole run --fleet) on a
// real etcd of its own against its anchor, etcdctl lock, the lock that
// etcd itself ships.
//
//	go run ./bench/fleetbench [-runs 50] [-handoffs 20] [-failovers 5] [-ttl 2s] [-check=true]
//
// It measures:
//
//  1. uncontended acquire and release, as whole processes: `sole run
//     --fleet URL --name b --lock F -- true` against `etcdctl lock b --
//     true`, alternating, wall time of each. Goal: the ratio sole/etcdctl
//     of the medians at most 1.00; with -check (the default) a miss fails;
//  2. graceful handoff: from the last act of the holder's COMMAND to the
//     first act of the COMMAND of a node waiting with --wait;
//  3. failover: from SIGKILL of the holder's sole to the start of the
//     waiter's COMMAND, with --fleet-ttl 2s (bounded by the TTL);
//  4. the overlap of two holders' commands under two faults, for etcdctl
//     lock and for sole: SIGKILL of the holder's client (etcdctl's command
//     lives on, orphaned; sole's tree dies with sole), and a holder frozen
//     (etcdctl SIGSTOPped while its command runs on; for sole, its link to
//     etcd frozen by SIGSTOP of a proxy: sole stops COMMAND a margin
//     before its lease can expire and exits 76). sole's overlap must be 0:
//     more fails, -check or not.
//
// It builds sole and sole-fleet (CGO_ENABLED=0) into a temporary
// directory, starts etcd on free ports of 127.0.0.1 (never 2379 or 2380)
// and the proxy with internal/etcdtest, and stops every process it
// started by its pid or process group, on errors and SIGINT too. It exits
// 1 on a failed check or a harness error.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/etcdtest"
	"github.com/solehq/sole/internal/fsutil"
)

func main() {
	o := opts{}
	flag.IntVar(&o.runs, "runs", 50, "uncontended acquire+release runs of each of sole and etcdctl")
	flag.IntVar(&o.handoffs, "handoffs", 20, "graceful handoffs")
	flag.IntVar(&o.failovers, "failovers", 5, "failovers after SIGKILL of the holder's sole")
	flag.DurationVar(&o.ttl, "ttl", 2*time.Second, "lease TTL of the failover and fault runs (--fleet-ttl, etcdctl lock --ttl)")
	flag.DurationVar(&o.observe, "observe", time.Second, "how long a fault run watches both commands once the second one started")
	flag.BoolVar(&o.check, "check", true, "exit 1 when the ratio goal sole/etcdctl <= 1.00 is not met (a sole overlap > 0 always fails)")
	flag.Parse()
	if o.runs < 1 || o.handoffs < 1 || o.failovers < 1 || o.ttl < time.Second || o.ttl%time.Second != 0 {
		fmt.Fprintln(os.Stderr, "fleetbench: -runs, -handoffs and -failovers must be at least 1, -ttl whole seconds")
		os.Exit(2)
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	b := &bench{opts: o}
	go func() {
		s := <-sigc
		interrupted.Store(true)
		fmt.Fprintf(os.Stderr, "fleetbench: %v: stopping\n", s)
		cleanup()
		os.Exit(130)
	}()
	exit(b.main())
}

// interrupted is set once a signal stops the benchmark: what fails then
// is not reported.
var interrupted atomic.Bool

// fail reports a harness error and returns 1.
func fail(err error) int {
	bt.fail()
	if !interrupted.Load() {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
	}
	return 1
}

type opts struct {
	runs, handoffs, failovers int
	ttl, observe              time.Duration
	check                     bool
}

type bench struct {
	opts
	dir     string // temporary directory
	sole    string // sole, with sole-fleet beside it
	etcdctl string
	truebin string
	date    string
	addr    string // etcd's client address, 127.0.0.1:PORT
	url     string // etcd://127.0.0.1:PORT
}

func (b *bench) main() int {
	begin := time.Now()
	if err := b.setup(); err != nil {
		return fail(err)
	}
	fmt.Printf("fleetbench: etcd %s on %s (its own), etcdctl %s, sole and sole-fleet built from this tree (setup %s)\n",
		b.version(), b.addr, b.etcdctl, since(begin))
	var failed []string

	// 1. Uncontended.
	t := time.Now()
	ss, cs, err := b.uncontended()
	if err != nil {
		return fail(err)
	}
	ms, mc := pct(ss, 50), pct(cs, 50)
	ratio := float64(ms) / float64(mc)
	verdict := "met"
	if ratio > 1.0 {
		verdict = "not met"
		if b.check {
			failed = append(failed, "ratio goal not met")
		}
	}
	fmt.Printf("uncontended acquire+release, whole processes, %d runs of each, alternating (%s):\n", b.runs, since(t))
	fmt.Printf("  etcdctl lock b -- true:                  median %s  p90 %s  (the anchor)\n", ms4(mc), ms4(pct(cs, 90)))
	fmt.Printf("  sole run --fleet URL --name b -- true:   median %s  p90 %s\n", ms4(ms), ms4(pct(ss, 90)))
	fmt.Printf("  ratio sole/etcdctl (medians): %.3f  goal ratio <= 1.00: %s\n", ratio, verdict)

	// 2. Graceful handoff.
	t = time.Now()
	hs, stampCost, err := b.handoff()
	if err != nil {
		return fail(err)
	}
	fmt.Printf("graceful handoff, A's COMMAND's last act to waiting B's COMMAND's first, %d handoffs (%s):\n", b.handoffs, since(t))
	fmt.Printf("  p50 %s  p90 %s  max %s  (each includes ~%s, date's own exec-to-stamp)\n",
		ms4(pct(hs, 50)), ms4(pct(hs, 90)), ms4(slices.Max(hs)), ms4(stampCost))

	// 3. Failover.
	t = time.Now()
	fs, err := b.failover()
	if err != nil {
		return fail(err)
	}
	var each []string
	for _, d := range fs {
		each = append(each, secs(d))
	}
	fmt.Printf("failover, SIGKILL of the holder's sole to the waiter's COMMAND, --fleet-ttl %v, %d runs (%s):\n", b.ttl, b.failovers, since(t))
	fmt.Printf("  %s  p50 %s  max %s  (bound: the TTL, plus etcd's 0.5 s expiry sweep)\n", strings.Join(each, " "), secs(pct(fs, 50)), secs(slices.Max(fs)))

	// 4. Faults.
	t = time.Now()
	rows, err := b.faults()
	if err != nil {
		return fail(err)
	}
	fmt.Printf("overlap of two holders' commands under faults (lease TTL %v, commands log every 20 ms, watched %v after the second starts) (%s):\n", b.ttl, b.observe, since(t))
	w0, w1 := len("fault"), len("etcdctl lock overlap")
	for _, r := range rows {
		w0, w1 = max(w0, len(r.fault)), max(w1, len(r.etcdctl.String()))
	}
	fmt.Printf("  %-*s | %-*s | %s\n", w0, "fault", w1, "etcdctl lock overlap", "sole overlap")
	for _, r := range rows {
		fmt.Printf("  %-*s | %-*s | %s\n", w0, r.fault, w1, r.etcdctl.String(), r.sole.String())
		if r.sole.overlap > 0 {
			failed = append(failed, "sole overlap > 0: "+r.fault)
		}
	}
	for _, r := range rows {
		fmt.Printf("  %s:\n", r.fault)
		for _, n := range r.notes {
			fmt.Printf("    %s\n", n)
		}
	}
	if len(failed) > 0 {
		fmt.Printf("fleetbench: FAIL: %s (total %s)\n", strings.Join(failed, "; "), since(begin))
		return 1
	}
	fmt.Printf("fleetbench: ok (total %s)\n", since(begin))
	return 0
}

// setup builds the programs and starts etcd.
func (b *bench) setup() error {
	var err error
	if b.dir, err = os.MkdirTemp("", "fleetbench"); err != nil {
		return err
	}
	bt.dir = b.dir
	bt.Cleanup(func() { os.RemoveAll(b.dir) }) // the last cleanup
	if b.etcdctl, err = exec.LookPath("etcdctl"); err != nil {
		return fmt.Errorf("etcdctl (Debian package etcd-client): %w", err)
	}
	if b.truebin, err = exec.LookPath("true"); err != nil {
		return err
	}
	if b.date, err = exec.LookPath("date"); err != nil {
		return err
	}
	build, bin := filepath.Join(b.dir, "build"), filepath.Join(b.dir, "bin")
	for _, d := range []string{build, bin} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", build+"/",
		"github.com/solehq/sole/cmd/sole", "github.com/solehq/sole/cmd/sole-fleet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	// The programs run are copies of what the linker wrote, as an
	// installer would leave them (see bench/flock-ratio.sh: a binary just
	// written by the linker was seen to start slower).
	for _, name := range []string{"sole", "sole-fleet"} {
		if err := fsutil.CopyFile(filepath.Join(bin, name), filepath.Join(build, name), 0o755); err != nil {
			return err
		}
	}
	b.sole = filepath.Join(bin, "sole")
	// A failure is bt.Fatalf: it reports, cleans up and exits 1.
	c := etcdtest.Start(bt, 1)
	b.addr, b.url = c.Members[0].ClientAddr, c.URL("")
	return nil
}

// start starts argv with its standard output and error going to the log
// file LOG (appended to) in the directory, and stdin as its standard
// input (nil: /dev/null).
func (b *bench) start(name, log string, stdin *os.File, argv ...string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(b.dir, log), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, f, f
	cmd.Env = etcdtest.Environ("ETCDCTL_API=3")
	return start(name, cmd)
}

func (b *bench) path(name string) string { return filepath.Join(b.dir, name) }

// soleArgs is `sole run --fleet URL --name NAME --lock DIR/NAME-NODE.lock
// [extra...] -- command...`.
func (b *bench) soleArgs(url, name, node string, extra []string, command ...string) []string {
	a := []string{b.sole, "run", "--fleet", url, "--name", name, "--lock", b.path(name + "-" + node + ".lock")}
	a = append(a, extra...)
	return append(append(a, "--"), command...)
}

// uncontended times whole processes of each, alternating.
func (b *bench) uncontended() (sole, ctl []time.Duration, err error) {
	soleArgv := b.soleArgs(b.url, "b", "u", nil, b.truebin)
	ctlArgv := []string{b.etcdctl, "--endpoints=" + b.addr, "lock", "b", "--", b.truebin}
	timeIt := func(name string, argv []string) (time.Duration, error) {
		f, err := os.OpenFile(b.path(name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = f, f
		cmd.Env = etcdtest.Environ("ETCDCTL_API=3")
		t0 := time.Now()
		p, err := start(name, cmd)
		if err != nil {
			return 0, err
		}
		<-p.Done()
		d := time.Since(t0)
		if c := p.exitCode(); c != 0 {
			return 0, fmt.Errorf("%s exited %d: %s", strings.Join(argv, " "), c, p.output())
		}
		return d, nil
	}
	const warmup = 3
	for i := 0; i < b.runs+warmup; i++ {
		// Which goes first alternates too.
		order := []string{"sole", "etcdctl"}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, name := range order {
			argv := soleArgv
			if name == "etcdctl" {
				argv = ctlArgv
			}
			d, err := timeIt(name, argv)
			if err != nil {
				return nil, nil, err
			}
			if i < warmup {
				continue
			}
			if name == "sole" {
				sole = append(sole, d)
			} else {
				ctl = append(ctl, d)
			}
		}
	}
	return sole, ctl, nil
}

// The COMMANDs of the handoff and failover runs stamp the time (Unix
// nanoseconds) on their standard output, which sole passes on: the
// holder's as its last act, once its standard input ends; the waiter's as
// its first, by being date(1) itself (a smaller program than any Go
// helper: its exec-to-stamp is measured, see stampCost).
const holdThenStamp = `cat >/dev/null; exec date +%s%N`

// readStamp reads a stamp.
func readStamp(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: not a stamp: %q", path, b)
	}
	return time.Unix(0, ns), nil
}

// startStamping is b.start with standard output to the file out.
func (b *bench) startStamping(name, log, out string, stdin *os.File, argv ...string) (*proc, error) {
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := os.OpenFile(filepath.Join(b.dir, log), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, f, l
	return start(name, cmd)
}

// stampCost is the median, over a few runs, of the time from starting
// date +%s%N to its stamp: what every handoff figure includes of it.
func (b *bench) stampCost() (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < 11; i++ {
		out := b.path("stampcost")
		t0 := time.Now()
		p, err := b.startStamping("date", "stamp.log", out, nil, b.date, "+%s%N")
		if err != nil {
			return 0, err
		}
		<-p.Done()
		t, err := readStamp(out)
		if err != nil {
			return 0, err
		}
		ds = append(ds, t.Sub(t0))
	}
	return pct(ds, 50), nil
}

// handoff measures graceful handoffs: A holds, B waits with --wait; A's
// COMMAND stamps the time as its last act when its standard input ends,
// B's as its first.
func (b *bench) handoff() ([]time.Duration, time.Duration, error) {
	cost, err := b.stampCost()
	if err != nil {
		return nil, 0, err
	}
	var ds []time.Duration
	for i := 0; i < b.handoffs; i++ {
		d, err := b.handoffOnce("handoff" + strconv.Itoa(i))
		if err != nil {
			return nil, 0, fmt.Errorf("handoff %d: %w", i, err)
		}
		ds = append(ds, d)
	}
	return ds, cost, nil
}

// startPair starts A, holding name with COMMAND holdThenStamp, and B,
// waiting for it with COMMAND date, with the sole options extra, and
// returns once both are contenders in etcd, with the write end of A's
// COMMAND's standard input.
func (b *bench) startPair(name string, extra []string) (a, bp *proc, w *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	a, err = b.startStamping("sole A", name+"-a.log", b.path(name+".a"), r,
		b.soleArgs(b.url, name, "a", extra, "/bin/sh", "-c", holdThenStamp)...)
	r.Close()
	if err != nil {
		w.Close()
		return nil, nil, nil, err
	}
	prefix := "sole/" + name + "/lock/"
	if err = b.waitContenders(prefix, 1, a); err == nil {
		bp, err = b.startStamping("sole B", name+"-b.log", b.path(name+".b"), nil,
			b.soleArgs(b.url, name, "b", append(slices.Clip(extra), "--wait"), b.date, "+%s%N")...)
	}
	if err == nil {
		err = b.waitContenders(prefix, 2, a, bp)
	}
	if err != nil {
		w.Close()
		a.Stop(5 * time.Second)
		if bp != nil {
			bp.Stop(5 * time.Second)
		}
		return nil, nil, nil, err
	}
	// B is past its put: let it settle into its watch.
	time.Sleep(100 * time.Millisecond)
	return a, bp, w, nil
}

func (b *bench) handoffOnce(name string) (time.Duration, error) {
	a, bp, w, err := b.startPair(name, nil)
	if err != nil {
		return 0, err
	}
	defer a.Stop(5 * time.Second)
	defer bp.Stop(5 * time.Second)
	w.Close()
	for _, p := range []*proc{a, bp} {
		if !p.Wait(15 * time.Second) {
			return 0, fmt.Errorf("%s still running", p.name)
		}
		if c := p.exitCode(); c != 0 {
			return 0, fmt.Errorf("%s exited %d: %s", p.name, c, p.output())
		}
	}
	ta, err := readStamp(b.path(name + ".a"))
	if err != nil {
		return 0, err
	}
	tb, err := readStamp(b.path(name + ".b"))
	if err != nil {
		return 0, err
	}
	return tb.Sub(ta), nil
}

// failover measures SIGKILL of the holder's sole to the start of the
// waiter's COMMAND, with --fleet-ttl b.ttl.
func (b *bench) failover() ([]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < b.failovers; i++ {
		d, err := b.failoverOnce("failover" + strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("failover %d: %w", i, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func (b *bench) failoverOnce(name string) (time.Duration, error) {
	a, bp, w, err := b.startPair(name, []string{"--fleet-ttl", b.ttl.String()})
	if err != nil {
		return 0, err
	}
	defer w.Close()
	defer a.Stop(5 * time.Second)
	defer bp.Stop(5 * time.Second)
	tKill := time.Now()
	a.Signal(syscall.SIGKILL)
	if !bp.Wait(b.ttl + 15*time.Second) {
		return 0, fmt.Errorf("node B still waiting %v after the kill", b.ttl+15*time.Second)
	}
	if c := bp.exitCode(); c != 0 {
		return 0, fmt.Errorf("node B exited %d: %s", c, bp.output())
	}
	tb, err := readStamp(b.path(name + ".b"))
	if err != nil {
		return 0, err
	}
	// A's COMMAND must have died with A's sole: were it alive, the end
	// of its standard input would make it stamp.
	w.Close()
	time.Sleep(50 * time.Millisecond)
	if _, err := readStamp(b.path(name + ".a")); err == nil {
		return 0, fmt.Errorf("node A's COMMAND outlived the SIGKILL of A's sole")
	}
	return tb.Sub(tKill), nil
}

// pct is the q-th percentile of ds, nearest rank.
func pct(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func since(t time.Time) string { return secs(time.Since(t)) }

func ms4(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// readLog reads a log of Unix nanosecond times, one a line; a partial last
// line is left out.
func readLog(path string) ([]int64, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ts []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err == nil {
			ts = append(ts, n)
		}
	}
	return ts, sc.Err()
}
