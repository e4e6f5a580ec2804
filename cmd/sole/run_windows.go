//go:build windows

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/pidlock"
)

// Windows has no signals to forward but the console's interrupt, which
// reaches the command directly: sole only keeps it from killing sole.
var forwardedSignals = []os.Signal{os.Interrupt}

func trimExeSuffix(s string) string {
	if strings.HasSuffix(strings.ToLower(s), ".exe") {
		return s[:len(s)-4]
	}
	return s
}

func signalNumber(os.Signal) int { return 2 }

func lookPath(file string) (string, error) {
	p, err := exec.LookPath(file)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return "", errNotFound
	}
	return p, err
}

// execute runs the command in a job object that dies with sole, so that a
// command never outlives the mutex that sole owns for it.
func execute(l *pidlock.Lock, path string, argv []string, o *runOpts, sigs <-chan os.Signal, stderr io.Writer) int {
	job, err := killOnCloseJob()
	if err != nil {
		l.Unlock()
		fmt.Fprintf(stderr, "sole: job object: %v\n", err)
		return cli.ExitCantExec
	}
	defer windows.CloseHandle(job)
	p, err := os.StartProcess(path, argv, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		l.Unlock()
		fmt.Fprintf(stderr, "sole: %s: %v\n", argv[0], err)
		return cli.ExitCantExec
	}
	if h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid)); err == nil {
		_ = windows.AssignProcessToJobObject(job, h)
		windows.CloseHandle(h)
	}
	if err := l.SetHolder(p.Pid); err != nil {
		fmt.Fprintf(stderr, "sole: warning: %v\n", err)
	}
	go func() {
		for range sigs {
		}
	}()
	// --max-time: Windows has no SIGTERM to send a console program, so
	// the whole job (COMMAND and every process it started) is terminated
	// at the deadline, and sole exits 124.
	var timedOut atomic.Bool
	if o.maxTime > 0 {
		t := time.AfterFunc(o.maxTime, func() {
			timedOut.Store(true)
			fmt.Fprintf(stderr, "sole: %s: --max-time %v reached: terminating %s and its processes\n", l.Name(), o.maxTime, argv[0])
			_ = windows.TerminateJobObject(job, uint32(cli.ExitTimeout))
		})
		defer t.Stop()
	}
	st, err := p.Wait()
	if uerr := l.Unlock(); uerr != nil {
		fmt.Fprintf(stderr, "sole: %v\n", uerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sole: %v\n", err)
		return cli.ExitCantExec
	}
	if timedOut.Load() {
		return cli.ExitTimeout
	}
	return st.ExitCode()
}

func killOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	_, err = windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// stopProcess ends pid. Windows has no polite request that reaches an
// arbitrary process, so both steps terminate it.
func stopProcess(pid int, _ bool) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.TerminateProcess(h, 1)
}

// serviceMain runs COMMAND as a service of the Windows service control
// manager: sole connects to the SCM at once (it allows 30 s), reports
// START_PENDING, takes the lock (an instance already running: the service
// stops with exit code 75), starts COMMAND, and only then reports
// SERVICE_RUNNING. A stop request terminates COMMAND (Windows has no
// polite request that reaches any program); the lock is released when
// COMMAND has exited, and the service stops with COMMAND's exit code.
func serviceMain(_ *cli.Command, l *pidlock.Lock, path string, argv []string, o *runOpts, stderr io.Writer) int {
	h := &serviceHandler{l: l, path: path, argv: argv, stderr: stderr}
	if err := svc.Run(l.Name(), h); err != nil {
		fmt.Fprintf(stderr, "sole: %s: not started by the service control manager: %v\n", l.Name(), err)
		return cli.ExitCantExec
	}
	return int(h.code)
}

type serviceHandler struct {
	l      *pidlock.Lock
	path   string
	argv   []string
	stderr io.Writer
	code   uint32
}

func (h *serviceHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending, WaitHint: 10000}
	if err := h.l.TryLock(); err != nil {
		fmt.Fprintf(h.stderr, "sole: %s\n", report.ErrorLine(err))
		h.code = cli.ExitCantLock
		if errors.Is(err, pidlock.ErrLocked) {
			h.code = cli.ExitTempFail
		}
		return true, h.code
	}
	defer h.l.Unlock()
	job, err := killOnCloseJob()
	if err != nil {
		h.code = cli.ExitCantExec
		return true, h.code
	}
	defer windows.CloseHandle(job)
	p, err := os.StartProcess(h.path, h.argv, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		fmt.Fprintf(h.stderr, "sole: %s: %v\n", h.argv[0], err)
		h.code = cli.ExitCantExec
		return true, h.code
	}
	if ph, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid)); err == nil {
		_ = windows.AssignProcessToJobObject(job, ph)
		windows.CloseHandle(ph)
	}
	_ = h.l.SetHolder(p.Pid)
	done := make(chan uint32, 1)
	go func() {
		st, err := p.Wait()
		if err != nil {
			done <- cli.ExitCantExec
			return
		}
		done <- uint32(st.ExitCode())
	}()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case code := <-done:
			h.code = code
			return code != 0, code
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 10000}
				_ = p.Kill()
				<-done
				h.code = 0
				return false, 0
			}
		}
	}
}
