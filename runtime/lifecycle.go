package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/solehq/sole/internal/sdnotify"
	"github.com/solehq/sole/pidlock"
)

// lifecycle is one run of an App: lock, start, ready, serve, stop.
type lifecycle struct {
	shutdown  atomic.Bool // stopping for a system shutdown (Service.SystemShutdown)
	cfg       Config
	app       App
	log       *slog.Logger
	n         *notifier
	lock      *pidlock.Lock
	listeners []net.Listener

	watching chan struct{} // closed once SIGHUP is watched; nil: not watched

	readyOnce sync.Once
	ready     chan struct{} // closed by Service.Ready

	cancelApp context.CancelCauseFunc
	appDone   chan struct{} // closed when App.Run returned
	appErr    error

	// stopOnSignal makes SIGTERM and Ctrl-C end a standby for the fleet
	// lock (runService); Run leaves signals to its caller.
	stopOnSignal bool
	lost         chan struct{} // closed when the fleet lock was lost

	mu           sync.Mutex // orders notify messages against reload and stop
	isReady      bool
	stopped      bool
	stopDone     chan struct{} // closed when the first stop returned, with stopErr
	stopErr      error
	wdStop       chan struct{}
	wdDone       chan struct{}
	fleet        *fleetState // the fleet lock, while held
	lostExpiry   time.Time   // once lost: the lease's expiry as it was known then
	lostDeadline time.Time   // once lost: by when the app must have stopped
}

