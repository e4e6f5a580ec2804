package platform

// ProcessFamily returns the parent's pid and the process group of process
// pid.
//
//   - Linux: fields 4 (ppid) and 5 (pgrp) of /proc/PID/stat.
//   - macOS: e_ppid and e_pgid of sysctl kern.proc.pid.PID.
//   - elsewhere: an error matching errors.ErrUnsupported.
//
// Errors are as for ProcessName.
func ProcessFamily(pid int) (ppid, pgid int, err error) {
	if err := checkPid(pid); err != nil {
		return 0, 0, err
	}
	return processFamily(pid)
}
