//go:build unix

package fleet

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/etcdtest"
	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/pidlock"
)

// node is one instance of the demo service (demoMain), a child process
// of the test with a lock and a notify socket of its own.
type node struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	notify *notifytest.Socket
	lines  chan line // its stdout, line by line
	stderr *testenv.Buffer

	exited chan struct{} // closed once reaped
	exitAt time.Time
	code   int
}

// line is a line of a node's stdout and when the test read it.
type line struct {
	text string
	at   time.Time
}

// startNode starts an instance of the service name on the etcd at url.
func startNode(t *testing.T, label, name, url string, env ...string) *node {
	t.Helper()
	lockPath := filepath.Join(t.TempDir(), name+".pid")
	n := &node{t: t, name: label, notify: notifytest.Listen(t, lockPath), lines: make(chan line, 100),
		stderr: new(testenv.Buffer), exited: make(chan struct{})}
	n.cmd = exec.Command(os.Args[0], "run")
	n.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.notify.Path, "FLEETDEMO_URL="+url,
		"FLEETDEMO_NAME="+name, "FLEETDEMO_LOCK="+lockPath)
	// Under -race, a child would wait a second before it exits
	// (atexit_sleep_ms), which the figures below would count.
	n.cmd.Env = append(n.cmd.Env, "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	n.cmd.Env = append(n.cmd.Env, env...)
	n.cmd.Stderr = n.stderr
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			n.lines <- line{s.Text(), time.Now()}
		}
		n.cmd.Wait()
		n.exitAt = time.Now()
		n.code = n.cmd.ProcessState.ExitCode()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			n.cmd.Process.Kill() // this test's child, by its pid
			<-n.exited
		}
		if t.Failed() || os.Getenv("FLEETDEMO_LOG") != "" {
			t.Logf("%s (pid %d) stderr:\n%s", n.name, n.pid(), n.stderr.String())
		}
	})
	return n
}

func (n *node) pid() int { return n.cmd.Process.Pid }

// msg is a notify message and when the test read it.
type msg struct {
	notifytest.Message
	at time.Time
}

// expect waits up to timeout for a message whose first line is first
// (or starts with it, when it ends with a space), skipping others (each is checked by skip, if not nil). It fails the
// test if the node exits first.
func (n *node) expect(first string, timeout time.Duration, skip func(notifytest.Message)) msg {
	n.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-n.notify.Msgs:
			at := time.Now()
			if l, _, _ := strings.Cut(m.Text, "\n"); l == first || strings.HasSuffix(first, " ") && strings.HasPrefix(l, first) {
				return msg{m, at}
			}
			if skip != nil {
				skip(m)
			}
		case <-n.exited:
			n.t.Fatalf("%s exited %d while the test waited for %s", n.name, n.code, first)
		case <-deadline:
			n.t.Fatalf("%s: no %s within %v", n.name, first, timeout)
		}
	}
}

// wait waits up to timeout for the node to exit.
func (n *node) wait(timeout time.Duration) {
	n.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(timeout):
		n.t.Fatalf("%s still running after %v", n.name, timeout)
	}
}

var tokenRe = regexp.MustCompile(`\nSTATUS=serving token=(\d+) ok=true env=(\d+)$`)

// token is the fencing token a READY=1 says the app saw, in its context
// and in its environment.
func token(t *testing.T, m msg) int64 {
	t.Helper()
	s := tokenRe.FindStringSubmatch(m.Text)
	if s == nil || s[1] != s[2] {
		t.Fatalf("ready message %q: want the same fencing token in the context and in SOLE_FENCING_TOKEN", m.Text)
	}
	n, _ := strconv.ParseInt(s[1], 10, 64)
	return n
}

// checkReady: READY=1 only while the node holds its local lock.
func (n *node) checkReady(m msg) {
	n.t.Helper()
	if m.State != pidlock.Running || m.PID != n.pid() {
		n.t.Fatalf("%s: READY=1 while its local lock was %v (holder pid %d), want held by pid %d", n.name, m.State, m.PID, n.pid())
	}
}

// noReady fails the test on a READY=1.
func (n *node) noReady(m notifytest.Message) {
	n.t.Helper()
	if strings.HasPrefix(m.Text, "READY=1") {
		n.t.Fatalf("%s sent READY=1 while the other node held the fleet lock: %q", n.name, m.Text)
	}
}

