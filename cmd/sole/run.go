package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

var runCmd = &command{
	name: "run",
	usage: "sole run [--name NAME | --lock PATH] [--scope system|user] [--wait [--timeout DUR]]\n" +
		"                [--replace [--stop-timeout DUR]] -- COMMAND [ARGS...]",
	help: `Run COMMAND while holding its single-instance lock.

If another process holds the lock, sole exits 75 at once with one line
naming the holder; --wait waits for it instead, and --replace stops it first.
COMMAND gets sole's standard input, output and error; SIGINT, SIGTERM,
SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to sole are forwarded to it; sole
exits with its status (128+N if it died of signal N) and releases the lock.
COMMAND inherits the lock, so even if sole is killed, no second COMMAND
starts until it exits.`,
	flags: func() *flag.FlagSet { fs, _ := newRunFlags(); return fs },
	run:   runMain,
}

type runOpts struct {
	lockFlags
	wait        bool
	timeout     time.Duration
	replace     bool
	stopTimeout time.Duration
	health      string
	service     bool
}

func newRunFlags() (*flag.FlagSet, *runOpts) {
	o := new(runOpts)
	fs := newFlagSet("run")
	o.register(fs)
	fs.BoolVar(&o.wait, "wait", false, "wait until the lock is free instead of exiting 75 (Ctrl-C cancels)")
	fs.DurationVar(&o.timeout, "timeout", 0, "with --wait: give up after `DUR` (e.g. 30s) and exit 75; 0 waits forever")
	fs.BoolVar(&o.replace, "replace", false, "stop the running instance (SIGTERM, then SIGKILL) and run this one")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 10*time.Second, "with --replace: give the holder `DUR` to stop before SIGKILL")
	fs.StringVar(&o.health, "health", "", "under a systemd watchdog: feed it only while shell `CMD` succeeds")
	fs.BoolVar(&o.service, "service", false, "Windows: run as a service of the service control manager (sole install sets it)")
	return fs, o
}

// forwarded are the signals sole passes on to COMMAND.
var forwarded = forwardedSignals

func runMain(c *command, args []string, stdout, stderr io.Writer) int {
	fs, o := newRunFlags()
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	argv := fs.Args()
	switch {
	case len(argv) == 0:
		return usageError(stderr, "run: missing COMMAND", "run")
	case set["timeout"] && !o.wait:
		return usageError(stderr, "run: --timeout needs --wait", "run")
	case set["stop-timeout"] && !o.replace:
		return usageError(stderr, "run: --stop-timeout needs --replace", "run")
	case o.wait && o.replace:
		return usageError(stderr, "run: --wait and --replace cannot be used together", "run")
	case o.timeout < 0:
		return usageError(stderr, "run: --timeout must not be negative", "run")
	case o.stopTimeout < 0:
		return usageError(stderr, "run: --stop-timeout must not be negative", "run")
	case argv[0] == "":
		return usageError(stderr, "run: empty COMMAND", "run")
	}

	// Find the command before touching the lock: a typo must not disturb
	// anything.
	path, err := lookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "sole: %s: %v\n", argv[0], err)
		if errors.Is(err, errNotFound) {
			return exitNotFound
		}
		return exitCantExec
	}

	defaultName := trimExeSuffix(filepath.Base(argv[0]))
	l, err := o.open(defaultName, pidlock.DeferRecord())
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			return usageError(stderr, "run: "+ue.Error(), "run")
		}
		fmt.Fprintf(stderr, "sole: %s\n", lockErrorLine(err))
		return exitCantLock
	}

	if o.service {
		// Under the Windows service control manager, the service handler
		// takes the lock and runs COMMAND (serviceMain, run_windows.go).
		return serviceMain(l, path, argv, o, stderr)
	}

	// Signals are caught from here on: while waiting, they cancel the wait;
	// once COMMAND runs, they are forwarded to it. Setting up the handlers
	// costs a few hundred microseconds, so it runs beside the lock attempt;
	// execute waits for it before COMMAND starts. A signal that comes before
	// then ends sole with its default action, which is harmless: nothing
	// has started, and the kernel drops the lock.
	sigs := make(chan os.Signal, 32)
	sigsReady := make(chan struct{})
	go func() {
		signal.Notify(sigs, forwarded...)
		close(sigsReady)
	}()

	switch {
	case o.wait:
		<-sigsReady
		err = waitLock(l, o.timeout, sigs)
	case o.replace:
		<-sigsReady
		err = replaceHolder(l, o.stopTimeout, sigs)
	default:
		err = l.TryLock()
	}
	if err != nil {
		return lockFailed(l, err, o, stderr)
	}
	<-sigsReady
	return execute(l, path, argv, o.health, sigs, stderr)
}

