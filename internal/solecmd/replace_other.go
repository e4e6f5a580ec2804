//go:build !linux

package solecmd

import (
	"os"
	"time"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// findHolders: only Linux says which processes hold a flock. Elsewhere the
// one process --replace may signal is the record's, and only while it is
// still the one that wrote it: same name, started before the record was
// written (see docs/locking.md for what that cannot rule out).
func findHolders(_ *pidlock.Lock, h *pidlock.Holder) ([]holderProc, error) {
	if h == nil || !recordedProcess(h) {
		return nil, nil
	}
	return []holderProc{{pid: h.PID, name: h.Process, start: h.Since}}, nil
}

func recordedProcess(h *pidlock.Holder) bool {
	if h.PID <= 1 || h.PID == os.Getpid() {
		return false
	}
	name, err := platform.ProcessName(h.PID)
	if err != nil || name != h.Process {
		return false
	}
	start, err := platform.ProcessStartTime(h.PID)
	return err == nil && !start.After(h.Since.Add(2*time.Second))
}

func signalProc(_ *pidlock.Lock, p holderProc, force bool) error {
	if !recordedProcess(&pidlock.Holder{PID: p.pid, Process: p.name, Since: p.start}) {
		return errGone
	}
	return stopProcess(p.pid, force)
}

func forwardsToGroup(holderProc) bool { return false }
