//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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

// execute runs the command with the lock inherited, forwards signals to it
// until it exits, then releases the lock and returns the exit code.
func execute(l *pidlock.Lock, path string, argv []string, health string, sigs <-chan os.Signal, stderr io.Writer) int {
	// The command inherits the locked descriptor: the kernel keeps the lock
	// until every copy is closed, so if sole is killed, the command still
	// holds it and no second one can start.
	if _, err := unix.FcntlInt(l.Fd(), unix.F_SETFD, 0); err != nil {
		l.Unlock()
		fmt.Fprintf(stderr, "sole: %s: %v\n", l.Path(), err)
		return exitCantLock
	}
	// Under systemd (Type=notify), sole is the service's main process and
	// speaks for the command: the notify socket is kept out of the
	// command's environment and readiness is reported once the command runs
	// under the lock.
	notifySocket := os.Getenv("NOTIFY_SOCKET")
	watchdog := watchdogInterval()
	env := os.Environ()
	if notifySocket != "" {
		env = withoutEnv(env, "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		l.Unlock()
		fmt.Fprintf(stderr, "sole: %s: %v\n", argv[0], err)
		if err == syscall.ENOENT {
			return exitNotFound
		}
		return exitCantExec
	}
	// The record names the command, so that `kill $(head -1 F)` reaches it.
	if err := l.SetHolder(pid); err != nil {
		fmt.Fprintf(stderr, "sole: warning: %v\n", err)
	}
	notify := func(msg string) {
		if notifySocket != "" {
			if err := sdNotify(notifySocket, msg); err != nil {
				fmt.Fprintf(stderr, "sole: sd_notify: %v\n", err)
			}
		}
	}
	status := "STATUS=running " + argv[0] + " (pid " + strconv.Itoa(pid) + ")"
	notify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\n" + status)
	var wdTick <-chan time.Time
	healthDone := make(chan bool, 1)
	checking := false
	if notifySocket != "" && watchdog > 0 {
		if health == "" {
			fmt.Fprintf(stderr, "sole: systemd set a watchdog but no --health was given: not feeding it\n")
		} else {
			t := time.NewTicker(watchdog / 2)
			defer t.Stop()
			wdTick = t.C
		}
	}

	done := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		done <- ws
	}()
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				// systemctl reload: the command reloads on SIGHUP.
				notify("RELOADING=1\n" + monotonicUsec())
				_ = syscall.Kill(pid, syscall.SIGHUP)
				notify("READY=1\n" + status)
				continue
			}
			if !sentByTerminal(s) {
				_ = syscall.Kill(pid, s.(syscall.Signal))
			}
		case <-wdTick:
			// Feed the watchdog only when the health command says so; a
			// check still running from the last tick is a failure.
			if !checking {
				checking = true
				go func() { healthDone <- runHealth(health, watchdog/2) }()
			}
		case ok := <-healthDone:
			checking = false
			if ok {
				notify("WATCHDOG=1")
			} else {
				fmt.Fprintf(stderr, "sole: health check failed: not feeding the watchdog\n")
			}
		case ws := <-done:
			notify("STOPPING=1")
			if err := l.Unlock(); err != nil {
				fmt.Fprintf(stderr, "sole: %v\n", err)
			}
			switch {
			case ws.Exited():
				return ws.ExitStatus()
			case ws.Signaled():
				return exitSignalBase + int(ws.Signal())
			}
			return exitCantExec
		}
	}
}

// watchdogInterval is systemd's watchdog interval for this process
// (WATCHDOG_USEC, when WATCHDOG_PID is unset or names us), or 0.
func watchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}

// runHealth runs the health command through the shell, killing it after
// timeout, and reports whether it succeeded.
func runHealth(cmd string, timeout time.Duration) bool {
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", cmd}, &syscall.ProcAttr{
		Env:   withoutEnv(os.Environ(), "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"),
		Files: []uintptr{0, 2, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return false
	}
	timer := time.AfterFunc(timeout, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer timer.Stop()
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	return ws.Exited() && ws.ExitStatus() == 0
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

// sdNotify sends msg to systemd's notify socket addr (a path, or an
// abstract socket when it starts with '@'). It is written with raw
// syscalls to keep the net package out of sole's start-up.
func sdNotify(addr, msg string) error {
	// As the syscall package does where SOCK_CLOEXEC is missing: hold
	// ForkLock so no fork copies the descriptor before it is close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: addr})
}

// monotonicUsec is the MONOTONIC_USEC= field of a RELOADING=1 message.
func monotonicUsec() string {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return ""
	}
	return "MONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
}

// sentByTerminal reports whether s is a SIGINT or SIGQUIT that the
// terminal sent to sole's whole foreground process group, which the
// command is part of: it already has it, and a second copy would read as a
// second Ctrl-C.
func sentByTerminal(s os.Signal) bool {
	if s != syscall.SIGINT && s != syscall.SIGQUIT {
		return false
	}
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pg == unix.Getpgrp()
}

// serviceMain: --service is for the Windows service control manager.
func serviceMain(_ *pidlock.Lock, _ string, _ []string, _ *runOpts, stderr io.Writer) int {
	return usageError(stderr, "run: --service is for Windows services; under systemd, sole run speaks sd_notify by itself", "run")
}

// stopProcess asks pid to stop (SIGTERM) or, with force, kills it.
func stopProcess(pid int, force bool) error {
	if force {
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}
