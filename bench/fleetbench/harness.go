//go:build linux

package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/etcdtest"
)

// A proc is one node process the benchmark started (sole, etcdctl,
// date): an etcdtest.Proc (SIGKILL when the benchmark dies, reaped by a
// goroutine of its own, signalled by its pid, never by name) that leads a
// process group of its own (Setpgid), so that the terminal's Ctrl-C
// reaches the benchmark alone and what the process leaves behind can be
// killed by its group. etcd and the proxy are etcdtest's, stopped by the
// cleanups of bt.
type proc struct {
	*etcdtest.Proc
	name string
	// orphans: what it started may outlive it (etcdctl's command), so
	// cleanup kills its group even once it is reaped.
	orphans bool
}

var (
	procsMu sync.Mutex
	procs   []*proc
	cleaned bool // no proc starts once set
	once    sync.Once
)

// start starts cmd as a proc.
func start(name string, cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Env == nil {
		cmd.Env = etcdtest.Environ()
	}
	procsMu.Lock()
	defer procsMu.Unlock()
	if cleaned {
		return nil, errors.New("stopping")
	}
	ep, err := etcdtest.StartProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{Proc: ep, name: name}
	procs = append(procs, p)
	return p, nil
}

// killGroup sends SIGCONT and SIGKILL to the process's group: the process
// and whatever it started that is left, orphans of a killed etcdctl say.
func (p *proc) killGroup() {
	_ = syscall.Kill(-p.PID(), syscall.SIGCONT)
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
}

// exitCode is the process's exit status, 128+N for a signal, -1 while
// it runs.
func (p *proc) exitCode() int {
	if p.Running() {
		return -1
	}
	ws := p.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// cleanup kills every proc by its pid and group, then runs the cleanups
// of bt: etcdtest's (the proxy killed, etcd stopped: SIGTERM, SIGKILL
// after 10 s) and the removal of the benchmark's directory. Once: a
// second call waits for the first to end.
func cleanup() {
	once.Do(func() {
		procsMu.Lock()
		cleaned = true
		ps := procs
		procsMu.Unlock()
		for _, p := range ps {
			if p.Running() || p.orphans {
				p.killGroup()
				p.Wait(5 * time.Second)
			}
		}
		bt.done()
	})
}

// exit cleans up and exits with code; once a signal stopped the
// benchmark, its goroutine exits instead.
func exit(code int) {
	cleanup()
	if interrupted.Load() {
		select {}
	}
	os.Exit(code)
}

// bt is the etcdtest.T of the benchmark: its etcd and proxy are stopped,
// and its directories removed, by cleanup.
var bt = &benchT{}

// benchT is an etcdtest.T for a program. Fatalf reports, cleans up and
// exits 1; what Logf logs is shown on standard error once the benchmark
// failed, after the cleanups (etcdtest logs the tails of etcd's logs then).
type benchT struct {
	dir string // the benchmark's directory, where TempDir makes its own

	mu       sync.Mutex
	cleanups []func()
	logs     []string
	failed   bool
}

func (t *benchT) Helper() {}

func (t *benchT) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.logs = append(t.logs, fmt.Sprintf(format, args...))
}

func (t *benchT) Fatalf(format string, args ...any) {
	fail(fmt.Errorf(format, args...))
	exit(1)
}

func (t *benchT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *benchT) TempDir() string {
	dir, err := os.MkdirTemp(t.dir, "etcdtest")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *benchT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// fail marks the benchmark failed.
func (t *benchT) fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

// done runs the cleanups, the last registered first, then shows the log
// when the benchmark failed (and was not interrupted).
func (t *benchT) done() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	if t.Failed() && !interrupted.Load() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, l := range t.logs {
			fmt.Fprintln(os.Stderr, l)
		}
	}
}

var httpc = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}

// version is etcd's version, as /version says.
func (b *bench) version() string {
	resp, err := httpc.Get("http://" + b.addr + "/version")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	var v struct {
		Server string `json:"etcdserver"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&v) != nil || v.Server == "" {
		return "?"
	}
	return v.Server
}

// count is how many keys etcd holds under prefix (through its JSON
// gateway, so that polling costs no process).
func (b *bench) count(prefix string) (int, error) {
	end := []byte(prefix)
	end[len(end)-1]++
	req := fmt.Sprintf(`{"key":%q,"range_end":%q,"count_only":true}`,
		base64.StdEncoding.EncodeToString([]byte(prefix)), base64.StdEncoding.EncodeToString(end))
	resp, err := httpc.Post("http://"+b.addr+"/v3/kv/range", "application/json", strings.NewReader(req))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("range %s: %s: %s", prefix, resp.Status, body)
	}
	var r struct {
		Count json.RawMessage `json:"count"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("range %s: %v: %s", prefix, err, body)
	}
	s := strings.Trim(string(r.Count), `"`)
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// waitContenders waits until n keys are under prefix: n contenders for
// a lock whose keys are there.
func (b *bench) waitContenders(prefix string, n int, ps ...*proc) error {
	return waitFor(10*time.Second, fmt.Sprintf("%d contenders under %s", n, prefix), ps, func() (bool, error) {
		c, err := b.count(prefix)
		return c == n, err
	})
}

// waitFor polls cond every 5 ms until it is true, or fails after timeout
// or when one of ps exits first.
func waitFor(timeout time.Duration, what string, ps []*proc, cond func() (bool, error)) error {
	end := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		for _, p := range ps {
			if !p.Running() {
				return fmt.Errorf("waiting for %s: %s exited (%v): %s", what, p.name, p.Err(), p.output())
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("no %s after %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// output is the tail of what the process wrote to its log file, if it
// was given one.
func (p *proc) output() string {
	f, ok := p.Cmd.Stderr.(*os.File)
	if !ok {
		return ""
	}
	b, _ := os.ReadFile(f.Name())
	return tail(string(b), 5)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
