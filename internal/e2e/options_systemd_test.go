//go:build linux

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procStatus returns the value of a field of /proc/PID/status in the
// guest ("Uid", "Gid": real, effective, saved, fs).
func (g guest) procStatus(pid int, field string) string {
	g.t.Helper()
	for _, line := range strings.Split(g.must("cat", fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	g.t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

// TestSystemdServiceOptions: the service options of `sole install`, each
// as a user sees it in a real systemd: the command runs as that user and
// group, in the directory sole install ran in (so a relative program and
// argument work), with the environment file's variables; systemd reports
// the restart policy and delay, and restarts after a clean exit under
// --restart always; the lock directory belongs to the user, and root's
// second start is refused with 75, naming the holder.
func TestSystemdServiceOptions(t *testing.T) {
	g := boot(t)
	g.must("groupadd", "--system", "svcgrp")
	g.must("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--gid", "svcgrp", "svcapp")
	uid := strings.TrimSpace(g.must("id", "-u", "svcapp"))
	gid := strings.TrimSpace(g.must("getent", "group", "svcgrp"))
	gid = strings.Split(gid, ":")[2]
	g.WriteFile(t, "/srv/app/conf.yaml", []byte("greeting: from conf.yaml\n"), 0o644)
	g.WriteFile(t, "/srv/app/srv.sh", []byte(`#!/bin/sh
# $1 $2: --config FILE, relative to the working directory.
out=/var/tmp/opts-$$
{ pwd; cat "$2"; echo "FOO=$FOO"; echo "QUOTED=$QUOTED"; } > $out.tmp && mv $out.tmp $out
trap 'exit 0' USR1
while :; do sleep 0.05; done
`), 0o755)
	g.WriteFile(t, "/etc/app.env", []byte("# the app's settings\nFOO=bar\nQUOTED=\"two words\"\n"), 0o600)

	// Relative program and argument, typed in /srv/app.
	install := "cd /srv/app && /usr/local/bin/sole install --name opts --run-as svcapp:svcgrp --env-file /etc/app.env" +
		" --restart always --restart-delay 2s --start-timeout 20s --stop-timeout 7s -- ./srv.sh --config conf.yaml"
	g.must("sh", "-c", install)
	unit := g.must("cat", "/etc/systemd/system/opts.service")
	for _, line := range []string{"User=svcapp", "Group=svcgrp", "WorkingDirectory=/srv/app", "EnvironmentFile=/etc/app.env", "Restart=always"} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("unit has no %s:\n%s", line, unit)
		}
	}
	if out := g.must("sh", "-c", install); !strings.Contains(out, "unchanged") {
		t.Errorf("second install: %q", out)
	}
	for prop, want := range map[string]string{
		"Restart": "always", "RestartUSec": "2s", "TimeoutStartUSec": "20s", "TimeoutStopUSec": "7s",
		"User": "svcapp", "Group": "svcgrp", "WorkingDirectory": "/srv/app",
	} {
		if got := g.show("opts", prop); got != want {
			t.Errorf("systemctl show -p %s: %q, want %q", prop, got, want)
		}
	}

	g.must("/usr/local/bin/sole", "start", "opts")
	pid := g.holderPID("opts")
	for _, p := range []int{pid, mustAtoi(t, g.show("opts", "MainPID"))} {
		if got := g.procStatus(p, "Uid"); got != strings.Repeat(uid+" ", 3)+uid {
			t.Errorf("pid %d runs as uid %q, want %s", p, got, uid)
		}
		if got := g.procStatus(p, "Gid"); got != strings.Repeat(gid+" ", 3)+gid {
			t.Errorf("pid %d runs as gid %q, want %s", p, got, gid)
		}
	}
	var seen string
	waitFor(t, 10*time.Second, "the command's report", func() bool {
		out, code := g.run("cat", fmt.Sprintf("/var/tmp/opts-%d", pid))
		seen = out
		return code == 0
	})
	if want := "/srv/app\ngreeting: from conf.yaml\nFOO=bar\nQUOTED=two words\n"; seen != want {
		t.Errorf("the command saw\n%q\nwant\n%q", seen, want)
	}
	if owner := strings.TrimSpace(g.must("stat", "-c", "%U:%G", "/run/sole/opts")); owner != "svcapp:svcgrp" {
		t.Errorf("the lock directory belongs to %s", owner)
	}

	// root's second start: refused with 75, naming the holder.
	out, code := g.run("/usr/local/bin/sole", "run", "--name", "opts", "--", "true")
	if code != 75 || !strings.Contains(out, "opts is already running (pid "+strconv.Itoa(pid)+", srv.sh") {
		t.Errorf("root's second instance: exit %d: %s", code, out)
	}

	// --restart always: a clean exit is restarted too, after 2s.
	restarts := g.show("opts", "NRestarts")
	g.must("kill", "-USR1", strconv.Itoa(pid))
	waitFor(t, 20*time.Second, "a restart after a clean exit", func() bool {
		return g.show("opts", "NRestarts") != restarts && g.show("opts", "ActiveState") == "active"
	})
	if st := g.show("opts", "ExecMainStatus"); st != "0" {
		t.Logf("ExecMainStatus %s", st)
	}
	if pid2 := g.holderPID("opts"); pid2 == pid {
		t.Errorf("holder unchanged after the restart")
	}

	// --restart no: systemd says so, and a failure stays failed.
	g.must("sh", "-c", strings.Replace(install, "--restart always", "--restart no", 1))
	if got := g.show("opts", "Restart"); got != "no" {
		t.Errorf("after reinstall with --restart no: Restart=%s", got)
	}
	g.must("/usr/local/bin/sole", "restart", "opts")
	pid = g.holderPID("opts")
	restarts = g.show("opts", "NRestarts")
	g.must("kill", "-KILL", g.show("opts", "MainPID"), strconv.Itoa(pid))
	waitFor(t, 10*time.Second, "the service to stop", func() bool {
		s := g.show("opts", "ActiveState")
		return s == "failed" || s == "inactive"
	})
	time.Sleep(2500 * time.Millisecond) // longer than any restart delay
	if got := g.show("opts", "NRestarts"); got != restarts {
		t.Errorf("NRestarts %s -> %s under --restart no", restarts, got)
	}
	g.must("/usr/local/bin/sole", "uninstall", "opts")

	// What cannot work is refused before anything is written.
	for _, c := range []struct{ args, want string }{
		{"--run-as nobody", "nobody and nogroup are shared"},
		{"--run-as 'bad user'", "run as: \"bad user\" has ' '"},
		{"--env-file /nonexistent.env", "--env-file: open /nonexistent.env: no such file or directory"},
		{"--workdir /nonexistent", "--workdir: stat /nonexistent: no such file or directory"},
		{"--restart sometimes", `restart: "sometimes": want on-failure, always or no`},
		{"--log-dir /var/log/x", "--log-dir is for launchd and Windows"},
		{"--user --harden", "the sandboxing options are for system services"},
	} {
		out, code := g.run("sh", "-c", "cd / && /usr/local/bin/sole install --name refused "+c.args+" -- /bin/sleep 1")
		if code == 0 || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") > 1 {
			t.Errorf("install %s: exit %d: %q, want %q", c.args, code, out, c.want)
		}
	}
	out, code = g.run("sh", "-c", "cd /root && /usr/local/bin/sole install --name refused --harden -- /bin/sleep 1")
	if code != 64 || !strings.Contains(out, "--harden hides /root from the service") {
		t.Errorf("install --harden in /root: exit %d: %s", code, out)
	}
	if _, code := g.run("test", "-e", "/etc/systemd/system/refused.service"); code == 0 {
		t.Errorf("a refused install wrote its unit")
	}
}

