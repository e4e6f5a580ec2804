//go:build unix

package kservice

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/runtime"
)

// recorder is a kardianos program that records what it was called with
// and what it saw.
type recorder struct {
	lockPath string
	gate     chan struct{} // Start waits for it, when not nil
	startErr error
	stopErr  error

	mu        sync.Mutex
	events    []string
	startLock pidlock.Status // the lock as Start saw it
	startSvc  service.Service
	env       string // $KSERVICE_TEST_VAR as Start saw it
}

func (r *recorder) event(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) Start(s service.Service) error {
	l, err := pidlock.New(r.lockPath)
	if err != nil {
		return err
	}
	st, err := l.Query()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.startLock, r.startSvc, r.env = st, s, os.Getenv("KSERVICE_TEST_VAR")
	r.mu.Unlock()
	r.event("start")
	if r.gate != nil {
		<-r.gate
	}
	lg, err := s.Logger(nil)
	if err != nil {
		return err
	}
	lg.Infof("started %d", 42)
	r.event("start returned")
	return r.startErr
}

func (r *recorder) Stop(s service.Service) error {
	r.event("stop")
	return r.stopErr
}

// shutdowner is a recorder with Shutdown.
type shutdowner struct{ *recorder }

func (s shutdowner) Shutdown(service.Service) error {
	s.event("shutdown")
	return nil
}

// setup returns a recorder, its lock path, the notify socket (NOTIFY_SOCKET
// points at it) and options giving the runtime that lock and a logger
// writing to the returned buffer.
func setup(t *testing.T) (*recorder, *notifytest.Socket, *testenv.Buffer, Option) {
	lockPath := filepath.Join(t.TempDir(), "kservice-test.pid")
	s := notifytest.Listen(t, lockPath)
	t.Setenv("NOTIFY_SOCKET", s.Path)
	logs := &testenv.Buffer{}
	opt := WithConfig(func(c *runtime.Config) {
		c.LockPath = lockPath
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.StopTimeout = 10 * time.Second
		c.StartTimeout = 20 * time.Second
	})
	return &recorder{lockPath: lockPath}, s, logs, opt
}

func next(t *testing.T, s *notifytest.Socket, first string) notifytest.Message {
	t.Helper()
	m := s.Next(10 * time.Second)
	if line, _, _ := strings.Cut(m.Text, "\n"); line != first {
		t.Fatalf("notify message %q, want one starting %q", m.Text, first)
	}
	return m
}

// TestLifecycle: Start runs under the lock, READY=1 goes out only once it
// returned, the context's end calls Stop, and the lock is free after.
func TestLifecycle(t *testing.T) {
	r, sock, logs, opt := setup(t)
	r.gate = make(chan struct{})
	t.Setenv("KSERVICE_TEST_VAR", "from the environment")
	cfg, app, err := App(r, &service.Config{
		Name:        "kservice-test",
		DisplayName: "kservice test",
		EnvVars:     map[string]string{"KSERVICE_TEST_VAR": "from EnvVars", "KSERVICE_TEST_NEW": "new"},
	}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Unsetenv("KSERVICE_TEST_NEW") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, cfg, app) }()

	// Start is called, holding the lock, and nothing was sent yet.
	for deadline := time.Now().Add(10 * time.Second); len(r.Events()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Start was not called")
		}
	}
	r.mu.Lock()
	st, svc, env := r.startLock, r.startSvc, r.env
	r.mu.Unlock()
	if st.State != pidlock.Running || st.Holder == nil || st.Holder.PID != os.Getpid() {
		t.Errorf("the lock as Start saw it: %+v; want held by this process", st)
	}
	select {
	case m := <-sock.Msgs:
		t.Fatalf("notify message %q while Start runs", m.Text)
	default:
	}
	close(r.gate)
	m := next(t, sock, "READY=1")
	if ev := r.Events(); len(ev) != 2 || ev[1] != "start returned" {
		t.Errorf("READY=1 came with events %q; want it after Start returned", ev)
	}
	if m.State != pidlock.Running || m.PID != os.Getpid() {
		t.Errorf("READY=1 with the lock %v, holder %d", m.State, m.PID)
	}

	// What Start saw: the service, its environment.
	if svc.String() != "kservice test" {
		t.Errorf("Service.String %q", svc.String())
	}
	if env != "from the environment" || os.Getenv("KSERVICE_TEST_NEW") != "new" {
		t.Errorf("KSERVICE_TEST_VAR %q, KSERVICE_TEST_NEW %q: EnvVars must fill in what the environment lacks, no more", env, os.Getenv("KSERVICE_TEST_NEW"))
	}
	if !strings.Contains(logs.String(), `msg="started 42" service=kservice-test`) {
		t.Errorf("the service.Logger's line is not in the runtime's log:\n%s", logs.String())
	}

	cancel()
	next(t, sock, "STOPPING=1")
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ev := r.Events(); len(ev) != 3 || ev[2] != "stop" {
		t.Errorf("events %q, want Stop last", ev)
	}
	checkLockFree(t, sock, "the stop")
}

