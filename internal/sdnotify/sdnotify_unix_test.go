//go:build unix

package sdnotify_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/notifytest"
	"github.com/solehq/sole/internal/sdnotify"
)

// TestSend reads each datagram back from a real unixgram socket at a path.
func TestSend(t *testing.T) {
	sock := notifytest.Listen(t, filepath.Join(t.TempDir(), "unused.pid"))
	for name, tc := range map[string]struct {
		lines []string
		want  string
	}{
		"one line":    {[]string{sdnotify.Watchdog}, "WATCHDOG=1"},
		"ready":       {[]string{sdnotify.Ready, sdnotify.MainPID(7), sdnotify.Status("running\nfine")}, "READY=1\nMAINPID=7\nSTATUS=running fine"},
		"stopping":    {[]string{sdnotify.Stopping, sdnotify.Status("stopping")}, "STOPPING=1\nSTATUS=stopping"},
		"extend":      {[]string{sdnotify.ExtendTimeout(5 * time.Second)}, "EXTEND_TIMEOUT_USEC=5000000"},
		"empty lines": {[]string{"", sdnotify.Reloading, "", sdnotify.Status("x"), ""}, "RELOADING=1\nSTATUS=x"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := sdnotify.Send(sock.Path, tc.lines...); err != nil {
				t.Fatal(err)
			}
			if m := sock.Next(10 * time.Second); m.Text != tc.want {
				t.Fatalf("got %q, want %q", m.Text, tc.want)
			}
		})
	}
}

// TestSendReloading: RELOADING=1 goes with MONOTONIC_USEC=.
func TestSendReloading(t *testing.T) {
	sock := notifytest.Listen(t, filepath.Join(t.TempDir(), "unused.pid"))
	if err := sdnotify.Send(sock.Path, sdnotify.Reloading, sdnotify.MonotonicUsec()); err != nil {
		t.Fatal(err)
	}
	m := sock.Next(10 * time.Second)
	v, ok := strings.CutPrefix(m.Text, "RELOADING=1\nMONOTONIC_USEC=")
	if _, err := strconv.ParseUint(v, 10, 64); !ok || err != nil {
		t.Fatalf("got %q", m.Text)
	}
}

// TestSendNothing: no line, no datagram.
func TestSendNothing(t *testing.T) {
	sock := notifytest.Listen(t, filepath.Join(t.TempDir(), "unused.pid"))
	for name, lines := range map[string][]string{"no line": nil, "empty lines": {"", ""}} {
		t.Run(name, func(t *testing.T) {
			if err := sdnotify.Send(sock.Path, lines...); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := sdnotify.Send(sock.Path, sdnotify.Watchdog); err != nil {
		t.Fatal(err)
	}
	if m := sock.Next(10 * time.Second); m.Text != sdnotify.Watchdog {
		t.Fatalf("first datagram %q, want the WATCHDOG=1 sent after nothing", m.Text)
	}
}

// TestSendAbstract: on Linux, an address starting with '@' is an abstract
// socket.
func TestSendAbstract(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("abstract sockets are Linux's")
	}
	addr := "@sole-sdnotify-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := sdnotify.Send(addr, sdnotify.Ready, sdnotify.Status("abstract")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "READY=1\nSTATUS=abstract" {
		t.Fatalf("got %q", got)
	}
	// Nothing of the abstract name is in the file system.
	if _, err := os.Stat(addr); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat %s: %v", addr, err)
	}
}

// TestSendFails: an address where nothing listens is an error that says
// why, wrapping the errno.
func TestSendFails(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdnotify") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// A socket file nobody listens on any more.
	stale := filepath.Join(dir, "stale.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: stale, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for name, tc := range map[string]struct {
		addr string
		want error // nil: an errno, which one differs between systems
	}{
		"missing socket": {filepath.Join(dir, "missing.sock"), syscall.ENOENT},
		"missing dir":    {filepath.Join(dir, "no", "notify.sock"), syscall.ENOENT},
		"nobody listens": {stale, syscall.ECONNREFUSED},
		"not a socket":   {dir, nil},
		"too long":       {"/" + strings.Repeat("x", 200), syscall.EINVAL},
	} {
		t.Run(name, func(t *testing.T) {
			err := sdnotify.Send(tc.addr, sdnotify.Ready)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := errors.AsType[syscall.Errno](err); !ok {
				t.Fatalf("%v: no errno", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v: want %v", err, tc.want)
			}
			if want := "sd_notify: send to " + tc.addr + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %q, want it to start %q", err, want)
			}
		})
	}
}

// TestSendNoLeak: Send closes the socket it opens.
func TestSendNoLeak(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	sock := notifytest.Listen(t, filepath.Join(t.TempDir(), "unused.pid"))
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := count()
	for range 100 {
		if err := sdnotify.Send(sock.Path, sdnotify.Watchdog); err != nil {
			t.Fatal(err)
		}
		sock.Next(10 * time.Second)
	}
	if after := count(); after > before {
		t.Fatalf("%d descriptors open before 100 sends, %d after", before, after)
	}
}
