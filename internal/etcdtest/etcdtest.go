// Package etcdtest starts real etcd servers on loopback for the tests of
// other packages, and TCP proxies that a test can freeze.
//
//	c := etcdtest.Start(t, 3) // every member healthy when it returns
//	c.Etcdctl(t, "put", "k", "v")
//	c.Members[0].Kill()
//	c.WaitHealthy(t) // the two left have a leader again
//	c.Members[0].Restart(t)
//
//	p := etcdtest.StartProxy(t, c.Members[1].ClientAddr)
//	p.Freeze() // connections stay open, nothing is forwarded
//
// # Requirements
//
// A Unix system, etcd (Debian package etcd-server; written against 3.4) and,
// for Etcdctl, etcdctl (etcd-client). When one is missing, the test is
// skipped, or fails under CI=true. A program without a testing.TB passes
// a T of its own (see T).
//
// # Processes
//
// Every member and proxy is a child process of the test (a Proc), stopped
// by its pid when the test ends (nothing is ever signalled by name); on
// Linux a child also gets SIGKILL when the test binary dies without
// running its cleanups. StartProc starts any other child that way.
// A member's ports are free ports of 127.0.0.1 chosen by the harness, never
// 2379 and 2380, which a system etcd may hold. Its directory (Member.Dir)
// holds its data directory, data, and its log, etcd.log, whose tail the test
// log shows when a member fails to start or the test fails.
package etcdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

const (
	// startTimeout bounds a start, from the first exec to every member
	// healthy (measured: 0.15-1 s for one member, 0.5-2.5 s for three).
	startTimeout = 30 * time.Second
	// startAttempts is how many times Start picks new ports when one
	// turned out to be taken.
	startAttempts = 3
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// healthPoll is the interval between two health checks of a member.
	healthPoll = 25 * time.Millisecond
	// etcdctlTimeout bounds one Cluster.Etcdctl.
	etcdctlTimeout = 30 * time.Second
	// tailLines is how many lines of a member's log a failure shows.
	tailLines = 15
)

// healthClient checks members' /health. It keeps no idle connections and
// uses no proxy from the environment.
var healthClient = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// T is what the package needs of a test. *testing.T and *testing.B have
// it, and so can a program without a testing.TB (bench/fleetbench): its
// Fatalf must not return (it exits, say), Cleanup's functions must run in
// reverse order when it is done, and what TempDir makes must go then.
// Where a testing.TB skips a test for want of etcd, etcdctl or a Unix
// system (or fails it under CI=true), any other T gets Fatalf.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

// need is testenv.Need for a T.
func need(t T, ok bool, why string) {
	t.Helper()
	if tb, isTB := t.(testing.TB); isTB {
		testenv.Need(tb, ok, "%s", why)
	} else if !ok {
		t.Fatalf("%s", why)
	}
}

// needTool is testenv.NeedTool for a T.
func needTool(t T, name, debianPackage string) string {
	t.Helper()
	if tb, ok := t.(testing.TB); ok {
		return testenv.NeedTool(tb, name, debianPackage)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (Debian package %s): %v", name, debianPackage, err)
	}
	return p
}

// Cluster is a cluster of etcd members started by Start.
type Cluster struct {
	// Members are the members, named m1, m2, ...
	Members []*Member
	// TLS names the client's certificate files of a cluster started by
	// StartTLS (nil for Start's).
	TLS *TLSFiles

	etcd    string // path of the etcd program
	token   string // --initial-cluster-token
	initial string // --initial-cluster
	tls     *tlsSetup
}

// Member is one etcd member of a Cluster, a child process of the test.
type Member struct {
	// Name is the member's name: m1, m2, ...
	Name string
	// ClientAddr is the address of its client URL, "127.0.0.1:PORT".
	ClientAddr string
	// PeerAddr is the address of its peer URL, "127.0.0.1:PORT".
	PeerAddr string
	// MetricsAddr is the address of its plain HTTP metrics URL (which
	// serves /health too), in a cluster started by StartTLS.
	MetricsAddr string
	// Dir holds its data directory (data) and its log (etcd.log); it is
	// removed with the test.
	Dir string

	c  *Cluster
	mu sync.Mutex
	p  *Proc // the last process started; nil before the first start
}

