//go:build linux

package pidlock

import (
	"bytes"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/procfs"
)

// Linux tells which processes hold a lock: every open descriptor of a file
// has a /proc/PID/fdinfo/FD whose "lock:" lines list the locks held
// through that descriptor's open file description. A flock belongs to the
// open file description, so every process that inherited the descriptor
// (a command run by sole, its children, a daemon it forked) lists it.

const canListHolders = true

// holdsLock reports whether process pid holds a flock on the file dev/ino
// through one of its descriptors. A process whose descriptors cannot be
// read (another user's, without privilege) or that is gone reports false.
func holdsLock(pid int, dev, ino uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	fds, err := procfs.ReadDirNames(dir + "/fd")
	if err != nil && len(fds) == 0 {
		return false
	}
	major, minor := unix.Major(dev), unix.Minor(dev)
	for _, fd := range fds {
		var st unix.Stat_t
		// stat follows the descriptor's magic link to the open file.
		if unix.Stat(dir+"/fd/"+fd, &st) != nil || uint64(st.Dev) != dev || st.Ino != ino {
			continue
		}
		b, err := procfs.ReadFile(dir + "/fdinfo/" + fd)
		if err != nil {
			continue
		}
		if fdinfoHasLock(b, major, minor, ino) {
			return true
		}
	}
	return false
}

// fdinfoHasLock reports whether the text of a /proc/PID/fdinfo/FD file has
// a "lock:" line for a granted FLOCK on major:minor:ino.
func fdinfoHasLock(b []byte, major, minor uint32, ino uint64) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if rest, ok := bytes.CutPrefix(line, []byte("lock:")); ok && procLocksHas(rest, major, minor, ino) {
			return true
		}
	}
	return false
}

// listHolders returns the pids of every process that holds a flock on the
// file dev/ino, in the order /proc lists them. Processes this one may not
// inspect are left out; the error is non-nil only when /proc cannot be
// read at all.
func listHolders(dev, ino uint64) ([]int, error) {
	names, err := procfs.ReadDirNames("/proc")
	if err != nil {
		return nil, errors.New("cannot read /proc: " + err.Error())
	}
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		if holdsLock(pid, dev, ino) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
