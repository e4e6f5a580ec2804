//go:build linux

// Package e2e holds end-to-end tests that run sole's binaries against a
// real systemd, booted for the test by internal/systemdtest.
package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/systemdtest"
	"github.com/solehq/sole/internal/testenv"
)

// build builds a command of this module for the guest.
func build(t *testing.T, pkg string) string { return testenv.Build(t, pkg) }

// freePort returns a loopback port that is free on the host now: the
// guest has a network namespace of its own, with only loopback, so a port
// free here is free there too.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type guest struct {
	*systemdtest.Machine
	t *testing.T
}

func (g guest) run(name string, args ...string) (string, int) {
	stdout, stderr, code := g.Run(g.t, name, args...)
	return stdout + stderr, code
}

func (g guest) must(name string, args ...string) string {
	g.t.Helper()
	return g.MustRun(g.t, name, args...)
}

func (g guest) show(unit, prop string) string {
	g.t.Helper()
	return strings.TrimSpace(g.must("systemctl", "show", "-p", prop, "--value", unit))
}

// holderPID returns the pid `sole status` names as the lock's holder, or
// fails the test.
func (g guest) holderPID(name string) int {
	g.t.Helper()
	out, code := g.run("/usr/local/bin/sole", "status", name)
	m := regexp.MustCompile(`is running \(pid ([0-9]+),`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		g.t.Fatalf("sole status %s: exit %d: %s", name, code, out)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func boot(t *testing.T) guest {
	m := systemdtest.Boot(t)
	g := guest{m, t}
	g.CopyFile(t, build(t, "cmd/sole"), "/usr/local/bin/sole", 0o755)
	return g
}

// TestHellodUnderSystemd: the example daemon, a runtime-built program, as a
// real systemd service.
func TestHellodUnderSystemd(t *testing.T) {
	g := boot(t)
	g.CopyFile(t, build(t, "cmd/hellod"), "/usr/local/bin/hellod", 0o755)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	get := func(path string) (string, int) {
		return g.run("curl", "-sS", "-m", "5", "http://"+addr+path)
	}

	// install, and install again: nothing changes the second time.
	if out := g.must("/usr/local/bin/hellod", "install"); !strings.Contains(out, "installed") {
		t.Fatalf("install: %q", out)
	}
	if out := g.must("/usr/local/bin/hellod", "install"); !strings.Contains(out, "unchanged") {
		t.Fatalf("second install: %q", out)
	}
	unitText := g.must("cat", "/etc/systemd/system/hellod.service")
	if out, code := g.run("systemd-analyze", "verify", "/etc/systemd/system/hellod.service"); code != 0 {
		t.Fatalf("systemd-analyze verify: %s", out)
	}
	// The test's settings go in a drop-in: address, greeting, watchdog.
	g.WriteFile(t, "/etc/hellod/greeting", []byte("hello\n"), 0o644)
	g.WriteFile(t, "/etc/systemd/system/hellod.service.d/test.conf", []byte(
		"[Service]\nEnvironment=HELLOD_ADDR="+addr+"\nEnvironment=HELLOD_GREETING=/etc/hellod/greeting\nWatchdogSec=2s\nRestartSec=200ms\n"), 0o644)
	g.must("systemctl", "daemon-reload")

	// start returns only once the lock is held: a probe right after sees
	// the holder, and it is the service's main process.
	start := time.Now()
	g.must("systemctl", "start", "hellod")
	t.Logf("systemctl start hellod took %v", time.Since(start))
	pid := g.holderPID("hellod")
	if main := g.show("hellod", "MainPID"); main != strconv.Itoa(pid) {
		t.Fatalf("lock holder %d, MainPID %s", pid, main)
	}
	if out, _ := get("/"); out != "hello\n" {
		t.Fatalf("GET / = %q", out)
	}
	if st := g.show("hellod", "StatusText"); st != "serving on "+addr {
		t.Fatalf("StatusText %q", st)
	}
	if out, code := g.run("/usr/local/bin/hellod", "status"); code != 0 || !strings.Contains(out, "hellod is running (pid "+strconv.Itoa(pid)) || !strings.Contains(out, "; service active") {
		t.Fatalf("hellod status: exit %d: %s", code, out)
	}

	// A second instance, started as a notify service of its own: exits 75
	// without ever being ready, and the first is undisturbed.
	out, code := g.run("systemd-run", "--unit=hellod-second", "-p", "Type=notify",
		"-p", "Environment=HELLOD_ADDR=127.0.0.1:1", "/usr/local/bin/hellod", "run")
	if code == 0 {
		t.Fatalf("second instance started: %s", out)
	}
	if st := g.show("hellod-second", "ExecMainStatus"); st != "75" {
		t.Fatalf("second instance exited %s, want 75: %s", st, g.Journal(t, "hellod-second"))
	}
	if ts := g.show("hellod-second", "ActiveEnterTimestampMonotonic"); ts != "0" {
		t.Fatalf("the second instance was active at some point (READY sent): %s", ts)
	}
	if j := g.Journal(t, "hellod-second"); !strings.Contains(j, "already running") || !strings.Contains(j, "pid "+strconv.Itoa(pid)) {
		t.Fatalf("the second instance's log does not name the holder:\n%s", j)
	}
	// Its error went to the journal with priority err (<3>).
	if out, _ := g.run("journalctl", "-u", "hellod-second", "-p", "err", "--no-pager", "-o", "cat"); !strings.Contains(out, "already running") {
		t.Fatalf("no error-priority journal line for the refused start:\n%s", out)
	}
	g.run("systemctl", "reset-failed", "hellod-second")
	if g.show("hellod", "MainPID") != strconv.Itoa(pid) || g.show("hellod", "ActiveState") != "active" {
		t.Fatalf("the first instance was disturbed")
	}

	// Reload: RELOADING, the hook, READY again; the new greeting shows.
	g.WriteFile(t, "/etc/hellod/greeting", []byte("bonjour\n"), 0o644)
	g.must("systemctl", "reload", "hellod")
	if st := g.show("hellod", "ActiveState"); st != "active" {
		t.Fatalf("after reload: %s", st)
	}
	if out, _ := get("/"); out != "bonjour\n" {
		t.Fatalf("after reload GET / = %q", out)
	}
	if j := g.Journal(t, "hellod"); !strings.Contains(j, "reloading") || !strings.Contains(j, "reloaded") {
		t.Fatalf("journal lacks the reload:\n%s", j)
	}

	// SIGKILL: systemd restarts it, and the new process takes the lock.
	restarts := g.show("hellod", "NRestarts")
	g.must("systemctl", "kill", "-s", "KILL", "hellod")
	waitFor(t, 20*time.Second, "a restart after SIGKILL", func() bool {
		return g.show("hellod", "NRestarts") != restarts && g.show("hellod", "ActiveState") == "active"
	})
	pid2 := g.holderPID("hellod")
	if pid2 == pid || g.show("hellod", "MainPID") != strconv.Itoa(pid2) {
		t.Fatalf("after SIGKILL: holder %d (was %d), MainPID %s", pid2, pid, g.show("hellod", "MainPID"))
	}

	// Hung: the health check fails, the watchdog is starved, systemd kills
	// and restarts it.
	restarts = g.show("hellod", "NRestarts")
	if out, code := g.run("curl", "-sS", "-m", "5", "-X", "POST", "http://"+addr+"/hang"); code != 0 {
		t.Fatalf("POST /hang: %s", out)
	}
	waitFor(t, 30*time.Second, "the watchdog to restart the hung daemon", func() bool {
		return g.show("hellod", "NRestarts") != restarts && g.show("hellod", "ActiveState") == "active"
	})
	if j := g.Journal(t, "hellod"); !strings.Contains(j, "atchdog timeout") {
		t.Fatalf("journal does not show a watchdog timeout:\n%s", j)
	}
	pid3 := g.holderPID("hellod")
	if pid3 == pid2 {
		t.Fatalf("the hung process %d still holds the lock", pid3)
	}
	if out, _ := get("/"); out != "bonjour\n" {
		t.Fatalf("after the watchdog restart GET / = %q", out)
	}

	// stop frees the lock and leaves no record.
	g.must("systemctl", "stop", "hellod")
	if out, code := g.run("/usr/local/bin/sole", "status", "hellod"); code != 3 {
		t.Fatalf("after stop: exit %d: %s", code, out)
	}
	if rec := g.must("cat", "/run/sole/hellod/hellod.pid"); rec != "" {
		t.Fatalf("record left after stop: %q", rec)
	}

	// uninstall leaves nothing behind.
	g.must("rm", "-r", "/etc/systemd/system/hellod.service.d")
	g.must("/usr/local/bin/hellod", "uninstall")
	for _, p := range []string{"/etc/systemd/system/hellod.service", "/run/sole/hellod", "/etc/systemd/system/multi-user.target.wants/hellod.service"} {
		if _, code := g.run("test", "-e", p); code == 0 {
			t.Errorf("%s left after uninstall", p)
		}
	}
	if st := g.show("hellod", "LoadState"); st != "not-found" {
		t.Errorf("LoadState after uninstall: %s", st)
	}
	_ = unitText
}

// TestSoleInstallUnderSystemd: any program, through `sole install`.
func TestSoleInstallUnderSystemd(t *testing.T) {
	g := boot(t)
	g.WriteFile(t, "/usr/local/bin/worker.sh", []byte(`#!/bin/sh
trap 'echo hup >> /var/tmp/worker-hups' HUP
env > /var/tmp/worker-env
while :; do sleep 0.05; done
`), 0o755)
	g.must("/usr/local/bin/sole", "install", "--name", "worker", "--env", "GREETING=hi there", "--", "/usr/local/bin/worker.sh")
	if out := g.must("/usr/local/bin/sole", "install", "--name", "worker", "--env", "GREETING=hi there", "--", "/usr/local/bin/worker.sh"); !strings.Contains(out, "unchanged") {
		t.Fatalf("second install: %q", out)
	}
	if out, code := g.run("systemd-analyze", "verify", "/etc/systemd/system/worker.service"); code != 0 {
		t.Fatalf("systemd-analyze verify: %s", out)
	}

	g.must("/usr/local/bin/sole", "start", "worker")
	pid := g.holderPID("worker")
	main := g.show("worker", "MainPID")
	// The record names the command; the main process is sole, its parent.
	if ppid := strings.TrimSpace(g.must("ps", "-o", "ppid=", "-p", strconv.Itoa(pid))); ppid != main {
		t.Fatalf("holder %d has parent %s, MainPID %s", pid, ppid, main)
	}
	if st := g.show("worker", "StatusText"); !strings.HasPrefix(st, "running /usr/local/bin/worker.sh (pid ") {
		t.Fatalf("StatusText %q", st)
	}
	out, code := g.run("/usr/local/bin/sole", "status", "worker")
	if code != 0 || !strings.Contains(out, "; service active") {
		t.Fatalf("sole status worker: exit %d: %s", code, out)
	}
	env := g.must("cat", "/var/tmp/worker-env")
	if strings.Contains(env, "NOTIFY_SOCKET=") || !strings.Contains(env, "GREETING=hi there") {
		t.Fatalf("command environment:\n%s", env)
	}

	// A second by hand: 75, naming the holder; the service is undisturbed.
	out, code = g.run("/usr/local/bin/sole", "run", "--name", "worker", "--", "true")
	if code != 75 || !strings.Contains(out, "worker is already running (pid "+strconv.Itoa(pid)+", worker.sh") {
		t.Fatalf("second instance: exit %d: %s", code, out)
	}

	// reload reaches the command.
	g.must("systemctl", "reload", "worker")
	waitFor(t, 10*time.Second, "the command to get SIGHUP", func() bool {
		_, code := g.run("test", "-s", "/var/tmp/worker-hups")
		return code == 0
	})

	// SIGKILL to the whole service: restarted, lock taken again.
	restarts := g.show("worker", "NRestarts")
	g.must("systemctl", "kill", "-s", "KILL", "worker")
	waitFor(t, 20*time.Second, "a restart after SIGKILL", func() bool {
		return g.show("worker", "NRestarts") != restarts && g.show("worker", "ActiveState") == "active"
	})
	if pid2 := g.holderPID("worker"); pid2 == pid {
		t.Fatalf("holder unchanged after the restart")
	}

	g.must("/usr/local/bin/sole", "stop", "worker")
	if out, code := g.run("/usr/local/bin/sole", "status", "worker"); code != 3 {
		t.Fatalf("after stop: exit %d: %s", code, out)
	}
	g.must("/usr/local/bin/sole", "uninstall", "worker")
	for _, p := range []string{"/etc/systemd/system/worker.service", "/run/sole/worker"} {
		if _, code := g.run("test", "-e", p); code == 0 {
			t.Errorf("%s left after uninstall", p)
		}
	}
	if out, code := g.run("/usr/local/bin/sole", "start", "worker"); code != 5 || !strings.Contains(out, "not installed") {
		t.Fatalf("start after uninstall: exit %d: %s", code, out)
	}
}

// TestSocketActivation: hellod started by its socket gets the listener
// systemd passed, and answers on it.
func TestSocketActivation(t *testing.T) {
	g := boot(t)
	g.CopyFile(t, build(t, "cmd/hellod"), "/usr/local/bin/hellod", 0o755)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g.must("/usr/local/bin/hellod", "install")
	g.WriteFile(t, "/etc/systemd/system/hellod.socket", []byte("[Socket]\nListenStream="+addr+"\n\n[Install]\nWantedBy=sockets.target\n"), 0o644)
	g.must("systemctl", "daemon-reload")
	g.must("systemctl", "start", "hellod.socket")
	if st := g.show("hellod.service", "ActiveState"); st != "inactive" {
		t.Fatalf("service %s before the first connection", st)
	}
	if out, code := g.run("curl", "-sS", "-m", "10", "http://"+addr+"/"); code != 0 || out != "hello\n" {
		t.Fatalf("GET through the socket: exit %d: %q", code, out)
	}
	if st := g.show("hellod.service", "StatusText"); st != "serving on "+addr {
		t.Fatalf("StatusText %q: the daemon did not use the passed socket", st)
	}
	g.holderPID("hellod")
}

// startUserManager starts root's user manager (user@0.service) and waits
// until it runs; it returns a function running a command in root's user
// session environment (XDG_RUNTIME_DIR, HOME), for systemctl --user.
func (g guest) startUserManager() func(args ...string) (string, int) {
	g.t.Helper()
	g.must("systemctl", "start", "user@0.service")
	userEnv := []string{"XDG_RUNTIME_DIR=/run/user/0", "HOME=/root"}
	urun := func(args ...string) (string, int) {
		return g.run("env", append(userEnv, args...)...)
	}
	waitFor(g.t, 20*time.Second, "root's user manager", func() bool {
		out, _ := urun("systemctl", "--user", "is-system-running")
		return strings.HasPrefix(out, "running") || strings.HasPrefix(out, "degraded")
	})
	return urun
}

// TestUserUnit: `sole install --user` under a real user manager (root's
// user@0.service in the guest): WantedBy=default.target, the lock under
// /run/lock/sole-UID/NAME whatever the environment, start after the lock,
// status, uninstall.
func TestUserUnit(t *testing.T) {
	g := boot(t)
	urun := g.startUserManager()
	umust := func(args ...string) string {
		t.Helper()
		out, code := urun(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, out)
		}
		return out
	}
	g.WriteFile(t, "/usr/local/bin/uworker.sh", []byte("#!/bin/sh\nwhile :; do sleep 0.05; done\n"), 0o755)
	umust("/usr/local/bin/sole", "install", "--user", "--name", "uworker", "--", "/usr/local/bin/uworker.sh")
	if text := g.must("cat", "/root/.config/systemd/user/uworker.service"); !strings.Contains(text, "WantedBy=default.target") || !strings.Contains(text, "--scope user") {
		t.Fatalf("user unit:\n%s", text)
	}
	umust("/usr/local/bin/sole", "start", "--user", "uworker")
	out, code := urun("/usr/local/bin/sole", "status", "--scope", "user", "uworker")
	if code != 0 || !strings.Contains(out, "uworker is running (pid ") || !strings.Contains(out, "; service active") {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	// The user's one lock directory, whatever the environment: the
	// service's and a shell's without XDG_RUNTIME_DIR (cron's) agree.
	if _, code := g.run("test", "-s", "/run/lock/sole-0/uworker/uworker.pid"); code != 0 {
		t.Fatal("no record under /run/lock/sole-0/uworker")
	}
	if out, code := g.run("env", "-u", "XDG_RUNTIME_DIR", "/usr/local/bin/sole", "run", "--scope", "user", "--name", "uworker", "--", "true"); code != 75 || !strings.Contains(out, "uworker is already running (pid ") {
		t.Fatalf("a start from cron's environment: exit %d: %s", code, out)
	}
	umust("/usr/local/bin/sole", "stop", "--user", "uworker")
	umust("/usr/local/bin/sole", "uninstall", "--user", "uworker")
	for _, p := range []string{"/root/.config/systemd/user/uworker.service", "/run/lock/sole-0/uworker"} {
		if _, code := g.run("test", "-e", p); code == 0 {
			t.Errorf("%s left after uninstall", p)
		}
	}
}

// TestSoleInstallWatchdog: a `sole install --watchdog --health` service is
// killed by systemd's watchdog and restarted when its health command
// fails, as a hung program would be.
func TestSoleInstallWatchdog(t *testing.T) {
	g := boot(t)
	g.WriteFile(t, "/usr/local/bin/napper.sh", []byte("#!/bin/sh\nwhile :; do sleep 0.05; done\n"), 0o755)
	g.must("/usr/local/bin/sole", "install", "--name", "napper", "--watchdog", "2s", "--health", "test ! -e /var/tmp/napper-hung", "--", "/usr/local/bin/napper.sh")
	if text := g.must("cat", "/etc/systemd/system/napper.service"); !strings.Contains(text, "WatchdogSec=2s") {
		t.Fatalf("unit:\n%s", text)
	}
	g.must("/usr/local/bin/sole", "start", "napper")
	pid := g.holderPID("napper")
	// Healthy: still the same process well past the watchdog interval.
	time.Sleep(5 * time.Second)
	if g.show("napper", "NRestarts") != "0" || g.holderPID("napper") != pid {
		t.Fatalf("restarted while healthy: %s", g.Journal(t, "napper"))
	}
	// Unhealthy: the watchdog is starved, systemd kills and restarts it.
	g.must("touch", "/var/tmp/napper-hung")
	waitFor(t, 30*time.Second, "the watchdog to restart the service", func() bool { return g.show("napper", "NRestarts") != "0" })
	g.must("rm", "/var/tmp/napper-hung")
	waitFor(t, 20*time.Second, "the service to run again", func() bool { return g.show("napper", "ActiveState") == "active" })
	if j := g.Journal(t, "napper"); !strings.Contains(j, "atchdog timeout") || !strings.Contains(j, "health check failed") {
		t.Fatalf("journal does not show the failed health check and the watchdog timeout:\n%s", j)
	}
	if pid2 := g.holderPID("napper"); pid2 == pid {
		t.Fatalf("the starved service still holds the lock as pid %d", pid)
	}
	g.must("/usr/local/bin/sole", "uninstall", "napper")
}
