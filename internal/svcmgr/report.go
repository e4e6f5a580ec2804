package svcmgr

import (
	"fmt"

	"github.com/solehq/sole/pidlock"
)

// The LSB status codes that `sole status` and every service's status
// command exit with.
const (
	StatusRunning    = 0
	StatusDeadRecord = 1
	StatusNotRunning = 3
	StatusUnknown    = 4
)

// Report describes a service in one line: its manager's state and who
// holds its lock, for example
//
//	hellod: active; running (pid 1234, hellod, since 10:42:07)
//
// and returns the LSB exit code, which follows the lock: the lock is the
// truth about whether an instance runs.
func Report(name string, user bool, lock *pidlock.Lock, since func(pidlock.Holder) string) (string, int) {
	state, err := Status(name, user)
	mgr := string(state)
	if err != nil {
		mgr = "manager state unknown (" + err.Error() + ")"
	}
	st, err := lock.Query()
	if err != nil {
		return fmt.Sprintf("%s: %s; lock state unknown: %v", name, mgr, err), StatusUnknown
	}
	switch st.State {
	case pidlock.Running:
		return fmt.Sprintf("%s: %s; running (pid %d, %s, since %s)", name, mgr, st.Holder.PID, st.Holder.Process, since(*st.Holder)), StatusRunning
	case pidlock.Starting:
		return fmt.Sprintf("%s: %s; running (starting)", name, mgr), StatusRunning
	case pidlock.Stale:
		return fmt.Sprintf("%s: %s; not running (stale record in %s)", name, mgr, lock.Path()), StatusDeadRecord
	}
	return fmt.Sprintf("%s: %s; not running", name, mgr), StatusNotRunning
}
