//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A proc is one process the benchmark started: the leader of a process
// group of its own (Setpgid), so that the terminal's Ctrl-C reaches the
// benchmark alone and what the process leaves behind can be killed by its
// group. It gets SIGKILL when the benchmark dies (Pdeathsig), and is
// reaped by a goroutine of its own. It is signalled by its pid, never by
// name.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped
	err  error         // Wait's error, set before done is closed
	// orphans: what it started may outlive it (etcdctl's command), so
	// cleanup kills its group even once it is reaped.
	orphans bool
}

var (
	// spawnc runs functions on one goroutine locked to its OS thread for
	// the life of the benchmark: the kernel sends the parent-death signal
	// when the thread that forked the child exits, not the process
	// (golang/go#27505).
	spawnc = make(chan func())

	procsMu sync.Mutex
	procs   []*proc
	// etcdProc is stopped last, gracefully.
	etcdProc *proc
	cleaned  bool
)

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range spawnc {
			f()
		}
	}()
}

// start starts cmd as a proc.
func start(name string, cmd *exec.Cmd) (*proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.Env == nil {
		cmd.Env = environ()
	}
	procsMu.Lock()
	if cleaned {
		procsMu.Unlock()
		return nil, errors.New("stopping")
	}
	errc := make(chan error, 1)
	spawnc <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		procsMu.Unlock()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	procs = append(procs, p)
	procsMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process, while it is not reaped.
func (p *proc) signal(sig syscall.Signal) {
	if p.running() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// killGroup sends SIGCONT and SIGKILL to the process's group: the process
// and whatever it started that is left, orphans of a killed etcdctl say.
func (p *proc) killGroup() {
	_ = syscall.Kill(-p.pid(), syscall.SIGCONT)
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// wait waits up to d for the process to be reaped.
func (p *proc) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// exitCode is the process's exit status, 128+N for a signal, -1 while
// it runs.
func (p *proc) exitCode() int {
	if p.running() {
		return -1
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGTERM)
	if !p.wait(grace) {
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// cleanup kills every process the benchmark started, by its pid and
// group, and stops etcd last: SIGTERM, SIGKILL after 5 s. A second call
// does nothing.
func cleanup() {
	procsMu.Lock()
	if cleaned {
		procsMu.Unlock()
		return
	}
	cleaned = true
	ps := procs
	procsMu.Unlock()
	for _, p := range ps {
		if p == etcdProc {
			continue
		}
		if p.running() || p.orphans {
			p.killGroup()
			p.wait(5 * time.Second)
		}
	}
	if etcdProc != nil {
		etcdProc.stop(5 * time.Second)
	}
}

// environ is this process's environment without what etcd, etcdctl,
// sole and systemd would read from it.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		for _, p := range []string{"ETCD_", "ETCDCTL_", "SOLE_", "NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_"} {
			if strings.HasPrefix(kv, p) {
				goto skip
			}
		}
		env = append(env, kv)
	skip:
	}
	return append(env, extra...)
}

// waitStopped waits, up to a second, until the kernel shows the process
// stopped (state T): SIGSTOP takes effect asynchronously.
func waitStopped(pid int) {
	stat := "/proc/" + strconv.Itoa(pid) + "/stat"
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] == 'T' {
			return
		}
	}
}

// freePorts returns n distinct free ports of 127.0.0.1, never 2379 or
// 2380 (a system etcd's).
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		if p := ln.Addr().(*net.TCPAddr).Port; p != 2379 && p != 2380 {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

var httpc = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}

// etcd is the benchmark's own etcd server.
type etcd struct {
	addr string // client address, 127.0.0.1:PORT
	dir  string
	p    *proc
}

// startEtcd starts etcd on free ports of 127.0.0.1 with a data directory
// under dir, and waits until its /health says {"health":"true"}.
func startEtcd(dir string) (*etcd, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := startEtcdOnce(filepath.Join(dir, "etcd"+strconv.Itoa(attempt)))
		if err == nil {
			return e, nil
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, last
}

func startEtcdOnce(dir string) (*etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	logPath := filepath.Join(dir, "etcd.log")
	out, err := os.Create(filepath.Join(dir, "etcd.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command("/usr/bin/etcd",
		"--name", "s1",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "s1="+peer,
		"--initial-cluster-state", "new",
		"--logger", "zap",
		"--log-outputs", logPath,
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	p, err := start("etcd", cmd)
	if err != nil {
		return nil, err
	}
	procsMu.Lock()
	etcdProc = p
	procsMu.Unlock()
	e := &etcd{addr: "127.0.0.1:" + strconv.Itoa(ports[0]), dir: dir, p: p}
	why := ""
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		if why = e.health(); why == "" {
			return e, nil
		}
		if !p.running() || time.Now().After(end) {
			p.stop(5 * time.Second)
			b, _ := os.ReadFile(logPath)
			o, _ := os.ReadFile(filepath.Join(dir, "etcd.out"))
			return nil, fmt.Errorf("etcd on %s not healthy (%s; %v): %s", e.addr, why, p.err, tail(string(o)+string(b), 10))
		}
	}
}

// health returns "" when etcd says it is healthy, else why not.
func (e *etcd) health() string {
	resp, err := httpc.Get("http://" + e.addr + "/health")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(b, &h) != nil || h.Health != "true" {
		return resp.Status + ": " + strings.TrimSpace(string(b))
	}
	return ""
}

// version is the server's version, as /version says.
func (e *etcd) version() string {
	resp, err := httpc.Get("http://" + e.addr + "/version")
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
func (e *etcd) count(prefix string) (int, error) {
	end := []byte(prefix)
	end[len(end)-1]++
	body := fmt.Sprintf(`{"key":%q,"range_end":%q,"count_only":true}`,
		base64.StdEncoding.EncodeToString([]byte(prefix)), base64.StdEncoding.EncodeToString(end))
	resp, err := httpc.Post("http://"+e.addr+"/v3/kv/range", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("range %s: %s: %s", prefix, resp.Status, b)
	}
	var r struct {
		Count json.RawMessage `json:"count"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("range %s: %v: %s", prefix, err, b)
	}
	s := strings.Trim(string(r.Count), `"`)
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// waitContenders waits until n keys are under prefix: n contenders for
// a lock whose keys are there.
func (e *etcd) waitContenders(prefix string, n int, ps ...*proc) error {
	return waitFor(10*time.Second, fmt.Sprintf("%d contenders under %s", n, prefix), ps, func() (bool, error) {
		c, err := e.count(prefix)
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
			if !p.running() {
				return fmt.Errorf("waiting for %s: %s exited (%v): %s", what, p.name, p.err, p.output())
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
	f, ok := p.cmd.Stderr.(*os.File)
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

// copyFile copies src to dst, executable.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
