//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/pidlock"
)

// TestRunNotify: under a (fake) systemd, `sole run` reports READY=1 with
// MAINPID=sole only once its command runs under the lock, keeps the notify
// socket out of the command's environment, passes a reload through
// RELOADING=1 and READY=1, and says STOPPING=1 when the command ends.
func TestRunNotify(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "svc.pid")
	sock := notifytest.Listen(t, lock)
	next := func() notifytest.Message { t.Helper(); return sock.Next(20 * time.Second) }

	script := `trap 'echo hup >> "$1/hups"' HUP; env > "$1/env"; touch "$1/ready"; while :; do sleep 0.01; done`
	cmd := soleCmd("run", "--lock", lock, "--", "sh", "-c", script, "sh", dir)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.Path, "WATCHDOG_USEC=1000000", "WATCHDOG_PID=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	m := next()
	lines := strings.Split(m.Text, "\n")
	if lines[0] != "READY=1" || lines[1] != "MAINPID="+strconv.Itoa(cmd.Process.Pid) || !strings.HasPrefix(lines[2], "STATUS=running sh (pid ") {
		t.Fatalf("ready message %q", m.Text)
	}
	if m.State != pidlock.Running && m.State != pidlock.Starting {
		t.Fatalf("READY=1 arrived while the lock was %v", m.State)
	}
	waitFile(t, filepath.Join(dir, "ready"))
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, v := range []string{"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
		if strings.Contains(string(env), v) {
			t.Fatalf("the command inherited %s", v)
		}
	}

	cmd.Process.Signal(syscall.SIGHUP)
	if m := next(); !strings.HasPrefix(m.Text, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("after SIGHUP: %q", m.Text)
	}
	if m := next(); !strings.HasPrefix(m.Text, "READY=1\nSTATUS=running sh") {
		t.Fatalf("after reload: %q", m.Text)
	}
	waitFile(t, filepath.Join(dir, "hups"))

	cmd.Process.Signal(syscall.SIGTERM)
	if m := next(); m.Text != "STOPPING=1" {
		t.Fatalf("at stop: %q", m.Text)
	}
	if code := exitCode(cmd.Wait()); code != 143 {
		t.Fatalf("sole exited %d, want 143", code)
	}
}
