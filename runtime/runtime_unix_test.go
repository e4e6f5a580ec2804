//go:build unix

package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/pidlock"
)

// fakeManager is the fake notify socket, with NOTIFY_SOCKET pointing at
// it.
type fakeManager struct {
	*notifytest.Socket
	t *testing.T
}

func newFakeManager(t *testing.T, lockPath string) *fakeManager {
	s := notifytest.Listen(t, lockPath)
	t.Setenv("NOTIFY_SOCKET", s.Path)
	return &fakeManager{Socket: s, t: t}
}

// next waits for the next message.
func (m *fakeManager) next() notifytest.Message { m.t.Helper(); return m.Next(10 * time.Second) }

// expect waits for the next message that is not WATCHDOG=1 and checks its
// first line.
func (m *fakeManager) expect(first string) notifytest.Message {
	m.t.Helper()
	for {
		r := m.next()
		if r.Text == "WATCHDOG=1" && first != "WATCHDOG=1" {
			continue
		}
		if line, _, _ := strings.Cut(r.Text, "\n"); line != first {
			m.t.Fatalf("got %q, want a message starting %q", r.Text, first)
		}
		return r
	}
}

type testApp struct {
	healthy   atomic.Bool
	reloads   atomic.Int32
	childEnv  chan string
	readyWait time.Duration
}

func (a *testApp) Run(ctx context.Context, svc *Service) error {
	svc.SetStatus("warming up")
	time.Sleep(a.readyWait)
	// What a process the app starts sees.
	out, err := exec.Command("env").Output()
	if err != nil {
		return err
	}
	a.childEnv <- string(out)
	svc.SetStatus("serving")
	svc.Ready()
	<-ctx.Done()
	return nil
}

func (a *testApp) Reload(context.Context) error {
	a.reloads.Add(1)
	return nil
}

func (a *testApp) Check(context.Context) error {
	if a.healthy.Load() {
		return nil
	}
	return errors.New("unhealthy")
}

// TestNotifyProtocol checks every message, in order, read back from a real
// unixgram socket: READY only while the lock is held and after the app is
// ready, STATUS updates, WATCHDOG only while healthy, RELOADING then READY
// on SIGHUP, STOPPING, and the lock released at the end. A second instance
// fails with ErrAlreadyRunning and sends nothing.
func TestNotifyProtocol(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "svc.pid")
	m := newFakeManager(t, lockPath)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	app := &testApp{childEnv: make(chan string, 1), readyWait: 100 * time.Millisecond}
	app.healthy.Store(true)
	cfg := Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), StopTimeout: 5 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, cfg, app) }()

	r := m.expect("READY=1")
	if want := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\nSTATUS=serving"; r.Text != want {
		t.Fatalf("ready message %q, want %q", r.Text, want)
	}
	if r.State != pidlock.Running || r.PID != os.Getpid() {
		t.Fatalf("READY=1 arrived while the lock was %v (holder pid %d), want held by us", r.State, r.PID)
	}
	env := <-app.childEnv
	for _, v := range []string{"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
		if strings.Contains(env, v) {
			t.Fatalf("a process the app started inherited %s", v)
		}
	}

	// Healthy: the watchdog is fed, at about half the interval.
	start := time.Now()
	m.expect("WATCHDOG=1")
	m.expect("WATCHDOG=1")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("two watchdog pings took %v", d)
	}

	// A second instance: refused, and silent.
	second := newFakeManager(t, lockPath)
	err := Run(context.Background(), Config{Name: "svc", LockPath: lockPath, Logger: quietLogger()}, &testApp{childEnv: make(chan string, 1)})
	var le *pidlock.LockedError
	if !errors.Is(err, ErrAlreadyRunning) || !errors.Is(err, pidlock.ErrLocked) || !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != os.Getpid() {
		t.Fatalf("second instance: %v", err)
	}
	select {
	case r := <-second.Msgs:
		t.Fatalf("the second instance sent %q", r.Text)
	case <-time.After(300 * time.Millisecond):
	}

	// Reload: RELOADING=1 with MONOTONIC_USEC, then READY=1.
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r = m.expect("RELOADING=1")
	if !strings.Contains(r.Text, "\nMONOTONIC_USEC=") {
		t.Fatalf("reloading message %q lacks MONOTONIC_USEC", r.Text)
	}
	r = m.expect("READY=1")
	if r.State != pidlock.Running || app.reloads.Load() != 1 {
		t.Fatalf("after reload: lock %v, %d reloads", r.State, app.reloads.Load())
	}

	// Unhealthy: no more watchdog pings.
	app.healthy.Store(false)
	time.Sleep(150 * time.Millisecond) // a ping may already be on its way
	for len(m.Msgs) > 0 {
		<-m.Msgs
	}
	select {
	case r := <-m.Msgs:
		t.Fatalf("sent %q while the health check failed", r.Text)
	case <-time.After(600 * time.Millisecond):
	}

	// Stop: STOPPING=1 while still holding the lock, then the lock is free.
	cancel()
	r = m.expect("STOPPING=1")
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	st, err := m.Lock.Query()
	if err != nil || st.State != pidlock.NotRunning {
		t.Fatalf("after stop: %+v, %v; want not running, no record", st, err)
	}
	select {
	case r := <-m.Msgs:
		t.Fatalf("message after stop: %q", r.Text)
	default:
	}
}

