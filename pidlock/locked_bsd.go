//go:build unix && !linux

package pidlock

import "golang.org/x/sys/unix"

// isLocked reports whether some process holds an exclusive lock on the
// open file fd. On macOS and the BSDs flock(2) and fcntl(2) locks live in
// one list, so F_GETLK sees a flock: asking whether a shared lock could be
// placed is answered "no" exactly when someone holds an exclusive one. It
// takes no lock, so it can never make a concurrent starter fail.
func isLocked(fd int, _, _ uint64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0, Start: 0, Len: 0}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}
