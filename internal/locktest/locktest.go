// Package locktest makes the lock files that the tests of sole's status
// reports read: records written by hand (stale, foreign, malformed) and
// locks held by the test process itself.
package locktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/solehq/sole/pidlock"
)

// Dir is a temporary directory of lock files, removed with the test.
type Dir struct {
	t    testing.TB
	Path string
}

// New returns an empty Dir.
func New(t testing.TB) *Dir { return &Dir{t: t, Path: t.TempDir()} }

// Write writes data to the file name in d and returns its path.
func (d *Dir) Write(name, data string) string {
	d.t.Helper()
	p := filepath.Join(d.Path, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// Held takes the lock file name in d for this process, until the test
// ends, and returns its path.
func (d *Dir) Held(name string) string {
	d.t.Helper()
	p := filepath.Join(d.Path, name)
	l, err := pidlock.New(p)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := l.TryLock(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { l.Unlock() })
	return p
}

// StaleRecord is a lock record naming StalePID, a pid no process has
// (the largest pid_t): nobody holds a lock file with this record.
const (
	StalePID    = 2147483647
	StaleRecord = "2147483647\nghost\n"
)
