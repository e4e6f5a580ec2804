// Package sdnotify speaks the client side of systemd's notify protocol
// (sd_notify(3)): it sends a message to the service manager's notify socket
// and reads the watchdog interval systemd set for a process.
//
// A message is a few lines "NAME=value", sent as one datagram. The constants
// and builders below are every line sole sends:
//
//	sdnotify.Send(addr, sdnotify.Ready, sdnotify.MainPID(os.Getpid()), sdnotify.Status("running"))
//	sdnotify.Send(addr, sdnotify.Reloading, sdnotify.MonotonicUsec())
//	sdnotify.Send(addr, sdnotify.Watchdog)
//	sdnotify.Send(addr, sdnotify.ExtendTimeout(5*time.Second))
//	sdnotify.Send(addr, sdnotify.Stopping)
//
// The package reads no environment variable itself: the caller reads
// NOTIFY_SOCKET (and removes it, with WATCHDOG_USEC and WATCHDOG_PID, from
// what its children inherit) and passes the address. On Unix it sends with
// raw system calls, so that it does not link the net package into a
// program that has no other use for it.
package sdnotify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lines that say a state.
const (
	// Ready: the service finished starting up (or reloading).
	Ready = "READY=1"
	// Reloading: the service is reloading its configuration; it sends
	// Ready when done. systemd wants MonotonicUsec in the same message.
	Reloading = "RELOADING=1"
	// Stopping: the service is shutting down.
	Stopping = "STOPPING=1"
	// Watchdog feeds the watchdog (see WatchdogInterval).
	Watchdog = "WATCHDOG=1"
)

// Status is the line STATUS=s, the free-form status systemctl status
// shows. Line breaks and NUL bytes in s become spaces, so that s stays one
// line of the message.
func Status(s string) string {
	return "STATUS=" + strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// MainPID is the line MAINPID=pid, which names the service's main process.
func MainPID(pid int) string { return "MAINPID=" + strconv.Itoa(pid) }

// ExtendTimeout is the line EXTEND_TIMEOUT_USEC=, which asks systemd for d
// more (in whole microseconds; 0 if d is negative) before it gives up on
// the current start, reload or stop.
func ExtendTimeout(d time.Duration) string {
	return "EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(max(d, 0).Microseconds(), 10)
}

// MonotonicUsec is the line MONOTONIC_USEC= with the time now on
// CLOCK_MONOTONIC, in microseconds, which goes with Reloading. It is ""
// where there is no such clock (outside Unix) or the clock cannot be read;
// Send leaves an empty line out.
func MonotonicUsec() string {
	usec, ok := monotonicUsec()
	if !ok {
		return ""
	}
	return "MONOTONIC_USEC=" + strconv.FormatInt(usec, 10)
}

// Send sends the lines, joined by "\n", as one datagram to the notify
// socket addr: what NOTIFY_SOCKET said, a path or, on Linux, an abstract
// socket when it starts with '@'. Empty lines are left out; the others are
// sent as they are (Status makes free text one line). Send returns:
//
//   - nil, having sent nothing, when addr is "" (no service manager
//     listens) or there is no line to send;
//   - nil once the datagram is sent;
//   - an error wrapping the errno of socket(2) or sendto(2) when it is
//     not: for one syscall.ENOENT when nothing is at addr,
//     syscall.ECONNREFUSED when nobody listens there any more,
//     syscall.EACCES when the socket is not ours to write,
//     syscall.EINVAL when addr is too long for a socket address;
//   - outside Unix, when addr is not "", an error wrapping
//     errors.ErrUnsupported: there is no notify socket there.
//
// The socket Send opens is closed when it returns, and no process started
// meanwhile inherits it: it is close-on-exec before a fork can copy it.
func Send(addr string, lines ...string) error {
	if addr == "" {
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := send(addr, b.String()); err != nil {
		return fmt.Errorf("sd_notify: send to %s: %w", addr, err)
	}
	return nil
}

// WatchdogInterval is the watchdog interval systemd set for the process
// pid, read with getenv (os.Getenv, or a fake in tests) from WATCHDOG_USEC
// and WATCHDOG_PID, as sd_watchdog_enabled(3) reads them. The service must
// send Watchdog at least this often. WATCHDOG_USEC is read first; it
// returns:
//
//   - 0, nil when WATCHDOG_USEC is unset or empty: no watchdog;
//   - 0, nil when WATCHDOG_USEC is a positive number but WATCHDOG_PID
//     names another process: the watchdog is not this process's (it was
//     inherited);
//   - the interval, nil when WATCHDOG_USEC is a positive number of
//     microseconds and WATCHDOG_PID is unset, empty or pid;
//   - 0 and an error when WATCHDOG_USEC is not a decimal integer (wrapping
//     strconv.ErrSyntax), is 0 or negative, or is too large for a
//     time.Duration (wrapping strconv.ErrRange); or when WATCHDOG_PID is
//     set but not a decimal integer (wrapping strconv.ErrSyntax, or
//     strconv.ErrRange when it is too large for an int).
//
// Whatever it returns, the caller decides whether to remove the variables
// from the environment.
func WatchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	s := getenv("WATCHDOG_USEC")
	if s == "" {
		return 0, nil
	}
	usec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sd_notify: WATCHDOG_USEC=%q: %w", s, numError(err))
	}
	if usec <= 0 {
		return 0, fmt.Errorf("sd_notify: WATCHDOG_USEC=%q: %w", s, errNotPositive)
	}
	if usec > maxUsec {
		return 0, fmt.Errorf("sd_notify: WATCHDOG_USEC=%q: %w", s, strconv.ErrRange)
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		wpid, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("sd_notify: WATCHDOG_PID=%q: %w", p, numError(err))
		}
		if wpid != pid {
			return 0, nil
		}
	}
	return time.Duration(usec) * time.Microsecond, nil
}

// maxUsec is the longest time.Duration, in microseconds.
const maxUsec = (1<<63 - 1) / int64(time.Microsecond)

var errNotPositive = errors.New("not a positive number")

// numError is what strconv's error says without its repeat of the input:
// strconv.ErrSyntax or strconv.ErrRange.
func numError(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

// Extending calls send with ExtendTimeout(by) every interval, so that a
// start that waits (for a lock held elsewhere) is not given up on, until
// the returned stop is called; stop returns once send is no longer
// called.
func Extending(interval, by time.Duration, send func(line string)) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				send(ExtendTimeout(by))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-stopped }) }
}
