//go:build unix && !linux && !darwin

package platform

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// On Unix systems other than Linux and macOS (the BSDs, Solaris, AIX, ...)
// the lock directories follow the common conventions, but process
// information is not implemented.

const hasSystemd = false

const maxPid = math.MaxInt32 // pid_t

// unsupported is the error for what is not implemented on this system.
func unsupported(what string) error {
	return fmt.Errorf("%s on %s: %w", what, runtime.GOOS, errors.ErrUnsupported)
}

func processName(int) (string, error) { return "", unsupported("process information") }

func processStartTime(int) (time.Time, error) { return time.Time{}, unsupported("process information") }

func systemLockDir() (string, error) { return "/var/run/sole", nil }

func serviceManager() Manager { return ManagerNone }

func processFamily(int) (int, int, error) { return 0, 0, unsupported("process information") }