// Start starts a cluster of n members on 127.0.0.1 and waits until every
// member is healthy (its /health says so, which in etcd 3.4 takes a leader
// and a quorum read). StopAll stops the members when the test ends. A port
// taken by someone else between the harness's choice and etcd's bind makes
// Start try again with new ports; any other failure fails the test with
// the tail of the members' logs.
func Start(t T, n int) *Cluster {
	t.Helper()
	return start(t, n, nil)
}

// start is Start, and StartTLS with tls.
func start(t T, n int, tls *tlsSetup) *Cluster {
	t.Helper()
	need(t, supported, "etcdtest needs a Unix system")
	etcd := needTool(t, "etcd", "etcd-server")
	if n < 1 {
		t.Fatalf("etcdtest: start %d members", n)
	}
	base := memDir(t)
	c := &Cluster{etcd: etcd, tls: tls}
	if tls != nil {
		c.TLS = &tls.client
	}
	// Registered after the directory's, so it runs before base is removed.
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(t)
		}
		c.StopAll()
	})
	for attempt := 1; ; attempt++ {
		took, err := c.start(base, n)
		if err == nil {
			t.Logf("etcdtest: %d member(s) healthy in %v", n, took.Round(time.Millisecond))
			return c
		}
		for _, m := range c.Members {
			m.Kill()
		}
		if !c.portTaken() || attempt == startAttempts {
			t.Fatalf("etcdtest: start %d member(s): %v", n, err)
		}
		t.Logf("etcdtest: a port was taken, trying again: %v", err)
	}
}

// start makes one attempt of Start, in a new directory under base, and
// returns how long the members took to be healthy.
func (c *Cluster) start(base string, n int) (time.Duration, error) {
	dir, err := os.MkdirTemp(base, "cluster")
	if err != nil {
		return 0, err
	}
	per := 2
	if c.tls != nil {
		per = 3
	}
	ports, err := pickPorts(per * n)
	if err != nil {
		return 0, err
	}
	token := make([]byte, 8)
	if _, err := rand.Read(token); err != nil {
		return 0, err
	}
	c.token = "etcdtest-" + hex.EncodeToString(token)
	c.Members = nil
	var initial []string
	for i := range n {
		m := &Member{
			Name:       "m" + strconv.Itoa(i+1),
			ClientAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[per*i])),
			PeerAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[per*i+1])),
			c:          c,
		}
		if c.tls != nil {
			m.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[per*i+2]))
		}
		m.Dir = filepath.Join(dir, m.Name)
		if err := os.Mkdir(m.Dir, 0o700); err != nil {
			return 0, err
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"=http://"+m.PeerAddr)
	}
	c.initial = strings.Join(initial, ",")
	begin := time.Now()
	// The members start together: each waits for the others.
	for _, m := range c.Members {
		if err := m.start("new"); err != nil {
			return 0, err
		}
	}
	if err := waitHealthy(c.Members, begin.Add(startTimeout)); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// pickPorts is freePorts; a test replaces it to take a port.
var pickPorts = freePorts

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment
// ago, never 2379 or 2380 (a system etcd's): it listens on port 0 until it
// has n of them at once, then closes the listeners.
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

// portTaken reports whether a member's log says it could not bind.
func (c *Cluster) portTaken() bool {
	for _, m := range c.Members {
		if b, err := os.ReadFile(m.logPath()); err == nil && bytes.Contains(b, []byte("address already in use")) {
			return true
		}
	}
	return false
}

// logTails shows the end of every member's log in the test log. Start's
// cleanup calls it when the test failed.
func (c *Cluster) logTails(t T) {
	t.Helper()
	for _, m := range c.Members {
		t.Logf("etcdtest: %s (client %s, peer %s) %s:\n%s", m.Name, m.ClientAddr, m.PeerAddr, m.logPath(), m.logTail())
	}
}

// Endpoints returns the client addresses of all members, "127.0.0.1:PORT",
// running or not.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientAddr)
	}
	return eps
}

// URL returns "etcd://" and the endpoints joined by commas, then "/" and
// prefix unless prefix is "".
func (c *Cluster) URL(prefix string) string {
	u := "etcd://" + strings.Join(c.Endpoints(), ",")
	if prefix != "" {
		u += "/" + prefix
	}
	return u
}

