//go:build windows

package platform

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows"
)

const hasSystemd = false

const maxPid = math.MaxUint32 // process ids are DWORDs

// openProcess opens process pid for PROCESS_QUERY_LIMITED_INFORMATION, the
// least access that names and times a process, granted for most processes
// of other users too.
func openProcess(pid int) (windows.Handle, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		if err == windows.ERROR_INVALID_PARAMETER { // what OpenProcess says for an unknown pid
			return 0, noProcess(pid)
		}
		return 0, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("OpenProcess", err))
	}
	return h, nil
}

func processName(pid int) (string, error) {
	h, err := openProcess(pid)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(h)
	p, err := imageName(h)
	if err != nil {
		return "", fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("QueryFullProcessImageName", err))
	}
	return filepath.Base(p), nil
}

// imageName returns the Win32 path of the image of process h.
func imageName(h windows.Handle) (string, error) {
	buf := make([]uint16, windows.MAX_PATH)
	for {
		n := uint32(len(buf))
		err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n)
		if err == nil {
			return windows.UTF16ToString(buf[:n]), nil
		}
		// Long paths go up to 32767 UTF-16 units.
		if err != windows.ERROR_INSUFFICIENT_BUFFER || len(buf) >= 1<<15 {
			return "", err
		}
		buf = make([]uint16, min(4*len(buf), 1<<15))
	}
}

func processStartTime(pid int) (time.Time, error) {
	h, err := openProcess(pid)
	if err != nil {
		return time.Time{}, err
	}
	defer windows.CloseHandle(h)
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &creation, &exit, &kernel, &user); err != nil {
		return time.Time{}, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("GetProcessTimes", err))
	}
	return time.Unix(0, creation.Nanoseconds()), nil
}

func isPrivileged() bool {
	ok, err := isLocalSystem()
	return err == nil && ok
}

// isLocalSystem reports whether the user of the token of this process is
// the LocalSystem account (S-1-5-18).
func isLocalSystem() (bool, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return false, os.NewSyscallError("GetTokenInformation", err)
	}
	return u.User.Sid.IsWellKnown(windows.WinLocalSystemSid), nil
}

func systemLockDir() (string, error) { return windowsSystemLockDir(os.Getenv), nil }

func windowsSystemLockDir(getenv func(string) string) string {
	d := getenv("ProgramData")
	if d == "" || !filepath.IsAbs(d) {
		d = `C:\ProgramData`
	}
	return filepath.Join(d, "sole")
}

func userLockDir() (string, error) { return windowsUserLockDir(os.Getenv) }

func windowsUserLockDir(getenv func(string) string) (string, error) {
	d := getenv("LOCALAPPDATA")
	if d == "" {
		return "", errors.New("user lock directory: LOCALAPPDATA is not set")
	}
	if !filepath.IsAbs(d) {
		return "", fmt.Errorf("user lock directory: LOCALAPPDATA is not an absolute path: %q", d)
	}
	return filepath.Join(d, "sole"), nil
}

func serviceManager() Manager { return ManagerWindows }

func processFamily(int) (int, int, error) {
	return 0, 0, fmt.Errorf("process groups on windows: %w", errors.ErrUnsupported)
}
