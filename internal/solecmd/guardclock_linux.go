package solecmd

import "golang.org/x/sys/unix"

// guardClock counts the time the system was suspended too: a lease on
// another machine runs out while this one sleeps.
const guardClock = unix.CLOCK_BOOTTIME
