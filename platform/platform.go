// Package platform reports the operating-system facts that the
// single-instance lock and the command line need: the name and start time of
// a process, where lock files live, and which service manager runs the host.
//
// The exported API and its documentation are in this file; the per-system
// mechanism is in platform_GOOS.go files. Linux, macOS and Windows are fully
// supported. On other Unix systems the lock directories are known but
// process information is not: ProcessName and ProcessStartTime return an
// error matching [errors.ErrUnsupported], as LockDir does too on systems that
// are neither Unix nor Windows.
package platform

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ErrNoProcess is matched (errors.Is) by the error of ProcessName and
// ProcessStartTime when no process has that pid.
var ErrNoProcess = errors.New("no such process")

// ProcessName returns the name of process pid as the kernel reports it:
//
//   - Linux: the contents of /proc/PID/comm without the trailing newline,
//     at most 15 bytes (TASK_COMM_LEN-1); by default the first 15 bytes of
//     the base name of the executable, but a process may change it.
//   - macOS: the p_comm field of sysctl kern.proc.pid.PID, at most 16 bytes
//     (MAXCOMLEN).
//   - Windows: the base name of the process image, for example
//     "backup.exe", from QueryFullProcessImageName on a handle opened with
//     PROCESS_QUERY_LIMITED_INFORMATION.
//
// A process that has exited but not yet been reaped (a zombie on Unix, a
// process object still referenced by a handle on Windows) still has a name.
// A pid larger than any the system can assign (2^31-1 on Unix, 2^32-1 on
// Windows) gives an error matching ErrNoProcess. A pid that is zero or
// negative is an error that does not match ErrNoProcess; so are permission
// errors and a process that exists but is hidden (for example by the
// hidepid option of /proc).
func ProcessName(pid int) (string, error) {
	if err := checkPid(pid); err != nil {
		return "", err
	}
	return processName(pid)
}

// ProcessStartTime returns when process pid started.
//
//   - Linux: boot time (btime of /proc/stat) plus the starttime field of
//     /proc/PID/stat (field 22, in clock ticks of 1/100 s since boot). The
//     result has a granularity of 10 ms, but btime is in whole seconds and
//     follows steps of the wall clock, so two calls for the same process
//     may differ by about a second; compare with a tolerance.
//   - macOS: the p_starttime field of sysctl kern.proc.pid.PID
//     (microseconds).
//   - Windows: the creation time from GetProcessTimes (100 ns units).
//
// Errors are as for ProcessName.
func ProcessStartTime(pid int) (time.Time, error) {
	if err := checkPid(pid); err != nil {
		return time.Time{}, err
	}
	return processStartTime(pid)
}

func checkPid(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("invalid pid %d", pid)
	}
	if uint64(pid) > maxPid {
		// Beyond the system's type for process ids (which the mechanism
		// would truncate to a valid pid).
		return noProcess(pid)
	}
	return nil
}

// noProcess is the error for a pid that no process has.
func noProcess(pid int) error {
	return fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
}

// Scope selects where locks live and (on Windows) the kernel namespace of
// the mutex.
type Scope int

const (
	// ScopeUser is the calling user's session: lock files live in a
	// per-user directory (see LockDir) and Windows mutexes in the session's
	// Local\ namespace.
	ScopeUser Scope = iota + 1
	// ScopeSystem is machine-wide, for system services: lock files live in
	// a system directory writable by administrators and Windows mutexes in
	// the Global\ namespace.
	ScopeSystem
)

// String returns "user" or "system", or "scope(N)" for other values.
func (s Scope) String() string {
	switch s {
	case ScopeUser:
		return "user"
	case ScopeSystem:
		return "system"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// ParseScope returns the scope named s, which must be exactly "user" or
// "system" (the result of Scope.String).
func ParseScope(s string) (Scope, error) {
	switch s {
	case "user":
		return ScopeUser, nil
	case "system":
		return ScopeSystem, nil
	}
	return 0, fmt.Errorf("invalid scope %q: want \"system\" or \"user\"", s)
}

// DefaultScope is ScopeSystem when the process runs as root (effective uid
// 0) on Unix, or as the LocalSystem account (token user SID S-1-5-18) on
// Windows; otherwise, and when that cannot be determined, it is ScopeUser.
func DefaultScope() Scope {
	if isPrivileged() {
		return ScopeSystem
	}
	return ScopeUser
}

// LockDir returns the default directory for the lock and PID files of
// scope s. It does not create the directory or check that it exists.
//
// For ScopeSystem it is
//
//   - Linux: /run/sole
//   - macOS and other Unix: /var/run/sole
//   - Windows: %ProgramData%\sole, or C:\ProgramData\sole when ProgramData
//     is not set to an absolute path.
//
// For ScopeUser it is, on Unix, the same directory for a user whatever the
// environment (a login shell, cron, ssh, systemd --user) and across logins:
// no environment variable is read (neither XDG_RUNTIME_DIR, whose
// directory logind removes at the last logout, nor TMPDIR). UID is the
// effective user id.
//
//   - Linux: /run/lock/sole-UID when /run/lock is a directory (not a
//     symlink) owned by root, world-writable and searchable with the
//     sticky bit (mode 1777 on Debian and Ubuntu: a tmpfs cleared at boot
//     and never aged); otherwise /tmp/sole-UID.
//   - macOS and other Unix: /tmp/sole-UID, with /tmp resolved when it is a
//     symlink owned by root (on macOS /private/tmp/sole-UID).
//   - Windows: %LOCALAPPDATA%\sole; it is an error if LOCALAPPDATA is not
//     set to an absolute path.
//
// The per-user directory is not created here: pidlock creates it (0700)
// and checks that no other user owns or can write any component of the
// path.
//
// Any other s is an error.
func LockDir(s Scope) (string, error) {
	switch s {
	case ScopeUser:
		return userLockDir()
	case ScopeSystem:
		return systemLockDir()
	}
	return "", fmt.Errorf("lock directory: invalid scope %v", s)
}

// Manager names a service manager.
type Manager string

const (
	ManagerNone    Manager = "none"
	ManagerSystemd Manager = "systemd"
	ManagerLaunchd Manager = "launchd"
	ManagerWindows Manager = "windows" // the Windows service control manager
)

// ServiceManager reports the host's service manager: ManagerSystemd on
// Linux when /run/systemd/system is a directory (the test of sd_booted(3));
// ManagerLaunchd on macOS; ManagerWindows (the service control manager) on
// Windows; ManagerNone otherwise.
func ServiceManager() Manager {
	return serviceManager()
}

// UnderSystemd reports whether this process was started by systemd as part
// of a unit. It is true on Linux when the environment variable INVOCATION_ID
// or NOTIFY_SOCKET is set to a non-empty value, and always false on other
// systems. Nothing else is checked: both variables are inherited, so the
// descendants of a unit's main process (including, on some desktops, shells
// in a terminal run as a user unit) are reported as well, and NOTIFY_SOCKET
// is also set by container managers that speak the sd_notify protocol.
func UnderSystemd() bool {
	return hasSystemd && underSystemd(os.Getenv)
}

func underSystemd(getenv func(string) string) bool {
	return getenv("INVOCATION_ID") != "" || getenv("NOTIFY_SOCKET") != ""
}
