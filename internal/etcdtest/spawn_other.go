//go:build !linux

package etcdtest

import "os/exec"

// spawn starts cmd. Without Linux's parent-death signal, a test binary that
// dies without running its cleanups leaves its children running.
func spawn(cmd *exec.Cmd) error { return cmd.Start() }

// waitStopped would wait for SIGSTOP or SIGCONT to take effect; without
// Linux's /proc it returns at once.
func waitStopped(p *Proc, stopped bool) {}
