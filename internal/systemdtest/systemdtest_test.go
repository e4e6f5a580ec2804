package systemdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBoot boots a guest and checks that it runs, that the host's /tmp and
// hostname are left alone, that files go in (and only in) the guest, and that
// Shutdown leaves nothing behind.
func TestBoot(t *testing.T) {
	t.Parallel()
	// A canary in the host's /tmp: the guest's systemd-tmpfiles must not
	// clean it (it would if the guest saw the host's /tmp).
	canary, err := os.CreateTemp("/tmp", "systemdtest-canary-*")
	if err != nil {
		t.Fatal(err)
	}
	canary.Close()
	// Old enough for tmpfiles' 10-day age on /tmp.
	old := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(canary.Name(), old, old)
	t.Cleanup(func() { os.Remove(canary.Name()) })
	hostName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	m := Boot(t)

	state, _ := m.Systemctl(t, "is-system-running")
	switch state = strings.TrimSpace(state); state {
	case "running":
	case "degraded":
		out, _ := m.Systemctl(t, "--failed", "--no-legend")
		t.Logf("degraded; failed units:\n%s", out)
	default:
		t.Fatalf("is-system-running: %q", state)
	}
	if _, err := os.Stat(canary.Name()); err != nil {
		t.Errorf("the host's /tmp canary is gone after boot: %v", err)
	}
	if _, _, code := m.Run(t, "test", "-e", canary.Name()); code == 0 {
		t.Errorf("the guest sees the host's %s: its /tmp is not private", canary.Name())
	}
	if got := strings.TrimSpace(m.MustRun(t, "cat", "/proc/1/comm")); got != "systemd" {
		t.Errorf("PID 1 in the guest is %q, want systemd", got)
	}

	// Hostname: the guest has its own UTS namespace.
	m.MustRun(t, "hostname", "sole-guest")
	if got := strings.TrimSpace(m.MustRun(t, "hostname")); got != "sole-guest" {
		t.Errorf("guest hostname = %q, want sole-guest", got)
	}
	if got, _ := os.Hostname(); got != hostName {
		t.Errorf("host hostname changed from %q to %q", hostName, got)
	}

	// Files: WriteFile writes in the guest only, resolving symbolic links
	// there. /etc/systemdtest-link is an absolute link whose target exists
	// on the host (/var/tmp) and in the guest; the write must land in the
	// guest's.
	m.MustRun(t, "ln", "-s", "/var/tmp", "/etc/systemdtest-link")
	name := filepath.Base(canary.Name()) + "-written"
	m.WriteFile(t, "/etc/systemdtest-link/"+name, []byte("hello\n"), 0o640)
	if _, err := os.Lstat("/var/tmp/" + name); err == nil {
		os.Remove("/var/tmp/" + name)
		t.Fatalf("WriteFile through a guest symlink wrote the host's /var/tmp/%s", name)
	}
	if got := m.MustRun(t, "cat", "/var/tmp/"+name); got != "hello\n" {
		t.Errorf("guest file holds %q", got)
	}
	if got := strings.TrimSpace(m.MustRun(t, "stat", "-c", "%a", "/var/tmp/"+name)); got != "640" {
		t.Errorf("guest file mode = %s, want 640", got)
	}
	m.WriteFile(t, "/opt/systemdtest/a/b/c.txt", []byte("deep"), 0o600)
	if got := m.MustRun(t, "cat", "/opt/systemdtest/a/b/c.txt"); got != "deep" {
		t.Errorf("guest file holds %q", got)
	}
	if _, err := os.Stat("/opt/systemdtest"); err == nil {
		t.Errorf("WriteFile created /opt/systemdtest on the host")
	}
	// CopyFile: the test binary itself, runnable in the guest.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m.CopyFile(t, exe, "/usr/local/bin/systemdtest.test", 0)
	if _, _, code := m.Run(t, "/usr/local/bin/systemdtest.test", "-test.run=^$"); code != 0 {
		t.Errorf("the copied test binary does not run in the guest (exit code %d)", code)
	}
	// Root: the guest's files, read from the host.
	if data, err := os.ReadFile(filepath.Join(m.Root(), "etc/machine-id")); err != nil {
		t.Errorf("reading through Root: %v", err)
	} else if hostID, _ := os.ReadFile("/etc/machine-id"); string(data) == string(hostID) {
		t.Errorf("the guest has the host's machine ID")
	}

	// Journald works.
	m.MustRun(t, "systemd-cat", "-t", "systemdtest", "echo", "hello journal")
	if j := m.Journal(t, ""); !strings.Contains(j, "hello journal") {
		t.Errorf("journal lacks the line logged:\n%s", j)
	}

	pid := m.PID()
	start := time.Now()
	m.Shutdown(t)
	t.Logf("poweroff took %v", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(canary.Name()); err != nil {
		t.Errorf("the host's /tmp canary is gone after poweroff: %v", err)
	}
	if _, err := os.Stat(m.cgroup); err == nil {
		t.Errorf("the guest's cgroup %s is left", m.cgroup)
	}
	if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "systemd" {
		t.Errorf("systemd (pid %d) still runs after Shutdown", pid)
	}
	if got, _ := os.Hostname(); got != hostName {
		t.Errorf("host hostname changed from %q to %q", hostName, got)
	}
	// The machine is gone: its methods fail the test.
	if !failsTest(func(tb testing.TB) { m.Run(tb, "true") }) {
		t.Errorf("Run after Shutdown did not fail the test")
	}
}

// TestNotify checks a Type=notify unit: systemctl start returns when the
// service says READY=1, not before.
func TestNotify(t *testing.T) {
	t.Parallel()
	m := Boot(t)
	m.WriteFile(t, "/etc/systemd/system/notifytest.service", []byte(`[Unit]
Description=systemdtest notify test

[Service]
Type=notify
NotifyAccess=all
ExecStart=/bin/sh -c 'sleep 1; systemd-notify --ready; exec sleep 1000'
`), 0o644)
	m.MustRun(t, "systemctl", "daemon-reload")

	start := time.Now()
	out, code := m.Systemctl(t, "start", "notifytest")
	took := time.Since(start)
	t.Logf("systemctl start notifytest took %v", took.Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("systemctl start notifytest: exit code %d: %s\njournal:\n%s", code, out, m.Journal(t, "notifytest"))
	}
	if took < 900*time.Millisecond {
		t.Errorf("systemctl start returned after %v, before the service said READY=1 (after 1 s)", took)
	}
	if out, _ := m.Systemctl(t, "is-active", "notifytest"); strings.TrimSpace(out) != "active" {
		t.Errorf("right after start, is-active says %q", out)
	}
	if out := m.MustRun(t, "systemctl", "show", "-p", "MainPID", "--value", "notifytest"); strings.TrimSpace(out) == "0" {
		t.Errorf("MainPID is 0")
	}

	// Before READY=1 the unit is activating.
	m.MustRun(t, "systemctl", "restart", "--no-block", "notifytest")
	time.Sleep(200 * time.Millisecond)
	if out, _ := m.Systemctl(t, "is-active", "notifytest"); strings.TrimSpace(out) != "activating" {
		t.Errorf("before READY=1, is-active says %q, want activating", out)
	}

	m.MustRun(t, "systemctl", "stop", "notifytest")
	if out, _ := m.Systemctl(t, "is-active", "notifytest"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("after stop, is-active says %q", out)
	}
	if j := m.Journal(t, "notifytest"); !strings.Contains(j, "Started notifytest.service") {
		t.Errorf("journal of notifytest lacks the start:\n%s", j)
	}
}

// TestTwoMachines checks that two guests alive at once do not interfere: the
// same unit name in both is two units, hostnames and files are their own.
func TestTwoMachines(t *testing.T) {
	t.Parallel()
	a, b := Boot(t), Boot(t)
	unit := []byte("[Service]\nExecStart=/bin/sleep 1000\n")
	for _, m := range []*Machine{a, b} {
		m.WriteFile(t, "/etc/systemd/system/twin.service", unit, 0o644)
		m.MustRun(t, "systemctl", "daemon-reload")
		m.MustRun(t, "systemctl", "start", "twin")
	}
	mainPID := func(m *Machine) string {
		return strings.TrimSpace(m.MustRun(t, "systemctl", "show", "-p", "MainPID", "--value", "twin"))
	}
	bPID := mainPID(b)
	a.MustRun(t, "systemctl", "stop", "twin")
	if out, _ := b.Systemctl(t, "is-active", "twin"); strings.TrimSpace(out) != "active" || mainPID(b) != bPID {
		t.Errorf("stopping twin in one guest stopped it in the other: %q", out)
	}
	a.MustRun(t, "hostname", "guest-a")
	b.MustRun(t, "hostname", "guest-b")
	if got := strings.TrimSpace(a.MustRun(t, "hostname")); got != "guest-a" {
		t.Errorf("guest a's hostname is %q", got)
	}
	a.WriteFile(t, "/etc/only-in-a", nil, 0o644)
	if _, _, code := b.Run(t, "test", "-e", "/etc/only-in-a"); code == 0 {
		t.Errorf("a file written in guest a shows in guest b")
	}
	if a.cgroup == b.cgroup {
		t.Errorf("both guests have cgroup %s", a.cgroup)
	}
	// Powering one off leaves the other running.
	a.Shutdown(t)
	if out, _ := b.Systemctl(t, "is-active", "twin"); strings.TrimSpace(out) != "active" {
		t.Errorf("after guest a's poweroff, twin in guest b is %q", out)
	}
}

// TestUnavailable checks that a guest that cannot be set up skips the test,
// or fails it when CI=true.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		env       environment
		wantSkip  bool
		wantFatal bool
		wantMsg   string
	}{
		{environment{goos: "linux", euid: 1000}, true, false, "needs root"},
		{environment{goos: "linux", euid: 1000, ci: true}, false, true, "needs root"},
		{environment{goos: "windows", euid: 0}, true, false, "needs Linux"},
		{environment{goos: "windows", euid: 0, ci: true}, false, true, "CI=true"},
	} {
		r := &recorder{TB: t}
		var m *Machine
		r.do(func() { m = boot(r, tc.env) })
		if r.skipped != tc.wantSkip || r.fatal != tc.wantFatal || !strings.Contains(r.msg, tc.wantMsg) {
			t.Errorf("%+v: skipped=%v fatal=%v msg=%q; want skipped=%v fatal=%v and %q",
				tc.env, r.skipped, r.fatal, r.msg, tc.wantSkip, tc.wantFatal, tc.wantMsg)
		}
		if m != nil {
			t.Errorf("%+v: boot returned a machine", tc.env)
		}
	}
	// The real environment decides from $CI.
	t.Setenv("CI", "true")
	if env := hostEnv(); !env.ci || env.goos != runtime.GOOS || env.euid != os.Geteuid() {
		t.Errorf("hostEnv() = %+v with CI=true", env)
	}
	t.Setenv("CI", "")
	if hostEnv().ci {
		t.Errorf("hostEnv().ci with CI unset")
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of doing them
// to the real test. Run code that may call them with do.
type recorder struct {
	testing.TB
	skipped, fatal bool
	msg            string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Errorf(format string, args ...any) { r.Fatalf(format, args...) }
func (r *recorder) Fatal(args ...any)                 { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recorder) Skip(args ...any)                  { r.Skipf("%s", fmt.Sprint(args...)) }

// do runs f in a goroutine of its own, which Skipf and Fatalf end.
func (r *recorder) do(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// failsTest reports whether f fails or skips the test it is given.
func failsTest(f func(testing.TB)) bool {
	r := &recorder{TB: nil}
	r.do(func() { f(r) })
	return r.fatal || r.skipped
}
