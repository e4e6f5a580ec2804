//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/pidlock"
)

// TestRunNotify: under a (fake) systemd, `sole run` reports READY=1 with
// MAINPID=sole only once its command runs under the lock, keeps the notify
// socket out of the command's environment, passes a reload through
// RELOADING=1 and READY=1, and says STOPPING=1 when the command ends.
func TestRunNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lock := filepath.Join(dir, "svc.pid")
	probe, _ := pidlock.New(lock)
	type msg struct {
		text string
		st   pidlock.Status
	}
	msgs := make(chan msg, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			st, _ := probe.Query()
			msgs <- msg{string(buf[:n]), st}
		}
	}()
	next := func() msg {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("no notify message")
		}
		return msg{}
	}

	script := `trap 'echo hup >> "$1/hups"' HUP; env > "$1/env"; touch "$1/ready"; while :; do sleep 0.01; done`
	cmd := soleCmd("run", "--lock", lock, "--", "sh", "-c", script, "sh", dir)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000", "WATCHDOG_PID=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	m := next()
	lines := strings.Split(m.text, "\n")
	if lines[0] != "READY=1" || lines[1] != "MAINPID="+strconv.Itoa(cmd.Process.Pid) || !strings.HasPrefix(lines[2], "STATUS=running sh (pid ") {
		t.Fatalf("ready message %q", m.text)
	}
	if m.st.State != pidlock.Running && m.st.State != pidlock.Starting {
		t.Fatalf("READY=1 arrived while the lock was %v", m.st.State)
	}
	waitFile(t, filepath.Join(dir, "ready"))
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, v := range []string{"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
		if strings.Contains(string(env), v) {
			t.Fatalf("the command inherited %s", v)
		}
	}

	cmd.Process.Signal(syscall.SIGHUP)
	if m := next(); !strings.HasPrefix(m.text, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("after SIGHUP: %q", m.text)
	}
	if m := next(); !strings.HasPrefix(m.text, "READY=1\nSTATUS=running sh") {
		t.Fatalf("after reload: %q", m.text)
	}
	waitFile(t, filepath.Join(dir, "hups"))

	cmd.Process.Signal(syscall.SIGTERM)
	if m := next(); m.text != "STOPPING=1" {
		t.Fatalf("at stop: %q", m.text)
	}
	if code := exitCode(cmd.Wait()); code != 143 {
		t.Fatalf("sole exited %d, want 143", code)
	}
}
