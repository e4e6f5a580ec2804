//go:build unix

package sdnotify

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// send writes msg to the unixgram socket addr, with raw system calls to
// keep the net package out of the program.
func send(addr, msg string) error {
	// As the syscall package does where SOCK_CLOEXEC is missing (macOS):
	// hold ForkLock so that no fork copies the descriptor before it is
	// close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// On Linux, x/sys/unix makes a leading '@' the NUL of an abstract
	// address.
	return unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: addr})
}

// monotonicUsec reads CLOCK_MONOTONIC, the clock systemd's MONOTONIC_USEC=
// is on.
func monotonicUsec() (int64, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0, false
	}
	return ts.Nano() / 1000, true
}
