//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/systemdtest"
)

// buildDeb runs the packager (sole-package, as `sole package` does) and
// returns the .deb's path.
func buildDeb(t *testing.T, packager string, args ...string) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(packager, append([]string{"deb", "--output", out}, args...)...)
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("sole package deb %q: %v: %s", args, err, stderr)
	}
	path := strings.TrimSpace(string(stdout))
	if filepath.Dir(path) != out || !strings.HasSuffix(path, ".deb") {
		t.Fatalf("sole package printed %q, want a .deb in %s", path, out)
	}
	return path
}

// bootForDeb boots a guest for dpkg: the host image's policy-rc.d (a
// container image's "exit 101", which forbids every service start from
// maintainer scripts, as no real machine does) is removed in the guest.
func bootForDeb(t *testing.T) guest {
	g := guest{systemdtest.Boot(t), t}
	g.must("rm", "-f", "/usr/sbin/policy-rc.d")
	return g
}

// snapshot lists the files and directories a package may leave behind.
func (g guest) snapshot() []string {
	g.t.Helper()
	out := g.must("sh", "-c", "find /etc /usr /lib /var/lib/systemd /run/sole 2>/dev/null | sort; true")
	var files []string
	for _, f := range strings.Split(out, "\n") {
		// ld.so.cache and man-db's caches change with any install.
		if f != "" && !strings.HasPrefix(f, "/var/cache/") && f != "/etc/ld.so.cache" {
			files = append(files, f)
		}
	}
	return files
}

// diff returns what is in b but not in a.
func diff(a, b []string) []string {
	in := map[string]bool{}
	for _, f := range a {
		in[f] = true
	}
	var d []string
	for _, f := range b {
		if !in[f] {
			d = append(d, f)
		}
	}
	sort.Strings(d)
	return d
}

// leftNothing fails the test if the guest has files and directories that
// it did not have in before (a snapshot), once systemd has forgotten the
// removed units.
func (g guest) leftNothing(before []string, what string) {
	g.t.Helper()
	g.must("systemctl", "daemon-reload")
	if left := diff(before, g.snapshot()); len(left) > 0 {
		g.t.Fatalf("%s left behind: %q", what, left)
	}
}

// starts counts how often systemd has started unit (its "Started" lines).
func (g guest) starts(unit string) int {
	g.t.Helper()
	out, _ := g.run("journalctl", "--no-pager", "-o", "cat", "-u", unit)
	return len(regexp.MustCompile(`(?m)^Started `+regexp.QuoteMeta(unit)).FindAllString(out, -1))
}

func (g guest) mainPID(unit string) int {
	g.t.Helper()
	pid, _ := strconv.Atoi(g.show(unit, "MainPID"))
	return pid
}

// statusOf runs `sole status NAME` with the given sole binary in the guest.
func (g guest) statusOf(sole, name string) (string, int) {
	return g.run(sole, "status", name)
}

