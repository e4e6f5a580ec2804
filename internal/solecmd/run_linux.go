//go:build linux

package solecmd

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// dieWithParent has the kernel SIGKILL the command when sole dies. The
// parent-death signal fires when the thread that forked the command
// exits, not the process (golang/go#27505), so the calling goroutine stays
// locked to its thread for the rest of sole's life.
func dieWithParent(attr *syscall.SysProcAttr) {
	goruntime.LockOSThread()
	attr.Pdeathsig = syscall.SIGKILL
}

// becomeSubreaper makes sole the parent of the orphans COMMAND leaves (a
// daemon it double-forks), so that descendantsLeft sees them and sole's
// reaper reaps them.
func becomeSubreaper() {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// descendantsLeft reports whether, now that COMMAND (pid) has exited, any
// process it started may still run: sole, their subreaper, still has a
// child, or COMMAND's process group still has a member.
func descendantsLeft(pid int) bool {
	if syscall.Kill(-pid, 0) == nil {
		return true
	}
	if guardPID == 0 {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != unix.ECHILD
	}
	// Under the fleet lock, the guard is a child too: any other child?
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if f != strconv.Itoa(guardPID) {
				return true
			}
		}
	}
	return false
}

// guardPID is the fleet guard's pid, once started: a child of sole that
// is not part of COMMAND's tree (descendantsLeft, signalTree).
var guardPID int

func noteGuard(pid int) { guardPID = pid }
