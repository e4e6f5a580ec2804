//go:build unix

package sdnotify_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/solehq/sole/internal/sdnotify"
)

// Send to a notify socket of our own, as systemd would listen on.
func ExampleSend() {
	dir, _ := os.MkdirTemp("", "notify")
	defer os.RemoveAll(dir)
	addr := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	// What a service does with os.Getenv("NOTIFY_SOCKET").
	if err := sdnotify.Send(addr, sdnotify.Ready, sdnotify.Status("serving")); err != nil {
		fmt.Println(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	fmt.Printf("%q\n", buf[:n])

	// Without NOTIFY_SOCKET no service manager listens: nothing to do.
	fmt.Println(sdnotify.Send("", sdnotify.Ready))
	// Output:
	// "READY=1\nSTATUS=serving"
	// <nil>
}
