//go:build !linux

package systemdtest

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
)

const goos = runtime.GOOS

// Machine is a systemd booted by Boot. Its methods may be called from several
// goroutines at once. (Here, without Linux, it has only the fields the
// portable code uses; Boot always skips or fails.)
type Machine struct {
	pid     int           // PID 1 of the guest, as seen by the host
	cgroup  string        // host path of the guest's cgroup
	nsenter string        // path of nsenter(1)
	nsArgs  []string      // nsenter options entering the guest
	rootFD  int           // O_PATH descriptor of the guest's root
	exited  chan struct{} // closed when unshare has exited
	waitErr error         // unshare's exit, set before exited is closed
	console *syncBuffer   // the guest's console: output of unshare, setup and PID 1
	booted  bool          // Boot succeeded

	mu   sync.Mutex
	down bool // Shutdown has begun
}

func boot(t testing.TB, env environment) *Machine {
	t.Helper()
	reason := precheck(env)
	if reason == "" {
		reason = "needs Linux"
	}
	unavailable(t, env, reason)
	return nil
}

func (m *Machine) kill() {}

func (m *Machine) release() error { return nil }

func (m *Machine) writeFile(guestPath string, data []byte, perm os.FileMode) error {
	return errors.New("needs Linux")
}
