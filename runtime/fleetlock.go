package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fleet"
	"github.com/solehq/sole/internal/sdnotify"
)

// A FleetLock is a lock held across machines after the local one, so that
// one node of many runs the service (Config.Fleet). Package
// github.com/solehq/sole/runtime/fleet provides one on etcd; the runtime
// itself links no etcd client, so a program that does not use the fleet
// does not pay for one.
type FleetLock interface {
	// AcquireFleet takes the lock name, waiting for it as long as ctx
	// allows. While it waits it calls standby (from any goroutine, never
	// after it returned) with a one-line status whenever the holder
	// changes: "standing by: NAME is held by pid 42 on web1, since
	// 2025-01-02 10:04:05". Once ctx ends it returns an error that
	// matches ctx's error.
	AcquireFleet(ctx context.Context, name string, standby func(status string)) (FleetHold, error)
}

// A FleetHold is a fleet lock held.
type FleetHold interface {
	// Token is the fencing token: it rises with every new holder, so
	// that what the service writes elsewhere can be refused once a newer
	// holder wrote.
	Token() int64
	// Lost is closed once the lock may be lost: a margin before the
	// lease could expire on the server, or at once when the server says
	// it is gone.
	Lost() <-chan struct{}
	// Expiry is the earliest time the lease can expire on the server, as
	// this process knows it. Once Lost is closed, the runtime stops the
	// app by half way from then to Expiry.
	Expiry() time.Time
	// Release gives the lock up (revokes the lease), so that a node that
	// stands by takes over at once.
	Release() error
}

var (
	// ErrFleetLost is matched by Run's error, and by the cause of the
	// app's context (context.Cause), when the fleet lock was lost: no
	// keepalive was acknowledged in time, or the lease is gone. A
	// program built on Main then exits 76 (ExitLockLost).
	ErrFleetLost = fleet.ErrLost
	// ErrFleetUnreachable is matched by Run's error when the fleet
	// lock's server could not be reached; a program built on Main then
	// exits 69 (ExitUnavailable). A FleetLock wraps it in its errors.
	ErrFleetUnreachable = fleet.ErrUnreachable
)

// The exit statuses of a program built on Main that uses a fleet lock.
const (
	ExitLockLost    = cli.ExitLockLost    // 76: the fleet lock was lost; the app was stopped before its lease could expire
	ExitUnavailable = cli.ExitUnavailable // 69: the fleet lock's server cannot be reached
)

// EnvFencingToken is the environment variable that holds the fencing token
// (in decimal) while the service holds its fleet lock, for the processes
// the app starts; it is the variable `sole run --fleet` gives its command.
const EnvFencingToken = "SOLE_FENCING_TOKEN"

type fencingKey struct{}

// FencingToken returns the fencing token of the fleet lock the service
// holds (Config.Fleet), from the context App.Run was given or one derived
// from it. ok is false when the service holds no fleet lock.
func FencingToken(ctx context.Context) (token int64, ok bool) {
	token, ok = ctx.Value(fencingKey{}).(int64)
	return token, ok
}

// errStandbyStopped: the service was asked to stop (SIGTERM, Ctrl-C)
// while it stood by for the fleet lock. Main exits 0.
var errStandbyStopped = errors.New("stopped while standing by for the fleet lock")

// fleetExtendEvery is how often the runtime asks systemd for more time
// while it stands by for the fleet lock, and fleetExtendBy how much (a
// standby may last as long as the other node runs).
const (
	fleetExtendEvery = 10 * time.Second
	fleetExtendBy    = 30 * time.Second
)

// fleetState is the fleet lock of a lifecycle, once held.
type fleetState struct {
	hold  FleetHold
	token int64

	done chan struct{} // closed by releaseFleet: the watch of Lost ends
}

