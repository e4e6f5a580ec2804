package etcdtest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

func TestURL(t *testing.T) {
	c := &Cluster{Members: []*Member{{ClientAddr: "127.0.0.1:1"}, {ClientAddr: "127.0.0.1:2"}}}
	if got, want := c.URL(""), "etcd://127.0.0.1:1,127.0.0.1:2"; got != want {
		t.Errorf("URL(\"\") = %q, want %q", got, want)
	}
	if got, want := c.URL("a/b"), "etcd://127.0.0.1:1,127.0.0.1:2/a/b"; got != want {
		t.Errorf("URL(\"a/b\") = %q, want %q", got, want)
	}
}

func TestSingle(t *testing.T) {
	c := Start(t, 1)
	m := c.Members[0]
	if !m.Running() || m.PID() <= 0 {
		t.Fatalf("member %s: running %v, pid %d", m.Name, m.Running(), m.PID())
	}
	if eps := c.Endpoints(); len(eps) != 1 || eps[0] != m.ClientAddr || !strings.HasPrefix(eps[0], "127.0.0.1:") {
		t.Fatalf("Endpoints() = %q", eps)
	}
	c.Etcdctl(t, "put", "k", "v")
	if got := c.Etcdctl(t, "get", "k", "--print-value-only"); got != "v\n" {
		t.Fatalf("get k = %q, want \"v\\n\"", got)
	}

	// Stop, then Restart with the same data: the key is still there.
	m.Stop()
	if m.Running() {
		t.Fatal("running after Stop")
	}
	m.Restart(t)
	if got := c.Etcdctl(t, "get", "k", "--print-value-only"); got != "v\n" {
		t.Fatalf("get k after restart = %q, want \"v\\n\"", got)
	}
}

// TestPortTaken checks that Start tries again with new ports when etcd
// cannot bind one.
func TestPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if err == nil && calls == 1 {
			ports[0] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()
	c := Start(t, 1)
	if calls != 2 {
		t.Fatalf("Start picked ports %d times, want 2", calls)
	}
	c.Etcdctl(t, "put", "k", "v")
}

func TestThree(t *testing.T) {
	c := Start(t, 3)
	c.Etcdctl(t, "put", "k", "1")
	// etcdctl 3.4 writes endpoint health's table to stderr, its JSON to
	// stdout.
	out := c.Etcdctl(t, "endpoint", "health", "-w", "json")
	if n := strings.Count(out, `"health":true`); n != 3 {
		t.Fatalf("endpoint health: %d healthy:\n%s", n, out)
	}

	dead := c.Members[0]
	pid := dead.PID()
	dead.Kill()
	if dead.Running() {
		t.Fatal("running after Kill")
	}
	if err := syscallKill0(pid); err == nil {
		t.Fatalf("pid %d still exists after Kill", pid)
	}
	dead.Kill() // a second Kill does nothing
	c.WaitHealthy(t)
	// The two members left answer, through their endpoints and through
	// all three.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := RunEtcdctl(ctx, []string{c.Members[1].ClientAddr, c.Members[2].ClientAddr}, "put", "k", "2"); err != nil {
		t.Fatal(err)
	}
	c.Etcdctl(t, "put", "k", "3")

	dead.Restart(t)
	// The restarted member caught up: a read served by it alone (not
	// through the leader) sees the last write.
	out, err := RunEtcdctl(ctx, []string{dead.ClientAddr}, "get", "k", "--print-value-only", "--consistency=s")
	if err != nil {
		t.Fatal(err)
	}
	if out != "3\n" {
		t.Fatalf("get k from restarted %s = %q, want \"3\\n\"", dead.Name, out)
	}

	begin := time.Now()
	c.StopAll()
	t.Logf("StopAll took %v", time.Since(begin).Round(time.Millisecond))
	for _, m := range c.Members {
		if m.Running() {
			t.Errorf("%s running after StopAll", m.Name)
		}
	}
	c.StopAll() // a second StopAll does nothing
}

func TestProxyEtcd(t *testing.T) {
	c := Start(t, 1)
	p := StartProxy(t, c.Members[0].ClientAddr)
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") || p.Addr() == c.Members[0].ClientAddr {
		t.Fatalf("proxy address %q", p.Addr())
	}
	via := []string{p.Addr()}
	etcdctl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return RunEtcdctl(ctx, via, append([]string{"--command-timeout=1s", "--dial-timeout=1s"}, args...)...)
	}
	if _, err := etcdctl("endpoint", "health"); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdctl("put", "x", "1"); err != nil {
		t.Fatal(err)
	}

	p.Freeze()
	begin := time.Now()
	out, err := etcdctl("get", "x")
	if err == nil {
		t.Fatalf("get x through a frozen proxy: %q, want an error", out)
	}
	t.Logf("through the frozen proxy, after %v: %v", time.Since(begin).Round(time.Millisecond), err)

	p.Thaw()
	if out, err := etcdctl("get", "x", "--print-value-only"); err != nil || out != "1\n" {
		t.Fatalf("get x after Thaw = %q, %v", out, err)
	}
}

// TestProxyFrozenLink checks the frozen link on a connection of its own:
// while the proxy is frozen, bytes written are not forwarded and the
// connection is not reset; after Thaw they arrive.
func TestProxyFrozenLink(t *testing.T) {
	echo := startEcho(t)
	p := StartProxy(t, echo)
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, buf, err)
		}
	}
	roundTrip("one")

	p.Freeze()
	if _, err := io.WriteString(conn, "two"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 3)
	if n, err := conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a frozen proxy: %q, %v; want a timeout", buf[:n], err)
	}

	p.Thaw()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "two" {
		t.Fatalf("after Thaw: %q, %v", buf, err)
	}
	roundTrip("three")

	// A killed proxy closes its connections.
	p.Kill()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("read after Kill: %q, want an error", buf[:n])
	}
	p.Kill() // a second Kill does nothing
}

// startEcho starts a TCP echo server on 127.0.0.1 for the test and
// returns its address.
func startEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// programT is a T that is no testing.TB, as a program's (bench/fleetbench).
type programT struct{ t *testing.T }

func (p programT) Helper()                           { p.t.Helper() }
func (p programT) Logf(format string, args ...any)   { p.t.Logf(format, args...) }
func (p programT) Fatalf(format string, args ...any) { p.t.Fatalf(format, args...) }
func (p programT) Cleanup(f func())                  { p.t.Cleanup(f) }
func (p programT) TempDir() string                   { return p.t.TempDir() }
func (p programT) Failed() bool                      { return p.t.Failed() }

// TestProgramT checks StartProxy for a T that is no testing.TB: it looks
// its tools up itself, and builds a tcpproxy of its own in its TempDir.
func TestProgramT(t *testing.T) {
	testenv.Need(t, supported, "etcdtest needs a Unix system")
	pt := programT{t}
	if p := needTool(pt, "sh", "dash"); p == "" {
		t.Fatal("needTool returned no path")
	}
	p := StartProxy(pt, startEcho(t))
	if p.p.Cmd.Path == proxyBuild.path {
		t.Fatalf("the proxy of a program runs the tests' tcpproxy %s", p.p.Cmd.Path)
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	if _, err := io.WriteString(conn, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo through the proxy: %q, %v", buf, err)
	}
}
