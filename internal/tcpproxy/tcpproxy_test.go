package tcpproxy

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// TestServe checks forwarding both ways and the half-close: the target
// answers once the client's end of stream reached it.
func TestServe(t *testing.T) {
	target := listen(t)
	go func() {
		c, err := target.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		io.WriteString(c, "got "+string(b))
	}()
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- Serve(ln, target.Addr().String(), nil) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "got ping" {
		t.Fatalf("answer %q, %v; want \"got ping\"", b, err)
	}
	ln.Close()
	if err := <-served; err == nil {
		t.Fatal("Serve returned nil after its listener was closed")
	}
}

func TestMainUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"127.0.0.1:0"}, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "usage:") {
		t.Fatalf("Main with one argument: %d, %q", code, stderr.String())
	}
	if code := Main([]string{"127.0.0.1:-1", "x"}, &stdout, &stderr); code != 1 || stdout.Len() > 0 {
		t.Fatalf("Main on a bad address: %d, stdout %q", code, stdout.String())
	}
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
