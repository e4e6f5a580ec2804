//go:build !unix && !windows

package platform

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// Systems that are neither Unix nor Windows (Plan 9, js/wasm, wasip1) have
// no process information and no lock directories.

const hasSystemd = false

const maxPid = math.MaxInt32

// unsupported is the error for what is not implemented on this system.
func unsupported(what string) error {
	return fmt.Errorf("%s on %s: %w", what, runtime.GOOS, errors.ErrUnsupported)
}

func processName(int) (string, error) { return "", unsupported("process information") }

func processStartTime(int) (time.Time, error) { return time.Time{}, unsupported("process information") }

func isPrivileged() bool { return false }

func systemLockDir() (string, error) { return "", unsupported("lock directory") }

func userLockDir() (string, error) { return "", unsupported("lock directory") }

func serviceManager() Manager { return ManagerNone }
