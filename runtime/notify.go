package runtime

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
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
	os.Unsetenv("NOTIFY_SOCKET")
	// SdWatchdogEnabled checks WATCHDOG_PID against our pid, and with
	// true unsets both variables.
	if d, err := daemon.SdWatchdogEnabled(true); err == nil {
		n.watchdog = d
	}
	return n
}

// send sends the lines as one datagram. It returns nil when no service
// manager listens.
func (n *notifier) send(lines ...string) error {
	msg := strings.Join(lines, "\n")
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.addr == "" {
		return nil
	}
	return sendDatagram(n.addr, msg)
}

// The messages, as docs/runtime.md lists them.

func msgReady(status string) []string {
	return []string{daemon.SdNotifyReady, "MAINPID=" + strconv.Itoa(os.Getpid()), "STATUS=" + oneLine(status)}
}

func msgStatus(status string) []string { return []string{"STATUS=" + oneLine(status)} }

func msgStopping(status string) []string {
	return []string{daemon.SdNotifyStopping, "STATUS=" + oneLine(status)}
}

func msgWatchdog() []string { return []string{daemon.SdNotifyWatchdog} }

// msgExtend asks systemd for d more before it gives up on the current
// start, reload or stop.
func msgExtend(d time.Duration) []string {
	return []string{"EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10)}
}

// oneLine makes s fit on one line of a notify message.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
}
