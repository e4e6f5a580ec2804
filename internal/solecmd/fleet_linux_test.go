package solecmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/etcdtest"
	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/internal/testenv"
)

// The fleet lock against a real etcd: several nodes on this machine, each
// with a lock directory of its own (--lock) and the one fleet lock
// (--name), run a COMMAND that logs its start, a heartbeat every 20 ms
// and its end to one shared log, stamped by the one shared clock.

// beatScript logs "start NODE TOKEN NS", "beat NODE TOKEN NS" every 20 ms
// and "end NODE TOKEN NS" when it is stopped with SIGTERM; with a duration
// ($3 seconds, in tenths of a beat count), it exits 0 by itself. Its own
// children (sleep) are part of its tree.
const beatScript = `log=$1 node=$2 beats=$3
tok=${SOLE_FENCING_TOKEN:-${ETCD_LOCK_REV:-0}}
stamp() { echo "$1 $node $tok $(date +%s%N)" >>"$log"; }
trap 'stamp end; exit 3' TERM
stamp start
echo $$ >"$log.$node.pid"
i=0
while [ "$beats" = 0 ] || [ $i -lt "$beats" ]; do
	stamp beat
	sleep 0.02 &
	echo $! >"$log.$node.child"
	wait $!
	i=$((i+1))
done
stamp end`

// node is one `sole run --fleet` process.
type node struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// startNode starts sole run --fleet url --name job --lock DIR/NAME.lock
// [args] -- beatScript, logging to logPath; beats 0 runs until stopped.
func startNode(t *testing.T, url, logPath, name string, beats int, args ...string) *node {
	t.Helper()
	dir := filepath.Dir(logPath)
	argv := append([]string{"run", "--fleet", url, "--name", "job", "--lock", filepath.Join(dir, name+".lock")}, args...)
	argv = append(argv, "--", "sh", "-c", beatScript, "sh", logPath, name, strconv.Itoa(beats))
	n := &node{name: name, cmd: soleCmd(argv...), done: make(chan struct{})}
	n.cmd.Stderr = &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	return n
}

// startPair starts the fault tests' two nodes, with a lease of 2 s: a,
// through holderURL, once it holds the lock and its COMMAND runs; then b,
// through waiterURL, standing by with --wait.
func startPair(t *testing.T, holderURL, waiterURL, logPath string) (a, b *node) {
	t.Helper()
	a = startNode(t, holderURL, logPath, "a", 0, "--fleet-ttl", "2s")
	waitFile(t, logPath+".a.pid")
	b = startNode(t, waiterURL, logPath, "b", 0, "--fleet-ttl", "2s", "--wait")
	time.Sleep(500 * time.Millisecond) // b stands by
	return a, b
}

// wait waits for the node's sole to exit and returns its exit code.
func (n *node) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-n.done:
		return exitCode(n.err)
	case <-time.After(limit):
		t.Fatalf("node %s still running after %v; stderr:\n%s", n.name, limit, n.stderr.String())
		return -1
	}
}

// event is a line of the shared log.
type event struct {
	kind, node string
	token      int64
	at         time.Time
}

func readEvents(t *testing.T, logPath string) []event {
	t.Helper()
	f, err := os.Open(logPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 {
			// date was stopped with its shell: a line with no time.
			continue
		}
		if len(fs) != 4 {
			t.Fatalf("bad log line %q", sc.Text())
		}
		tok, _ := strconv.ParseInt(fs[2], 10, 64)
		ns, _ := strconv.ParseInt(fs[3], 10, 64)
		evs = append(evs, event{fs[0], fs[1], tok, time.Unix(0, ns)})
	}
	return evs
}

// span is one COMMAND's run, from its start to its last line.
type span struct {
	node       string
	token      int64
	start, end time.Time
}

// spans groups the log by run (a node and token), in order of start.
func spans(evs []event) []span {
	var out []span
	idx := map[string]int{}
	for _, e := range evs {
		k := e.node + "/" + strconv.FormatInt(e.token, 10)
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, span{node: e.node, token: e.token, start: e.at, end: e.at})
			continue
		}
		if e.at.After(out[i].end) {
			out[i].end = e.at
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	return out
}

