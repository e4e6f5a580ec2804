// Package systemdtest boots a real systemd as PID 1 for a test, in throwaway
// namespaces over a throwaway overlay of /, and lets the test drive it with
// systemctl, journalctl and any other command.
//
//	m := systemdtest.Boot(t) // running (or degraded) when it returns
//	m.WriteFile(t, "/etc/systemd/system/x.service", unit, 0o644)
//	m.MustRun(t, "systemctl", "daemon-reload")
//	out, code := m.Systemctl(t, "start", "x")
//
// # Requirements
//
// Linux (5.6 or later for WriteFile's openat2, else it falls back to a shell in
// the guest), root, unshare(1), nsenter(1) and setpriv(1) from util-linux,
// /lib/systemd/systemd, overlayfs and a writable cgroup2 hierarchy (on a hybrid
// cgroup host, the one at /sys/fs/cgroup/unified will do). When one is
// missing, Boot skips the test, or fails it when the environment variable CI
// is "true".
//
// # The guest
//
// The guest is systemd started with --unit=basic.target and container=sole-test
// as PID 1 of fresh PID, mount, UTS, IPC, network and cgroup namespaces. Its
// root is an overlay whose lower layer is the host's root file system (that
// file system only: other host mounts under / show as empty directories) and
// whose upper layer is a tmpfs, so it starts with the host's /etc, /usr and
// /var, and whatever it writes is thrown away with it. It has its own /proc,
// /run, /tmp and /dev/shm, a minimal /dev (null, zero, full, random, urandom,
// tty and a private devpts), a read-only /sys, a read-only /proc/sys, a cgroup2
// hierarchy rooted at a fresh cgroup of its own, an own machine ID, and only a
// loopback network interface. PID 1's capability bounding set lacks
// CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_RAWIO, CAP_SYSLOG, CAP_AUDIT_CONTROL
// and a few more. Together these keep units such as systemd-sysctl,
// systemd-binfmt, systemd-modules-load and systemd-udevd from changing the host,
// and tmpfiles from cleaning the host's /tmp.
//
// A file the test built on the host (under the host's /tmp, say) is not
// visible in the guest: copy it in with CopyFile or WriteFile.
//
// The guest's /dev/console is a pty the test process reads: systemd's own
// output (before journald is up, and its status lines) goes there, and Boot
// and Shutdown put it in their failure messages.
//
// # Cleanup
//
// Boot registers Shutdown with t.Cleanup: it powers the guest off with
// systemctl poweroff, waits for PID 1 to exit (killing it after a timeout) and
// removes the guest's cgroup. If the test process dies, the kernel kills the
// guest: the unshare process gets SIGKILL as a parent-death signal and passes it
// on to PID 1, whose death ends everything in its PID namespace and so frees
// its mounts. A cgroup left behind that way is removed by the next Boot.
package systemdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// poweroffTimeout bounds the wait for PID 1 to exit after systemctl
	// poweroff; then it is killed.
	poweroffTimeout = 30 * time.Second
	// runTimeout bounds each command run in the guest.
	runTimeout = 2 * time.Minute
)

// guestEnv is the environment of commands run in the guest: the test's own
// environment (TMPDIR, GOCOVERDIR, ...) names host paths.
var guestEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C",
	"TERM=dumb",
	"SYSTEMD_PAGER=cat",
	"SYSTEMD_COLORS=0",
}

// Machine is a systemd booted by Boot. Its methods may be called from several
// goroutines at once.
type Machine struct {
	pid     int           // PID 1 of the guest, as seen by the host
	cgroup  string        // host path of the guest's cgroup
	nsenter string        // path of nsenter(1)
	nsArgs  []string      // nsenter options entering the guest
	rootFD  int           // O_PATH descriptor of the guest's root
	exited  chan struct{} // closed when unshare has exited
	waitErr error         // unshare's exit, set before exited is closed
	console *syncBuffer   // the guest's console: output of unshare, setup and PID 1
	booted  bool          // Boot succeeded

	//lint:ignore U1000 empty but for the Linux mechanism (machine_linux.go)
	machineOS // what only the Linux mechanism needs

	mu   sync.Mutex
	down bool // Shutdown has begun
}

// Boot boots systemd for the test and registers its shutdown with t.Cleanup.
// When it returns, systemctl is-system-running says running or degraded (the
// failed units of a degraded guest are logged).
//
// When the guest cannot be set up (not Linux, not root, no unshare, nsenter,
// systemd, overlayfs or writable cgroup2, or the namespaces and mounts fail),
// it calls t.Skip with the reason, unless the environment variable CI is
// "true": then it calls t.Fatal. A guest that is set up but does not finish
// booting within 30 s always fails the test, with systemd's own output.
func Boot(t testing.TB) *Machine {
	t.Helper()
	return boot(t, hostEnv())
}