// TestDebUnderSystemd installs, upgrades, removes and purges a .deb of the
// example daemon (built on the runtime: it runs directly) with dpkg, in a
// real systemd, and checks what the maintainer scripts promise: enabled,
// running and holding its lock after install; restarted exactly once by
// an upgrade that keeps an edited conffile; stopped with its lock freed by
// remove; nothing left by purge. There is no sole in the guest but the one
// used to read the lock.
func TestDebUnderSystemd(t *testing.T) {
	packager := build(t, "cmd/sole-package")
	hellod := build(t, "cmd/hellod") // with its symbol table: the packager strips it
	dir := t.TempDir()
	greeting := filepath.Join(dir, "greeting")
	if err := os.WriteFile(greeting, []byte("hello from the package\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	common := []string{"--name", "hellod", "--binary", hellod, "--maintainer", "Sole Test <test@example.com>",
		"--license", "MIT", "--description", "example greeting server",
		"--config", greeting + ":/etc/hellod/greeting",
		"--env", "HELLOD_ADDR=" + addr, "--env", "HELLOD_GREETING=/etc/hellod/greeting"}
	v1 := buildDeb(t, packager, append(common, "--version", "1.0.0")...)
	v2 := buildDeb(t, packager, append(common, "--version", "1.1.0")...)

	g := bootForDeb(t)
	sole := build(t, "cmd/sole")
	g.CopyFile(t, sole, "/root/sole", 0o755) // only to read the lock
	g.CopyFile(t, v1, "/root/v1.deb", 0o644)
	g.CopyFile(t, v2, "/root/v2.deb", 0o644)
	get := func() string {
		out, _ := g.run("curl", "-sS", "-m", "5", "http://"+addr+"/")
		return out
	}
	before := g.snapshot()

	// Install: enabled, running, holding its lock, serving.
	g.must("dpkg", "-i", "/root/v1.deb")
	if s := g.show("hellod.service", "UnitFileState"); s != "enabled" {
		t.Fatalf("after dpkg -i: UnitFileState %q, want enabled", s)
	}
	if s := g.show("hellod.service", "ActiveState"); s != "active" {
		t.Fatalf("after dpkg -i: ActiveState %q, want active\n%s", s, g.Journal(t, "hellod.service"))
	}
	pid1 := g.mainPID("hellod.service")
	if out, code := g.statusOf("/root/sole", "hellod"); code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d,", pid1)) {
		t.Fatalf("sole status hellod after install: exit %d: %s (main pid %d)", code, out, pid1)
	}
	if out := get(); !strings.Contains(out, "hello from the package") {
		t.Fatalf("GET /: %q", out)
	}
	if out := g.must("cat", "/var/lib/dpkg/info/hellod.conffiles"); strings.TrimSpace(out) != "/etc/hellod/greeting" {
		t.Fatalf("conffiles: %q", out)
	}
	// What was installed is the unit `sole install` would write, checked
	// by systemd itself.
	if out, code := g.run("systemd-analyze", "verify", "/lib/systemd/system/hellod.service"); code != 0 {
		t.Fatalf("systemd-analyze verify: %s", out)
	}

	// Upgrade with an edited conffile: restarted exactly once, the edit
	// kept and read by the new process.
	g.WriteFile(t, "/etc/hellod/greeting", []byte("edited by the admin\n"), 0o644)
	startsBefore := g.starts("hellod.service")
	g.must("dpkg", "-i", "/root/v2.deb")
	if n := g.starts("hellod.service") - startsBefore; n != 1 {
		t.Fatalf("the upgrade started hellod %d times, want exactly 1\n%s", n, g.Journal(t, "hellod.service"))
	}
	if v := strings.TrimSpace(g.must("dpkg-query", "-W", "-f=${Version}", "hellod")); v != "1.1.0-1" {
		t.Fatalf("installed version %q", v)
	}
	pid2 := g.mainPID("hellod.service")
	if pid2 == pid1 || pid2 == 0 || g.show("hellod.service", "ActiveState") != "active" {
		t.Fatalf("after the upgrade: main pid %d (was %d), %s", pid2, pid1, g.show("hellod.service", "ActiveState"))
	}
	if out := g.must("cat", "/etc/hellod/greeting"); out != "edited by the admin\n" {
		t.Fatalf("the upgrade replaced the edited conffile: %q", out)
	}
	if out := get(); !strings.Contains(out, "edited by the admin") {
		t.Fatalf("GET / after the upgrade: %q", out)
	}
	if out, code := g.statusOf("/root/sole", "hellod"); code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d,", pid2)) {
		t.Fatalf("sole status after the upgrade: exit %d: %s", code, out)
	}

	// Remove: stopped, lock free, conffile kept (until purge).
	g.must("dpkg", "-r", "hellod")
	if s := g.show("hellod.service", "ActiveState"); s != "inactive" {
		t.Fatalf("after dpkg -r: ActiveState %q", s)
	}
	if out, code := g.statusOf("/root/sole", "hellod"); code != 3 {
		t.Fatalf("sole status after dpkg -r: exit %d, want 3 (not running): %s", code, out)
	}
	if _, code := g.run("test", "-e", "/run/sole/hellod"); code == 0 {
		t.Error("dpkg -r left the lock directory /run/sole/hellod")
	}
	if out := g.must("cat", "/etc/hellod/greeting"); out != "edited by the admin\n" {
		t.Fatalf("dpkg -r removed the conffile: %q", out)
	}

	// Purge: nothing left behind, outside dpkg's own records.
	g.must("dpkg", "-P", "hellod")
	g.leftNothing(before, "dpkg -P")
	if out, code := g.run("dpkg-query", "-W", "hellod"); code == 0 {
		t.Fatalf("dpkg still knows hellod: %s", out)
	}
}

