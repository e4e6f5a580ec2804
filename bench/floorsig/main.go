//go:build unix

// Command floorsig is bench/floor plus the one thing every Go parent that
// forwards signals to its command must do before the fork: catch them
// (signal.Notify, for the signals `sole run` forwards), so that a signal
// that comes once the command runs neither kills the parent nor is lost.
// It forwards what it catches to the command's process group.
//
// bench/flock-ratio.sh times it beside bench/floor and sole:
// floorsig/floor is what the Go runtime charges for catching the signals
// (os/signal enables each one in a round trip to a thread of its own), a
// cost no Go program that forwards signals avoids; sole/floorsig is what
// sole adds beyond that. bench/floor stays the anchor of the sole/floor
// target; it is a separate program so that its binary is not changed.
//
//	floorsig LOCKFILE COMMAND [ARGS...]
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		os.Exit(64)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
		syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	fd, err := syscall.Open(os.Args[1], syscall.O_RDWR|syscall.O_CREAT, 0o644)
	if err != nil {
		os.Exit(73)
	}
	if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		os.Exit(75)
	}
	pid, err := syscall.ForkExec(os.Args[2], os.Args[2:], &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		os.Exit(127)
	}
	go func() {
		for s := range sigs {
			_ = syscall.Kill(-pid, s.(syscall.Signal))
		}
	}()
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	os.Exit(ws.ExitStatus())
}
