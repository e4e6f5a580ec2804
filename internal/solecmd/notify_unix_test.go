//go:build unix

package solecmd

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

// TestRunWatchdog: `sole run` feeds systemd's watchdog only when the
// watchdog is its own (WATCHDOG_PID unset or sole's) and valid, and only
// while --health succeeds.
func TestRunWatchdog(t *testing.T) {
	for name, tc := range map[string]struct {
		env    []string
		health string
		fed    bool
	}{
		"ours, healthy": {env: []string{"WATCHDOG_USEC=100000"}, health: "true", fed: true},
		"ours, failing": {env: []string{"WATCHDOG_USEC=100000"}, health: "false"},
		"another's":     {env: []string{"WATCHDOG_USEC=100000", "WATCHDOG_PID=1"}, health: "true"},
		"garbage usec":  {env: []string{"WATCHDOG_USEC=100ms"}, health: "true"},
		"garbage pid":   {env: []string{"WATCHDOG_USEC=100000", "WATCHDOG_PID=sole"}, health: "true"},
		"zero usec":     {env: []string{"WATCHDOG_USEC=0"}, health: "true"},
		"no watchdog":   {health: "true"},
		// 2⁶⁴+384 ns: a 384ns interval if it wrapped.
		"huge interval": {env: []string{"WATCHDOG_USEC=18446744073709552"}, health: "true"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			lock := filepath.Join(dir, "svc.pid")
			sock := notifytest.Listen(t, lock)
			next := func() notifytest.Message { t.Helper(); return sock.Next(20 * time.Second) }
			cmd := soleCmd("run", "--lock", lock, "--health", tc.health, "--", "sleep", "60")
			cmd.Env = append(withoutEnv(os.Environ(), "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"), "NOTIFY_SOCKET="+sock.Path)
			cmd.Env = append(cmd.Env, tc.env...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			if m := next(); !strings.HasPrefix(m.Text, "READY=1\n") {
				t.Fatalf("first message %q", m.Text)
			}
			if tc.fed {
				for range 2 {
					if m := next(); m.Text != "WATCHDOG=1" {
						t.Fatalf("got %q, want WATCHDOG=1", m.Text)
					}
				}
			} else {
				time.Sleep(400 * time.Millisecond) // 4 intervals, 8 ticks
			}
			cmd.Process.Signal(syscall.SIGTERM)
			for {
				m := next()
				if m.Text == "STOPPING=1" {
					break
				}
				if !tc.fed || m.Text != "WATCHDOG=1" {
					t.Fatalf("got %q, want STOPPING=1", m.Text)
				}
			}
			cmd.Wait()
		})
	}
}
