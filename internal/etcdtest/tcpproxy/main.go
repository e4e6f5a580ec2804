// Command tcpproxy forwards every TCP connection it accepts to one address.
// It is the proxy process of etcdtest.StartProxy, a process of its own so
// that a test can freeze it with SIGSTOP.
//
// Usage:
//
//	tcpproxy LISTEN TARGET
//
// It listens on LISTEN (127.0.0.1:0 for a free port), prints the address
// it listens on as the first line of its standard output, then, for each
// connection, dials TARGET and copies bytes both ways until either side
// ends. A side's end of stream is passed on as a half-close (CloseWrite);
// an error on either side closes both connections.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// dialTimeout bounds the dial of the target for one connection.
const dialTimeout = 10 * time.Second

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tcpproxy LISTEN TARGET")
		os.Exit(2)
	}
	target := os.Args[2]
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpproxy: %v\n", err)
		os.Exit(1)
	}
	if _, err := fmt.Println(ln.Addr().String()); err != nil {
		fmt.Fprintf(os.Stderr, "tcpproxy: write address: %v\n", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				os.Exit(1)
			}
			// Out of file descriptors, say: try again shortly.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go forward(c, target)
	}
}

// forward copies c to a new connection to target and back.
func forward(c net.Conn, target string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpproxy: %v\n", err)
		return
	}
	defer u.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go pipe(&wg, u, c)
	go pipe(&wg, c, u)
	wg.Wait()
}

// pipe copies src to dst. At src's end of stream it half-closes dst; on an
// error it closes both.
func pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	if _, err := io.Copy(dst, src); err != nil {
		src.Close()
		dst.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
}