// TestAppErrorBeforeReady: an app that fails before Ready: no READY, the
// lock is released, Run returns its error.
func TestAppErrorBeforeReady(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "svc.pid")
	m := newFakeManager(t, lockPath)
	boom := errors.New("boom")
	err := Run(context.Background(), Config{Name: "svc", LockPath: lockPath, Logger: quietLogger()},
		AppFunc(func(context.Context, *Service) error { return boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
	select {
	case r := <-m.Msgs:
		t.Fatalf("sent %q", r.Text)
	case <-time.After(200 * time.Millisecond):
	}
	l, _ := pidlock.New(lockPath)
	if err := l.TryLock(); err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l.Unlock()
}

// TestNotReadyInTime: an app that never calls Ready is stopped after the
// start timeout; no READY is sent.
func TestNotReadyInTime(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "svc.pid")
	m := newFakeManager(t, lockPath)
	err := Run(context.Background(), Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), StartTimeout: 300 * time.Millisecond},
		AppFunc(func(ctx context.Context, _ *Service) error { <-ctx.Done(); return nil }))
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("Run = %v, want ErrNotReady", err)
	}
	for {
		select {
		case r := <-m.Msgs:
			if strings.HasPrefix(r.Text, "READY=1") {
				t.Fatalf("sent READY for an app that was never ready")
			}
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
}

// TestWaitForLock: with WaitForLock, a second instance waits (extending
// systemd's start timeout) and starts once the first is gone.
func TestWaitForLock(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "svc.pid")
	holder, _ := pidlock.New(lockPath)
	if err := holder.TryLock(); err != nil {
		t.Fatal(err)
	}
	m := newFakeManager(t, lockPath)
	go func() { time.Sleep(2500 * time.Millisecond); holder.Unlock() }()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		Run(ctx, Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), WaitForLock: true},
			AppFunc(func(ctx context.Context, s *Service) error { s.Ready(); <-ctx.Done(); return nil }))
	}()
	r := m.next()
	if !strings.HasPrefix(r.Text, "EXTEND_TIMEOUT_USEC=") {
		t.Fatalf("first message while waiting %q, want EXTEND_TIMEOUT_USEC", r.Text)
	}
	r = m.expect("READY=1")
	if r.State != pidlock.Running || r.PID != os.Getpid() {
		t.Fatalf("READY while lock %v", r.State)
	}
	cancel()
	wg.Wait()
}
