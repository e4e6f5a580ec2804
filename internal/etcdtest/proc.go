package etcdtest

import (
	"os"
	"os/exec"
	"strings"
	"time"
)

// proc is one process the harness started, reaped by a goroutine of its
// own. It is signalled through its os.Process (by pid, with a pidfd where
// the kernel has them), never by name, and never after it is reaped.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // Wait's error, set before done is closed
}

// startProc starts cmd and reaps it when it exits.
func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := spawn(cmd); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process's id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// running reports whether the process is not yet reaped.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process; after it is reaped, that does nothing.
func (p *proc) signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// kill sends SIGKILL (and SIGCONT, for a stopped process) and waits for
// the process to be reaped.
func (p *proc) kill() {
	p.signal(os.Kill)
	p.signal(sigCont)
	<-p.done
}

// stop sends SIGTERM (and SIGCONT), waits up to grace for the process to
// exit, then kills it.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	p.signal(sigTerm)
	p.signal(sigCont) // a stopped process acts on SIGTERM once continued
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
	}
	p.kill()
}

// environ is this process's environment without the variables that etcd
// (ETCD_*) and etcdctl (ETCDCTL_*) read as flags: a developer's
// ETCDCTL_ENDPOINTS must not redirect a test, nor clash with the flags the
// harness passes.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ETCD_") || strings.HasPrefix(kv, "ETCDCTL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
