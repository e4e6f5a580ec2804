package pidlock

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// tempDir is t.TempDir made to work under Wine 8 too, whose missing
// FileDispositionInformationEx makes os.RemoveAll (and so t.TempDir's
// cleanup) fail on a directory with entries: it removes entry by entry,
// deepest first.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pidlock-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}

func removeTree(dir string) error {
	var paths []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	var first error
	for _, p := range paths {
		os.Chmod(p, 0o700)
		if err := os.Remove(p); err != nil && first == nil && !os.IsNotExist(err) {
			first = err
		}
	}
	return first
}
