//go:build linux

package solecmd

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/platform"
)

// signalTree sends sig once to every process of COMMAND's tree: its
// process group in one kill(2) while COMMAND (pid) is not reaped yet, so
// that the group's id cannot have been reused, and then each descendant
// of sole outside that group (sole is their subreaper, so a daemon that
// left the group is still sole's descendant) through a pidfd opened
// before its parent is checked again: a pid reused in between is never
// hit. Without pidfds (Linux before 5.3) only the group is signalled.
func signalTree(pid int, reaped bool, sig syscall.Signal) {
	group := !reaped && syscall.Kill(-pid, sig) == nil
	self := os.Getpid()
	parents := map[int]int{} // pid → ppid, of every process sole may have started
	pgids := map[int]int{}
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		p, err := strconv.Atoi(n)
		if err != nil || p == self {
			continue
		}
		if ppid, pgid, err := platform.ProcessFamily(p); err == nil {
			parents[p], pgids[p] = ppid, pgid
		}
	}
	ours := func(p int) bool {
		for range 4096 { // no chain is longer; a cycle would be a bug
			pp, ok := parents[p]
			if !ok {
				return false
			}
			if pp == self {
				return true
			}
			p = pp
		}
		return false
	}
	for p := range parents {
		if (group && pgids[p] == pid) || p == guardPID || !ours(p) {
			continue
		}
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			continue
		}
		// The pidfd pins the process: if its parent is still one of
		// ours, so is it.
		if ppid, _, err := platform.ProcessFamily(p); err == nil && (ppid == self || ours(ppid)) {
			_ = unix.PidfdSendSignal(fd, sig, nil, 0)
		}
		unix.Close(fd)
	}
}
