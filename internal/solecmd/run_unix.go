//go:build unix

package solecmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/internal/sdnotify"
	"github.com/solehq/sole/pidlock"
)

var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

func trimExeSuffix(s string) string { return s }

func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 0
}

// lookPath finds file as a shell would: a name with a slash is used as it
// is, any other is searched in $PATH.
func lookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		return file, checkExecutable(file)
	}
	var firstErr error
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, errNotFound) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", errNotFound
}

func checkExecutable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return errNotFound
		}
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return errors.New("is a directory")
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return errors.New("permission denied")
	}
	return nil
}

// execute runs the command, forwards signals to it until it exits, then
// releases the lock and returns the exit code.
func execute(l *pidlock.Lock, path string, argv []string, o *runOpts, sigs <-chan os.Signal, stderr io.Writer) int {
	// Under systemd (Type=notify), sole is the service's main process and
	// speaks for the command: the notify socket is kept out of the
	// command's environment and readiness is reported once the command runs
	// under the lock.
	notifySocket := os.Getenv("NOTIFY_SOCKET")
	env := o.environ()
	var watchdog time.Duration
	if notifySocket != "" {
		// A WATCHDOG_USEC or WATCHDOG_PID that does not parse means no watchdog.
		watchdog, _ = sdnotify.WatchdogInterval(os.Getenv, os.Getpid())
		env = withoutEnv(env, "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	inherit := -1
	if o.noInherit {
		// The lock stays in sole alone, so COMMAND must not outlive it.
		dieWithParent(attr)
	} else {
		// The command inherits the locked descriptor: the kernel keeps the
		// lock until every copy is closed, so if sole is killed, the
		// command still holds it and no second one can start.
		inherit = int(l.Fd())
	}
	tty := foregroundTTY()
	if tty >= 0 {
		// sole is in the terminal's foreground: COMMAND's group takes it,
		// so that Ctrl-C and Ctrl-Z reach COMMAND (once, straight from
		// the terminal) and it can read the terminal.
		attr.Foreground, attr.Ctty = true, tty
	}
	becomeSubreaper()
	// Under the fleet lock, COMMAND's whole tree must end with sole,
	// however sole ends: the guard, started by runMain, sees to the
	// processes that the parent-death signal does not reach.
	g := o.guard
	// All of the above ran beside the setting up of the signal handlers,
	// which must be in place before COMMAND starts.
	if o.signalsReady != nil {
		<-o.signalsReady
	}
	pid, wait, err := children.start(func() (int, error) { return startCommand(path, argv, env, o.workdir, inherit, attr) })
	if err != nil {
		restoreTTY(tty)
		g.done()
		releaseFleet(o.name, o.hold, stderr)
		l.Unlock()
		fmt.Fprintf(stderr, "sole: %s: %v\n", cli.Quote(argv[0]), err)
		if err == syscall.ENOENT {
			return cli.ExitNotFound
		}
		return cli.ExitCantExec
	}
	g.watch(pid, o.hold)
	// The record names the command, so that `kill $(head -1 F)` reaches it.
	if err := l.SetHolder(pid); err != nil {
		fmt.Fprintf(stderr, "sole: warning: %s\n", report.ErrorLine(err))
	}
	notify := func(lines ...string) {
		// Without NOTIFY_SOCKET, Send sends nothing and returns nil.
		if err := sdnotify.Send(notifySocket, lines...); err != nil {
			fmt.Fprintf(stderr, "sole: %v\n", err)
		}
	}
	status := sdnotify.Status("running " + argv[0] + " (pid " + strconv.Itoa(pid) + ")")
	if notifySocket != "" {
		notify(sdnotify.Ready, sdnotify.MainPID(os.Getpid()), status)
	}
	var wdTick <-chan time.Time
	healthDone := make(chan bool, 1)
	checking := false
	if notifySocket != "" && watchdog > 0 {
		if o.health == "" {
			fmt.Fprintf(stderr, "sole: systemd set a watchdog but no --health was given: not feeding it\n")
		} else {
			t := time.NewTicker(watchdog / 2)
			defer t.Stop()
			wdTick = t.C
		}
	}

	// --max-time: SIGTERM to the whole tree at the deadline, SIGKILL to
	// what is left --kill-after later; sole then exits 124.
	var deadline, killTime <-chan time.Time
	if o.maxTime > 0 {
		t := time.NewTimer(o.maxTime)
		defer t.Stop()
		deadline = t.C
	}
	timedOut, reaped := false, false
	stopping := false // a SIGTERM, SIGINT or SIGQUIT was forwarded to the group
	killAfter := o.killAfter
	killTree := func() {
		signalTree(pid, reaped, syscall.SIGKILL)
		fmt.Fprintf(stderr, "sole: %s: still running %v after SIGTERM: sent SIGKILL\n", l.Name(), killAfter)
		killTime = nil
	}

	// --fleet: when the lock may be lost, SIGTERM to the whole tree, and
	// SIGKILL half way through the margin, so that all of it is gone
	// before the lease can expire on the server; sole then exits 76.
	var lostCh <-chan struct{}
	lost := false
	if o.hold != nil {
		lostCh = o.hold.Lost()
	}

	var fwd forwarder
	for {
		select {
		case <-deadline:
			timedOut = true
			signalTree(pid, reaped, syscall.SIGTERM)
			fmt.Fprintf(stderr, "sole: %s: --max-time %v reached: sent SIGTERM to %s and its processes\n", l.Name(), o.maxTime, cli.Quote(argv[0]))
			if o.killAfter > 0 {
				t := time.NewTimer(o.killAfter)
				defer t.Stop()
				killTime = t.C
			}
		case <-killTime:
			killTree()
		case <-lostCh:
			lost, lostCh = true, nil
			signalTree(pid, reaped, syscall.SIGTERM)
			fmt.Fprintf(stderr, "sole: %s: fleet lock lost: no keepalive acknowledged in time, and the lease can expire at %s: sent SIGTERM to %s and its processes\n",
				o.name, o.hold.Expiry().Format("15:04:05.000"), cli.Quote(argv[0]))
			killAfter = max(time.Until(o.hold.Expiry())-time.Until(o.hold.Expiry())/2, 0)
			t := time.NewTimer(killAfter)
			defer t.Stop()
			killTime = t.C
		case s := <-sigs:
			sig, ok := s.(syscall.Signal)
			if !ok || fwd.merge(sig, time.Now()) {
				continue
			}
			switch sig {
			case syscall.SIGHUP:
				// systemctl reload: the command reloads on SIGHUP.
				notify(sdnotify.Reloading, sdnotify.MonotonicUsec())
				_ = syscall.Kill(pid, syscall.SIGHUP)
				notify(sdnotify.Ready, status)
			case syscall.SIGUSR1, syscall.SIGUSR2:
				_ = syscall.Kill(pid, sig)
			default:
				// SIGTERM, SIGINT, SIGQUIT: to the whole job, as a
				// terminal, timeout(1) or a service manager would send
				// them without sole in between.
				_ = syscall.Kill(-pid, sig)
				stopping = true
			}
		case ws := <-wait:
			if ws.Stopped() {
				// Job control: Ctrl-Z stopped COMMAND.
				if tty >= 0 {
					jobStop(tty, pid, ws.StopSignal())
				}
				continue
			}
			restoreTTY(tty)
			reaped = true
			if (timedOut || lost) && killTime != nil && descendantsLeft(pid) {
				// The rest of the tree gets its --kill-after too.
				<-killTime
				killTree()
			}
			if timedOut || stopping || lost {
				// The rest of the tree got the same signal: a moment to
				// exit, so that the lock is released, not passed on to
				// processes on their way out.
				waitTreeGone(pid, time.Second)
			}
			if o.hold != nil && !lost && fleetLost(o.hold) {
				// sole was frozen past its deadline, and the guard
				// killed COMMAND's process group.
				lost = true
				fmt.Fprintf(stderr, "sole: %s: fleet lock lost while sole could not run (stopped or frozen): its guard killed %s's process group before the lease could expire\n", o.name, cli.Quote(argv[0]))
			}
			notify(sdnotify.Stopping)
			g.done()
			releaseFleet(o.name, o.hold, stderr)
			release := l.Unlock
			if !o.noInherit && descendantsLeft(pid) {
				// Processes COMMAND started may hold the lock it passed on.
				release = l.UnlockInherited
			}
			if err := release(); errors.Is(err, pidlock.ErrStillHeld) {
				stillHeld(l, argv[0], stderr)
			} else if err != nil {
				fmt.Fprintf(stderr, "sole: %s\n", report.ErrorLine(err))
			}
			switch {
			case lost:
				return cli.ExitLockLost
			case timedOut:
				return cli.ExitTimeout
			case ws.Exited():
				return ws.ExitStatus()
			case ws.Signaled():
				return cli.ExitSignal + int(ws.Signal())
			}
			return cli.ExitCantExec
		case <-wdTick:
			// Feed the watchdog only when the health command says so; a
			// check still running from the last tick is a failure.
			if !checking {
				checking = true
				go func() { healthDone <- runHealth(o.health, watchdog/2) }()
			}
		case ok := <-healthDone:
			checking = false
			if ok {
				notify(sdnotify.Watchdog)
			} else {
				fmt.Fprintf(stderr, "sole: health check failed: not feeding the watchdog\n")
			}
		}
	}
}

// startCommand starts the command in a process group of its own, with
// descriptor inherit (unless it is -1) open in it at the same number. That
// descriptor is close-on-exec in sole but for the fork: every fork sole
// makes goes through the reaper, one at a time, so nothing else it runs (a
// health check) gets a copy. Descriptors sole itself inherited open (a
// socket systemd passed) pass through, as before. A file that is
// executable but not a binary or a #! script (exec's ENOEXEC) is run by
// /bin/sh, as the shell and execvp(3) do.
func startCommand(path string, argv, env []string, dir string, inherit int, attr *syscall.SysProcAttr) (int, error) {
	if inherit >= 0 {
		if _, err := unix.FcntlInt(uintptr(inherit), unix.F_SETFD, 0); err != nil {
			return 0, err
		}
		defer unix.FcntlInt(uintptr(inherit), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	pa := &syscall.ProcAttr{Dir: dir, Env: env, Files: []uintptr{0, 1, 2}, Sys: attr}
	pid, err := syscall.ForkExec(path, argv, pa)
	if err == syscall.ENOEXEC {
		pid, err = syscall.ForkExec("/bin/sh", append([]string{"sh", path}, argv[1:]...), pa)
	}
	return pid, err
}

// forwarder merges repeats of a signal: one that comes less than
// mergeWindow after the same signal was forwarded is taken for the same
// event (timeout(1), for one, sends SIGTERM to its child and then to its
// whole process group, so sole gets two), just as the kernel keeps one
// pending standard signal, not a count.
type forwarder struct{ last [65]time.Time }

const mergeWindow = 100 * time.Millisecond

func (f *forwarder) merge(sig syscall.Signal, now time.Time) bool {
	if sig <= 0 || int(sig) >= len(f.last) {
		return false
	}
	if t := f.last[sig]; !t.IsZero() && now.Sub(t) < mergeWindow {
		return true
	}
	f.last[sig] = now
	return false
}

// foregroundTTY returns the descriptor among 0, 1 and 2 of the terminal
// whose foreground process group is sole's, or -1.
func foregroundTTY() int {
	pg := unix.Getpgrp()
	for fd := 0; fd <= 2; fd++ {
		if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && fg == pg {
			return fd
		}
	}
	return -1
}

// jobStop mirrors a stop of COMMAND (Ctrl-Z) on sole's own process group,
// as the terminal would have stopped it without sole in between (sole and,
// when a script runs sole, that script too), so that the shell sees its
// job stopped and takes the terminal back. When sole is continued (fg or
// bg), COMMAND gets the terminal again if sole has it, and is continued
// too.
func jobStop(tty, pid int, sig syscall.Signal) {
	switch sig {
	case syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
	default:
		sig = syscall.SIGSTOP
	}
	_ = syscall.Kill(-unix.Getpgrp(), sig)
	// Continued.
	if fg, err := unix.IoctlGetInt(tty, unix.TIOCGPGRP); err == nil && fg == unix.Getpgrp() {
		_ = unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, pid)
	}
	_ = syscall.Kill(-pid, syscall.SIGCONT)
}

// restoreTTY gives the terminal back to sole's process group if
// COMMAND's still has it, so that whoever started sole finds the terminal
// as it left it. sole is then in the background, where changing the
// foreground group raises SIGTTOU: it is ignored for the call.
func restoreTTY(tty int) {
	if tty < 0 {
		return
	}
	pg := unix.Getpgrp()
	if fg, err := unix.IoctlGetInt(tty, unix.TIOCGPGRP); err != nil || fg == pg {
		return
	}
	signal.Ignore(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, pg)
	signal.Reset(syscall.SIGTTOU)
}

// stillHeld warns that COMMAND exited but processes it started still hold
// the lock they inherited, naming them where the kernel says.
func stillHeld(l *pidlock.Lock, command string, stderr io.Writer) {
	who, verb := "processes it started", "hold"
	if hs, err := l.Holders(); err == nil && len(hs) > 0 {
		names := make([]string, len(hs))
		for i, h := range hs {
			names[i] = fmt.Sprintf("pid %d (%s)", h.PID, h.Process)
		}
		who = strings.Join(names, ", ")
		if len(hs) == 1 {
			verb = "holds"
		}
	}
	fmt.Fprintf(stderr, "sole: warning: %s: %s exited, but %s still %s the lock it passed on; no new instance starts until they exit (--no-inherit keeps the lock from being passed on)\n",
		l.Name(), cli.Quote(command), who, verb)
}

// runHealth runs the health command through the shell, killing it after
// timeout, and reports whether it succeeded.
func runHealth(cmd string, timeout time.Duration) bool {
	pid, wait, err := children.start(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", cmd}, &syscall.ProcAttr{
			Env:   withoutEnv(os.Environ(), "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"),
			Files: []uintptr{0, 2, 2},
			Sys:   &syscall.SysProcAttr{Setpgid: true},
		})
	})
	if err != nil {
		return false
	}
	timer := time.AfterFunc(timeout, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer timer.Stop()
	for {
		ws := <-wait
		if !ws.Stopped() {
			return ws.Exited() && ws.ExitStatus() == 0
		}
	}
}

// withoutEnv returns env without the named variables.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// serviceMain: --service is for the Windows service control manager.
func serviceMain(c *cli.Command, _ *pidlock.Lock, _ string, _ []string, _ *runOpts, stderr io.Writer) int {
	return c.UsageError(stderr, "--service is for Windows services; under systemd, sole run speaks sd_notify by itself")
}