// acquireFleet takes the fleet lock, once the local lock is held: it
// stands by for as long as another node holds it, with the standby line
// in STATUS= and EXTEND_TIMEOUT_USEC= so that systemd's start timeout
// does not end the wait. A stop asked for meanwhile (with stopOnSignal)
// ends the wait.
func (l *lifecycle) acquireFleet(ctx context.Context) (token int64, err error) {
	actx := ctx
	if l.stopOnSignal {
		var stop context.CancelFunc
		actx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	var mu sync.Mutex
	waiting, extending := true, false
	stopExtending := func() {}
	defer func() {
		mu.Lock()
		waiting = false
		stop := stopExtending
		mu.Unlock()
		stop()
	}()
	standby := func(status string) {
		status = cli.OneLine(status)
		mu.Lock()
		defer mu.Unlock()
		if !waiting {
			return
		}
		l.log.Info(status)
		if err := l.n.send(sdnotify.Status(status), sdnotify.ExtendTimeout(fleetExtendBy)); err != nil {
			l.log.Warn("sd_notify STATUS failed", "err", err)
		}
		if !extending {
			// Keep extending the start timeout while standing by.
			extending = true
			stopExtending = sdnotify.Extending(fleetExtendEvery, fleetExtendBy, func(line string) { l.n.send(line) })
		}
	}
	h, err := l.cfg.Fleet.AcquireFleet(actx, l.cfg.Name, standby)
	if err == nil && h == nil {
		err = errors.New("AcquireFleet returned no lock and no error")
	}
	if err != nil {
		name := l.cfg.Name
		switch {
		case actx.Err() != nil && ctx.Err() == nil:
			l.log.Info("stopped while standing by for the fleet lock")
			return 0, fmt.Errorf("runtime: %s: %w", name, errStandbyStopped)
		case ctx.Err() != nil:
			return 0, fmt.Errorf("runtime: %s: start cancelled while waiting for the fleet lock: %w", name, err)
		case errors.Is(err, ErrFleetUnreachable):
			l.log.Error("the fleet lock's server cannot be reached", "err", cli.OneLine(err.Error()))
			return 0, fmt.Errorf("runtime: %s: fleet lock: %w", name, err)
		}
		l.log.Error("cannot take the fleet lock", "err", cli.OneLine(err.Error()))
		return 0, fmt.Errorf("runtime: %s: fleet lock: %w", name, err)
	}
	f := &fleetState{hold: h, token: h.Token(), done: make(chan struct{})}
	l.mu.Lock()
	l.fleet = f
	l.mu.Unlock()
	if err := os.Setenv(EnvFencingToken, strconv.FormatInt(f.token, 10)); err != nil {
		l.log.Warn("cannot set "+EnvFencingToken, "err", err)
	}
	l.log.Info("fleet lock held", "fencing_token", f.token)
	return f.token, nil
}

// watchFleet cancels the app's context with ErrFleetLost as its cause
// once the fleet lock may be lost, and closes l.lost; whoever waits for
// the app then stops it (stop), by the deadline.
func (l *lifecycle) watchFleet(cancel context.CancelCauseFunc) {
	l.mu.Lock()
	f := l.fleet
	l.mu.Unlock()
	if f == nil {
		return
	}
	go func() {
		select {
		case <-f.hold.Lost():
		case <-f.done:
			return
		}
		now := time.Now()
		exp := f.hold.Expiry()
		deadline := now.Add(max(exp.Sub(now), 0) / 2)
		l.log.Error("fleet lock lost: no keepalive acknowledged in time, or the lease is gone; stopping the app before the lease can expire",
			"expiry", exp.Format("15:04:05.000"), "deadline", deadline.Format("15:04:05.000"))
		// One step under l.mu, which stop takes first: whoever sees the
		// app return or l.lost closed sees the other too, and the app's
		// context has ErrFleetLost as its cause, not a stop's.
		l.mu.Lock()
		l.lostExpiry, l.lostDeadline = exp, deadline
		cancel(fmt.Errorf("runtime: %s: %w (the lease can expire at %s)", l.cfg.Name, ErrFleetLost, exp.Format("15:04:05.000")))
		close(l.lost)
		l.mu.Unlock()
	}()
}

// isLost reports whether the fleet lock was lost. It takes l.mu, so that
// an app that returned because it was lost is seen as lost.
func (l *lifecycle) isLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostLocked()
}

// lostLocked is isLost with l.mu held.
func (l *lifecycle) lostLocked() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// lostTimes returns, once the fleet lock was lost, the time by which the
// app must have stopped and the lease's expiry as it was known then.
func (l *lifecycle) lostTimes() (deadline, expiry time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostDeadline, l.lostExpiry
}

// lostError is Run's error once the fleet lock was lost; returned says
// whether the app returned in time.
func (l *lifecycle) lostError(returned bool) error {
	deadline, expiry := l.lostTimes()
	if !returned {
		return fmt.Errorf("runtime: %s: %w: the app did not return by %s; exiting without it, before its lease can expire (at %s)",
			l.cfg.Name, ErrFleetLost, deadline.Format("15:04:05.000"), expiry.Format("15:04:05.000"))
	}
	return fmt.Errorf("runtime: %s: %w: the app was stopped before its lease could expire (at %s)",
		l.cfg.Name, ErrFleetLost, expiry.Format("15:04:05.000"))
}

// releaseFleet gives the fleet lock up, after the app returned and before
// the local lock is released. A lock that was lost is released in the
// background, waited for only until the app's deadline.
func (l *lifecycle) releaseFleet() {
	l.mu.Lock()
	f := l.fleet
	l.fleet = nil
	l.mu.Unlock()
	if f == nil {
		return
	}
	close(f.done)
	if os.Getenv(EnvFencingToken) == strconv.FormatInt(f.token, 10) {
		os.Unsetenv(EnvFencingToken)
	}
	res := make(chan error, 1)
	go func() { res <- f.hold.Release() }()
	var bound <-chan time.Time
	if l.isLost() {
		// Over a link that does not answer the release cannot get
		// through, and the lease expires anyway: wait no longer than
		// the app was given, so the process is gone well before then.
		deadline, _ := l.lostTimes()
		t := time.NewTimer(max(time.Until(deadline), 0))
		defer t.Stop()
		bound = t.C
	}
	select {
	case err := <-res:
		if err != nil {
			l.log.Warn("releasing the fleet lock; it is free once its lease expires", "err", cli.OneLine(err.Error()))
			return
		}
		l.log.Info("fleet lock released")
	case <-bound:
		l.log.Warn("the fleet lock was lost: not waiting for its release; it is free once its lease expires")
	}
}
