//go:build linux

package pidlock

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/procfs"
)

// isLocked reports whether some process holds an exclusive flock on the
// file dev/ino, by reading the kernel's lock table. Unlike a probe that
// takes a lock, this can never make a concurrent starter fail.
func isLocked(_ int, dev, ino uint64) (bool, error) {
	b, err := procfs.ReadFile("/proc/locks")
	if err != nil {
		return false, errors.New("cannot read the kernel's lock table: " + err.Error())
	}
	return procLocksHas(b, unix.Major(dev), unix.Minor(dev), ino), nil
}