func newLifecycle(cfg Config, app App) (*lifecycle, error) {
	if cfg.Logger == nil {
		cfg.Logger = serviceLogger(cfg.Name) // nil but for a Windows service
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var opts []pidlock.Option
	if cfg.Scope != 0 {
		opts = append(opts, pidlock.WithScope(cfg.Scope))
	} else if cfg.LockPath == "" && systemLockDirGiven(cfg.Name) {
		// A system service running as another user (--run-as): its lock
		// is the system one, in the directory systemd made for it.
		opts = append(opts, pidlock.WithScope(pidlock.ScopeSystem))
	}
	var lock *pidlock.Lock
	var err error
	if cfg.LockPath != "" {
		lock, err = pidlock.New(cfg.LockPath, opts...)
	} else {
		lock, err = pidlock.Named(cfg.Name, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	return &lifecycle{
		cfg:      cfg,
		app:      app,
		log:      cfg.Logger.With("service", cfg.Name),
		n:        newNotifier(),
		lock:     lock,
		ready:    make(chan struct{}),
		appDone:  make(chan struct{}),
		lost:     make(chan struct{}),
		stopDone: make(chan struct{}),
	}, nil
}

// systemLockDirGiven reports whether the service manager created the
// system lock directory of name for this process (systemd's
// RuntimeDirectory=sole/NAME of a system unit, listed in
// $RUNTIME_DIRECTORY): the process is then a system service, whichever
// user it runs as, and takes the system lock that `PROG status` and
// `sole status` look at.
func systemLockDirGiven(name string) bool {
	dirs := os.Getenv("RUNTIME_DIRECTORY")
	if dirs == "" {
		return false
	}
	l, err := pidlock.Named(name, pidlock.WithScope(pidlock.ScopeSystem))
	if err != nil {
		return false
	}
	want := filepath.Dir(l.Path())
	for _, d := range filepath.SplitList(dirs) {
		if d == want {
			return true
		}
	}
	return false
}

// extendEvery is how often the runtime asks systemd for more time while it
// waits on a slow lock or a slow start, and extendBy how much it asks for.
const (
	extendEvery = 2 * time.Second
	extendBy    = 5 * time.Second
)

// start takes the lock (and the fleet lock, with Config.Fleet) and starts
// the app, and returns once the app is ready and readiness was reported;
// or with the error that ended the start, after releasing everything.
func (l *lifecycle) start(ctx context.Context) error {
	if err := l.takeLock(ctx); err != nil {
		return err
	}
	appCtx := context.WithoutCancel(ctx)
	var readyAttrs []any
	if l.cfg.Fleet != nil {
		token, err := l.acquireFleet(ctx)
		if err != nil {
			l.release()
			return err
		}
		appCtx = context.WithValue(appCtx, fencingKey{}, token)
		readyAttrs = []any{"fencing_token", token}
	}
	if ls, err := activation.Listeners(); err == nil {
		l.listeners = nonNil(ls)
	} else {
		l.log.Warn("socket activation: cannot use the passed sockets", "err", err)
	}
	appCtx, cancel := context.WithCancelCause(appCtx)
	l.cancelApp = cancel
	l.watchFleet(cancel)
	go func() {
		defer close(l.appDone)
		l.appErr = l.app.Run(appCtx, &Service{l: l})
	}()

	timeout := time.NewTimer(l.cfg.StartTimeout)
	defer timeout.Stop()
	extend := time.NewTicker(extendEvery)
	defer extend.Stop()
	testHookStartWait()
	for timedOut := false; ; {
		select {
		case <-l.ready:
		case <-l.lost:
		case <-l.appDone:
		case <-timeout.C:
			timedOut = true
		case <-ctx.Done():
		case <-extend.C:
			l.n.send(sdnotify.ExtendTimeout(extendBy))
			continue
		}
		// Several may have happened at once; the app's Ready comes first,
		// so that a ready app that then returns, or whose ctx ends, is a
		// start and a clean stop, never "not ready" by the luck of select.
		select {
		case <-l.ready:
			return l.reportReady(readyAttrs)
		default:
		}
		if timedOut {
			l.log.Error("app not ready in time; stopping it", "timeout", l.cfg.StartTimeout)
			l.stop()
			return fmt.Errorf("runtime: %s: %w (%v)", l.cfg.Name, ErrNotReady, l.cfg.StartTimeout)
		}
		select {
		case <-l.lost:
			return l.stop()
		case <-l.appDone:
			if l.isLost() {
				return l.stop()
			}
			err := l.appErr
			if err == nil {
				err = errors.New("app returned before it was ready")
			}
			l.release()
			return fmt.Errorf("runtime: %s: %w", l.cfg.Name, err)
		case <-ctx.Done():
			l.stop()
			return fmt.Errorf("runtime: %s: start cancelled: %w", l.cfg.Name, ctx.Err())
		}
	}
}

// testHookStartWait runs before start waits for the app; a test sets it
// to let the app get ahead.
var testHookStartWait = func() {}

// reportReady reports readiness once the app called Ready (unless the
// fleet lock was lost first: then it stops), and starts the watchdog.
func (l *lifecycle) reportReady(readyAttrs []any) error {
	if l.watching != nil {
		<-l.watching
	}
	l.mu.Lock()
	select {
	case <-l.lost:
		// Lost before it could be reported ready: never READY=1.
		l.mu.Unlock()
		return l.stop()
	default:
	}
	l.isReady = true
	err := l.n.send(msgReady(l.cfg.ReadyStatus)...)
	l.mu.Unlock()
	if err != nil {
		l.log.Warn("sd_notify READY=1 failed", "err", err)
	}
	l.log.Info("ready", append([]any{"pid", os.Getpid(), "lock", l.lock.Path()}, readyAttrs...)...)
	l.startWatchdog()
	return nil
}

func nonNil(ls []net.Listener) []net.Listener {
	var out []net.Listener
	for _, x := range ls {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// takeLock takes the lock, or with WaitForLock waits for it (bounded by
// StartTimeout), asking systemd to extend its start timeout meanwhile.
func (l *lifecycle) takeLock(ctx context.Context) error {
	err := l.lock.TryLock()
	if err != nil && errors.Is(err, pidlock.ErrLocked) && l.cfg.WaitForLock {
		l.log.Info("waiting for the running instance to exit", "holder", holderString(err))
		wctx, cancel := context.WithTimeout(ctx, l.cfg.StartTimeout)
		stop := sdnotify.Extending(extendEvery, extendBy, func(line string) { l.n.send(line) })
		err = l.lock.Lock(wctx)
		stop()
		cancel()
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, pidlock.ErrLocked) {
		l.log.Error("already running", "holder", holderString(err))
		return fmt.Errorf("runtime: %s: %w: %w", l.cfg.Name, ErrAlreadyRunning, err)
	}
	return fmt.Errorf("runtime: %s: %w", l.cfg.Name, err)
}

func holderString(err error) string {
	var le *pidlock.LockedError
	if errors.As(err, &le) && le.Holder != nil {
		return fmt.Sprintf("pid %d (%s) since %s", le.Holder.PID, le.Holder.Process, le.Holder.Since.Format(time.RFC3339))
	}
	return "starting"
}

func (l *lifecycle) markReady() {
	l.readyOnce.Do(func() { close(l.ready) })
}

func (l *lifecycle) setStatus(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.log.Info("status", "status", s)
	// Before readiness the status waits to go out with READY=1; after, it
	// goes out now and is the status a reload's READY=1 repeats.
	l.cfg.ReadyStatus = s
	if !l.isReady {
		return
	}
	if err := l.n.send(sdnotify.Status(s)); err != nil {
		l.log.Warn("sd_notify STATUS failed", "err", err)
	}
}

// startWatchdog feeds systemd's watchdog at half its interval, only while
// the app's health check passes.
func (l *lifecycle) startWatchdog() {
	if l.n.watchdog <= 0 {
		return
	}
	l.wdStop, l.wdDone = make(chan struct{}), make(chan struct{})
	every := l.n.watchdog / 2
	checker, _ := l.app.(Checker)
	go func() {
		defer close(l.wdDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-l.wdStop:
				return
			case <-t.C:
			}
			if checker != nil {
				ctx, cancel := context.WithTimeout(context.Background(), every)
				err := checker.Check(ctx)
				cancel()
				if err != nil {
					l.log.Warn("health check failed; not feeding the watchdog", "err", err)
					continue
				}
			}
			l.mu.Lock()
			if !l.stopped {
				l.n.send(sdnotify.Watchdog)
			}
			l.mu.Unlock()
		}
	}()
}

// stop stops the app and releases the locks: STOPPING=1, cancel, wait up
// to StopTimeout (once the fleet lock is lost, only until half way to its
// lease's expiry), release the fleet lock, then the local one. It returns
// the app's error, or one matching ErrFleetLost. A second call waits for
// the first and returns the same.
func (l *lifecycle) stop() error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		<-l.stopDone
		return l.stopErr
	}
	l.stopped = true
	status := "stopping"
	if l.lostLocked() {
		status = "fleet lock lost; stopping"
	}
	l.n.send(sdnotify.Stopping, sdnotify.Status(status))
	l.mu.Unlock()
	l.stopErr = l.stopApp()
	close(l.stopDone)
	return l.stopErr
}

func (l *lifecycle) stopApp() error {
	if l.wdStop != nil {
		close(l.wdStop)
		<-l.wdDone
	}
	l.log.Info("stopping")
	if l.cancelApp != nil {
		l.cancelApp(nil)
		timeout := time.NewTimer(l.cfg.StopTimeout)
		defer timeout.Stop()
		lost := l.lost
		var deadline <-chan time.Time
	wait:
		for {
			select {
			case <-l.appDone:
				break wait
			case <-lost:
				// The app must be gone before the lease can expire.
				lost = nil
				d, _ := l.lostTimes()
				t := time.NewTimer(time.Until(d))
				defer t.Stop()
				deadline = t.C
			case <-deadline:
				select {
				case <-l.appDone:
					break wait
				default:
				}
				l.log.Error("app did not stop before the fleet lock's deadline; releasing the locks and exiting without it")
				l.release()
				return l.lostError(false)
			case <-timeout.C:
				l.log.Error("app did not stop in time; releasing the lock and exiting", "timeout", l.cfg.StopTimeout)
				l.release()
				if l.isLost() {
					return l.lostError(false)
				}
				return fmt.Errorf("runtime: %s: app did not stop within %v", l.cfg.Name, l.cfg.StopTimeout)
			}
		}
	}
	l.release()
	if l.isLost() {
		if l.appErr != nil && !errors.Is(l.appErr, context.Canceled) && !errors.Is(l.appErr, ErrFleetLost) {
			l.log.Error("app failed", "err", l.appErr)
		}
		l.log.Error("stopped: the fleet lock was lost")
		return l.lostError(true)
	}
	if l.appErr != nil {
		l.log.Error("app failed", "err", l.appErr)
		return fmt.Errorf("runtime: %s: %w", l.cfg.Name, l.appErr)
	}
	l.log.Info("stopped")
	return nil
}

// release releases the fleet lock, if held, then the local lock.
func (l *lifecycle) release() {
	l.releaseFleet()
	if err := l.lock.Unlock(); err != nil && !errors.Is(err, pidlock.ErrNotHeld) {
		l.log.Warn("releasing the lock", "err", err)
	}
}
