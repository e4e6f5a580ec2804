//go:build unix

package solecmd

import (
	"sync"
	"syscall"
)

// reaper is the one waiter for sole's children: COMMAND, health checks,
// and, on Linux, where sole is a child subreaper, the orphans COMMAND
// leaves (a daemon it double-forked), which would otherwise stay zombies
// as long as sole runs. A child's status goes to the channel registered
// for its pid; an unregistered child's is dropped.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
	running bool
}

var children reaper

// start forks with fork while holding the reaper, so that the child's
// status cannot be reaped before its channel is registered, and returns
// the channel. Stops (WUNTRACED) are sent too.
func (r *reaper) start(fork func() (int, error)) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fork()
	if err != nil {
		return 0, nil, err
	}
	if r.waiters == nil {
		r.waiters = map[int]chan syscall.WaitStatus{}
	}
	ch := make(chan syscall.WaitStatus, 4)
	r.waiters[pid] = ch
	if !r.running {
		r.running = true
		go r.loop()
	}
	return pid, ch, nil
}

// loop reaps children until there are none.
func (r *reaper) loop() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WUNTRACED, nil)
		if err == syscall.EINTR {
			continue
		}
		r.mu.Lock()
		if err != nil {
			// ECHILD: no children left; the next start starts a loop.
			r.running = false
			r.mu.Unlock()
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			if !ws.Stopped() {
				delete(r.waiters, pid)
			}
			select {
			case ch <- ws:
			default:
			}
		}
		r.mu.Unlock()
	}
}
