//go:build unix

// Command sigcount is a test program that counts the signals it gets:
//
//	sigcount FILE
//
// Each SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGUSR2 it receives
// appends one line to FILE ("TERM", "INT", ...). It writes "ready" there
// once its handlers are installed, and exits 0 when 500 ms have passed
// with no signal after a SIGTERM or SIGINT (so that a duplicate arriving
// late is still counted), or after 60 s.
//
// The kernel keeps one pending instance of each standard signal, and Go's
// runtime one more until os/signal reads it; so two deliveries are counted
// apart when the second comes after the first was read, which here takes
// microseconds: nothing else runs, the channel is read in a loop that only
// appends a line, and its buffer never fills.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var names = map[os.Signal]string{
	syscall.SIGTERM: "TERM",
	syscall.SIGINT:  "INT",
	syscall.SIGQUIT: "QUIT",
	syscall.SIGHUP:  "HUP",
	syscall.SIGUSR1: "USR1",
	syscall.SIGUSR2: "USR2",
}

const (
	quiet   = 500 * time.Millisecond // after TERM or INT, then exit
	maxLife = 60 * time.Second
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sigcount FILE")
		os.Exit(2)
	}
	f, err := os.OpenFile(os.Args[1], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sigcount: %v\n", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 256)
	for s := range names {
		signal.Notify(sigs, s)
	}
	write := func(line string) {
		if _, err := f.WriteString(line + "\n"); err != nil {
			fmt.Fprintf(os.Stderr, "sigcount: %v\n", err)
			os.Exit(1)
		}
	}
	write("ready")

	life := time.NewTimer(maxLife)
	var end <-chan time.Time // armed by the first TERM or INT
	var endTimer *time.Timer
	for {
		select {
		case s := <-sigs:
			write(names[s])
			if s == syscall.SIGTERM || s == syscall.SIGINT || endTimer != nil {
				if endTimer == nil {
					endTimer = time.NewTimer(quiet)
					end = endTimer.C
				} else {
					endTimer.Reset(quiet)
				}
			}
		case <-end:
			os.Exit(0)
		case <-life.C:
			fmt.Fprintln(os.Stderr, "sigcount: no end after 60s")
			os.Exit(0)
		}
	}
}
