// Package runtime makes a Go program a well-behaved OS service that runs as
// exactly one instance.
//
// The program implements App (and, if it wants, Reloader and Checker); Run
// or Main does the rest, in this order, on every OS:
//
//  1. take the single-instance lock (package pidlock): fail fast, or wait
//     if Config.WaitForLock is set, telling systemd to extend its start
//     timeout meanwhile;
//  2. write the lock's record (pid and process name);
//  3. with Config.Fleet, take the fleet lock (held across machines, on
//     etcd with package runtime/fleet), standing by for as long as
//     another node holds it: STATUS= says who, and EXTEND_TIMEOUT_USEC=
//     keeps systemd's start timeout from ending the wait;
//  4. start App.Run with a Service handle (and, with Config.Fleet, the
//     fencing token in its context, FencingToken, and in
//     SOLE_FENCING_TOKEN);
//  5. wait until the app calls Service.Ready, at most Config.StartTimeout
//     (extending systemd's start timeout while it waits);
//  6. only then report readiness: sd_notify READY=1 with MAINPID= and
//     STATUS= under systemd; SERVICE_RUNNING on Windows (Start returns only
//     now); a log line everywhere.
//
// While it runs, Service.SetStatus sends STATUS=; when systemd set a
// watchdog (WATCHDOG_USEC), WATCHDOG=1 goes out every half interval, but
// only while Checker.Check passes, so a hung app is killed by systemd rather
// than kept alive by a blind ticker. SIGHUP runs Reloader.Reload between
// RELOADING=1 (with MONOTONIC_USEC=) and READY=1. On stop: STOPPING=1, the
// app's context is cancelled, it gets Config.StopTimeout to return, then the
// fleet lock is released, then the local lock and its record.
//
// When the fleet lock may be lost (no keepalive acknowledged a margin
// before the lease could expire, or the lease is gone), the app's context
// is cancelled with a cause matching ErrFleetLost; the app gets until half
// way to the lease's expiry to return, and Run returns an error matching
// ErrFleetLost whether it did or not (Main exits 76), so that the app has
// stopped before another node can take the lock over.
//
// The notify socket is read once and removed from the environment, so
// processes the app starts do not inherit NOTIFY_SOCKET (nor WATCHDOG_USEC
// and WATCHDOG_PID), while STATUS= and WATCHDOG=1 keep working: the messages
// are sent to the saved address. (go-systemd's SdNotify with
// unsetEnvironment=true would silently drop every later message.)
//
// See docs/runtime.md for every message and docs/systemd.md, docs/launchd.md
// and docs/windows.md for each service manager.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/pidlock"
)

// App is a service's program.
type App interface {
	// Run runs the service until ctx is done, then returns nil (or an
	// error, which makes the process exit non-zero). It must call
	// svc.Ready once it is serving; readiness is reported to the service
	// manager only then.
	Run(ctx context.Context, svc *Service) error
}

// Reloader is implemented by an App that can reload its configuration
// (SIGHUP, `systemctl reload`).
type Reloader interface {
	Reload(ctx context.Context) error
}

// Checker is implemented by an App that can tell whether it is healthy.
// The systemd watchdog is fed only while Check returns nil.
type Checker interface {
	Check(ctx context.Context) error
}

// AppFunc adapts a function to App.
type AppFunc func(ctx context.Context, svc *Service) error

// Run calls f.
func (f AppFunc) Run(ctx context.Context, svc *Service) error { return f(ctx, svc) }

