package etcdtest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Proc is one child process that the harness (or a program using it, such
// as bench/fleetbench) started with StartProc, reaped by a goroutine of
// its own. It is signalled through its os.Process (by pid, with a pidfd
// where the kernel has them), never by name, and never after it is
// reaped.
type Proc struct {
	// Cmd is the command it runs.
	Cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // Wait's error, set before done is closed
}

// StartProc starts cmd (on Linux with SIGKILL as its parent-death signal,
// added to cmd.SysProcAttr) and reaps it when it exits.
func StartProc(cmd *exec.Cmd) (*Proc, error) {
	if err := spawn(cmd); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process's id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Done is closed once the process is reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns Wait's error once the process is reaped (Done), else nil.
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// Running reports whether the process is not yet reaped.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits up to d for the process to be reaped, and reports whether it
// was.
func (p *Proc) Wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// Signal sends sig to the process; after it is reaped, that does nothing.
func (p *Proc) Signal(sig os.Signal) { _ = p.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL (and SIGCONT, for a stopped process) and waits for
// the process to be reaped.
func (p *Proc) Kill() {
	p.Signal(os.Kill)
	p.Signal(sigCont)
	<-p.done
}

// Stop sends SIGTERM (and SIGCONT), waits up to grace for the process to
// exit, then kills it.
func (p *Proc) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	p.Signal(sigTerm)
	p.Signal(sigCont) // a stopped process acts on SIGTERM once continued
	if !p.Wait(grace) {
		p.Kill()
	}
}

// Freeze stops the process with SIGSTOP and, on Linux, waits (up to a
// second) until the kernel says it is stopped.
func (p *Proc) Freeze() {
	p.Signal(sigStop)
	waitStopped(p, true)
}

// Thaw lets a frozen process go on with SIGCONT and, on Linux, waits (up
// to a second) until the kernel says it is no longer stopped.
func (p *Proc) Thaw() {
	p.Signal(sigCont)
	waitStopped(p, false)
}

// Environ returns this process's environment without what etcd (ETCD_*),
// etcdctl (ETCDCTL_*), sole (SOLE_*) and systemd's protocols
// (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*) read from it, then extra: a
// developer's ETCDCTL_ENDPOINTS must not redirect a test, nor clash with
// the flags the harness passes, and a child must not notify the service
// manager of whoever runs the tests.
func Environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(environDrop, func(prefix string) bool { return strings.HasPrefix(kv, prefix) }) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// environDrop are the prefixes of what Environ leaves out.
var environDrop = []string{"ETCD_", "ETCDCTL_", "SOLE_", "NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_"}
