// Package tcpproxy forwards every TCP connection it accepts to one
// address. It is the proxy of etcdtest.StartProxy (the command
// internal/etcdtest/tcpproxy, a process of its own so that a test can
// freeze it with SIGSTOP).
//
// For each connection it dials the target and copies bytes both ways until
// either side ends. A side's end of stream is passed on as a half-close
// (CloseWrite); an error on either side closes both connections.
package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the dial of the target for one connection.
const dialTimeout = 10 * time.Second

// Main is the command "tcpproxy LISTEN TARGET", with args the arguments
// after the command's name: it listens on LISTEN (127.0.0.1:0 for a free
// port), writes the address it listens on as the first line of stdout,
// then forwards every connection to TARGET, writing what fails to stderr.
// It returns only on a failure, with the exit status: 2 for a usage error,
// 1 else.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: tcpproxy LISTEN TARGET")
		return 2
	}
	ln, err := net.Listen("tcp", args[0])
	if err == nil {
		defer ln.Close()
		if _, err = fmt.Fprintln(stdout, ln.Addr().String()); err == nil {
			err = Serve(ln, args[1], stderr)
		}
	}
	fmt.Fprintf(stderr, "tcpproxy: %v\n", err)
	return 1
}

// Serve forwards every connection that ln accepts to target, until ln is
// closed: it returns Accept's error then. A failed dial of target is
// written to errlog (nil: nowhere), and closes the connection.
func Serve(ln net.Listener, target string, errlog io.Writer) error {
	if errlog == nil {
		errlog = io.Discard
	}
	logger := log.New(errlog, "tcpproxy: ", 0) // one write at a time
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, say: try again shortly.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go forward(c, target, logger)
	}
}

// forward copies c to a new connection to target and back.
func forward(c net.Conn, target string, logger *log.Logger) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		logger.Print(err)
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
