//go:build unix

// Package notifytest is a fake systemd notify socket for tests: a real
// unixgram socket that reads every datagram back and records, at the moment
// each one arrives, whether the kernel says the lock is held and by whom.
package notifytest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/solehq/sole/pidlock"
)

// Message is one datagram and the lock's state when it arrived.
type Message struct {
	Text  string
	State pidlock.State
	PID   int // the lock's holder then, 0 if none
}

// Socket is the fake notify socket.
type Socket struct {
	Path string        // what NOTIFY_SOCKET should say
	Msgs chan Message  // every datagram, in order
	Lock *pidlock.Lock // the lock probed as each datagram arrives
	t    testing.TB
}

// Listen opens the socket (in a short temporary directory: socket paths are
// limited to 108 bytes) and probes the lock at lockPath as each datagram
// arrives. Everything is closed and removed when the test ends.
func Listen(t testing.TB, lockPath string) *Socket {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	probe, err := pidlock.New(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &Socket{Path: path, Msgs: make(chan Message, 1000), Lock: probe, t: t}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			st, _ := probe.Query()
			m := Message{Text: string(buf[:n]), State: st.State}
			if st.Holder != nil {
				m.PID = st.Holder.PID
			}
			s.Msgs <- m
		}
	}()
	return s
}

// Next waits up to timeout for the next datagram, failing the test if none
// comes.
func (s *Socket) Next(timeout time.Duration) Message {
	s.t.Helper()
	select {
	case m := <-s.Msgs:
		return m
	case <-time.After(timeout):
		s.t.Fatalf("no notify message within %v", timeout)
	}
	return Message{}
}
