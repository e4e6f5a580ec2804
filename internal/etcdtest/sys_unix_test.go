//go:build unix

package etcdtest

import "golang.org/x/sys/unix"

// syscallKill0 checks whether pid exists (signal 0).
func syscallKill0(pid int) error { return unix.Kill(pid, 0) }