// TestDebWrappedProgram packages a program that knows nothing of sole (a
// shell script) for a machine without sole: the package ships sole, the
// unit runs the script under `sole run`, and the shipped sole's status
// finds the lock.
func TestDebWrappedProgram(t *testing.T) {
	packager := build(t, "cmd/sole-package")
	sole := build(t, "cmd/sole") // with its symbol table: the packager strips it
	script := filepath.Join(t.TempDir(), "ticker")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n# A daemon that knows nothing of sole.\necho \"ticker $*\"\nexec sleep infinity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	deb := buildDeb(t, packager, "--name", "ticker", "--version", "0.1", "--binary", script,
		"--sole", sole, "--maintainer", "Sole Test <test@example.com>", "--license", "0BSD",
		"--", "--every", "1s")

	g := bootForDeb(t)
	if out, code := g.run("sh", "-c", "command -v sole"); code == 0 {
		t.Fatalf("the guest has a sole already: %s", out)
	}
	g.CopyFile(t, deb, "/root/ticker.deb", 0o644)
	before := g.snapshot()
	g.must("dpkg", "-i", "/root/ticker.deb")
	if s := g.show("ticker.service", "ActiveState"); s != "active" {
		t.Fatalf("after dpkg -i: %q\n%s", s, g.Journal(t, "ticker.service"))
	}
	out, code := g.statusOf("/usr/lib/ticker/sole", "ticker")
	if code != 0 || !strings.Contains(out, "ticker is running") {
		t.Fatalf("the packaged sole's status: exit %d: %s", code, out)
	}
	// The script runs with its arguments, as the unit's main process's
	// child (sole run stays its parent).
	if j := g.Journal(t, "ticker.service"); !strings.Contains(j, "ticker --every 1s") {
		t.Fatalf("the script's output is missing from the journal:\n%s", j)
	}
	// A second instance by hand is refused while the service runs.
	if out, code := g.run("/usr/lib/ticker/sole", "run", "--name", "ticker", "--", "/usr/sbin/ticker"); code != 75 {
		t.Fatalf("a second ticker by hand: exit %d, want 75: %s", code, out)
	}
	g.must("dpkg", "-P", "ticker")
	g.leftNothing(before, "dpkg -P")
}

// TestDebUserService: a per-user service's .deb enables the user unit for
// every user (systemctl --global) and starts it in the user managers that
// run (here root's user@0); remove stops it there; purge leaves nothing.
func TestDebUserService(t *testing.T) {
	packager := build(t, "cmd/sole-package")
	sole := build(t, "cmd/sole")
	script := filepath.Join(t.TempDir(), "uticker.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep infinity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	deb := buildDeb(t, packager, "--name", "uticker", "--version", "0.1", "--binary", script, "--user",
		"--sole", sole, "--maintainer", "Sole Test <test@example.com>", "--license", "0BSD", "--description", "ticking script")

	g := bootForDeb(t)
	urun := g.startUserManager()
	g.CopyFile(t, deb, "/root/uticker.deb", 0o644)
	before := g.snapshot()
	g.must("dpkg", "-i", "/root/uticker.deb")
	if _, code := g.run("test", "-L", "/etc/systemd/user/default.target.wants/uticker.service"); code != 0 {
		t.Fatal("dpkg -i did not enable the user unit for every user")
	}
	waitFor(t, 10*time.Second, "uticker active in root's user manager", func() bool {
		out, _ := urun("systemctl", "--user", "is-active", "uticker.service")
		return strings.TrimSpace(out) == "active"
	})
	if out, code := urun("/usr/lib/uticker/sole", "status", "--scope", "user", "uticker"); code != 0 || !strings.Contains(out, "uticker is running") {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	g.must("dpkg", "-r", "uticker")
	if out, _ := urun("systemctl", "--user", "is-active", "uticker.service"); strings.TrimSpace(out) == "active" {
		t.Fatal("dpkg -r left the user service running")
	}
	g.must("dpkg", "-P", "uticker")
	g.leftNothing(before, "dpkg -P")
}
