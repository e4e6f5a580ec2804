//go:build windows

package solecmd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"

	"github.com/solehq/sole/internal/cli"
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

// execute runs COMMAND in the foreground, in a job object that dies with
// sole (startCommand), so that a command never outlives the mutex that
// sole owns for it. COMMAND stays in sole's console process group, so
// that Ctrl-C in the console reaches it.
func execute(l *pidlock.Lock, path string, argv []string, o *runOpts, sigs <-chan os.Signal, stderr io.Writer) int {
	c, err := startCommand(commandSpec{
		path: path, argv: argv, env: o.environ(), dir: o.workdir,
		stdin: stdHandle(os.Stdin), stdout: stdHandle(os.Stdout), stderr: stdHandle(os.Stderr),
	})
	if err != nil {
		l.Unlock()
		fmt.Fprintf(stderr, "sole: %s: %s\n", cli.Quote(argv[0]), cli.OneLine(err.Error()))
		return cli.ExitCantExec
	}
	defer c.close()
	if err := l.SetHolder(c.pid); err != nil {
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
			_ = c.terminate(uint32(cli.ExitTimeout))
		})
		defer t.Stop()
	}
	<-c.exited
	if uerr := l.Unlock(); uerr != nil {
		fmt.Fprintf(stderr, "sole: %v\n", uerr)
	}
	if c.waitErr != nil {
		fmt.Fprintf(stderr, "sole: %v\n", c.waitErr)
		return cli.ExitCantExec
	}
	if timedOut.Load() {
		return cli.ExitTimeout
	}
	return int(c.code)
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
// manager (serviceHandler.Execute). It connects to the SCM at once (which
// allows 30 s for it); run from a console instead, it fails saying so.
func serviceMain(_ *cli.Command, l *pidlock.Lock, path string, argv []string, o *runOpts, stderr io.Writer) int {
	h := &serviceHandler{l: l, path: path, argv: argv, o: o, stderr: stderr}
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
	o      *runOpts
	stderr io.Writer
	code   uint32 // sole's exit code
	// gui says whether COMMAND is a GUI program (guiProgram), read
	// before it starts: a stop asks it with WM_CLOSE, not CTRL_BREAK.
	gui, guiKnown bool
}

// Execute reports START_PENDING, takes the lock (an instance already
// running: the service stops with exit code 75), starts COMMAND with its
// output going to rotated files, and only then reports SERVICE_RUNNING.
//
// A stop (or shutdown) request asks COMMAND to stop (stopJob), and the
// service stops with exit code 0. COMMAND exiting on its own stops the
// service too: with exit code 0 as a clean stop; otherwise as a failure,
// with COMMAND's exit code as the service-specific exit code, so that
// the SCM's recovery actions for failures apply. The lock is released
// once COMMAND and every process it started have exited.
func (h *serviceHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending, WaitHint: 10000}
	name := h.l.Name()
	dir, err := serviceLogDir(name, h.o.logDir)
	if err != nil {
		fmt.Fprintf(h.stderr, "sole: %s: log directory: %v\n", name, err)
		h.code = cli.ExitCantExec
		return true, h.code
	}
	log := openServiceLog(name, dir, h.stderr)
	defer log.close()
	code, failed := h.run(dir, log, reqs, status)
	h.code = code
	return failed, code
}

func (h *serviceHandler) run(dir string, log *serviceLog, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (code uint32, failed bool) {
	name := h.l.Name()
	if err := h.l.TryLock(); err != nil {
		return uint32(lockFailed(h.l, err, h.o, log)), true
	}
	defer func() {
		if err := h.l.Unlock(); err != nil {
			log.error("sole: %v", err)
		}
	}()
	out, err := openOutput(dir, name, log)
	if err != nil {
		log.error("sole: %s: COMMAND's log files: %v", name, err)
		return cli.ExitCantExec, true
	}
	if err := serviceConsole(); err != nil {
		log.warn("sole: %s: no console to share with COMMAND (%v): a stop request can only close its windows, then terminate it", name, err)
	}
	h.gui, h.guiKnown = guiProgram(h.path)
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		out.started()
		out.wait(time.Second)
		log.error("sole: %s: %v", name, err)
		return cli.ExitCantExec, true
	}
	c, err := startCommand(commandSpec{
		path: h.path, argv: h.argv, env: h.o.environ(), dir: h.o.workdir,
		stdin: stdHandle(stdin), stdout: out.stdoutW, stderr: out.stderrW,
		newGroup: true,
	})
	stdin.Close()
	out.started()
	if err != nil {
		out.wait(time.Second)
		log.error("sole: %s: %s: %s", name, cli.Quote(h.argv[0]), cli.OneLine(err.Error()))
		return cli.ExitCantExec, true
	}
	defer c.close()
	if err := h.l.SetHolder(c.pid); err != nil {
		log.warn("sole: %s: %v", name, err)
	}
	log.info("sole: %s: started %s (pid %d); its output goes to %s", name, cli.Quote(h.argv[0]), c.pid,
		filepath.Join(dir, name+".{out,err}.log"))
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}

	asked := false
wait:
	for {
		select {
		case <-c.exited:
			break wait
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				asked = true
				break wait
			}
		}
	}
	h.stopJob(c, asked, log, reqs, status)
	if !out.wait(5 * time.Second) {
		log.warn("sole: %s: a process outside COMMAND's job still holds its output pipes: the end of its output may be missing", name)
	}
	switch {
	case c.waitErr != nil:
		log.error("sole: %s: %v", name, c.waitErr)
		return cli.ExitCantExec, true
	case asked:
		return 0, false
	case c.code != 0:
		log.error("sole: %s: %s exited with code %d: the service stops as failed", name, cli.Quote(h.argv[0]), c.code)
		return c.code, true
	}
	log.info("sole: %s: %s exited with code 0: the service stops", name, cli.Quote(h.argv[0]))
	return 0, false
}