// environment is what decides whether Boot can run, so that tests can fake it.
type environment struct {
	goos string
	euid int
	ci   bool // $CI is "true"
}

func hostEnv() environment {
	return environment{goos: goos, euid: os.Geteuid(), ci: os.Getenv("CI") == "true"}
}

// unavailable reports that the guest cannot be set up: it skips the test,
// or fails it in CI.
func unavailable(t testing.TB, env environment, reason string) {
	t.Helper()
	if env.ci {
		t.Fatalf("systemdtest: cannot boot systemd (CI=true, so this fails: a test tier that cannot be set up must fail in CI): %s", strings.TrimSpace(reason))
	}
	t.Skipf("systemdtest: cannot boot systemd: %s", strings.TrimSpace(reason))
}

// precheck returns why Boot cannot run here, or "".
func precheck(env environment) string {
	if env.goos != "linux" {
		return "needs Linux, not " + env.goos
	}
	if env.euid != 0 {
		return fmt.Sprintf("needs root (euid is %d)", env.euid)
	}
	return ""
}

// PID returns the host's PID of the guest's PID 1, systemd.
func (m *Machine) PID() int { return m.pid }

// Root returns a host path of the guest's root directory, valid while the
// machine runs: /proc/<test pid>/fd/<n>, a descriptor the test process holds
// (so, unlike /proc/<PID()>/root, it can never name another process's root).
// Reading through it is fine. Writing through it follows absolute symbolic
// links on the host, not in the guest: use WriteFile, which resolves paths in
// the guest.
func (m *Machine) Root() string {
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(m.rootFD)
}

// Run runs a command in the guest (in all its namespaces, at its root, as
// root, with a minimal environment and no stdin) and returns its output and
// exit code (-1 if it died of a signal). A non-zero exit is not an error; a
// command that cannot be started, or runs longer than 2 minutes, fails the
// test. The command is not part of any unit: it stays in the test's cgroup,
// with nsenter's full capabilities; to run something as systemd would, use
// systemd-run or a unit.
func (m *Machine) Run(t testing.TB, name string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	var o, e bytes.Buffer
	code, err := m.run(context.Background(), nil, &o, &e, name, args...)
	if err != nil {
		t.Fatalf("systemdtest: %s: %v\nstdout:\n%s\nstderr:\n%s", cmdline(name, args), err, o.String(), e.String())
	}
	return o.String(), e.String(), code
}

// MustRun is Run that fails the test when the command exits non-zero. It
// returns the command's stdout.
func (m *Machine) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	o, e, code := m.Run(t, name, args...)
	if code != 0 {
		t.Fatalf("systemdtest: %s: exit code %d\nstdout:\n%s\nstderr:\n%s", cmdline(name, args), code, o, e)
	}
	return o
}

// Systemctl runs systemctl in the guest and returns its output (stdout and
// stderr interleaved) and exit code.
func (m *Machine) Systemctl(t testing.TB, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := m.run(context.Background(), nil, &out, &out, "systemctl", args...)
	if err != nil {
		t.Fatalf("systemdtest: %s: %v\noutput:\n%s", cmdline("systemctl", args), err, out.String())
	}
	return out.String(), code
}

// Journal returns the guest's journal of unit (journalctl -u unit
// --no-pager), or the whole journal if unit is "", after asking journald to
// write out what it has. It is meant for failure messages: it never fails the
// test, and returns journalctl's error output as well.
func (m *Machine) Journal(t testing.TB, unit string) string {
	t.Helper()
	if err := m.checkUp(); err != nil {
		return fmt.Sprintf("(no journal: %v)", err)
	}
	out, err := m.journal(unit, 0)
	if err != nil {
		return fmt.Sprintf("%s(journalctl: %v)", out, err)
	}
	return out
}

func (m *Machine) journal(unit string, lines int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Ask journald to write out what it has received, so that the lines a
	// unit just logged are there.
	m.exec(ctx, nil, nil, nil, "journalctl", "--sync")
	args := []string{"--no-pager"}
	if unit != "" {
		args = append(args, "-u", unit)
	}
	if lines > 0 {
		args = append(args, "-n", strconv.Itoa(lines))
	}
	var out bytes.Buffer
	_, err := m.exec(ctx, nil, &out, &out, "journalctl", args...)
	return out.String(), err
}

