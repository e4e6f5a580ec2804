package testenv

import (
	"strings"
	"sync"
)

// A Buffer collects what a child process writes (its cmd.Stdout or
// cmd.Stderr, copied by a goroutine of os/exec) while the test reads it:
// Write and String are safe to call at once.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
