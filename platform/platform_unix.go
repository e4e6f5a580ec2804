//go:build unix

package platform

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

func isPrivileged() bool { return os.Geteuid() == 0 }

func userLockDir() (string, error) {
	return unixUserLockDir(runtime.GOOS, os.Getenv, os.Geteuid(), "/run/user", os.TempDir())
}

// unixUserLockDir is the user lock directory on Unix system goos for user
// uid, with environment getenv, the per-user runtime directories under
// runUser (/run/user) and the temporary directory tmp (os.TempDir). It is a
// pure function of its arguments and the file system, so that the macOS
// rules can be tested on Linux.
func unixUserLockDir(goos string, getenv func(string) string, uid int, runUser, tmp string) (string, error) {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sole"), nil
	}
	id := strconv.Itoa(uid)
	if goos == "darwin" || goos == "ios" {
		// TMPDIR is a per-user directory under /var/folders, set by launchd.
		if d := getenv("TMPDIR"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "sole"), nil
		}
		return "/tmp/sole-" + id, nil
	}
	// The directory systemd-logind (or elogind) creates for each logged-in
	// user: what XDG_RUNTIME_DIR is normally set to.
	d := filepath.Join(runUser, id)
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int64(st.Uid) == int64(uid) {
			return filepath.Join(d, "sole"), nil
		}
	}
	return filepath.Join(tmp, "sole-"+id), nil
}
