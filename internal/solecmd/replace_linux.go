//go:build linux

package solecmd

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// findHolders lists the processes that hold l, as the kernel says
// (/proc/PID/fdinfo): the record is not consulted, so an innocent process
// that a record names is never a target.
func findHolders(l *pidlock.Lock, _ *pidlock.Holder) ([]holderProc, error) {
	hs, err := l.Holders()
	if err != nil {
		return nil, err
	}
	out := make([]holderProc, 0, len(hs))
	for _, h := range hs {
		ppid, pgid, err := platform.ProcessFamily(h.PID)
		if err != nil {
			continue // gone since
		}
		out = append(out, holderProc{pid: h.PID, ppid: ppid, pgid: pgid, name: h.Process, start: h.Since})
	}
	return out, nil
}

// signalProc sends p SIGTERM (or with force SIGKILL) if it still holds
// l. It opens a pidfd first, checks through it that the process is the
// one listed (same start time) and still holds the lock, and signals the
// pidfd: a pid reused in between can never be hit. Without pidfds (Linux
// before 5.3) it checks and then uses kill(2).
func signalProc(l *pidlock.Lock, p holderProc, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err == unix.ESRCH {
		return errGone
	}
	pidfd := err == nil
	if pidfd {
		defer unix.Close(fd)
	} else if err != unix.ENOSYS {
		return os.NewSyscallError("pidfd_open", err)
	}
	if start, err := platform.ProcessStartTime(p.pid); err != nil || !sameStart(start.UnixNano(), p.start.UnixNano()) || !l.HoldsLock(p.pid) {
		return errGone
	}
	if pidfd {
		err = unix.PidfdSendSignal(fd, sig, nil, 0)
	} else {
		err = unix.Kill(p.pid, sig)
	}
	if err == unix.ESRCH {
		return errGone
	}
	return err
}

// sameStart compares two readings of one process's start time, which can
// differ by the rounding of the boot time (see platform.ProcessStartTime).
func sameStart(a, b int64) bool {
	const tolerance = 1500 * 1000 * 1000 // 1.5 s in ns
	d := a - b
	return d < tolerance && d > -tolerance
}

// forwardsToGroup reports whether p is a `sole run`, which forwards
// SIGTERM to its command's process group: its executable is this one, or
// is named sole (as the copy a package ships in /usr/lib/NAME/sole is).
func forwardsToGroup(p holderProc) bool {
	exe := "/proc/" + strconv.Itoa(p.pid) + "/exe"
	var a, b unix.Stat_t
	if unix.Stat(exe, &a) == nil && unix.Stat("/proc/self/exe", &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
		return true
	}
	target, err := os.Readlink(exe)
	return err == nil && filepath.Base(target) == "sole"
}