// stopJob ends COMMAND's job while reporting STOP_PENDING: when asked (a
// stop request), or when COMMAND has exited but processes it started are
// left, it sends a CTRL_BREAK_EVENT to COMMAND's console process group
// and WM_CLOSE to the job's top-level windows, and gives them the stop
// timeout to exit; then it terminates whatever is left in the job. When
// neither could be sent, it terminates the job at once.
func (h *serviceHandler) stopJob(c *child, asked bool, log *serviceLog, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) {
	name, timeout := h.l.Name(), h.o.stopTimeout
	deadline := time.Now().Add(timeout)
	checkpoint := uint32(0)
	pending := func() {
		checkpoint++
		hint := max(0, time.Until(deadline)) + 5*time.Second
		status <- svc.Status{State: svc.StopPending, CheckPoint: checkpoint, WaitHint: uint32(hint.Milliseconds())}
	}
	pending()

	pids, err := c.processes()
	if err != nil {
		log.warn("sole: %s: %v", name, err)
	}
	if !asked && len(pids) == 0 {
		return
	}
	// A console program is asked with CTRL_BREAK, a GUI program with
	// WM_CLOSE (a program of unknown kind both ways). Windows are looked
	// for only then: enumerating them can take hundreds of milliseconds
	// (under Wine 8 it starts the desktop), which a stop must not pay for
	// nothing.
	var sent []string
	gui, known := h.gui, h.guiKnown
	if !gui || !known {
		if err := ctrlBreak(c.pid); err != nil {
			log.warn("sole: %s: CTRL_BREAK to %s's process group: %v", name, cli.Quote(h.argv[0]), err)
		} else {
			sent = append(sent, "CTRL_BREAK")
		}
	}
	if gui || !known {
		if n, err := closeWindows(pids); err != nil {
			log.warn("sole: %s: closing %s's windows: %v", name, cli.Quote(h.argv[0]), err)
		} else if n > 0 {
			sent = append(sent, fmt.Sprintf("WM_CLOSE to %d windows", n))
		}
	}
	what := "stop request"
	if !asked {
		what = fmt.Sprintf("%s exited with code %d, leaving processes in its job (%d)", cli.Quote(h.argv[0]), c.code, len(pids))
	}
	if len(sent) == 0 {
		// Nothing reached COMMAND (no console to share, no window):
		// waiting would only delay the stop, and an installer's with it
		// (Wine 8's msiexec dies when a service it stops for an upgrade
		// takes a few hundred milliseconds).
		log.warn("sole: %s: %s: no CTRL_BREAK or WM_CLOSE could be sent: terminating %s's job now", name, what, cli.Quote(h.argv[0]))
		h.terminateJob(c, log)
		return
	}
	log.info("sole: %s: %s: sent %s; waiting %v", name, what, strings.Join(sent, " and "), timeout)

	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastReport := time.Now()
	exited := c.exited
	for {
		select {
		case r := <-reqs:
			if r.Cmd == svc.Interrogate {
				status <- r.CurrentStatus
			}
			continue
		case <-tick.C:
		case <-exited:
			exited = nil // the rest of the job is polled
		}
		if jobEmpty(c) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		if time.Since(lastReport) >= time.Second {
			pending()
			lastReport = time.Now()
		}
	}
	left, _ := c.processes()
	log.warn("sole: %s: %d processes of %s's job still running %v later: terminating them", name, len(left), cli.Quote(h.argv[0]), timeout)
	h.terminateJob(c, log)
	pending()
}

// terminateJob terminates COMMAND's job and waits for COMMAND to exit.
func (h *serviceHandler) terminateJob(c *child, log *serviceLog) {
	if err := c.terminate(1); err != nil {
		log.error("sole: %s: TerminateJobObject: %v", h.l.Name(), err)
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		log.error("sole: %s: pid %d still running after TerminateJobObject", h.l.Name(), c.pid)
	}
}

// guiProgram reports whether the program at path is a GUI program (PE
// subsystem IMAGE_SUBSYSTEM_WINDOWS_GUI) rather than a console one; known
// is false when its header cannot be read. Only the headers are read:
// the DOS header's e_lfanew, the "PE\0\0" signature, the 20-byte COFF
// header, then the optional header, whose Subsystem field is at offset
// 68 in both PE32 and PE32+.
func guiProgram(path string) (gui, known bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, false
	}
	defer f.Close()
	var b [4096]byte
	n, _ := io.ReadFull(f, b[:])
	if n < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return false, false
	}
	pe := int(binary.LittleEndian.Uint32(b[0x3c:]))
	sub := pe + 4 + 20 + 68
	if pe < 0 || sub+2 > n || string(b[pe:pe+4]) != "PE\x00\x00" {
		return false, false
	}
	const imageSubsystemWindowsGUI = 2
	return binary.LittleEndian.Uint16(b[sub:]) == imageSubsystemWindowsGUI, true
}

// jobEmpty reports whether COMMAND and every process of its job have
// exited. A job whose processes cannot be listed counts as empty once
// COMMAND has exited.
func jobEmpty(c *child) bool {
	select {
	case <-c.exited:
	default:
		return false
	}
	pids, err := c.processes()
	return err != nil || len(pids) == 0
}