// checkNoOverlap fails t if two runs overlap, or a later run has a token
// not above an earlier one's.
func checkNoOverlap(t *testing.T, ss []span) {
	t.Helper()
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		if !b.start.After(a.end) {
			t.Errorf("overlap: %s (token %d) ran until %s, %s (token %d) started at %s",
				a.node, a.token, a.end.Format("15:04:05.000000"), b.node, b.token, b.start.Format("15:04:05.000000"))
		}
		if b.token <= a.token {
			t.Errorf("token did not rise: %s had %d, then %s had %d", a.node, a.token, b.node, b.token)
		}
	}
}

func fleetDir(t *testing.T) (dir, logPath string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "log")
}

// TestFleetManyRounds: three nodes take turns with --wait, round after
// round: never two COMMANDs at once, and the tokens rise.
func TestFleetManyRounds(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	const rounds = 8
	var nodes []*node
	for r := 0; r < rounds; r++ {
		for _, name := range []string{"n1", "n2", "n3"} {
			nodes = append(nodes, startNode(t, c.URL("rounds"), logPath, name+"r"+strconv.Itoa(r), 3, "--wait", "--timeout", "60s"))
		}
	}
	for _, n := range nodes {
		if code := n.wait(t, 90*time.Second); code != 0 {
			t.Errorf("node %s exited %d:\n%s", n.name, code, n.stderr.String())
		}
	}
	ss := spans(readEvents(t, logPath))
	if len(ss) != len(nodes) {
		t.Fatalf("%d runs logged, want %d", len(ss), len(nodes))
	}
	checkNoOverlap(t, ss)
	var gaps []time.Duration
	for i := 1; i < len(ss); i++ {
		gaps = append(gaps, ss[i].start.Sub(ss[i-1].end))
	}
	slices.Sort(gaps)
	t.Logf("%d runs, handoff gap from one COMMAND's last line to the next one's first: median %v, max %v",
		len(ss), gaps[len(gaps)/2], gaps[len(gaps)-1])
}

// TestFleetBusy: without --wait, a second node exits 75 at once with one
// line naming the holder; COMMAND's exit status passes through, and
// COMMAND gets the token.
func TestFleetBusy(t *testing.T) {
	c := etcdtest.Start(t, 1)
	dir, logPath := fleetDir(t)
	holder := startNode(t, c.URL(""), logPath, "a", 0)
	waitFile(t, logPath+".a.pid")
	out, err := soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "--", "true").CombinedOutput()
	if code := exitCode(err); code != cli.ExitTempFail {
		t.Errorf("second node exited %d, want 75:\n%s", code, out)
	}
	want := fmt.Sprintf("sole: job is already running, across the fleet (pid %d on ", holder.cmd.Process.Pid)
	if !strings.HasPrefix(string(out), want) || strings.Count(string(out), "\n") != 1 {
		t.Errorf("second node said %q, want one line starting %q", out, want)
	}
	// -q: no line; -E: its own code.
	out, err = soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "-q", "-E", "0", "--", "true").CombinedOutput()
	if code := exitCode(err); code != 0 || len(out) != 0 {
		t.Errorf("-q -E 0: exit %d, %q", code, out)
	}
	// --wait --timeout: 75 once the time is up, naming the holder.
	start := time.Now()
	out, err = soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "--wait", "--timeout", "1s", "--", "true").CombinedOutput()
	if code := exitCode(err); code != cli.ExitTempFail || !strings.Contains(string(out), "sole: job is still running after 1s, across the fleet (pid "+strconv.Itoa(holder.cmd.Process.Pid)+" on ") {
		t.Errorf("--wait --timeout 1s: exit %d:\n%s", code, out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("--timeout 1s took %v", took)
	}
	// A signal ends the wait: 128+N, one line, the lease given back.
	w := soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "--wait", "-q", "--", "true")
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_ = w.Process.Signal(syscall.SIGINT)
	if code := exitCode(w.Wait()); code != 130 || !strings.Contains(werr.String(), "sole: job: gave up waiting for the fleet lock: interrupted by interrupt") {
		t.Errorf("SIGINT while waiting: exit %d:\n%s", code, werr.String())
	}
	if st, _ := soleCmd("status", "--fleet", c.URL(""), "job").Output(); strings.Contains(string(st), "waiting") {
		t.Errorf("the interrupted waiter is still a contender:\n%s", st)
	}
	_ = holder.cmd.Process.Signal(syscall.SIGTERM)
	if code := holder.wait(t, 10*time.Second); code != 3 {
		t.Errorf("holder exited %d, want COMMAND's 3:\n%s", code, holder.stderr.String())
	}
	out, err = soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "--", "sh", "-c", `echo "$SOLE_FENCING_TOKEN"; exit 7`).Output()
	if code := exitCode(err); code != 7 {
		t.Errorf("exit %d, want 7", code)
	}
	tok, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || tok <= readEvents(t, logPath)[0].token {
		t.Errorf("second token %q is not above the first's %d", out, readEvents(t, logPath)[0].token)
	}
}

