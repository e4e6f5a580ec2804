//go:build unix

package pidlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the root-owned symlinks followed on the way to a lock
// directory, as the kernel's MAXSYMLINKS (40) bounds a path lookup.
const maxLinks = 40

// makeLockDir creates the lock directory dir (an absolute path) and any
// missing parents, and checks every component from the root down, so that
// no other local user can swap, plant or remove entries on the way to the
// lock file. Each component, existing or created here, must be
//
//   - a directory: a symlink is followed only when root owns it (macOS's
//     /tmp and /var); any other symlink, a regular file or anything else is
//     refused;
//   - owned by root or by the effective uid; the one exception is dir
//     itself when the caller is root and dir's parent is root's: a service
//     manager creates a service's directory (systemd's RuntimeDirectory=
//     with User=) owned by the service's user;
//   - writable by nobody else: a directory that its group or others may
//     write to is accepted only with the sticky bit and owned by root (as
//     /tmp and /run/lock), or, when the caller is root, owned by root and
//     writable by its group but not by others (macOS's /var/run, root:daemon
//     0775).
//
// The missing components are created with perm (0700 for the user scope,
// 0755 for the system scope), exactly: the mode is set after mkdir, so the
// umask does not narrow it. A component that appears between our lstat and
// our mkdir (EEXIST: a concurrent acquirer) is checked like any other.
// Once every component is checked, only root and the caller can change the
// path: a sticky directory lets nobody else rename or remove our entry.
//
// The result is nil, or a *PathError (Op "lock" for a refused component,
// saying why in one line; "lstat", "mkdir", "chmod" or "readlink" for a
// failed system call, with its errno) naming the exact component; a path
// with control characters or invalid UTF-8 is quoted with strconv.Quote.
func makeLockDir(dir string, perm os.FileMode) error {
	return makeLockDirAs(dir, perm, os.Geteuid())
}

// makeLockDirAs is makeLockDir for a caller whose effective uid is euid
// (as a parameter so that root can test the rules of other users).
func makeLockDirAs(dir string, perm os.FileMode, euid int) error {
	if !filepath.IsAbs(dir) {
		return dirErr("lock", dir, errors.New("is not an absolute path"))
	}
	perm &= os.ModePerm
	var st unix.Stat_t
	if err := lstat("/", &st); err != nil {
		return dirErr("lstat", "/", err)
	}
	if err := checkDirStat(&st, euid, false); err != nil {
		return dirErr("lock", "/", err)
	}
	// The resolved components so far, each with its owner; root first.
	type component struct {
		path string
		uid  uint32
	}
	walked := []component{{"/", st.Uid}}
	rest := splitPath(dir)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			// Every component walked is a real directory, so ".." is
			// its parent in the list.
			if len(walked) > 1 {
				walked = walked[:len(walked)-1]
			}
			continue
		}
		parent := walked[len(walked)-1]
		next := filepath.Join(parent.path, name)
		created := false
		err := lstat(next, &st)
		if err == unix.ENOENT {
			err = mkdir(next, uint32(perm))
			switch err {
			case nil:
				created = true
			case unix.EEXIST:
				// Created by someone else meanwhile: check it.
			default:
				return dirErr("mkdir", next, err)
			}
			err = lstat(next, &st)
		}
		if err != nil {
			return dirErr("lstat", next, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if st.Uid != 0 {
				return dirErr("lock", next, fmt.Errorf("is a symlink owned by uid %d, not root; refusing to follow it", st.Uid))
			}
			if links++; links > maxLinks {
				return dirErr("lock", next, errors.New("too many levels of symbolic links"))
			}
			target, err := readlink(next)
			if err != nil {
				return dirErr("readlink", next, err)
			}
			if target == "" {
				return dirErr("lock", next, errors.New("is a symlink to an empty path"))
			}
			if filepath.IsAbs(target) {
				walked = walked[:1]
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		leaf := len(rest) == 0
		if err := checkDirStat(&st, euid, leaf && parent.uid == 0); err != nil {
			return dirErr("lock", next, err)
		}
		if created && os.FileMode(st.Mode)&os.ModePerm != perm {
			if err := chmod(next, uint32(perm)); err != nil {
				return dirErr("chmod", next, err)
			}
		}
		walked = append(walked, component{next, st.Uid})
	}
	return nil
}

// checkDirStat checks one component of a lock directory's path (see
// makeLockDir) for a caller whose effective uid is euid. serviceDir says
// that it is the lock directory itself, in a directory of root's: then,
// for root, another owner is fine. It returns nil or the reason, in words.
func checkDirStat(st *unix.Stat_t, euid int, serviceDir bool) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		return errors.New("is a regular file, not a directory")
	case unix.S_IFLNK:
		return errors.New("is a symlink, not a directory")
	default:
		return errors.New("is not a directory")
	}
	uid := st.Uid
	if uid != 0 && int64(uid) != int64(euid) && !(euid == 0 && serviceDir) {
		return fmt.Errorf("is owned by uid %d, neither this user nor root", uid)
	}
	w := st.Mode & 0o022
	if w == 0 {
		return nil
	}
	sticky := st.Mode&unix.S_ISVTX != 0
	if uid == 0 && (sticky || euid == 0 && w&0o002 == 0) {
		return nil
	}
	who := "world-writable"
	if w&0o002 == 0 {
		who = "group-writable"
	}
	if !sticky {
		return fmt.Errorf("is %s without the sticky bit", who)
	}
	return fmt.Errorf("is %s with the sticky bit but owned by uid %d, not root", who, uid)
}

// splitPath returns the components of p, without empty ones.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// dirErr is the *PathError about component p: one line, p quoted if it
// has control characters or invalid UTF-8.
func dirErr(op, p string, err error) error {
	if !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
		p = strconv.Quote(p)
	}
	return &PathError{Op: op, Path: p, Err: err}
}

// The system calls, retried on EINTR.

func lstat(p string, st *unix.Stat_t) error {
	for {
		if err := unix.Lstat(p, st); err != unix.EINTR {
			return err
		}
	}
}

func mkdir(p string, mode uint32) error {
	for {
		// syscall's: unix.Mkdir takes a directory descriptor on AIX and
		// Solaris.
		if err := syscall.Mkdir(p, mode); err != unix.EINTR {
			return err
		}
	}
}

func chmod(p string, mode uint32) error {
	for {
		if err := unix.Chmod(p, mode); err != unix.EINTR {
			return err
		}
	}
}

func readlink(p string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlink(p, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 1<<16 {
			return "", unix.ENAMETOOLONG
		}
	}
}