// standingBy waits for the node's standby message: STATUS= naming the
// holder, with EXTEND_TIMEOUT_USEC=, and no READY=1 before it.
func (n *node) standingBy(name string, holder *node) {
	n.t.Helper()
	m := n.expect("STATUS=standing by: "+name+" is held by pid "+strconv.Itoa(holder.pid())+" on "+hostname(n.t)+", since ", 20*time.Second, n.noReady)
	if !strings.Contains(m.Text, "\nEXTEND_TIMEOUT_USEC=30000000") {
		n.t.Fatalf("%s: standby message %q lacks EXTEND_TIMEOUT_USEC=", n.name, m.Text)
	}
	if m.State != pidlock.Running || m.PID != n.pid() {
		n.t.Fatalf("%s stood by without its local lock (%v, pid %d)", n.name, m.State, m.PID)
	}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// quiet fails the test on any READY=1 within d.
func (n *node) quiet(d time.Duration) {
	n.t.Helper()
	end := time.After(d)
	for {
		select {
		case m := <-n.notify.Msgs:
			n.noReady(m)
		case <-end:
			return
		}
	}
}

// TestStandbyTakesOverOnRelease: two instances of a service, each with its
// own local lock, on one fleet lock. The second stands by (STATUS= names
// the holder, EXTEND_TIMEOUT_USEC= keeps systemd waiting, no READY=1)
// until the first stops; the first releases its lease, and the second is
// READY=1 at once, long before the TTL (the default, 10 s) would have
// freed the lock, with a higher fencing token.
func TestStandbyTakesOverOnRelease(t *testing.T) {
	c := etcdtest.Start(t, 1)
	url := c.URL("standby")
	const name = "fleetsvc"
	a := startNode(t, "first", name, url)
	ra := a.expect("READY=1", 20*time.Second, func(m notifytest.Message) {
		if strings.Contains(m.Text, "standing by") {
			t.Fatalf("first: stood by for a free lock: %q", m.Text)
		}
	})
	a.checkReady(ra)
	tokenA := token(t, ra)

	b := startNode(t, "second", name, url)
	b.standingBy(name, a)
	b.quiet(1500 * time.Millisecond)

	// A normal stop of the holder: its lease is revoked once its app
	// returned, and the second takes over.
	sent := time.Now()
	if err := syscall.Kill(a.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rb := b.expect("READY=1", 10*time.Second, b.noReady)
	b.checkReady(rb)
	a.wait(10 * time.Second)
	if a.code != 0 {
		t.Fatalf("first exited %d after SIGTERM, want 0", a.code)
	}
	// The first revokes its lease before it exits: the second may be
	// ready a moment before the first is reaped.
	latency := rb.at.Sub(a.exitAt)
	t.Logf("second READY=1 %v after SIGTERM to the first, %v after the first exited (%v after SIGTERM; TTL 10s)",
		rb.at.Sub(sent).Round(time.Microsecond), latency.Round(time.Microsecond), a.exitAt.Sub(sent).Round(time.Microsecond))
	if latency > time.Second || rb.at.Sub(sent) > 2*time.Second {
		t.Errorf("second READY=1 %v after the first exited, want within ~1s (the release, not the TTL)", latency)
	}
	if tokenB := token(t, rb); tokenB <= tokenA {
		t.Errorf("fencing tokens: first %d, second %d; want the second higher", tokenA, tokenB)
	}

	// Stopping the holder with nobody waiting: a clean exit.
	if err := syscall.Kill(b.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.wait(10 * time.Second)
	if b.code != 0 {
		t.Fatalf("second exited %d after SIGTERM, want 0", b.code)
	}
}

// TestStandbyStops: a node that stands by and is asked to stop (SIGTERM)
// exits 0 without ever being ready, and gives up its place in the queue.
func TestStandbyStops(t *testing.T) {
	c := etcdtest.Start(t, 1)
	url := c.URL("standbystop")
	const name = "fleetsvc"
	a := startNode(t, "first", name, url)
	a.checkReady(a.expect("READY=1", 20*time.Second, nil))
	b := startNode(t, "second", name, url)
	b.standingBy(name, a)
	sent := time.Now()
	if err := syscall.Kill(b.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.wait(10 * time.Second)
	t.Logf("the standby exited %d, %v after SIGTERM", b.code, b.exitAt.Sub(sent).Round(time.Millisecond))
	if b.code != 0 {
		t.Fatalf("standby exited %d after SIGTERM, want 0", b.code)
	}
	if out := b.stderr.String(); !strings.Contains(out, "stopped while standing by for the fleet lock") {
		t.Errorf("standby's log lacks the stop:\n%s", out)
	}
	// Nobody waits any more: the holder's key is the only one.
	out := c.Etcdctl(t, "get", "--prefix", "--keys-only", "standbystop/sole/"+name+"/lock/")
	if n := strings.Count(out, "/lock/"); n != 1 {
		t.Errorf("%d lock keys after the standby stopped, want the holder's alone:\n%s", n, out)
	}
}

// TestFrozenHolder: the holder reaches etcd through a proxy, which is
// frozen (SIGSTOP: the connections stay open, nothing gets through). A
// margin before its lease can expire, the holder's app gets its context
// cancelled with ErrFleetLost as the cause, and the holder exits 76,
// before the node that stands by (connected directly) is READY=1. The
// holder exits by then whether its app returns or not.
func TestFrozenHolder(t *testing.T) {
	tests := map[string]struct{ stubborn bool }{
		"app returns":             {},
		"app ignores its context": {stubborn: true},
	}
	c := etcdtest.Start(t, 1)
	i := 0
	for name, tt := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			p := etcdtest.StartProxy(t, c.Members[0].ClientAddr)
			prefix := "frozen" + strconv.Itoa(i)
			const svc = "fleetsvc"
			var env []string
			if tt.stubborn {
				env = append(env, "FLEETDEMO_STUBBORN=1")
			}
			a := startNode(t, "holder", svc, "etcd://"+p.Addr()+"/"+prefix, append(env, "FLEETDEMO_TTL=2s")...)
			a.checkReady(a.expect("READY=1", 20*time.Second, nil))
			b := startNode(t, "standby", svc, c.URL(prefix), "FLEETDEMO_TTL=2s")
			b.standingBy(svc, a)

			p.Freeze()
			frozen := time.Now()
			defer p.Thaw()

			var cancelled line
			select {
			case cancelled = <-a.lines:
			case <-time.After(10 * time.Second):
				t.Fatal("the holder's app context was not cancelled within 10s of the freeze")
			}
			if !strings.HasPrefix(cancelled.text, "cancelled lost=true cause=runtime: "+svc+": fleet lock lost") {
				t.Fatalf("holder's app: %q, want its context cancelled with ErrFleetLost as the cause", cancelled.text)
			}
			a.wait(10 * time.Second)
			if a.code != 76 {
				t.Fatalf("holder exited %d, want 76", a.code)
			}
			rb := b.expect("READY=1", 20*time.Second, b.noReady)
			b.checkReady(rb)
			t.Logf("freeze → app cancelled %v, → holder exited %v, → standby READY=1 %v (freeze → standby READY %v)",
				cancelled.at.Sub(frozen).Round(time.Millisecond), a.exitAt.Sub(cancelled.at).Round(time.Millisecond),
				rb.at.Sub(a.exitAt).Round(time.Millisecond), rb.at.Sub(frozen).Round(time.Millisecond))
			if !a.exitAt.Before(rb.at) {
				t.Fatalf("the holder exited at %v, after the standby was READY at %v", a.exitAt, rb.at)
			}
			if margin := 500 * time.Millisecond; a.exitAt.Sub(cancelled.at) > margin {
				t.Errorf("holder exited %v after its app was cancelled, want within the margin (%v)", a.exitAt.Sub(cancelled.at), margin)
			}
			for _, want := range []string{"fleet lock lost", "stopped: the fleet lock was lost"} {
				if tt.stubborn && want == "stopped: the fleet lock was lost" {
					want = "app did not stop before the fleet lock's deadline"
				}
				if !strings.Contains(a.stderr.String(), want) {
					t.Errorf("holder's log lacks %q:\n%s", want, a.stderr.String())
				}
			}
		})
	}
}
