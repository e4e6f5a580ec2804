//go:build linux

package solecmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/pidlock"
)

// daemonize is a command that double-forks a daemon (setsid, so it leaves
// COMMAND's process group and session) and exits at once; the daemon
// writes its pid to $1 and lives 300 s.
const daemonize = `(setsid sh -c 'echo $$ >"$0.tmp"; mv "$0.tmp" "$0"; exec sleep 300' "$1" &); exit 0`

// outputFile is where a test sends the output of a sole whose command
// leaves a daemon: a file, not a pipe, which the daemon would inherit and
// keep open for its 300 s.
func outputFile(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "output"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// daemonPID waits for the daemon of `daemonize` to write its pid to file,
// and kills it when the test ends.
func daemonPID(t *testing.T, file string) int {
	t.Helper()
	waitFile(t, file)
	b, _ := os.ReadFile(file)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("daemon pid %q: %v", b, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// TestInheritedHolder: a command that daemonizes passes the lock on, and
// status, run's refusal, --wait and --replace all see the daemon as the
// holder; sole says so when the command exits.
func TestInheritedHolder(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	pidFile := filepath.Join(dir, "daemon")
	errFile := outputFile(t, dir)
	first := soleCmd("run", "--lock", lock, "--", "sh", "-c", daemonize, "sh", pidFile)
	first.Stderr = errFile
	code := exitCode(first.Run())
	daemon := daemonPID(t, pidFile)
	msg, _ := os.ReadFile(errFile.Name())
	if code != 0 {
		t.Fatalf("sole exited %d: %s", code, msg)
	}
	// The daemon is setsid, then sh, until it execs sleep.
	want := fmt.Sprintf(`^sole: warning: x: sh exited, but pid %d \((setsid|sh|sleep)\) still holds the lock it passed on; no new instance starts until they exit \(--no-inherit keeps the lock from being passed on\)\n$`, daemon)
	if !regexp.MustCompile(want).Match(msg) {
		t.Fatalf("stderr %q\nwant   %s", msg, want)
	}
	var stderr bytes.Buffer

	// status names the daemon (once it is sleep).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", daemon)); string(b) == "sleep\n" || time.Now().After(deadline) {
			break
		}
	}
	out, err := soleCmd("status", "--lock", lock, "--json").Output()
	var st struct {
		State   string
		PID     int
		Process string
	}
	if err != nil || json.Unmarshal(out, &st) != nil || st.State != "running" || st.PID != daemon || st.Process != "sleep" {
		t.Fatalf("status: %v: %s; want running, pid %d (sleep)", err, out, daemon)
	}
	// A new start is refused, naming it.
	second := soleCmd("run", "--lock", lock, "--", "true")
	second.Stderr = &stderr
	if code := exitCode(second.Run()); code != 75 || !regexp.MustCompile(fmt.Sprintf(`^sole: x is already running \(pid %d, sleep, since [0-9:]+\)\n$`, daemon)).MatchString(stderr.String()) {
		t.Fatalf("second start: exit %d, %q", code, stderr.String())
	}
	// --wait waits for it.
	if code := exitCode(soleCmd("run", "--lock", lock, "--wait", "--timeout", "200ms", "--", "true").Run()); code != 75 {
		t.Fatalf("--wait --timeout exited %d, want 75", code)
	}
	// --replace stops it.
	out, err = soleCmd("run", "--lock", lock, "--replace", "--stop-timeout", "2s", "--", "echo", "new").CombinedOutput()
	if err != nil || string(out) != "new\n" {
		t.Fatalf("--replace: %v: %q", err, out)
	}
	if alive(daemon) {
		t.Fatal("the daemon survived --replace")
	}
}

// TestNoInherit: with --no-inherit the lock stays in sole: a daemon the
// command leaves holds nothing, the lock is free when the command exits,
// and the command dies with sole.
func TestNoInherit(t *testing.T) {
	t.Run("daemon holds nothing", func(t *testing.T) {
		dir := t.TempDir()
		lock := filepath.Join(dir, "x.pid")
		pidFile := filepath.Join(dir, "daemon")
		errFile := outputFile(t, dir)
		c := soleCmd("run", "--no-inherit", "--lock", lock, "--", "sh", "-c", daemonize, "sh", pidFile)
		c.Stdout, c.Stderr = errFile, errFile
		if err := c.Run(); err != nil {
			t.Fatalf("sole: %v", err)
		}
		if out, _ := os.ReadFile(errFile.Name()); len(out) != 0 {
			t.Fatalf("sole printed %q", out)
		}
		daemonPID(t, pidFile)
		if st, err := mustLock(t, lock).Query(); err != nil || st.State != pidlock.NotRunning {
			t.Fatalf("Query = %+v, %v; want not running", st, err)
		}
		if out, err := soleCmd("run", "--lock", lock, "--", "true").CombinedOutput(); err != nil {
			t.Fatalf("next start: %v: %s", err, out)
		}
	})
	t.Run("command dies with sole", func(t *testing.T) {
		dir := t.TempDir()
		lock := filepath.Join(dir, "x.pid")
		cmd := soleCmd("run", "--no-inherit", "--lock", lock, "--", "sleep", "300")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var child int
		for deadline := time.Now().Add(30 * time.Second); child == 0; time.Sleep(2 * time.Millisecond) {
			if st, err := mustLock(t, lock).Query(); err == nil && st.State == pidlock.Running && st.Holder.Process == "sleep" {
				child = st.Holder.PID
			}
			if time.Now().After(deadline) {
				t.Fatal("the command did not start")
			}
		}
		defer syscall.Kill(child, syscall.SIGKILL)
		if mustLock(t, lock).HoldsLock(child) {
			t.Fatal("with --no-inherit the command holds the lock")
		}
		cmd.Process.Kill()
		cmd.Wait()
		for deadline := time.Now().Add(30 * time.Second); alive(child); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the command outlived its sole")
			}
		}
	})
}

// TestNoDescendantsNoWarning: a command whose children are all gone when
// it exits releases the lock as usual, with nothing printed.
func TestNoDescendantsNoWarning(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	out, err := soleCmd("run", "--lock", lock, "--", "sh", "-c", "sleep 0.01 & wait").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("sole: %v: %q", err, out)
	}
	if b, _ := os.ReadFile(lock); len(b) != 0 {
		t.Fatalf("record left: %q", b)
	}
}

// TestPassedDescriptors: a descriptor sole was given open (a socket
// systemd passed, a file a script opened) reaches COMMAND, and so does the
// lock; sole's own descriptors do not.
func TestPassedDescriptors(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	passed := filepath.Join(dir, "passed")
	f, err := os.Create(passed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(dir, "fds")
	cmd := soleCmd("run", "--lock", lock, "--", "sh", "-c", `for f in /proc/self/fd/*; do readlink "$f"; done >"$1"`, "sh", out)
	cmd.ExtraFiles = []*os.File{f} // fd 3 in sole
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sole: %v: %s", err, b)
	}
	b, _ := os.ReadFile(out)
	links := strings.Fields(string(b))
	has := func(p string) bool {
		for _, l := range links {
			if l == p {
				return true
			}
		}
		return false
	}
	if !has(passed) || !has(lock) {
		t.Fatalf("COMMAND's descriptors %q: want %s and the lock %s", links, passed, lock)
	}
	for _, l := range links {
		if strings.HasPrefix(l, "anon_inode:") { // the Go runtime's epoll, eventfd
			t.Fatalf("COMMAND got one of sole's own descriptors: %q", links)
		}
	}
}
