//go:build linux

package solecmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStopReleasesTheLock: a SIGTERM to sole (systemd stopping a unit
// sole wrote) reaches COMMAND's whole group; when COMMAND dies of it, the
// children that got the same SIGTERM are given a moment to exit, so the
// lock is released and its record emptied, not passed on to processes on
// their way out (which left a stale record: status 1 instead of 3).
func TestStopReleasesTheLock(t *testing.T) {
	for i := range 10 {
		dir := t.TempDir()
		lock := filepath.Join(dir, "x.pid")
		cmd := soleCmd("run", "--lock", lock, "--", "sh", "-c", "echo up > "+filepath.Join(dir, "up")+"; while :; do sleep 0.01; done")
		p := startSigProc(t, cmd)
		waitFile(t, filepath.Join(dir, "up"))
		if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		p.wait(t)
		p.waitSessionGone(t)
		b, err := os.ReadFile(lock)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 0 {
			out, _ := exec.Command("sole", "status", "--lock", lock).CombinedOutput()
			t.Fatalf("run %d: the record is left after the stop: %q; status: %s", i, b, strings.TrimSpace(string(out)))
		}
	}
}