// TestFleetHolderKilled: SIGKILL of the holder's sole ends COMMAND and
// its child at once, and a waiter takes over within TTL + 1 s.
func TestFleetHolderKilled(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	a, b := startPair(t, c.URL(""), c.URL(""), logPath)
	pid := readPid(t, logPath+".a.pid")
	child := readPid(t, logPath+".a.child")
	killed := time.Now()
	_ = a.cmd.Process.Kill()
	a.wait(t, 5*time.Second)
	for _, p := range []int{pid, child} {
		if !goneWithin(p, 200*time.Millisecond) {
			t.Errorf("pid %d of the killed holder's tree still runs", p)
		}
	}
	waitFile(t, logPath+".b.pid")
	took := time.Since(killed)
	t.Logf("failover after SIGKILL: %v", took)
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	b.wait(t, 10*time.Second)
	if took > 3*time.Second {
		t.Errorf("the waiter took over %v after the kill, want within TTL + 1 s; the waiter said:\n%s", took, b.stderr.String())
	}
	checkNoOverlap(t, spans(readEvents(t, logPath)))
}

func readPid(t *testing.T, p string) int {
	t.Helper()
	waitFile(t, p)
	for range 100 {
		b, _ := os.ReadFile(p)
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", p)
	return 0
}

// goneWithin reports whether process pid is gone (or a zombie) within
// limit. The pids are those of processes the test's own children started.
func goneWithin(pid int, limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			return true
		}
	}
	return false
}

// TestFleetFrozenLink: the holder reaches etcd through a proxy that
// freezes (no reset, no byte forwarded): its COMMAND is stopped before the
// waiter's starts, and it exits 76.
func TestFleetFrozenLink(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	p := etcdtest.StartProxy(t, c.Members[0].ClientAddr)
	a, b := startPair(t, "etcd://"+p.Addr(), c.URL(""), logPath)
	p.Freeze()
	frozen := time.Now()
	if code := a.wait(t, 10*time.Second); code != cli.ExitLockLost {
		t.Errorf("holder exited %d, want 76:\n%s", code, a.stderr.String())
	}
	if !strings.Contains(a.stderr.String(), "sole: job: fleet lock lost") {
		t.Errorf("holder said:\n%s", a.stderr.String())
	}
	stopped := time.Since(frozen)
	waitFile(t, logPath+".b.pid")
	t.Logf("frozen link (TTL 2s): holder's sole exited %v after the freeze, the waiter's COMMAND started %v after", stopped, time.Since(frozen))
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	b.wait(t, 10*time.Second)
	ss := spans(readEvents(t, logPath))
	checkNoOverlap(t, ss)
	if len(ss) == 2 {
		t.Logf("gap between the stopped holder's last line and the waiter's first: %v", ss[1].start.Sub(ss[0].end))
	}
	p.Thaw()
}

