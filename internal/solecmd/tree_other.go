//go:build unix && !linux

package solecmd

import (
	"syscall"
)

// signalTree sends sig to COMMAND's process group while COMMAND (pid) is
// not reaped yet. macOS and the BSDs have no subreaper, so a daemon that
// left the group is not reached; docs/cli.md says so.
func signalTree(pid int, reaped bool, sig syscall.Signal) {
	if !reaped {
		_ = syscall.Kill(-pid, sig)
	}
}
