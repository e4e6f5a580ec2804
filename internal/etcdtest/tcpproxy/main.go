// Command tcpproxy is the proxy process of etcdtest.StartProxy, a process
// of its own so that a test can freeze it with SIGSTOP: see
// internal/tcpproxy.
//
// Usage:
//
//	tcpproxy LISTEN TARGET
//
// It listens on LISTEN (127.0.0.1:0 for a free port), prints the address
// it listens on as the first line of its standard output, then forwards
// every connection to TARGET.
package main

import (
	"os"

	"github.com/solehq/sole/internal/tcpproxy"
)

func main() { os.Exit(tcpproxy.Main(os.Args[1:], os.Stdout, os.Stderr)) }