// TestFleetFrozenSole: the holder's sole itself is frozen (SIGSTOP), so
// that it can neither keep the lease alive nor stop COMMAND: its guard
// kills COMMAND's tree before the lease can expire, and the waiter starts
// only after that. Thawed, sole says what happened and exits 76.
func TestFleetFrozenSole(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	a, b := startPair(t, c.URL(""), c.URL(""), logPath)
	_ = a.cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	pid := readPid(t, logPath+".a.pid")
	if !goneWithin(pid, 3*time.Second) {
		t.Errorf("COMMAND of the frozen sole still runs after 3 s")
	}
	t.Logf("frozen sole: COMMAND killed by the guard %v after the freeze", time.Since(frozen))
	waitFile(t, logPath+".b.pid")
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	if code := a.wait(t, 10*time.Second); code != cli.ExitLockLost || !strings.Contains(a.stderr.String(), "fleet lock lost") {
		t.Errorf("thawed holder exited %d, want 76:\n%s", code, a.stderr.String())
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	b.wait(t, 10*time.Second)
	ss := spans(readEvents(t, logPath))
	checkNoOverlap(t, ss)
	if len(ss) == 2 {
		t.Logf("gap between the frozen holder's last line and the waiter's first: %v", ss[1].start.Sub(ss[0].end))
	}
}

// TestFleetMemberKilled: the leader of three members is killed, the
// worst member to lose (keepalives fail until a new one is elected): the
// holder keeps the lock, with no spurious loss, for more than a TTL after.
func TestFleetMemberKilled(t *testing.T) {
	c := etcdtest.Start(t, 3)
	_, logPath := fleetDir(t)
	a := startNode(t, c.URL(""), logPath, "a", 0)
	waitFile(t, logPath+".a.pid")
	leader := c.Leader(t)
	leader.Kill()
	t.Logf("killed the leader, %s", leader.Name)
	select {
	case <-a.done:
		t.Fatalf("holder exited after the leader was killed:\n%s", a.stderr.String())
	case <-time.After(12 * time.Second):
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 10*time.Second); code != 3 {
		t.Errorf("holder exited %d, want COMMAND's 3:\n%s", code, a.stderr.String())
	}
	if strings.Contains(a.stderr.String(), "lost") {
		t.Errorf("holder said:\n%s", a.stderr.String())
	}
}

// TestFleetClusterDown: the whole cluster goes down: the holder stops
// COMMAND before its lease could have expired, and exits 76.
func TestFleetClusterDown(t *testing.T) {
	c := etcdtest.Start(t, 3)
	_, logPath := fleetDir(t)
	a := startNode(t, c.URL(""), logPath, "a", 0, "--fleet-ttl", "3s")
	waitFile(t, logPath+".a.pid")
	time.Sleep(1500 * time.Millisecond)
	down := time.Now()
	for _, m := range c.Members {
		m.Kill()
	}
	if code := a.wait(t, 10*time.Second); code != cli.ExitLockLost {
		t.Fatalf("holder exited %d, want 76:\n%s", code, a.stderr.String())
	}
	ss := spans(readEvents(t, logPath))
	end := ss[len(ss)-1].end
	// sole says when the lease can expire at the earliest: the send time
	// of its last acknowledged keepalive plus the TTL (before which the
	// server cannot expire it: TestDeadlineBeforeServerExpiry in
	// internal/fleet/etcdlock). COMMAND's last line came before that, and
	// before down + TTL, a bound that holds whatever sole says.
	m := regexp.MustCompile(`the lease can expire at (\d\d:\d\d:\d\d\.\d\d\d)`).FindStringSubmatch(a.stderr.String())
	if m == nil {
		t.Fatalf("holder did not say when the lease can expire:\n%s", a.stderr.String())
	}
	clock, _ := time.ParseInLocation("15:04:05.000", m[1], time.Local)
	y, mo, d := down.Date()
	expiry := time.Date(y, mo, d, clock.Hour(), clock.Minute(), clock.Second(), clock.Nanosecond(), time.Local)
	if !end.Before(expiry) || !end.Before(down.Add(3*time.Second)) || expiry.After(down.Add(3*time.Second)) {
		t.Errorf("COMMAND's last line %v after the cluster went down, the lease could expire %v after; want the line first, both within the TTL, 3s",
			end.Sub(down), expiry.Sub(down))
	}
	t.Logf("cluster down: COMMAND's last line %v after, the lease could expire %v after, sole's exit %v after",
		end.Sub(down).Round(time.Millisecond), expiry.Sub(down).Round(time.Millisecond), time.Since(down).Round(time.Millisecond))
}

// TestFleetGracefulHandoff: when the holder's COMMAND ends, the waiter's
// starts within 100 ms (the lease is revoked, not left to expire).
func TestFleetGracefulHandoff(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	a := startNode(t, c.URL(""), logPath, "a", 10)
	waitFile(t, logPath+".a.pid")
	b := startNode(t, c.URL(""), logPath, "b", 1, "--wait")
	a.wait(t, 10*time.Second)
	b.wait(t, 10*time.Second)
	ss := spans(readEvents(t, logPath))
	if len(ss) != 2 {
		t.Fatalf("%d runs", len(ss))
	}
	checkNoOverlap(t, ss)
	if gap := ss[1].start.Sub(ss[0].end); gap > 100*time.Millisecond {
		t.Errorf("the waiter started %v after the holder's end, want within 100 ms", gap)
	} else {
		t.Logf("graceful handoff: %v", gap)
	}
}

// TestFleetUnreachable: etcd that does not answer is exit 69 with one
// line; with --wait, sole keeps trying until --timeout, or until etcd
// comes.
func TestFleetUnreachable(t *testing.T) {
	dir, _ := fleetDir(t)
	// A port nobody listens on: one the harness found free.
	c := etcdtest.Start(t, 1)
	addr := c.Members[0].ClientAddr
	c.StopAll()
	url := "etcd://" + addr
	start := time.Now()
	out, err := soleCmd("run", "--fleet", url, "--name", "job", "--lock", filepath.Join(dir, "a.lock"), "--", "true").CombinedOutput()
	if code := exitCode(err); code != cli.ExitUnavailable {
		t.Errorf("exit %d, want 69:\n%s", code, out)
	}
	if !strings.HasPrefix(string(out), "sole: job: etcd at "+addr+" cannot be reached: ") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("said %q", out)
	}
	t.Logf("unreachable reported after %v", time.Since(start))
	out, err = soleCmd("run", "--fleet", url, "--name", "job", "--lock", filepath.Join(dir, "a.lock"), "--wait", "--timeout", "2s", "-q", "--", "true").CombinedOutput()
	if code := exitCode(err); code != cli.ExitUnavailable || !strings.Contains(string(out), "gave up after 2s") {
		t.Errorf("--wait --timeout 2s: exit %d:\n%s", code, out)
	}
	// --wait outlasts an outage: etcd comes back on the same port.
	cmd := soleCmd("run", "--fleet", url, "--name", "job", "--lock", filepath.Join(dir, "a.lock"), "--wait", "--timeout", "60s", "--", "true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c.Members[0].Restart(t)
	if err := cmd.Wait(); err != nil {
		t.Errorf("--wait through an outage: %v\n%s", err, stderr.String())
	}
}

// TestFleetStatus: sole status --fleet and sole list --fleet show the
// holder (host, pid, since, token) and the waiters, as text and JSON, with
// the LSB codes; an etcd that cannot be reached is 4 with one line.
func TestFleetStatus(t *testing.T) {
	c := etcdtest.Start(t, 1)
	_, logPath := fleetDir(t)
	url := c.URL("st")
	a := startNode(t, url, logPath, "a", 0)
	waitFile(t, logPath+".a.pid")
	b := startNode(t, url, logPath, "b", 0, "--wait", "-q")
	host, _ := os.Hostname()
	var out []byte
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		out, _ = soleCmd("status", "--fleet", url, "job").Output()
		if strings.Contains(string(out), "1 waiting") {
			break
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	wantHolder := fmt.Sprintf("job is running across the fleet (pid %d on %s, since ", a.cmd.Process.Pid, host)
	wantWaiter := fmt.Sprintf("job: waiting: pid %d on %s, since ", b.cmd.Process.Pid, host)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], wantHolder) || !strings.HasSuffix(lines[0], "; 1 waiting") || !strings.HasPrefix(lines[1], wantWaiter) {
		t.Errorf("sole status --fleet said:\n%s\nwant %q... and %q...", out, wantHolder, wantWaiter)
	}
	tok := readEvents(t, logPath)[0].token
	if !strings.Contains(lines[0], fmt.Sprintf(", token %d)", tok)) {
		t.Errorf("status does not give the holder's token %d: %s", tok, lines[0])
	}
	out, err := soleCmd("status", "--fleet", url, "--json", "job").Output()
	var st struct {
		Name, State string
		Running     bool
		Holder      struct {
			Host  string
			PID   int
			Since time.Time
			Token int64
		}
		Waiters []struct{ PID int }
	}
	if err != nil || json.Unmarshal(out, &st) != nil {
		t.Fatalf("status --json: %v: %s", err, out)
	}
	if st.Name != "job" || st.State != "running" || !st.Running || st.Holder.PID != a.cmd.Process.Pid || st.Holder.Host != host ||
		st.Holder.Token != tok || time.Since(st.Holder.Since) > time.Minute || len(st.Waiters) != 1 || st.Waiters[0].PID != b.cmd.Process.Pid {
		t.Errorf("status --json: %s", out)
	}
	out, err = soleCmd("list", "--fleet", url).Output()
	if err != nil || !strings.HasPrefix(string(out), wantHolder) {
		t.Errorf("list --fleet: %v:\n%s", err, out)
	}
	out, err = soleCmd("list", "--fleet", url, "-j").Output()
	var all []json.RawMessage
	if err != nil || json.Unmarshal(out, &all) != nil || len(all) != 1 {
		t.Errorf("list --fleet -j: %v:\n%s", err, out)
	}
	for name, tt := range map[string]struct {
		args []string
		code int
		out  string
	}{
		"free":              {[]string{"status", "--fleet", url, "free"}, cli.StatusNotRunning, "free is not running across the fleet\n"},
		"other prefix":      {[]string{"list", "--fleet", c.URL("elsewhere")}, 0, ""},
		"other prefix json": {[]string{"list", "--fleet", c.URL("elsewhere"), "--json"}, 0, "[]\n"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := soleCmd(tt.args...).CombinedOutput()
			if code := exitCode(err); code != tt.code || string(out) != tt.out {
				t.Errorf("exit %d, %q; want %d, %q", code, out, tt.code, tt.out)
			}
		})
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	a.wait(t, 10*time.Second)
	b.wait(t, 10*time.Second)
}

