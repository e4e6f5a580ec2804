//go:build unix

// Command floor is the benchmark anchor for `sole run`: the least a Go
// program can do to run a command under a lock while staying its parent
// (flock, fork/exec, wait, exit with the status). bench/flock-ratio.sh
// times it beside sole and flock(1), so the ratio sole/floor shows what
// sole adds and floor/flock what the machine costs a Go parent.
//
//	floor LOCKFILE COMMAND [ARGS...]
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		os.Exit(64)
	}
	fd, err := syscall.Open(os.Args[1], syscall.O_RDWR|syscall.O_CREAT, 0o644)
	if err != nil {
		os.Exit(73)
	}
	if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		os.Exit(75)
	}
	pid, err := syscall.ForkExec(os.Args[2], os.Args[2:], &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	os.Exit(ws.ExitStatus())
}
