// Package rmtreetest gives tests a temporary directory that, unlike
// t.TempDir's, can be cleaned up under Wine 8 (see package rmtree).
package rmtreetest

import (
	"os"
	"testing"

	"github.com/solehq/sole/internal/rmtree"
)

// TempDir returns a new temporary directory, removed with rmtree.RemoveAll
// when the test ends (a failure to remove it fails the test).
func TempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rmtree.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}