// TestFleetTLS: a cluster that takes only TLS clients with a certificate
// its CA signed: --fleet-cacert, --fleet-cert and --fleet-key reach it;
// without the client certificate, or without TLS, sole cannot.
func TestFleetTLS(t *testing.T) {
	c := etcdtest.StartTLS(t, 1)
	c.Etcdctl(t, "put", "probe", "1")
	dir := t.TempDir()
	tls := []string{"--fleet-cacert", c.TLS.CACert, "--fleet-cert", c.TLS.Cert, "--fleet-key", c.TLS.Key}
	run := func(extra ...string) (string, int) {
		args := append([]string{"run", "--fleet", c.URL("tls"), "--name", "job", "--lock", filepath.Join(dir, "a.lock")}, extra...)
		args = append(args, "--", "sh", "-c", `echo "token $SOLE_FENCING_TOKEN"`)
		out, err := soleCmd(args...).CombinedOutput()
		return string(out), exitCode(err)
	}
	if out, code := run(tls...); code != 0 || !strings.HasPrefix(out, "token ") {
		t.Errorf("with TLS: exit %d:\n%s", code, out)
	}
	for name, tt := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no client certificate": {[]string{"--fleet-cacert", c.TLS.CACert}, cli.ExitUnavailable, "cannot be reached: remote error: tls: "},
		"no TLS":                {nil, cli.ExitUnavailable, "give --fleet-cacert"},
		"another CA":            {[]string{"--fleet-cacert", c.TLS.Cert, "--fleet-cert", c.TLS.Cert, "--fleet-key", c.TLS.Key}, cli.ExitUnavailable, "certificate signed by unknown authority"},
		"not a CA file":         {[]string{"--fleet-cacert", c.TLS.Key, "--fleet-cert", c.TLS.Cert, "--fleet-key", c.TLS.Key}, cli.ExitFailure, "no PEM certificate in it"},
		"key for another cert":  {[]string{"--fleet-cacert", c.TLS.CACert, "--fleet-cert", c.TLS.CACert, "--fleet-key", c.TLS.Key}, cli.ExitFailure, "--fleet-cert/--fleet-key:"},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) || strings.Count(out, "\n") != 1 || strings.Contains(out, "token") {
				t.Errorf("exit %d, want %d with one line saying %q:\n%s", code, tt.code, tt.want, out)
			}
		})
	}
	// sole status --fleet takes the same options.
	out, err := soleCmd(append([]string{"status", "--fleet", c.URL("tls"), "job"}, tls...)...).CombinedOutput()
	if code := exitCode(err); code != cli.StatusNotRunning {
		t.Errorf("status with TLS: exit %d:\n%s", code, out)
	}
}

