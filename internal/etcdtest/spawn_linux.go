package etcdtest

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	spawnOnce sync.Once
	spawnc    chan func()
)

// spawn starts cmd with SIGKILL as its parent-death signal, so that a test
// binary that dies without running its cleanups (a -timeout panic, say)
// leaves no etcd or proxy behind. The kernel sends that signal when the
// thread that forked the child exits, not the process, so every child is
// forked by one goroutine locked to its thread for the life of the test
// binary: that thread ends only with the process.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnc = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnc {
				f()
			}
		}()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	spawnc <- func() { errc <- cmd.Start() }
	return <-errc
}

// waitStopped waits, up to a second, until the kernel shows p's process
// stopped (state T), or no longer stopped when stopped is false: SIGSTOP
// and SIGCONT take effect asynchronously.
func waitStopped(p *Proc, stopped bool) {
	stat := "/proc/" + strconv.Itoa(p.PID()) + "/stat"
	deadline := time.Now().Add(time.Second)
	for p.Running() && time.Now().Before(deadline) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return
		}
		// pid (comm) state ...; comm may hold anything, ")" too.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return
		}
		if (b[i+2] == 'T') == stopped {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
