// Command bareready is the anchor of the runtime's benchmarks: a bare Go
// program doing what cmd/hellod does for a living (an HTTP server on a
// loopback port) and sending READY=1 itself through go-systemd, with no
// lock, no runtime, no logging.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
)

func main() {
	addr := os.Getenv("HELLOD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }))
	daemon.SdNotify(false, daemon.SdNotifyReady)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