// TestFleetAuth: with etcd's authentication on, the user and password
// come from SOLE_FLEET_USER and SOLE_FLEET_PASSWORD (or USER:PASSWORD in
// the first), never from the command line; a wrong or missing one is one
// line and exit 1.
func TestFleetAuth(t *testing.T) {
	c := etcdtest.Start(t, 1)
	c.Etcdctl(t, "user", "add", "root", "--new-user-password=s3cret")
	c.Etcdctl(t, "auth", "enable")
	dir := t.TempDir()
	for name, tt := range map[string]struct {
		env  []string
		code int
		want string
	}{
		"user and password": {[]string{"SOLE_FLEET_USER=root", "SOLE_FLEET_PASSWORD=s3cret"}, 0, "ran\n"},
		"user:password":     {[]string{"SOLE_FLEET_USER=root:s3cret"}, 0, "ran\n"},
		"wrong password":    {[]string{"SOLE_FLEET_USER=root", "SOLE_FLEET_PASSWORD=nope"}, cli.ExitFailure, "authentication failed"},
		"none":              {nil, cli.ExitFailure, "sole: job: fleet lock: "},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := soleCmd("run", "--fleet", c.URL("auth"), "--name", "job", "--lock", filepath.Join(dir, "a.lock"), "--", "echo", "ran")
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			if code := exitCode(err); code != tt.code || !strings.Contains(string(out), tt.want) || strings.Count(string(out), "\n") != 1 {
				t.Errorf("exit %d, want %d with one line saying %q:\n%s", code, tt.code, tt.want, out)
			}
			if strings.Contains(string(out), "s3cret") {
				t.Errorf("the password is in the output: %s", out)
			}
		})
	}
}