// TestStartFails: Start's error fails the start: no READY=1, no Stop, the
// error comes back, the lock is free.
func TestStartFails(t *testing.T) {
	r, sock, _, opt := setup(t)
	r.startErr = errors.New("no database")
	cfg, app := testApp(t, r, opt)
	err := runtime.Run(context.Background(), cfg, app)
	if err == nil || err.Error() != "runtime: kservice-test: start: no database" {
		t.Fatalf("Run: %v, want Start's error", err)
	}
	if ev := r.Events(); strings.Join(ev, ",") != "start,start returned" {
		t.Errorf("events %q: Stop must not be called after a failed Start", ev)
	}
	select {
	case m := <-sock.Msgs:
		t.Errorf("notify message %q after a failed Start", m.Text)
	default:
	}
	checkLockFree(t, sock, "the failed start")
}

// TestStopFails: Stop's error is Run's.
func TestStopFails(t *testing.T) {
	r, sock, _, opt := setup(t)
	r.stopErr = errors.New("flush failed")
	cfg, app := testApp(t, r, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, cfg, app) }()
	next(t, sock, "READY=1")
	cancel()
	if err := <-done; err == nil || err.Error() != "runtime: kservice-test: stop: flush failed" {
		t.Fatalf("Run: %v, want Stop's error", err)
	}
}

// TestRunWait: the RunWait option's function returning stops the service
// as a stop request does.
func TestRunWait(t *testing.T) {
	r, sock, _, opt := setup(t)
	release := make(chan struct{})
	cfg, app, err := App(r, &service.Config{Name: "kservice-test", Option: service.KeyValue{"RunWait": func() { <-release }}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runtime.Run(context.Background(), cfg, app) }()
	next(t, sock, "READY=1")
	close(release)
	next(t, sock, "STOPPING=1")
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ev := r.Events(); strings.Join(ev, ",") != "start,start returned,stop" {
		t.Errorf("events %q", ev)
	}
}

// TestShutdownerStopsOnUnix: systemd and launchd send the same SIGTERM on
// a stop and on a shutdown, so a Shutdowner gets Stop.
func TestShutdownerStopsOnUnix(t *testing.T) {
	r, sock, _, opt := setup(t)
	cfg, app, err := App(shutdowner{r}, &service.Config{Name: "kservice-test"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, cfg, app) }()
	next(t, sock, "READY=1")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ev := r.Events(); strings.Join(ev, ",") != "start,start returned,stop" {
		t.Errorf("events %q, want Stop", ev)
	}
}

// TestSecondInstance: with the lock held, Start is never called and the
// error names the holder.
func TestSecondInstance(t *testing.T) {
	r, sock, _, opt := setup(t)
	l, err := pidlock.New(sock.Lock.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	cfg, app := testApp(t, r, opt)
	err = runtime.Run(context.Background(), cfg, app)
	var le *pidlock.LockedError
	if !errors.Is(err, runtime.ErrAlreadyRunning) || !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != os.Getpid() {
		t.Fatalf("Run: %v, want ErrAlreadyRunning naming this process", err)
	}
	if ev := r.Events(); len(ev) != 0 {
		t.Errorf("events %q in a second instance", ev)
	}
}

// checkReload is a program with its own Check and Reload methods.
type checkReload struct {
	program
	checked, reloaded *bool
}

func (c checkReload) Check(context.Context) error  { *c.checked = true; return errors.New("sick") }
func (c checkReload) Reload(context.Context) error { *c.reloaded = true; return nil }

// TestHooks: the health check and the reload hook come from the options,
// else from the program's own methods; without either, healthy and
// nothing to reload.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	c := &service.Config{Name: "myd"}
	_, plain, err := App(program{}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.(runtime.Checker).Check(ctx); err != nil {
		t.Errorf("Check without a check: %v", err)
	}
	if err := plain.(runtime.Reloader).Reload(ctx); err != nil {
		t.Errorf("Reload without a hook: %v", err)
	}
	var checked, reloaded bool
	_, own, _ := App(checkReload{checked: &checked, reloaded: &reloaded}, c)
	if err := own.(runtime.Checker).Check(ctx); err == nil || !checked {
		t.Errorf("the program's Check: %v, called %v", err, checked)
	}
	if err := own.(runtime.Reloader).Reload(ctx); err != nil || !reloaded {
		t.Errorf("the program's Reload: %v, called %v", err, reloaded)
	}
	checked, reloaded = false, false
	_, opts, _ := App(checkReload{checked: &checked, reloaded: &reloaded}, c,
		WithCheck(func(context.Context) error { return nil }),
		WithReload(func(context.Context) error { return errors.New("bad config") }))
	if err := opts.(runtime.Checker).Check(ctx); err != nil || checked {
		t.Errorf("WithCheck: %v, the program's called %v", err, checked)
	}
	if err := opts.(runtime.Reloader).Reload(ctx); err == nil || reloaded {
		t.Errorf("WithReload: %v, the program's called %v", err, reloaded)
	}
}

// testApp maps r, a program named kservice-test, with opt.
func testApp(t *testing.T, r service.Interface, opt Option) (runtime.Config, runtime.App) {
	t.Helper()
	cfg, app, err := App(r, &service.Config{Name: "kservice-test"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, app
}

// checkLockFree checks that nobody holds the service's lock after what.
func checkLockFree(t *testing.T, sock *notifytest.Socket, what string) {
	t.Helper()
	if st, err := sock.Lock.Query(); err != nil || st.State != pidlock.NotRunning {
		t.Errorf("lock after %s: %+v, %v", what, st, err)
	}
}
