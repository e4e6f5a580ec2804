//go:build linux

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

// proxyMain is the helper "proxy TARGET": a TCP proxy on a free port of
// 127.0.0.1, whose address it prints as its first line, forwarding every
// connection to TARGET. It is a process of its own so that the benchmark
// can freeze it with SIGSTOP: its connections then stay open and forward
// nothing, a frozen link.
func proxyMain(args []string) {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: fleetbench proxy TARGET")
		os.Exit(2)
	}
	target := args[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench proxy:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				os.Exit(1)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go forward(c, target)
	}
}

func forward(c net.Conn, target string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			src.Close()
			dst.Close()
			return
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(u, c)
	go pipe(c, u)
	wg.Wait()
}