// errInterrupted ends a wait that a signal cancelled.
type errInterrupted struct{ sig os.Signal }

func (e errInterrupted) Error() string { return "interrupted by " + e.sig.String() }

// signalContext returns a context cancelled, with cause errInterrupted,
// when one of the forwarded signals arrives on sigs, and a stop function
// that must be called before sigs is read elsewhere.
func signalContext(sigs <-chan os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case s := <-sigs:
			cancel(errInterrupted{s})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		<-stopped
		cancel(nil)
	}
}

// waitLock waits for the lock, at most timeout (0: forever), until a
// signal cancels the wait.
func waitLock(l *pidlock.Lock, timeout time.Duration, sigs <-chan os.Signal) error {
	ctx, stop := signalContext(sigs)
	defer stop()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := l.Lock(ctx)
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.As(cause, new(errInterrupted)) {
			return errors.Join(err, cause)
		}
	}
	return err
}

// replaceHolder stops whoever holds the lock and takes it: SIGTERM, a wait
// of up to stopTimeout, SIGKILL, another wait. The lock is only ever taken
// the ordinary way, from a holder that is gone, so however many others
// start meanwhile, no two run at once: if a third process wins the lock
// in between, it is the next to be asked to stop.
func replaceHolder(l *pidlock.Lock, stopTimeout time.Duration, sigs <-chan os.Signal) error {
	ctx, stop := signalContext(sigs)
	defer stop()
	err := l.TryLock()
	for round := 0; round < 3 && errors.Is(err, pidlock.ErrLocked); round++ {
		for _, force := range []bool{false, true} {
			if h := holderOf(err); h != nil && safeToSignal(h) {
				_ = stopProcess(h.PID, force)
			}
			wctx, cancel := context.WithTimeout(ctx, stopTimeout)
			err = l.Lock(wctx)
			cancel()
			if !errors.Is(err, pidlock.ErrLocked) {
				return err
			}
			if cause := context.Cause(ctx); cause != nil {
				return errors.Join(err, cause)
			}
		}
	}
	return err
}

// holderOf returns the holder an error names, if any.
func holderOf(err error) *pidlock.Holder {
	var le *pidlock.LockedError
	if errors.As(err, &le) {
		return le.Holder
	}
	return nil
}

// safeToSignal reports whether the record's process is still the one that
// wrote it: same name, started before the record was written. A PID that
// was reused by an unrelated process must never be signalled.
func safeToSignal(h *pidlock.Holder) bool {
	if h.PID <= 1 || h.PID == os.Getpid() {
		return false
	}
	name, err := platform.ProcessName(h.PID)
	if err != nil || name != h.Process {
		return false
	}
	start, err := platform.ProcessStartTime(h.PID)
	return err == nil && !start.After(h.Since.Add(2*time.Second))
}

// lockFailed reports why the lock was not taken and returns the exit code.
func lockFailed(l *pidlock.Lock, err error, o *runOpts, stderr io.Writer) int {
	var ie errInterrupted
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "sole: %s: gave up waiting for the lock: %v\n", l.Name(), ie)
		return exitSignalBase + signalNumber(ie.sig)
	}
	if errors.Is(err, pidlock.ErrLocked) {
		who := "starting"
		if h := holderOf(err); h != nil {
			who = describe(h)
		}
		switch {
		case o.replace:
			fmt.Fprintf(stderr, "sole: %s is still running after SIGTERM and SIGKILL (%s)\n", l.Name(), who)
		case o.wait:
			fmt.Fprintf(stderr, "sole: %s is still running after %v (%s)\n", l.Name(), o.timeout, who)
		default:
			fmt.Fprintf(stderr, "sole: %s is already running (%s)\n", l.Name(), who)
		}
		return exitTempFail
	}
	fmt.Fprintf(stderr, "sole: %s\n", lockErrorLine(err))
	return exitCantLock
}

// errNotFound is matched by lookPath's error when nothing by that name is
// found.
var errNotFound = errors.New("command not found")
