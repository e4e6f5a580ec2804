//go:build unix

package solecmd

import "time"

// waitTreeGone waits up to limit for the processes COMMAND (pid) left to
// be gone, so that the lock is released rather than left to them.
func waitTreeGone(pid int, limit time.Duration) {
	for end := time.Now().Add(limit); descendantsLeft(pid) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
}
