package etcdtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

// proxyStartTimeout bounds StartProxy, from exec to the proxy's address.
const proxyStartTimeout = 10 * time.Second

// proxyBuild is the tcpproxy binary of the tests, built once per test
// binary into a directory of its own that is left behind.
var proxyBuild struct {
	once sync.Once
	path string
	err  error
}

// proxyBinary returns the path of the tcpproxy binary, building it first.
// A T that is no testing.TB (a program's) gets a build of its own in its
// TempDir, which goes with it.
func proxyBinary(t T) (string, error) {
	if _, ok := t.(testing.TB); !ok {
		return buildProxy(t.TempDir())
	}
	proxyBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "etcdtest-tcpproxy-")
		if err == nil {
			proxyBuild.path, err = buildProxy(dir)
		}
		proxyBuild.err = err
	})
	return proxyBuild.path, proxyBuild.err
}

// buildProxy builds the command internal/etcdtest/tcpproxy into dir.
func buildProxy(dir string) (string, error) {
	name := "tcpproxy"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	path := filepath.Join(dir, name)
	return path, testenv.BuildTo(path, "internal/etcdtest/tcpproxy")
}

// Proxy is a TCP proxy in a process of its own (the tcpproxy command), so
// that a test can freeze it: a frozen proxy keeps its connections open
// without forwarding a byte and without resetting them, the "frozen link"
// fault, and accepts no more (the kernel still completes handshakes up to
// the listen backlog).
type Proxy struct {
	addr   string
	target string
	p      *Proc
}

// StartProxy starts a proxy that listens on a free port of 127.0.0.1 and
// forwards every connection to target ("127.0.0.1:PORT"). It is killed
// when the test ends.
func StartProxy(t T, target string) *Proxy {
	t.Helper()
	need(t, supported, "etcdtest needs a Unix system")
	bin, err := proxyBinary(t)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	errPath := filepath.Join(t.TempDir(), "tcpproxy.stderr")
	stderr, err := os.Create(errPath)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer stderr.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer r.Close()
	cmd := exec.Command(bin, "127.0.0.1:0", target)
	cmd.Stdout = w
	cmd.Stderr = stderr
	p, err := StartProc(cmd)
	w.Close()
	if err != nil {
		t.Fatalf("etcdtest: start proxy to %s: %v", target, err)
	}
	px := &Proxy{target: target, p: p}
	// Registered after TempDir, so it runs before errPath is removed.
	t.Cleanup(func() {
		px.Kill()
		if b, err := os.ReadFile(errPath); err == nil && len(b) > 0 && t.Failed() {
			t.Logf("etcdtest: proxy %s to %s: %s", px.addr, target, b)
		}
	})
	// The proxy prints its address once it listens.
	if err := r.SetReadDeadline(time.Now().Add(proxyStartTimeout)); err != nil {
		px.Kill()
		t.Fatalf("etcdtest: start proxy to %s: %v", target, err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		px.Kill()
		b, _ := os.ReadFile(errPath)
		t.Fatalf("etcdtest: start proxy to %s: read its address: %v (%v) %s", target, err, p.Err(), b)
	}
	px.addr = strings.TrimSpace(line)
	return px
}

// Addr returns the address the proxy listens on, "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return p.addr }

// PID returns the pid of the proxy's process.
func (p *Proxy) PID() int { return p.p.PID() }

// Freeze stops the proxy's process with SIGSTOP and, on Linux, waits until
// the kernel says it is stopped.
func (p *Proxy) Freeze() { p.p.Freeze() }

// Thaw lets a frozen proxy's process go on with SIGCONT.
func (p *Proxy) Thaw() { p.p.Thaw() }

// Kill kills the proxy's process with SIGKILL, frozen or not, and waits for
// it to be reaped. Its connections are then closed. It does nothing on a
// second call.
func (p *Proxy) Kill() { p.p.Kill() }

// String describes the proxy.
func (p *Proxy) String() string { return fmt.Sprintf("proxy %s to %s", p.addr, p.target) }