// TestFleetTTLRaised: a TTL under the server's minimum is raised by the
// server, and sole says so.
func TestFleetTTLRaised(t *testing.T) {
	c := etcdtest.Start(t, 1)
	out, err := soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(t.TempDir(), "a.lock"), "--fleet-ttl", "1s", "--", "true").CombinedOutput()
	if err != nil || string(out) != "sole: job: etcd raised --fleet-ttl 1s to its minimum, 2s\n" {
		t.Errorf("%v: %q", err, out)
	}
}

// TestFleetNotify: under systemd, a node that stands by says so in
// STATUS= (naming the holder) and extends the start timeout, and says
// READY=1 only once it holds both locks: after the holder's end.
func TestFleetNotify(t *testing.T) {
	c := etcdtest.Start(t, 1)
	dir, logPath := fleetDir(t)
	a := startNode(t, c.URL(""), logPath, "a", 0)
	waitFile(t, logPath+".a.pid")
	sock := notifytest.Listen(t, filepath.Join(dir, "b.lock"))
	cmd := soleCmd("run", "--fleet", c.URL(""), "--name", "job", "--lock", filepath.Join(dir, "b.lock"), "--wait", "--", "sleep", "30")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.Path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	m := sock.Next(20 * time.Second)
	want := fmt.Sprintf("STATUS=standing by: job is held by pid %d on ", a.cmd.Process.Pid)
	if !strings.HasPrefix(m.Text, want) || !strings.HasSuffix(m.Text, "\nEXTEND_TIMEOUT_USEC=30000000") {
		t.Errorf("standing by: %q, want %q... and EXTEND_TIMEOUT_USEC=30000000", m.Text, want)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case m := <-sock.Msgs:
		t.Fatalf("while standing by: %q", m.Text)
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	a.wait(t, 10*time.Second)
	ended := time.Now()
	m = sock.Next(20 * time.Second)
	if !strings.HasPrefix(m.Text, "READY=1\nMAINPID="+strconv.Itoa(cmd.Process.Pid)+"\nSTATUS=running sleep") {
		t.Errorf("after the holder's end: %q", m.Text)
	}
	t.Logf("READY=1 %v after the holder's sole exited", time.Since(ended))
}

// TestEtcdctlLockForTheRecord runs the faults that sole's tests run
// against etcdctl lock, in the same harness, and logs what it does: its
// holder's COMMAND overlaps the next holder's. sole's tests above show
// zero overlap for the same faults; this test only records etcdctl's.
func TestEtcdctlLockForTheRecord(t *testing.T) {
	etcdctl := testenv.NeedTool(t, "etcdctl", "etcd-client")
	c := etcdtest.Start(t, 1)
	start := func(t *testing.T, endpoint, logPath, name string) *exec.Cmd {
		cmd := exec.Command(etcdctl, "--endpoints="+endpoint, "lock", "--ttl", "2", "job", "--", "sh", "-c", beatScript, "sh", logPath, name, "0")
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pg := cmd.Process.Pid
		t.Cleanup(func() {
			// etcdctl's group: it, and the child it leaves behind.
			_ = syscall.Kill(-pg, syscall.SIGCONT)
			_ = syscall.Kill(-pg, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		return cmd
	}
	for name, fault := range map[string]func(t *testing.T, holder *exec.Cmd, p *etcdtest.Proxy){
		"holder killed": func(t *testing.T, holder *exec.Cmd, _ *etcdtest.Proxy) { _ = holder.Process.Kill() },
		"holder frozen": func(t *testing.T, holder *exec.Cmd, _ *etcdtest.Proxy) { _ = holder.Process.Signal(syscall.SIGSTOP) },
		"frozen link":   func(t *testing.T, _ *exec.Cmd, p *etcdtest.Proxy) { p.Freeze() },
	} {
		t.Run(name, func(t *testing.T) {
			_, logPath := fleetDir(t)
			p := etcdtest.StartProxy(t, c.Members[0].ClientAddr)
			a := start(t, p.Addr(), logPath, "a")
			waitFile(t, logPath+".a.pid")
			start(t, c.Members[0].ClientAddr, logPath, "b")
			time.Sleep(300 * time.Millisecond)
			fault(t, a, p)
			waitFile(t, logPath+".b.pid")
			time.Sleep(time.Second)
			ss := spans(readEvents(t, logPath))
			overlap := time.Duration(0)
			if len(ss) == 2 && ss[0].end.After(ss[1].start) {
				overlap = ss[0].end.Sub(ss[1].start)
			}
			t.Logf("etcdctl lock, %s: the first holder's COMMAND overlapped the next one's by %v (and still runs: %v)",
				name, overlap.Round(time.Millisecond), !goneWithin(readPid(t, logPath+".a.pid"), 0))
			p.Thaw()
		})
	}
}

// TestFleetNotEtcd: an endpoint that is not etcd (an HTTP/1 server, a
// server that accepts and says nothing, a closed port) is exit 69 with
// one line that says what is wrong, within seconds, never a hang.
func TestFleetNotEtcd(t *testing.T) {
	dir := t.TempDir()
	web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(web.Close)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	for name, tt := range map[string]struct{ addr, want string }{
		"http server":     {strings.TrimPrefix(web.URL, "http://"), "does not speak etcd's protocol"},
		"silent server":   {silent.Addr().String(), "accepted the connection but did not answer as etcd does"},
		"closed port":     {closedAddr, "connection refused"},
		"no such address": {"127.0.0.1:1", "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out, err := soleCmd("run", "--fleet", "etcd://"+tt.addr, "--name", "job", "--lock", filepath.Join(dir, "a.lock"), "--", "touch", filepath.Join(dir, "ran")).CombinedOutput()
			if code := exitCode(err); code != cli.ExitUnavailable || !strings.Contains(string(out), tt.want) || strings.Count(string(out), "\n") != 1 {
				t.Errorf("exit %d, want 69 with one line saying %q:\n%s", code, tt.want, out)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %v", took)
			}
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Errorf("COMMAND ran")
			}
		})
	}
}
