// Package rmtree removes a directory tree entry by entry, deepest first.
// os.RemoveAll does the same in one call, but on Windows it relies on
// FileDispositionInformationEx, which Wine 8 lacks, so under Wine it fails on
// any directory with entries; sole's tests run there, and so does its
// uninstall of a lock directory.
package rmtree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// RemoveAll removes dir and everything below it. A dir that does not exist
// is not an error. It goes on past an entry it cannot remove and returns
// the first error.
func RemoveAll(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Longer paths first: every entry before the directory holding it.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	var first error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}
