//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// TestDebAndRPMServiceOptions installs packages built with the service
// options (--run-as, --workdir, --env-file, --restart, --restart-delay,
// --harden) with dpkg and rpm, in one real systemd, and checks them as an
// administrator sees them: the system user that did not exist is created
// (by systemd-sysusers, by adduser where systemd-sysusers is missing, by
// useradd in the .rpm's %pre), the service's process runs as it, in the
// working directory, with the environment file's variables (it serves on
// the address the file gives), under the restart policy systemd reports;
// remove and purge leave the user in place, and purge (not remove) takes
// the hardened service's state and logs directories.
func TestDebAndRPMServiceOptions(t *testing.T) {
	packager := build(t, "cmd/sole-package")
	hellod := build(t, "cmd/hellod")
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	greeting := file("greeting", "hello from the service user\n")
	type pkg struct {
		name, user, group, addr string
		file                    string // the package, on the host
	}
	common := func(p *pkg) []string {
		p.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		env := file(p.name+".env", "# read by systemd when the service starts\nHELLOD_ADDR="+p.addr+"\nHELLOD_GREETING=/etc/"+p.name+"/greeting\n")
		return []string{"--name", p.name, "--version", "1.0.0", "--binary", hellod, "--maintainer", "Sole Test <test@example.com>",
			"--license", "MIT", "--description", "example greeting server",
			"--config", greeting + ":/etc/" + p.name + "/greeting", "--config", env + ":/etc/" + p.name + "/env", "--env-file", "/etc/" + p.name + "/env"}
	}
	plain := &pkg{name: "hellod", user: "svcuser"}
	plain.file = buildDeb(t, packager, append(common(plain), "--run-as", "svcuser", "--workdir", "/usr/share/doc/hellod", "--restart", "always", "--restart-delay", "3s")...)
	hard := &pkg{name: "hellod-hard", user: "svchard", group: "svcgrp"}
	hard.file = buildDeb(t, packager, append(common(hard), "--run-as", "svchard:svcgrp", "--harden")...)

	// What the packages hold, before anything is installed.
	files := t.TempDir()
	for _, p := range []*pkg{plain, hard} {
		out, err := hostRun(t, "dpkg-deb", "-x", p.file, filepath.Join(files, p.name))
		if err != nil {
			t.Fatalf("dpkg-deb -x: %v: %s", err, out)
		}
	}
	unitOf := func(p *pkg) string {
		b, err := os.ReadFile(filepath.Join(files, p.name, "lib/systemd/system", p.name+".service"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for p, lines := range map[*pkg][]string{
		plain: {"User=svcuser", "WorkingDirectory=/usr/share/doc/hellod", "EnvironmentFile=/etc/hellod/env", "Restart=always", "RestartSec=3s"},
		hard:  {"User=svchard", "Group=svcgrp", "EnvironmentFile=/etc/hellod-hard/env", "StateDirectory=hellod-hard", "LogsDirectory=hellod-hard", "ProtectSystem=strict"},
	} {
		u := unitOf(p)
		for _, l := range lines {
			if !strings.Contains(u, "\n"+l+"\n") {
				t.Errorf("%s.service lacks %s:\n%s", p.name, l, u)
			}
		}
		if b, err := os.ReadFile(filepath.Join(files, p.name, "usr/lib/sysusers.d", p.name+".conf")); err != nil || !strings.Contains(string(b), "u "+p.user+" ") {
			t.Errorf("%s's sysusers.d file: %v: %s", p.name, err, b)
		}
	}

	g := bootForDeb(t)
	for _, p := range []*pkg{plain, hard} {
		g.CopyFile(t, p.file, "/root/"+p.name+".deb", 0o644)
		if _, code := g.run("getent", "passwd", p.user); code == 0 {
			t.Fatalf("the guest has a user %s already", p.user)
		}
	}
	// runsAs checks that the service's main process runs as user (and
	// group), and serves on the address of its environment file.
	runsAs := func(t *testing.T, p *pkg) int {
		t.Helper()
		unit := p.name + ".service"
		if s := g.show(unit, "ActiveState"); s != "active" {
			t.Fatalf("%s is %s\n%s", unit, s, g.Journal(t, unit))
		}
		pid := g.mainPID(unit)
		group := p.group
		if group == "" {
			group = p.user
		}
		uid := strings.TrimSpace(g.must("id", "-u", p.user))
		gid := strings.TrimSpace(g.must("getent", "group", group))
		gid = strings.Split(gid, ":")[2]
		status := g.must("cat", fmt.Sprintf("/proc/%d/status", pid))
		for field, id := range map[string]string{"Uid": uid, "Gid": gid} {
			want := fmt.Sprintf("\n%s:\t%s\t%s\t%s\t%s\n", field, id, id, id, id)
			if !strings.Contains(status, want) {
				t.Errorf("the main process %d is not %s %s (%s): %s", pid, field, id, p.user, regexp.MustCompile(`(?m)^`+field+`:.*$`).FindString(status))
			}
		}
		t.Logf("%s: main process %d: %s, %s", unit, pid, regexp.MustCompile(`(?m)^Uid:.*$`).FindString(status), regexp.MustCompile(`(?m)^Gid:.*$`).FindString(status))
		if out, _ := g.run("curl", "-sS", "-m", "5", "http://"+p.addr+"/"); !strings.Contains(out, "hello from the service user") {
			t.Errorf("GET http://%s/: %q", p.addr, out)
		}
		return pid
	}
	userStays := func(t *testing.T, user, after string) {
		t.Helper()
		if out, code := g.run("getent", "passwd", user); code != 0 {
			t.Errorf("%s removed the system user %s: %s", after, user, out)
		}
	}

	t.Run("deb, user created by systemd-sysusers", func(t *testing.T) {
		g.must("dpkg", "-i", "/root/hellod.deb")
		ent := strings.Split(strings.TrimSpace(g.must("getent", "passwd", "svcuser")), ":")
		if ent[5] != "/nonexistent" || !strings.HasSuffix(ent[6], "nologin") {
			t.Errorf("svcuser: %q, want the home /nonexistent and no login", ent)
		}
		if uid := ent[2]; uid == "0" || len(uid) > 3 {
			t.Errorf("svcuser's uid %s is not a system uid", uid)
		}
		pid := runsAs(t, plain)
		if cwd := strings.TrimSpace(g.must("readlink", fmt.Sprintf("/proc/%d/cwd", pid))); cwd != "/usr/share/doc/hellod" {
			t.Errorf("working directory %s", cwd)
		}
		if r, d := g.show("hellod.service", "Restart"), g.show("hellod.service", "RestartUSec"); r != "always" || d != "3s" {
			t.Errorf("Restart=%s RestartUSec=%s, want always and 3s", r, d)
		}
		if out, code := g.run("systemd-analyze", "verify", "/lib/systemd/system/hellod.service"); code != 0 {
			t.Errorf("systemd-analyze verify: %s", out)
		}
		g.must("dpkg", "-r", "hellod")
		userStays(t, "svcuser", "dpkg -r")
		g.must("dpkg", "-P", "hellod")
		userStays(t, "svcuser", "dpkg -P")
	})

	t.Run("deb, hardened, user created by adduser", func(t *testing.T) {
		// A machine without systemd-sysusers: postinst falls back to
		// adduser.
		g.must("mv", "/usr/bin/systemd-sysusers", "/usr/bin/systemd-sysusers.hidden")
		g.must("dpkg", "-i", "/root/hellod-hard.deb")
		g.must("mv", "/usr/bin/systemd-sysusers.hidden", "/usr/bin/systemd-sysusers")
		if out := g.must("id", "-gn", "svchard"); strings.TrimSpace(out) != "svcgrp" {
			t.Errorf("svchard's primary group %q, want svcgrp", out)
		}
		runsAs(t, hard)
		if out := strings.TrimSpace(g.must("stat", "-c", "%U %F", "/var/lib/hellod-hard")); out != "svchard directory" {
			t.Errorf("/var/lib/hellod-hard: %s, want a directory of svchard", out)
		}
		g.must("dpkg", "-r", "hellod-hard")
		userStays(t, "svchard", "dpkg -r")
		for _, d := range []string{"/var/lib/hellod-hard", "/var/log/hellod-hard"} {
			if _, code := g.run("test", "-d", d); code != 0 {
				t.Errorf("dpkg -r removed %s (purge does)", d)
			}
		}
		g.must("dpkg", "-P", "hellod-hard")
		userStays(t, "svchard", "dpkg -P")
		for _, d := range []string{"/var/lib/hellod-hard", "/var/log/hellod-hard"} {
			if _, code := g.run("test", "-e", d); code == 0 {
				t.Errorf("dpkg -P left %s", d)
			}
		}
	})

	t.Run("rpm, user created by %pre", func(t *testing.T) {
		testenv.NeedTool(t, "rpm", "rpm")
		p := &pkg{name: "hellod-rpm", user: "svcrpm"}
		args := append([]string{"rpm", "--output", t.TempDir()}, append(common(p), "--run-as", "svcrpm")...)
		out, err := hostRun(t, packager, args...)
		if err != nil {
			t.Fatalf("sole package rpm: %v: %s", err, out)
		}
		rpmFile := strings.TrimSpace(out)
		scripts, err := hostRun(t, "rpm", "-qp", "--scripts", rpmFile)
		if err != nil || !strings.Contains(scripts, "getent passwd svcrpm >/dev/null || useradd -r -g svcrpm -d / -s /sbin/nologin -M") {
			t.Fatalf("rpm -qp --scripts: %v:\n%s", err, scripts)
		}
		g.CopyFile(t, rpmFile, "/root/hellod.rpm", 0o644)
		g.must("rpm", "--nodeps", "--force-debian", "-i", "/root/hellod.rpm")
		ent := strings.Split(strings.TrimSpace(g.must("getent", "passwd", "svcrpm")), ":")
		if ent[5] != "/" || ent[6] != "/sbin/nologin" {
			t.Errorf("svcrpm: %q, want the home / and the shell /sbin/nologin", ent)
		}
		g.must("systemctl", "start", "hellod-rpm.service") // rpm's macros do not start a service
		runsAs(t, p)
		g.must("rpm", "--nodeps", "--force-debian", "-e", "hellod-rpm")
		userStays(t, "svcrpm", "rpm -e")
	})
}

// hostRun runs a command on the host and returns its combined output.
func hostRun(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
