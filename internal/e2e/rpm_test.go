//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// TestRPMUnderSystemd installs, upgrades and erases an .rpm of the example
// daemon with Debian's rpm, in a real systemd 252. Debian's systemd has no
// systemd-update-helper, so the scriptlets take the branch of systemd's
// rpm macros before 249 (as on EL8): preset on install (Debian has no
// "disable *" preset, so the unit is enabled; rpm macros never start a
// service), daemon-reload and try-restart on upgrade (exactly one
// restart), disable --now on erase. The branch through the helper is
// checked with a recording stub in packaging's TestRPMScriptletCounts.
func TestRPMUnderSystemd(t *testing.T) {
	testenv.NeedTool(t, "rpm", "rpm")
	packager := build(t, "cmd/sole-package")
	hellod := build(t, "cmd/hellod")
	dir := t.TempDir()
	greeting := filepath.Join(dir, "greeting")
	if err := os.WriteFile(greeting, []byte("hello from the rpm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pkg := func(version string) string {
		out := t.TempDir()
		cmd := exec.Command(packager, "rpm", "--output", out, "--name", "hellod", "--version", version,
			"--binary", hellod, "--maintainer", "Sole Test <test@example.com>", "--license", "MIT",
			"--description", "example greeting server", "--config", greeting+":/etc/hellod/greeting",
			"--env", "HELLOD_ADDR="+addr, "--env", "HELLOD_GREETING=/etc/hellod/greeting")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sole package rpm: %v: %s", err, b)
		}
		return strings.TrimSpace(string(b))
	}
	v1, v2 := pkg("1.0.0"), pkg("1.1.0")

	g := bootForDeb(t)
	g.CopyFile(t, build(t, "cmd/sole"), "/root/sole", 0o755)
	g.CopyFile(t, v1, "/root/v1.rpm", 0o644)
	g.CopyFile(t, v2, "/root/v2.rpm", 0o644)
	rpm := func(args ...string) string {
		return g.must("rpm", append([]string{"--nodeps", "--force-debian"}, args...)...)
	}
	before := g.snapshot()

	rpm("-i", "/root/v1.rpm")
	if s := g.show("hellod.service", "UnitFileState"); s != "enabled" {
		t.Fatalf("after rpm -i: UnitFileState %q, want enabled (preset)", s)
	}
	if s := g.show("hellod.service", "ActiveState"); s != "inactive" {
		t.Fatalf("after rpm -i: ActiveState %q: rpm's macros do not start a service", s)
	}
	g.must("systemctl", "start", "hellod.service")
	pid1 := g.mainPID("hellod.service")
	if out, code := g.statusOf("/root/sole", "hellod"); code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d,", pid1)) {
		t.Fatalf("sole status: exit %d: %s", code, out)
	}

	g.WriteFile(t, "/etc/hellod/greeting", []byte("edited by the admin\n"), 0o644)
	starts := g.starts("hellod.service")
	rpm("-U", "/root/v2.rpm")
	if n := g.starts("hellod.service") - starts; n != 1 {
		t.Fatalf("the upgrade started hellod %d times, want exactly 1", n)
	}
	if pid2 := g.mainPID("hellod.service"); pid2 == pid1 || pid2 == 0 {
		t.Fatalf("after the upgrade: main pid %d (was %d)", pid2, pid1)
	}
	if out := g.must("cat", "/etc/hellod/greeting"); out != "edited by the admin\n" {
		t.Fatalf("the upgrade replaced the edited config: %q", out)
	}
	if v := g.must("rpm", "-q", "--qf", "%{VERSION}", "hellod"); v != "1.1.0" {
		t.Fatalf("installed version %q", v)
	}

	rpm("-e", "hellod")
	if s := g.show("hellod.service", "ActiveState"); s != "inactive" {
		t.Fatalf("after rpm -e: ActiveState %q", s)
	}
	if out, code := g.statusOf("/root/sole", "hellod"); code != 3 {
		t.Fatalf("sole status after rpm -e: exit %d, want 3: %s", code, out)
	}
	// rpm keeps an edited %config file as .rpmsave; nothing else stays.
	if out := g.must("cat", "/etc/hellod/greeting.rpmsave"); out != "edited by the admin\n" {
		t.Fatalf("rpmsave: %q", out)
	}
	g.must("rm", "-r", "/etc/hellod")
	g.leftNothing(before, "rpm -e")
}
