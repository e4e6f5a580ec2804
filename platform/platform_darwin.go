//go:build darwin

package platform

import (
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const hasSystemd = false

const maxPid = math.MaxInt32 // pid_t

// kinfoProc returns the kinfo_proc of process pid from sysctl
// kern.proc.pid.PID.
func kinfoProc(pid int) (*unix.KinfoProc, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err == nil {
		return kp, nil
	}
	// For a pid no process has, sysctl succeeds but returns no data, which
	// SysctlKinfoProc reports as EIO. Make sure with kill(2), so that a
	// mismatch of the size of kinfo_proc is not taken for a dead process.
	if err == unix.EIO || err == unix.ESRCH {
		if kerr := unix.Kill(pid, 0); kerr == unix.ESRCH {
			return nil, noProcess(pid)
		}
	}
	return nil, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("sysctl kern.proc.pid", err))
}

func processName(pid int) (string, error) {
	kp, err := kinfoProc(pid)
	if err != nil {
		return "", err
	}
	return unix.ByteSliceToString(kp.Proc.P_comm[:]), nil
}

func processStartTime(pid int) (time.Time, error) {
	kp, err := kinfoProc(pid)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(kp.Proc.P_starttime.Unix()), nil
}

func systemLockDir() (string, error) { return "/var/run/sole", nil }

func serviceManager() Manager { return ManagerLaunchd }

func processFamily(pid int) (ppid, pgid int, err error) {
	kp, err := kinfoProc(pid)
	if err != nil {
		return 0, 0, err
	}
	return int(kp.Eproc.Ppid), int(kp.Eproc.Pgid), nil
}