// WriteFile writes data to the file guestPath (an absolute path in the
// guest), creating it and its missing parent directories (mode 0755) as
// needed, and sets its permission bits to perm. Symbolic links are resolved in
// the guest, so a write never lands on the host.
func (m *Machine) WriteFile(t testing.TB, guestPath string, data []byte, perm os.FileMode) {
	t.Helper()
	if !strings.HasPrefix(guestPath, "/") {
		t.Fatalf("systemdtest: WriteFile: %q is not an absolute path", guestPath)
	}
	if err := m.checkUp(); err != nil {
		t.Fatalf("systemdtest: WriteFile %s: %v", guestPath, err)
	}
	if err := m.writeFile(guestPath, data, perm.Perm()); err != nil {
		t.Fatalf("systemdtest: WriteFile %s: %v", guestPath, err)
	}
}

// CopyFile copies the host's file hostPath to guestPath in the guest, as
// WriteFile does. A perm of 0 keeps hostPath's permission bits.
func (m *Machine) CopyFile(t testing.TB, hostPath, guestPath string, perm os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(hostPath)
	if err != nil {
		t.Fatalf("systemdtest: CopyFile: %v", err)
	}
	if perm == 0 {
		fi, err := os.Stat(hostPath)
		if err != nil {
			t.Fatalf("systemdtest: CopyFile: %v", err)
		}
		perm = fi.Mode().Perm()
	}
	m.WriteFile(t, guestPath, data, perm)
}

// Shutdown powers the guest off (systemctl poweroff), waits up to 30 s for its
// PID 1 to exit, killing it then, and removes its cgroup. When the test has
// failed, it first logs the guest's failed units, the tail of its journal and
// systemd's own output. Boot registers it with t.Cleanup; calling it earlier
// is fine (a test can check what a poweroff does), and later calls do nothing.
// After it, the machine's methods fail the test.
func (m *Machine) Shutdown(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	if m.down {
		m.mu.Unlock()
		return
	}
	m.down = true
	m.mu.Unlock()

	if !m.hasExited() {
		if t.Failed() && m.booted { // (a failed boot said it all)
			m.logDiagnostics(t)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out bytes.Buffer
		// Its exit code does not matter: PID 1 may go before it answers.
		m.exec(ctx, nil, &out, &out, "systemctl", "poweroff")
		cancel()
		select {
		case <-m.exited:
		case <-time.After(poweroffTimeout):
			t.Errorf("systemdtest: systemd (pid %d) did not power off within %v; killing it\nsystemctl poweroff said: %s\nsystemd's output:\n%s",
				m.pid, poweroffTimeout, out.String(), m.console.String())
			m.kill()
		}
	}
	if err := m.release(); err != nil {
		t.Errorf("systemdtest: cleanup: %v", err)
	}
}

func (m *Machine) hasExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

func (m *Machine) checkUp() error {
	m.mu.Lock()
	down := m.down
	m.mu.Unlock()
	if down {
		return errors.New("the machine is shut down")
	}
	if m.hasExited() {
		return fmt.Errorf("systemd has exited (%v); its output:\n%s", m.waitErr, m.console.String())
	}
	return nil
}

func (m *Machine) logDiagnostics(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var failed bytes.Buffer
	m.exec(ctx, nil, &failed, &failed, "systemctl", "--failed", "--no-legend")
	journal, _ := m.journal("", 200)
	t.Logf("systemdtest: the test failed; guest's failed units:\n%s\nlast 200 journal lines:\n%s\nsystemd's own output:\n%s",
		failed.String(), journal, m.console.String())
}

// run runs name in the guest. err is about running it at all, not about its
// exit code.
func (m *Machine) run(ctx context.Context, stdin []byte, stdout, stderr *bytes.Buffer, name string, args ...string) (int, error) {
	if err := m.checkUp(); err != nil {
		return -1, err
	}
	return m.exec(ctx, stdin, stdout, stderr, name, args...)
}

// exec is run without checking that the machine is up, for Shutdown.
func (m *Machine) exec(ctx context.Context, stdin []byte, stdout, stderr *bytes.Buffer, name string, args ...string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	argv := append(append(append([]string{}, m.nsArgs...), "--", name), args...)
	cmd := exec.CommandContext(ctx, m.nsenter, argv...)
	cmd.Env = guestEnv
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	// A daemon the command leaves behind may hold its output open.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("timed out: %v", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func cmdline(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

// syncBuffer is a bytes.Buffer safe for concurrent use, keeping at most its
// first and last 64 KiB.
type syncBuffer struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	dropped int
}

const syncBufferHalf = 64 << 10

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := syncBufferHalf - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	b.tail = append(b.tail, p...)
	if extra := len(b.tail) - syncBufferHalf; extra > 0 {
		b.dropped += extra
		b.tail = append(b.tail[:0], b.tail[extra:]...)
	}
	return n, nil
}

// String returns the text kept, without carriage returns (the console is a
// terminal).
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.head) + string(b.tail)
	if b.dropped > 0 {
		s = fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", b.head, b.dropped, b.tail)
	}
	return strings.ReplaceAll(s, "\r", "")
}
