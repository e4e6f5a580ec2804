//go:build unix && !linux

package pidlock

import (
	"errors"
	"fmt"
	"runtime"
)

// Only Linux says which processes hold a flock (macOS's F_GETLK and the
// BSDs' kern.lockf name at most the process that placed it, not the ones
// that inherited it); see docs/locking.md.

const canListHolders = false

func holdsLock(int, uint64, uint64) bool { return false }

func listHolders(uint64, uint64) ([]int, error) {
	return nil, fmt.Errorf("listing a lock's holders on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
