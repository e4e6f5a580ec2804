//go:build unix && !linux

package solecmd

import "golang.org/x/sys/unix"

// guardClock: CLOCK_MONOTONIC, the system-wide clock macOS and the BSDs
// give both processes.
const guardClock = unix.CLOCK_MONOTONIC