// StopAll stops every running member, one by one, the leader last: the
// others by Stop, the leader (or whichever member is left last) of a
// cluster of several by Kill. A leader stopped by SIGTERM first hands its
// leadership over, and when the member it picks is already gone (etcd may
// not have noticed yet), it waits 7 s for that to fail; being left alone,
// it has nothing to hand over, and its data is on disk. StopAll does
// nothing more on a second call.
func (c *Cluster) StopAll() {
	var running []*Member
	leader := -1
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		if leader < 0 && m.isLeader() {
			leader = len(running)
		}
		running = append(running, m)
	}
	if leader >= 0 {
		l := running[leader]
		running = append(append(running[:leader:leader], running[leader+1:]...), l)
	}
	for i, m := range running {
		if i == len(running)-1 && len(c.Members) > 1 {
			m.Kill()
		} else {
			m.Stop()
		}
	}
}

// WaitHealthy waits until every running member is healthy, after a Kill
// say (the members left must elect a leader before they serve), or fails
// the test.
func (c *Cluster) WaitHealthy(t T) {
	t.Helper()
	var running []*Member
	for _, m := range c.Members {
		if m.Running() {
			running = append(running, m)
		}
	}
	if err := waitHealthy(running, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
}

// Etcdctl runs etcdctl (API 3) with --endpoints set to all the members and
// args, and returns its standard output. It fails the test when etcdctl
// fails or runs longer than 30 s.
func (c *Cluster) Etcdctl(t T, args ...string) string {
	t.Helper()
	needTool(t, "etcdctl", "etcd-client")
	ctx, cancel := context.WithTimeout(context.Background(), etcdctlTimeout)
	defer cancel()
	if c.TLS != nil {
		args = append([]string{"--cacert", c.TLS.CACert, "--cert", c.TLS.Cert, "--key", c.TLS.Key}, args...)
	}
	out, err := RunEtcdctl(ctx, c.Endpoints(), args...)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	return out
}

// RunEtcdctl runs etcdctl (API 3) with --endpoints set to endpoints (a
// proxy's address, say) and args, and returns its standard output. Its
// error, when etcdctl fails or ctx ends, holds etcdctl's standard error.
// The ETCDCTL_* variables of the environment are not passed on.
func RunEtcdctl(ctx context.Context, endpoints []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "etcdctl", append([]string{"--endpoints=" + strings.Join(endpoints, ",")}, args...)...)
	cmd.Env = Environ("ETCDCTL_API=3")
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("etcdctl %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// proc returns the member's last process, or nil.
func (m *Member) proc() *Proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p
}

// PID returns the pid of the member's process, the last one started (it
// may have exited).
func (m *Member) PID() int {
	if p := m.proc(); p != nil {
		return p.PID()
	}
	return 0
}

// Running reports whether the member's process is running (or frozen, or
// exited but not yet reaped).
func (m *Member) Running() bool {
	p := m.proc()
	return p != nil && p.Running()
}

// Kill sends SIGKILL to the member's process and waits for it to be
// reaped. It does nothing when the member is not running.
func (m *Member) Kill() {
	if p := m.proc(); p != nil {
		p.Kill()
	}
}

// Stop sends SIGTERM to the member's process and waits for it to exit, or
// sends SIGKILL after 10 s. It does nothing when the member is not
// running. A leader hands its leadership over before it exits, which
// takes 7 s when the member it picks is down (see StopAll).
func (m *Member) Stop() {
	if p := m.proc(); p != nil {
		p.Stop(stopGrace)
	}
}

// Restart starts the stopped (or killed) member again, with its data
// directory and ports, and waits until it is healthy; or fails the test.
func (m *Member) Restart(t T) {
	t.Helper()
	if m.Running() {
		t.Fatalf("etcdtest: restart %s: still running", m.Name)
	}
	begin := time.Now()
	err := m.start("existing")
	if err == nil {
		err = waitHealthy([]*Member{m}, begin.Add(startTimeout))
	}
	if err != nil {
		m.Kill()
		t.Fatalf("etcdtest: restart %s: %v", m.Name, err)
	}
	t.Logf("etcdtest: %s healthy again in %v", m.Name, time.Since(begin).Round(time.Millisecond))
}

// start starts the member's process with --initial-cluster-state state.
func (m *Member) start(state string) error {
	log, err := os.OpenFile(m.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	client, peer := "http://"+m.ClientAddr, "http://"+m.PeerAddr
	var extra []string
	if m.c.tls != nil {
		client = "https://" + m.ClientAddr
		extra = append(m.c.tls.args(), "--listen-metrics-urls", "http://"+m.MetricsAddr)
	}
	cmd := exec.Command(m.c.etcd, append([]string{
		"--name", m.Name,
		"--data-dir", filepath.Join(m.Dir, "data"),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", m.c.initial,
		"--initial-cluster-token", m.c.token,
		"--initial-cluster-state", state,
		"--logger", "zap",
		"--log-outputs", m.logPath(),
	}, extra...)...)
	cmd.Dir = m.Dir
	cmd.Env = Environ()
	// What etcd writes outside its logger (a panic, say) goes to the log
	// too; both append.
	cmd.Stdout = log
	cmd.Stderr = log
	p, err := StartProc(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	m.mu.Lock()
	m.p = p
	m.mu.Unlock()
	return nil
}

// waitHealthy waits until every member of ms is healthy, or fails when the
// process of one exits (a member that cannot bind its port exits at once,
// and the others would wait for it forever) or the deadline passes.
func waitHealthy(ms []*Member, deadline time.Time) error {
	// A health check ends when a process exits: whoever holds a port that
	// etcd could not bind may never answer.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, m := range ms {
		p := m.proc()
		if p == nil {
			return fmt.Errorf("%s never started", m.Name)
		}
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	pending := slices.Clone(ms)
	for {
		var why string
		pending = slices.DeleteFunc(pending, func(m *Member) bool {
			w := health(ctx, m.healthAddr())
			if w != "" && why == "" {
				why = m.Name + ": " + w
			}
			return w == ""
		})
		for _, m := range ms {
			if p := m.proc(); !p.Running() {
				return fmt.Errorf("%s (pid %d) exited: %v", m.Name, p.PID(), p.err)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %v: %s", startTimeout, why)
		}
		time.Sleep(healthPoll)
	}
}

// healthAddr is where the member's /health is served over plain HTTP.
func (m *Member) healthAddr() string {
	if m.MetricsAddr != "" {
		return m.MetricsAddr
	}
	return m.ClientAddr
}

// health returns "" when the member at addr says it is healthy, else why
// not. etcd 3.4 answers {"health":"true"} with a leader and a quorum read
// done within 1 s, and 503 with {"health":"false"} else.
func health(ctx context.Context, addr string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err.Error()
	}
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(b, &h); err != nil || resp.StatusCode != http.StatusOK || h.Health != "true" {
		return fmt.Sprintf("/health: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return ""
}

// isLeader reports whether the member says it is the leader (its
// maintenance status, through etcd's JSON gateway, names itself).
func (m *Member) isLeader() bool {
	resp, err := healthClient.Post("http://"+m.ClientAddr+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Header struct {
			MemberID string `json:"member_id"`
		} `json:"header"`
		Leader string `json:"leader"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&st) != nil {
		return false
	}
	return st.Leader != "" && st.Leader != "0" && st.Leader == st.Header.MemberID
}

// logPath returns the path of the member's log.
func (m *Member) logPath() string { return filepath.Join(m.Dir, "etcd.log") }

// logTail returns the last lines of the member's log.
func (m *Member) logTail() string {
	b, err := os.ReadFile(m.logPath())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log)"
		}
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "\n")
}

// Leader returns the member that is the cluster's leader now, waiting up
// to 10 s for one.
func (c *Cluster) Leader(t T) *Member {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, m := range c.Members {
			if m.Running() && m.isLeader() {
				return m
			}
		}
	}
	t.Fatalf("etcdtest: no leader within 10s")
	return nil
}

// memDir returns a directory for the members' data, removed when the test
// ends: in /dev/shm when it is a tmpfs this process may write to, else
// t.TempDir(). etcd fsyncs every write; on a disk that the other tests of
// a CI run keep busy (packaging compresses tens of megabytes), an fsync
// can take a second, and a lease's expiry or a handoff with it, which is
// the disk's time, not the lock's.
func memDir(t T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "etcdtest"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
