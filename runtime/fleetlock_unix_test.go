//go:build unix

package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/pidlock"
)

// fakeFleet is a FleetLock without a server: AcquireFleet reports the
// standby lines it is given, then waits for grant (or returns err).
type fakeFleet struct {
	standby []string
	grant   chan struct{} // nil: at once
	err     error
	hold    *fakeHold

	waiting chan struct{} // closed once AcquireFleet waits
	once    sync.Once
}

func (f *fakeFleet) AcquireFleet(ctx context.Context, name string, standby func(string)) (FleetHold, error) {
	for _, s := range f.standby {
		standby(s)
	}
	if f.waiting != nil {
		f.once.Do(func() { close(f.waiting) })
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.grant != nil {
		select {
		case <-f.grant:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", name, context.Cause(ctx))
		}
	}
	return f.hold, nil
}

// fakeHold is a held fleet lock; the test closes lost.
type fakeHold struct {
	token  int64
	lost   chan struct{}
	expiry time.Time

	mu       sync.Mutex
	released int
	onRel    func() // called by Release
}

func newFakeHold(token int64) *fakeHold {
	return &fakeHold{token: token, lost: make(chan struct{}), expiry: time.Now().Add(time.Hour)}
}

func (h *fakeHold) Token() int64          { return h.token }
func (h *fakeHold) Lost() <-chan struct{} { return h.lost }

func (h *fakeHold) Expiry() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.expiry
}

func (h *fakeHold) Release() error {
	h.mu.Lock()
	h.released++
	f := h.onRel
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

func (h *fakeHold) releases() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.released
}

// TestFleetStandby: with a fleet lock, the service stands by after taking
// its local lock: STATUS= with the standby line and EXTEND_TIMEOUT_USEC=,
// no READY=1 until the fleet lock is held. The app then has the fencing
// token in its context and in SOLE_FENCING_TOKEN; on a stop the fleet lock
// is released after the app returned and before the local lock.
func TestFleetStandby(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "svc.pid")
	m := newFakeManager(t, lockPath)
	hold := newFakeHold(42)
	const line = "standing by: svc is held by pid 7 on web1, since 10:04:05"
	f := &fakeFleet{standby: []string{line}, grant: make(chan struct{}), hold: hold}
	appDone := make(chan struct{})
	type seen struct {
		token int64
		ok    bool
		env   string
	}
	got := make(chan seen, 1)
	releasedWhile := make(chan string, 1)
	hold.onRel = func() {
		probe, _ := pidlock.New(lockPath)
		st, _ := probe.Query()
		select {
		case <-appDone:
			releasedWhile <- st.State.String()
		default:
			releasedWhile <- "app still running"
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- Run(ctx, Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), Fleet: f},
			AppFunc(func(ctx context.Context, s *Service) error {
				defer close(appDone)
				tok, ok := FencingToken(ctx)
				got <- seen{tok, ok, os.Getenv(EnvFencingToken)}
				s.Ready()
				<-ctx.Done()
				return nil
			}))
	}()

	r := m.next()
	if want := "STATUS=" + line + "\nEXTEND_TIMEOUT_USEC=30000000"; r.Text != want {
		t.Fatalf("standby message %q, want %q", r.Text, want)
	}
	if r.State != pidlock.Running || r.PID != os.Getpid() {
		t.Fatalf("stood by while the local lock was %v (pid %d), want held", r.State, r.PID)
	}
	select {
	case r := <-m.Msgs:
		t.Fatalf("sent %q while standing by", r.Text)
	case <-time.After(300 * time.Millisecond):
	}
	close(f.grant)
	r = m.expect("READY=1")
	if r.State != pidlock.Running || r.PID != os.Getpid() {
		t.Fatalf("READY=1 while the local lock was %v", r.State)
	}
	if s := <-got; s != (seen{42, true, "42"}) {
		t.Fatalf("the app saw token %d (ok %v) and %s=%q, want 42 in both", s.token, s.ok, EnvFencingToken, s.env)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if w := <-releasedWhile; w != pidlock.Running.String() {
		t.Fatalf("the fleet lock was released while %s, want after the app returned and while the local lock was held", w)
	}
	if n := hold.releases(); n != 1 {
		t.Fatalf("released %d times", n)
	}
	if v, ok := os.LookupEnv(EnvFencingToken); ok {
		t.Fatalf("%s=%q left after the run", EnvFencingToken, v)
	}
	if _, ok := FencingToken(context.Background()); ok {
		t.Fatal("FencingToken without a fleet lock: ok")
	}
}

