package report

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// List reports on every entry of the lock directory of scope s
// (platform.LockDir), sorted by name (then path):
//
//   - a directory NAME is the named lock NAME (pidlock.Named: the file
//     NAME/NAME.pid), reported with the state of the service NAME of the
//     scope (a per-user one for ScopeUser) when one is installed;
//   - a regular file is a lock given by path (`sole run --lock DIR/F`);
//     one that holds something other than a lock record is reported
//     unknown, with the error;
//   - anything else (a symlink, a directory whose name cannot name a lock,
//     a FIFO, a socket, a device) is reported unknown without being
//     opened.
//
// Nothing is created, locked or opened for writing: a missing directory
// holds no locks. The error, a *pidlock.PathError, is the directory's when
// it cannot be read; the reports are those of the entries read before.
func List(s pidlock.Scope) ([]Report, error) {
	dir, err := platform.LockDir(s)
	if err != nil {
		return nil, err
	}
	return listDir(dir, s, func(name string) (*pidlock.Lock, error) {
		return pidlock.Named(name, pidlock.WithScope(s))
	})
}

// listDir is List of the directory dir of scope s; named opens the named
// lock of an entry (pidlock.Named, whose path is dir/NAME/NAME.pid).
func listDir(dir string, s pidlock.Scope, named func(name string) (*pidlock.Lock, error)) ([]Report, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var rs []Report
	for _, e := range entries {
		rs = append(rs, entry(dir, s, e, named))
	}
	// By name, then path: a lock file "x.pid" is named "x".
	slices.SortFunc(rs, func(a, b Report) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Lock, b.Lock))
	})
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &fs.PathError{Op: "list", Path: dir, Err: err}
		}
		return rs, err
	}
	return rs, nil
}

// entry reports on one entry of a lock directory.
func entry(dir string, s pidlock.Scope, e fs.DirEntry, named func(string) (*pidlock.Lock, error)) Report {
	name, p := e.Name(), filepath.Join(dir, e.Name())
	unknown := func(err error) Report {
		return Report{Name: name, Lock: p, Err: &fs.PathError{Op: "list", Path: p, Err: err}}
	}
	switch t := e.Type(); {
	case t.IsDir():
		if err := pidlock.ValidName(name); err != nil {
			return unknown(err)
		}
		l, err := named(name)
		if err != nil {
			return unknown(err)
		}
		return Gather(name, l, &Service{Name: name, User: s == pidlock.ScopeUser})
	case t.IsRegular():
		l, err := pidlock.New(p, pidlock.WithScope(s))
		if err != nil {
			return unknown(err)
		}
		return Gather(l.Name(), l, nil)
	case t&fs.ModeSymlink != 0:
		return unknown(errors.New("is a symlink; refusing to follow it"))
	case t&fs.ModeNamedPipe != 0:
		return unknown(errors.New("is a FIFO, not a regular file"))
	}
	return unknown(errors.New("is not a regular file"))
}