// Config describes a service.
type Config struct {
	// Name names the service and its lock: 1 to 200 printable bytes
	// without '/', '\\' or a leading '.' (pidlock.ValidName).
	Name string
	// Description is one line for the service manager.
	Description string
	// DisplayName is the name shown to people (the Windows service's
	// display name; systemd's Description= when Description is empty).
	DisplayName string
	// Env holds KEY=VALUE pairs written into the service definition
	// (systemd Environment=, launchd EnvironmentVariables, the Windows
	// service's environment).
	Env []string
	// UserService makes install, uninstall, start, stop, restart and
	// status act on the per-user service by default, as if given --user.
	UserService bool
	// Scope of the lock; zero means pidlock's default (system for root).
	Scope pidlock.Scope
	// LockPath overrides the lock's location (default: pidlock.Named).
	LockPath string
	// WaitForLock waits for another instance to exit instead of failing
	// at once with ErrAlreadyRunning.
	WaitForLock bool
	// StartTimeout bounds the wait for the lock (with WaitForLock) and for
	// the app's Ready. Default 90s.
	StartTimeout time.Duration
	// StopTimeout bounds the app's return after its context is cancelled.
	// Default 30s.
	StopTimeout time.Duration
	// Watchdog, when set, is written into the service definition
	// (systemd WatchdogSec=); the runtime then feeds it while Checker.Check
	// passes.
	Watchdog time.Duration
	// The service options below are those of `sole install` and `sole
	// package` (--run-as, --workdir, --env-file, --restart,
	// --restart-delay, --harden, --log-dir; see docs/cli.md). They are
	// written into the service definition by `PROG install`, whose
	// command line may override each one.
	//
	// RunAs is USER[:GROUP] for a system service (on Windows LocalService,
	// NetworkService or NT SERVICE\NAME).
	RunAs string
	// Workdir is the working directory. Default "/".
	Workdir string
	// EnvFile is a file of KEY=VALUE lines (systemd's EnvironmentFile=
	// syntax) read when the service starts.
	EnvFile string
	// Restart is on-failure (the default), always or no; RestartDelay the
	// pause before a restart (default 1s).
	Restart      string
	RestartDelay time.Duration
	// Harden runs the service under systemd's sandboxing options, with a
	// state and a logs directory (docs/systemd.md).
	Harden bool
	// LogDir is where launchd writes the program's output.
	LogDir string
	// ReadyStatus is the STATUS= sent with READY=1. Default "running".
	ReadyStatus string
	// Logger receives the runtime's log lines. Default: chosen for where
	// the process runs (see NewLogger).
	Logger *slog.Logger
	// Fleet, when set, is a lock held across machines after the local
	// one (github.com/solehq/sole/runtime/fleet.New gives one on etcd),
	// named Name on every node: the service stands by while another node
	// holds it, for as long as it takes (StartTimeout does not bound the
	// standby; SIGTERM or Ctrl-C ends it, and Main then exits 0), reports
	// READY=1 only once it holds both, and is stopped when it is lost
	// (see the package documentation). On Windows a service that stands
	// by stays START_PENDING meanwhile.
	Fleet FleetLock
}

// ErrAlreadyRunning is matched by Run's error when another instance holds
// the lock. The error also matches pidlock.ErrLocked and carries the holder
// (errors.As into *pidlock.LockedError).
var ErrAlreadyRunning = errors.New("already running")

// ErrNotReady is matched by Run's error when the app did not call Ready
// within Config.StartTimeout.
var ErrNotReady = errors.New("not ready in time")

// ExitAlreadyRunning is the exit status of a service that found another
// instance running (EX_TEMPFAIL); units say RestartPreventExitStatus=75.
const ExitAlreadyRunning = cli.ExitAlreadyRunning

// Service is the app's handle on the runtime while it runs.
type Service struct {
	l *lifecycle
}

// Ready reports that the app is serving. The first call makes the runtime
// report readiness; later calls do nothing.
func (s *Service) Ready() { s.l.markReady() }

// SystemShutdown reports whether the service is being stopped because the
// system shuts down (the Windows service control manager's shutdown
// request), not by a stop request. On Unix a service cannot tell the two
// apart (both are SIGTERM), and it reports false.
func (s *Service) SystemShutdown() bool { return s.l.shutdown.Load() }

// SetStatus sets the one-line status shown by the service manager (systemd
// STATUS=, `systemctl status`) and logs it.
func (s *Service) SetStatus(status string) { s.l.setStatus(status) }

// Listeners returns the sockets the service manager passed (systemd socket
// activation, LISTEN_FDS), in order; nil when there are none. They are
// taken from the environment once, so children do not inherit LISTEN_FDS.
func (s *Service) Listeners() []net.Listener { return s.l.listeners }

// Logger returns the runtime's logger, for the app's own log lines.
func (s *Service) Logger() *slog.Logger { return s.l.log }

// Lock returns the single-instance lock the service holds.
func (s *Service) Lock() *pidlock.Lock { return s.l.lock }

// Run runs app as the single instance of cfg.Name until ctx is done or the
// app returns, following the order in the package documentation. It
// returns nil after a clean stop, an error matching ErrAlreadyRunning when
// another instance holds the lock, an error matching ErrNotReady when the
// app did not become ready in time, one matching ErrFleetLost when the
// fleet lock was lost (the app may then still be running, if it did not
// return in time: the caller should exit), one matching
// ErrFleetUnreachable when the fleet lock's server could not be reached,
// or the app's own error. While Run stands by for the fleet lock, ctx
// ends the wait. SIGHUP (Unix) runs the reload hook while Run runs.
func Run(ctx context.Context, cfg Config, app App) error {
	p, stopReload, err := newProgram(cfg, app)
	if err != nil {
		return err
	}
	defer stopReload()
	l := p.l
	if err := l.start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-l.appDone:
	case <-l.lost:
	}
	return l.stop()
}

func (c Config) withDefaults() Config {
	if c.StartTimeout <= 0 {
		c.StartTimeout = 90 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 30 * time.Second
	}
	if c.ReadyStatus == "" {
		c.ReadyStatus = "running"
	}
	if c.Logger == nil {
		c.Logger = NewLogger(nil)
	}
	return c
}

func (c Config) validate() error {
	if err := pidlock.ValidName(c.Name); err != nil {
		return fmt.Errorf("runtime: config: %w", err)
	}
	return nil
}
