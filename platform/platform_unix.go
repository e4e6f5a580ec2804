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
	return unixUserLockDir(runtime.GOOS, os.Geteuid(), "/run/lock", "/tmp"), nil
}

// unixUserLockDir is the user lock directory on Unix system goos for user
// uid, given the Linux lock directory runLock (/run/lock) and the
// temporary directory tmp (/tmp: literally, never $TMPDIR). It reads no
// environment variable, so that a login shell, cron, ssh and systemd
// --user all name the same directory; the arguments make it testable (the
// macOS rules on Linux too). The result is
//
//   - on Linux (and Android): runLock/sole-UID when runLock is a
//     sharedRootDir, as Debian's and Ubuntu's /run/lock (mode 1777, a tmpfs
//     cleared at boot and never aged); otherwise tmp/sole-UID;
//   - on every other Unix system: tmp/sole-UID;
//
// where tmp is first resolved while it is a symlink owned by root (macOS's
// /tmp -> private/tmp gives /private/tmp/sole-UID). It does not create the
// directory; pidlock does, checking every component.
func unixUserLockDir(goos string, uid int, runLock, tmp string) string {
	name := "sole-" + strconv.Itoa(uid)
	if (goos == "linux" || goos == "android") && sharedRootDir(runLock) {
		return filepath.Join(runLock, name)
	}
	return filepath.Join(resolveRootLink(tmp), name)
}

// sharedRootDir reports whether dir is itself (not through a symlink) a
// directory owned by root that everyone may search and write to, with the
// sticky bit: a directory where every user may create an entry of their
// own that no other user can remove or replace.
func sharedRootDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0 && fi.Mode()&os.ModeSticky != 0 && fi.Mode().Perm()&0o003 == 0o003
}

// resolveRootLink returns p with its last component resolved while it is a
// symlink owned by root (at most 8 times); p itself when it is not such a
// symlink, or cannot be read. A symlink owned by anyone else is left alone:
// pidlock refuses it when it creates the directory.
func resolveRootLink(p string) string {
	for range 8 {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return p
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
			return p
		}
		target, err := os.Readlink(p)
		if err != nil || target == "" {
			return p
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	return p
}
