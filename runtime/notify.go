package runtime

import (
	"os"
	"sync"
	"time"

	"github.com/solehq/sole/internal/sdnotify"
)

// notifier sends sd_notify(3) messages to the address NOTIFY_SOCKET had
// when it was made. It removes NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID from the environment, so that no process the app starts
// inherits them, and keeps what they said.
type notifier struct {
	mu       sync.Mutex
	addr     string        // "" when no service manager listens
	watchdog time.Duration // 0 when no watchdog is set for this process
}

func newNotifier() *notifier {
	n := &notifier{addr: os.Getenv("NOTIFY_SOCKET")}
	// A WATCHDOG_USEC or WATCHDOG_PID that does not parse means no
	// watchdog (WatchdogInterval returns 0 with its error).
	n.watchdog, _ = sdnotify.WatchdogInterval(os.Getenv, os.Getpid())
	os.Unsetenv("NOTIFY_SOCKET")
	os.Unsetenv("WATCHDOG_USEC")
	os.Unsetenv("WATCHDOG_PID")
	return n
}

// send sends the lines as one datagram, one message at a time. It returns
// nil when no service manager listens.
func (n *notifier) send(lines ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return sdnotify.Send(n.addr, lines...)
}

// msgReady is the ready message, as docs/runtime.md lists it (the other
// messages are one sdnotify line or two, at their call sites).
func msgReady(status string) []string {
	return []string{sdnotify.Ready, sdnotify.MainPID(os.Getpid()), sdnotify.Status(status)}
}
