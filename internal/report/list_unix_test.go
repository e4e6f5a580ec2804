//go:build unix

package report

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/solehq/sole/pidlock"
)

// TestListDirFIFO: a FIFO in a lock directory is listed unknown and never
// opened (an open for reading would block until a writer came).
func TestListDirFIFO(t *testing.T) {
	fakeServices(t, nil)
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "d", "d.pid"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := listDir(dir, pidlock.ScopeUser, namedIn(dir, pidlock.ScopeUser))
	if err != nil || len(rs) != 2 {
		t.Fatalf("listDir = %v, %v", rs, err)
	}
	for _, r := range rs {
		if r.State() != "unknown" || !strings.Contains(ErrorLine(r.Err), "FIFO") {
			t.Errorf("%s: %s", r.Name, r.Text())
		}
	}
}