// TestFleetLost: when the fleet lock is lost, the app's context is
// cancelled with ErrFleetLost as its cause, and Run returns an error
// matching ErrFleetLost by half way to the lease's expiry, whether the app
// returned or not; Main's exit status for it is 76. Before READY=1, no
// READY=1 is ever sent.
func TestFleetLost(t *testing.T) {
	tests := map[string]struct {
		stubborn   bool // the app does not return when its context ends
		beforeRdy  bool // lost before the app is ready
		wantInTime bool // Run returns before the deadline; else at it
	}{
		"app returns":            {wantInTime: true},
		"app ignores its ctx":    {stubborn: true},
		"lost before it's ready": {beforeRdy: true, wantInTime: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lockPath := filepath.Join(t.TempDir(), "svc.pid")
			m := newFakeManager(t, lockPath)
			hold := newFakeHold(9)
			const margin = 600 * time.Millisecond
			f := &fakeFleet{hold: hold}
			cause := make(chan error, 1)
			running := make(chan struct{})
			release := make(chan struct{})
			defer close(release)
			runErr := make(chan error, 1)
			go func() {
				runErr <- Run(context.Background(), Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), Fleet: f, StopTimeout: 10 * time.Second},
					AppFunc(func(ctx context.Context, s *Service) error {
						close(running)
						if !tt.beforeRdy {
							s.Ready()
						}
						<-ctx.Done()
						cause <- context.Cause(ctx)
						if tt.stubborn {
							<-release
						}
						return context.Cause(ctx)
					}))
			}()
			<-running
			if !tt.beforeRdy {
				m.expect("READY=1")
			}
			hold.mu.Lock()
			hold.expiry = time.Now().Add(margin)
			hold.mu.Unlock()
			lostAt := time.Now()
			close(hold.lost)
			if c := <-cause; !errors.Is(c, ErrFleetLost) {
				t.Fatalf("the app's context ended with cause %v, want ErrFleetLost", c)
			}
			err := <-runErr
			took := time.Since(lostAt)
			t.Logf("Run returned %v after the loss (deadline %v): %v", took.Round(time.Millisecond), margin/2, err)
			if !errors.Is(err, ErrFleetLost) || exitStatus(err) != ExitLockLost {
				t.Fatalf("Run = %v (exit %d), want ErrFleetLost, exit 76", err, exitStatus(err))
			}
			if took > margin {
				t.Fatalf("Run returned %v after the loss, after the lease's expiry (%v)", took, margin)
			}
			if tt.wantInTime && took > margin/4 {
				t.Errorf("Run returned %v after the loss, though the app returned at once", took)
			}
			if !tt.wantInTime && took < margin/2-50*time.Millisecond {
				t.Errorf("Run returned %v after the loss: it did not give the app until the deadline (%v)", took, margin/2)
			}
			if n := hold.releases(); n != 1 {
				t.Errorf("released %d times, want 1", n)
			}
			for {
				select {
				case r := <-m.Msgs:
					if strings.HasPrefix(r.Text, "READY=1") {
						t.Errorf("sent %q after the loss", r.Text)
					}
					if strings.HasPrefix(r.Text, "STOPPING=1") && r.Text != "STOPPING=1\nSTATUS=fleet lock lost; stopping" {
						t.Errorf("stop message %q", r.Text)
					}
					continue
				default:
				}
				break
			}
			probe, _ := pidlock.New(lockPath)
			if st, _ := probe.Query(); st.State != pidlock.NotRunning {
				t.Errorf("local lock after the loss: %v", st.State)
			}
		})
	}
}

// TestFleetAcquireFails: the fleet lock's errors end the start with the
// local lock released and no READY=1; an unreachable server maps to exit
// 69, and a stop asked for while standing by (SIGTERM, through Main) to
// a clean exit.
func TestFleetAcquireFails(t *testing.T) {
	unreachable := fmt.Errorf("fleet lock svc: %w", fmt.Errorf("etcd at 127.0.0.1:1 cannot be reached: %w", ErrFleetUnreachable))
	tests := map[string]struct {
		err      error
		cancel   bool // cancel Run's context while it stands by
		viaMain  bool // run through main("run") and SIGTERM it while it stands by
		wantIs   error
		wantCode int
	}{
		"unreachable":      {err: unreachable, wantIs: ErrFleetUnreachable, wantCode: ExitUnavailable},
		"config error":     {err: errors.New("--fleet-cacert: no such file"), wantCode: 1},
		"cancelled":        {cancel: true, wantIs: context.Canceled, wantCode: 1},
		"SIGTERM, by Main": {viaMain: true, wantCode: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lockPath := filepath.Join(t.TempDir(), "svc.pid")
			m := newFakeManager(t, lockPath)
			f := &fakeFleet{err: tt.err, grant: make(chan struct{}), hold: newFakeHold(1), waiting: make(chan struct{}),
				standby: []string{"standing by: svc is held by pid 7 on web1"}}
			cfg := Config{Name: "svc", LockPath: lockPath, Logger: quietLogger(), Fleet: f}
			app := AppFunc(func(ctx context.Context, s *Service) error {
				t.Error("the app ran without the fleet lock")
				return nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			var err error
			go func() {
				if tt.viaMain {
					var stderr strings.Builder
					code := main(cfg, app, []string{"run"}, &stderr, &stderr)
					if stderr.Len() > 0 {
						t.Errorf("stderr %q", stderr.String())
					}
					done <- code
					return
				}
				err = Run(ctx, cfg, app)
				done <- exitStatus(err)
			}()
			<-f.waiting
			switch {
			case tt.cancel:
				cancel()
			case tt.viaMain:
				// The runtime catches it while it stands by (and only
				// then); AcquireFleet is waiting, so it does.
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the start did not end")
			}
			if code != tt.wantCode || tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Run = %v, exit %d; want an error matching %v, exit %d", err, code, tt.wantIs, tt.wantCode)
			}
			for len(m.Msgs) > 0 {
				if r := <-m.Msgs; strings.HasPrefix(r.Text, "READY=1") {
					t.Fatalf("sent %q", r.Text)
				}
			}
			probe, _ := pidlock.New(lockPath)
			if st, _ := probe.Query(); st.State != pidlock.NotRunning {
				t.Fatalf("local lock after a failed start: %v", st.State)
			}
		})
	}
}
