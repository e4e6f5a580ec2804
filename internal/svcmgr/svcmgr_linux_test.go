package svcmgr

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stubSystemctl is a systemctl for start: show prints $STUB/state; start
// and restart log themselves to $STUB/calls and then fail when $STUB/fail
// exists, or wait for $STUB_SLEEP seconds (their job) and succeed.
const stubSystemctl = `#!/bin/sh
[ "$1" = --user ] && shift
case "$1" in
show) cat "$STUB/state" ;;
start|restart)
	echo "$* $$" >>"$STUB/calls"
	if [ -f "$STUB/fail" ]; then
		echo "Job for x.service failed because the control process exited with error code." >&2
		echo "See \"systemctl status x.service\" for details." >&2
		exit 1
	fi
	exec sleep "$STUB_SLEEP" ;;
esac
`

type stub struct {
	t   *testing.T
	dir string
}

func newStub(t *testing.T, sleep string) stub {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(stubSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("STUB", dir)
	t.Setenv("STUB_SLEEP", sleep)
	// Fast polls, as the test's clock goes.
	old := startPoll
	startPoll = [2]time.Duration{10 * time.Millisecond, 50 * time.Millisecond}
	t.Cleanup(func() { startPoll = old })
	return stub{t, dir}
}

// set makes systemctl show print these properties.
func (s stub) set(active, sub, status, invocation string) {
	s.t.Helper()
	text := "LoadState=loaded\nActiveState=" + active + "\nSubState=" + sub + "\nStatusText=" + status + "\nInvocationID=" + invocation + "\n"
	if active == "not-found" {
		text = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nStatusText=\nInvocationID=\n"
	}
	tmp := filepath.Join(s.dir, "state.tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "state")); err != nil {
		s.t.Fatal(err)
	}
}

// calls are the start and restart commands run, each with its pid, which
// must be gone (start ended the systemctl it started).
func (s stub) calls() []string {
	s.t.Helper()
	b, _ := os.ReadFile(filepath.Join(s.dir, "calls"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out []string
	for _, l := range lines {
		if l == "" {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		pid, err := strconv.Atoi(l[i+1:])
		if err != nil {
			s.t.Fatalf("calls: %q", l)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			s.t.Errorf("systemctl %s (pid %d) still runs", l[:i], pid)
		}
		out = append(out, l[:i])
	}
	return out
}

const standby = "standing by: myd is held by pid 42 on web1, since 2026-11-01T12:00:00Z"

// TestStartNotFleet: a service that never says it stands by is started
// as always: start returns when systemctl does, with its error.
func TestStartNotFleet(t *testing.T) {
	s := newStub(t, "0.4")
	s.set("activating", "start", "starting", "a")
	begin := time.Now()
	got, err := StartStatus("myd", false)
	if err != nil || got != "" {
		t.Fatalf("StartStatus = %q, %v", got, err)
	}
	if d := time.Since(begin); d < 400*time.Millisecond {
		t.Errorf("returned after %v, before systemctl start did", d)
	}
	if c := s.calls(); len(c) != 1 || c[0] != "start -- myd" {
		t.Errorf("ran %q", c)
	}

	if err := os.WriteFile(filepath.Join(s.dir, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Restart("myd", true)
	if err == nil || !strings.Contains(err.Error(), "systemctl --user restart -- myd: Job for x.service failed because") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Restart of a failing unit: %v", err)
	}

	s.set("not-found", "", "", "")
	if _, err := StartStatus("myd", false); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("StartStatus of a missing unit: %v", err)
	}
}

// TestStartFleetStandby: a fleet service that stands by makes start return
// at once with its status line, though the start job goes on (systemctl
// would wait for it forever); a service in auto-restart or stopping,
// whose status line is the last process's, does not.
func TestStartFleetStandby(t *testing.T) {
	s := newStub(t, "1000")
	s.set("activating", "start", standby, "a")
	begin := time.Now()
	got, err := StartStatus("myd", false)
	if err != nil || got != standby {
		t.Fatalf("StartStatus = %q, %v; want %q", got, err, standby)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if c := s.calls(); len(c) != 1 || c[0] != "start -- myd" {
		t.Errorf("ran %q", c)
	}

	// Not yet standing by: in auto-restart, then starting, then standing by.
	s.set("activating", "auto-restart", standby, "a")
	done := make(chan error, 1)
	var line string
	go func() {
		var err error
		line, err = StartStatus("myd", true)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("returned in auto-restart: %q, %v", line, err)
	case <-time.After(300 * time.Millisecond):
	}
	s.set("activating", "start", "", "b")
	select {
	case err := <-done:
		t.Fatalf("returned before the service said it stands by: %q, %v", line, err)
	case <-time.After(300 * time.Millisecond):
	}
	s.set("activating", "start", "standing by: etcd at 127.0.0.1:9 cannot be reached: refused; retrying", "b")
	select {
	case err := <-done:
		if err != nil || !strings.HasPrefix(line, "standing by: etcd at 127.0.0.1:9") {
			t.Fatalf("StartStatus = %q, %v", line, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StartStatus still waits, though the service stands by")
	}
}

// TestRestartFleetStandby: before the restart's job runs, the service
// still shows the old process's standby; only the new invocation's ends
// the wait.
func TestRestartFleetStandby(t *testing.T) {
	s := newStub(t, "1000")
	s.set("activating", "start", standby, "old")
	done := make(chan error, 1)
	var line string
	go func() {
		var err error
		line, err = RestartStatus("myd", false)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("returned on the old process's standby: %q, %v", line, err)
	case <-time.After(300 * time.Millisecond):
	}
	s.set("deactivating", "stop-sigterm", standby, "old")
	time.Sleep(100 * time.Millisecond)
	newLine := strings.Replace(standby, "42", "43", 1)
	s.set("activating", "start", newLine, "new")
	select {
	case err := <-done:
		if err != nil || line != newLine {
			t.Fatalf("RestartStatus = %q, %v; want %q", line, err, newLine)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RestartStatus still waits, though the new process stands by")
	}
	if c := s.calls(); len(c) != 1 || c[0] != "restart -- myd" {
		t.Errorf("ran %q", c)
	}
}
