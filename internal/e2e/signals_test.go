//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSoleInstallStopSignalsOnce: systemctl stop of a unit that `sole
// install` wrote delivers SIGTERM to COMMAND once. The unit has
// KillMode=mixed, so systemd signals sole alone and sole forwards it; with
// the default (control-group) COMMAND would get it from both.
func TestSoleInstallStopSignalsOnce(t *testing.T) {
	g := boot(t)
	g.CopyFile(t, build(t, "internal/sigcount"), "/usr/local/bin/sigcount", 0o755)
	const rec = "/var/tmp/sig-record"
	g.must("/usr/local/bin/sole", "install", "--name", "sig", "--", "/usr/local/bin/sigcount", rec)
	if text := g.must("cat", "/etc/systemd/system/sig.service"); !strings.Contains(text, "\nKillMode=mixed\n") {
		t.Fatalf("unit has no KillMode=mixed:\n%s", text)
	}
	if km := g.show("sig", "KillMode"); km != "mixed" {
		t.Fatalf("systemd reads KillMode as %q, want mixed", km)
	}

	g.must("systemctl", "start", "sig")
	waitFor(t, 30*time.Second, "sigcount to say ready", func() bool {
		out, code := g.run("cat", rec)
		return code == 0 && strings.HasPrefix(out, "ready\n")
	})
	// stop returns once the unit is inactive: sigcount has exited, 500 ms
	// after the last signal it got, so a late duplicate is in the record.
	g.must("systemctl", "stop", "sig")
	if st := g.show("sig", "ActiveState"); st != "inactive" {
		t.Fatalf("after stop: ActiveState %s\n%s", st, g.Journal(t, "sig"))
	}
	if got := g.must("cat", rec); got != "ready\nTERM\n" {
		t.Errorf("COMMAND's record after systemctl stop:\n%s\nwant ready, then TERM once", got)
	}
	// sole exited with COMMAND's status: sigcount exits 0 after SIGTERM.
	if r := g.show("sig", "Result"); r != "success" {
		t.Errorf("Result %s, want success\n%s", r, g.Journal(t, "sig"))
	}
	g.must("/usr/local/bin/sole", "uninstall", "sig")
}