// TestSystemdHarden: the example daemon, and a command run by sole run,
// are active and serving under --harden, as a user of their own, with the
// state and logs directories systemd made for them.
func TestSystemdHarden(t *testing.T) {
	g := boot(t)
	g.CopyFile(t, build(t, "cmd/hellod"), "/usr/local/bin/hellod", 0o755)
	g.must("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "hellod")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g.WriteFile(t, "/etc/hellod/env", []byte("HELLOD_ADDR="+addr+"\n"), 0o640)
	g.must("sh", "-c", "cd / && /usr/local/bin/hellod install --harden --run-as hellod --env-file /etc/hellod/env")
	if out, code := g.run("systemd-analyze", "verify", "/etc/systemd/system/hellod.service"); code != 0 {
		t.Fatalf("systemd-analyze verify: %s", out)
	}
	out, _ := g.run("systemd-analyze", "security", "--no-pager", "hellod.service")
	t.Logf("systemd-analyze security, last line: %s", lastLine(out))
	g.must("systemctl", "start", "hellod")
	if s := g.show("hellod", "ActiveState"); s != "active" {
		t.Fatalf("hellod is %s:\n%s", s, g.Journal(t, "hellod"))
	}
	if out, code := g.run("curl", "-sS", "-m", "5", "http://"+addr+"/"); code != 0 || out == "" {
		t.Fatalf("GET /: exit %d: %q\n%s", code, out, g.Journal(t, "hellod"))
	}
	for _, dir := range []string{"/var/lib/hellod", "/var/log/hellod"} {
		if owner := strings.TrimSpace(g.must("stat", "-c", "%U", dir)); owner != "hellod" {
			t.Errorf("%s belongs to %s", dir, owner)
		}
	}
	pid := g.holderPID("hellod")
	if got := g.procStatus(pid, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs %s", got)
	}
	if got := g.procStatus(pid, "Seccomp"); got != "2" {
		t.Errorf("Seccomp %s, want 2 (filter)", got)
	}
	out, code := g.run("/usr/local/bin/hellod", "run")
	if code != 75 || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("root's second hellod: exit %d: %s", code, out)
	}
	g.must("systemctl", "stop", "hellod")

	// A command under sole run: the wrapper's subreaper, pidfds and
	// process groups work inside the sandbox, and stop ends it.
	g.WriteFile(t, "/usr/local/bin/srv.sh", []byte("#!/bin/sh\necho started > \"$STATE_DIRECTORY/started\"\nexec sleep 1000\n"), 0o755)
	g.must("sh", "-c", "cd / && /usr/local/bin/sole install --name hsrv --harden --run-as hellod -- /usr/local/bin/srv.sh")
	g.must("/usr/local/bin/sole", "start", "hsrv")
	waitFor(t, 10*time.Second, "the command's file in its state directory", func() bool {
		_, code := g.run("test", "-s", "/var/lib/hsrv/started")
		return code == 0
	})
	if out, code := g.run("/usr/local/bin/sole", "status", "hsrv"); code != 0 || !strings.Contains(out, "; service active") {
		t.Errorf("sole status hsrv: exit %d: %s", code, out)
	}
	g.must("/usr/local/bin/sole", "stop", "hsrv")
	if st := g.show("hsrv", "Result"); st != "success" {
		t.Errorf("hsrv stopped with result %s:\n%s", st, g.Journal(t, "hsrv"))
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
