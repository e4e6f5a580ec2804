//go:build unix && !linux

package solecmd

import "syscall"

// dieWithParent: macOS and the BSDs have no parent-death signal that a Go
// program can set for its child (FreeBSD's procctl(PROC_PDEATHSIG_CTL)
// must be called by the child itself, after fork and before exec). With
// --no-inherit, a command whose sole is killed there runs on without the
// lock; docs/locking.md says so.
func dieWithParent(*syscall.SysProcAttr) {}

// stopProcess asks pid to stop (SIGTERM) or, with force, kills it.
func stopProcess(pid int, force bool) error {
	if force {
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

// becomeSubreaper: only Linux (and FreeBSD's procctl, not used) lets a
// process adopt its orphaned descendants.
func becomeSubreaper() {}

// descendantsLeft reports whether COMMAND's process group (pid) still has
// a member. A daemon that left the group (setsid) is not seen here.
func descendantsLeft(pid int) bool { return syscall.Kill(-pid, 0) == nil }

// noteGuard: the fleet guard is in a process group of its own, which
// descendantsLeft does not look at here.
func noteGuard(int) {}
