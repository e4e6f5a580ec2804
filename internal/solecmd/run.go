package solecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/envfile"
	"github.com/solehq/sole/internal/fleet"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/pidlock"
)

var runCmd = &cli.Command{
	Name: "run",
	Args: cli.ArgCommand,
	Usage: "run [--name NAME | --lock PATH] [--scope system|user] [--wait [--timeout DUR]]\n" +
		"                [--replace [--stop-timeout DUR]] [--max-time DUR [--kill-after DUR]]\n" +
		"                [--no-inherit] [--quiet] [--conflict-exit-code N]\n" +
		"                -- COMMAND [ARGS...]",
	Help: `Run COMMAND while holding its single-instance lock.

If another process holds the lock, sole exits 75 at once with one line
naming the holder; --wait waits for it instead, and --replace stops it first.
COMMAND runs in a process group of its own, in the terminal's foreground
when sole is; it gets sole's standard input, output and error. SIGTERM,
SIGINT and SIGQUIT sent to sole are forwarded to COMMAND's process group,
SIGHUP, SIGUSR1 and SIGUSR2 to COMMAND alone, each once. sole exits with
COMMAND's status (128+N if it died of signal N) and releases the lock.
COMMAND and its children inherit the lock, so even if sole is killed, no
second COMMAND starts until every one of them exits; --no-inherit keeps the
lock in sole alone.`,
	Flags: func() *flag.FlagSet { fs, _ := newRunFlags(); return fs },
	Run:   runMain,
}

type runOpts struct {
	lockFlags
	wait        bool
	timeout     time.Duration
	replace     bool
	stopTimeout time.Duration
	noInherit   bool
	quiet       bool
	conflict    int
	health      string
	service     bool
	maxTime     time.Duration
	killAfter   time.Duration
	envFile     string     // --env-file: KEY=VALUE lines added to COMMAND's environment
	workdir     string     // --workdir: COMMAND's working directory ("" is sole's)
	logDir      string     // --log-dir (with --service): where COMMAND's output goes
	fleet       fleetFlags // --fleet: the fleet lock is named --name

	// hold is the fleet lock, once held (--fleet): execute stops COMMAND
	// when it is lost and releases it when COMMAND is gone.
	hold  fleet.Hold
	guard *guard // the fleet guard (guard_unix.go), with hold

	// env is COMMAND's environment: sole's, with --env-file's variables
	// over it (commandEnv). execute starts COMMAND with it, in workdir.
	env []string

	// signalsReady is closed once sole catches the signals it forwards;
	// execute waits for it before COMMAND starts.
	signalsReady <-chan struct{}
}

func newRunFlags() (*flag.FlagSet, *runOpts) {
	o := new(runOpts)
	fs := cli.NewFlagSet("run")
	o.register(fs)
	fs.BoolVar(&o.wait, "wait", false, "wait until the lock is free instead of exiting 75 (Ctrl-C cancels)")
	fs.Var(cli.Duration(&o.timeout), "timeout", "with --wait: give up after `DUR` (e.g. 30s) and exit 75; 0 waits forever")
	fs.BoolVar(&o.replace, "replace", false, "stop the running instance (SIGTERM, then SIGKILL) and run this one")
	o.stopTimeout = 10 * time.Second
	fs.Var(cli.Duration(&o.stopTimeout), "stop-timeout", "with --replace: give the holder `DUR` to stop before SIGKILL (default 10s)")
	fs.BoolVar(&o.quiet, "quiet", false, "print no line when the lock is taken (for cron: no mail for a skipped run)")
	o.conflict = cli.ExitTempFail
	fs.Var(exitCodeFlag{&o.conflict}, "conflict-exit-code", "exit with `N` (0 to 255) when the lock is taken, as flock -E (default 75)")
	fs.BoolVar(&o.noInherit, "no-inherit", false, "keep the lock in sole: COMMAND and its children do not inherit it, and COMMAND is killed if sole dies (flock -o)")
	fs.Var(cli.Duration(&o.maxTime), "max-time", "stop COMMAND and its whole tree after `DUR` (SIGTERM, then SIGKILL after --kill-after) and exit 124, as timeout(1); 0 is no limit")
	o.killAfter = 10 * time.Second
	fs.Var(cli.Duration(&o.killAfter), "kill-after", "with --max-time: SIGKILL what is left `DUR` after the SIGTERM; 0 sends no SIGKILL (default 10s)")
	fs.StringVar(&o.health, "health", "", "under a systemd watchdog: feed it only while shell `CMD` succeeds")
	// Short names: those flock(1) and timeout(1) give the same option,
	// and no letter that means something else there (-n, -s, -u, -w, -x).
	cli.Alias(fs, "q", "quiet")
	cli.Alias(fs, "E", "conflict-exit-code")
	cli.Alias(fs, "o", "no-inherit")
	cli.Alias(fs, "k", "kill-after")
	fs.StringVar(&o.envFile, "env-file", "", "add the KEY=VALUE lines of `FILE` to COMMAND's environment (systemd's EnvironmentFile= syntax)")
	fs.StringVar(&o.workdir, "workdir", "", "run COMMAND in `DIR`; a relative COMMAND path is taken from there, as env -C does")
	fs.StringVar(&o.logDir, "log-dir", "", "with --service: write COMMAND's output to rotated files in `DIR` (default %ProgramData%\\sole\\NAME)")
	o.fleet.register(fs, true)
	fs.BoolVar(&o.service, "service", false, "Windows: run as a service of the service control manager (sole install sets it)")
	return fs, o
}

// forwarded are the signals sole passes on to COMMAND.
var forwarded = forwardedSignals

func runMain(c *cli.Command, args []string, stdout, stderr io.Writer) int {
	fs, o := newRunFlags()
	if code, ok := c.Parse(fs, args, stdout, stderr); !ok {
		return code
	}
	set := cli.Given(fs)
	argv := fs.Args()
	switch {
	case len(argv) == 0:
		return c.UsageError(stderr, "missing COMMAND")
	case set["timeout"] && !o.wait:
		return c.UsageError(stderr, "--timeout needs --wait")
	case set["stop-timeout"] && !o.replace && !o.service:
		return c.UsageError(stderr, "--stop-timeout needs --replace (or --service)")
	case set["log-dir"] && !o.service:
		return c.UsageError(stderr, "--log-dir needs --service: outside a Windows service, COMMAND's output goes where sole's goes (the journal under systemd)")
	case set["kill-after"] && !set["max-time"]:
		return c.UsageError(stderr, "--kill-after needs --max-time")
	case o.wait && o.replace:
		return c.UsageError(stderr, "--wait and --replace cannot be used together")
	case argv[0] == "":
		return c.UsageError(stderr, "empty COMMAND")
	}
	if err := o.fleet.check(set); err != nil {
		return c.UsageError(stderr, err.Error())
	}
	if o.fleet.URL != "" {
		switch {
		case !o.nameSet:
			return c.UsageError(stderr, "--fleet needs --name NAME: every node must name the same lock")
		case o.replace:
			return c.UsageError(stderr, "--fleet and --replace cannot be used together: sole stops no process on another node")
		case o.service || goruntime.GOOS == "windows":
			return c.UsageError(stderr, "--fleet is not supported on Windows yet")
		}
		if fleetBackend == nil {
			// The fleet lock lives in sole-fleet, which runs this same
			// command line in this process.
			return execFleet(stderr)
		}
		if o.pathSet {
			// --lock PATH --name NAME: the local lock is PATH, and NAME
			// names the fleet lock.
			o.nameSet = false
		}
	}

	// Signals are caught from here on: while waiting, they cancel the wait;
	// once COMMAND runs, they are forwarded to it. Setting up the handlers
	// costs a few hundred microseconds (the runtime enables each signal in
	// a round trip to a thread of its own), so it runs beside all the rest
	// sole does before COMMAND starts: finding the command, taking the lock
	// and, on Unix, preparing COMMAND's process; execute waits for it just
	// before COMMAND starts. A signal that comes before the handlers are in
	// place ends sole with its default action, which is harmless: nothing
	// has started, and the kernel drops the lock.
	sigs := make(chan os.Signal, 32)
	sigsReady := make(chan struct{})
	if !o.service {
		go func() {
			signal.Notify(sigs, forwarded...)
			close(sigsReady)
		}()
	}
	o.signalsReady = sigsReady

	// Find the command and read the environment file before touching the
	// lock: a typo must not disturb anything.
	if code, ok := o.prepare(stderr); !ok {
		return code
	}
	path, err := lookPath(o.inWorkdir(argv[0]))
	if err != nil {
		fmt.Fprintf(stderr, "sole: %s: %v\n", cli.Quote(argv[0]), err)
		if errors.Is(err, errNotFound) {
			return cli.ExitNotFound
		}
		return cli.ExitCantExec
	}

	if o.workdir != "" && !filepath.IsAbs(path) {
		// COMMAND starts in the working directory: the path found from
		// here must not be looked up again from there.
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	if o.fleet.URL != "" {
		// The connection to etcd is made while the local lock is taken.
		fleetBackend.Dial(o.fleet.config(o.name, o.env))
	}
	defaultName := trimExeSuffix(filepath.Base(argv[0]))
	l, err := o.open(defaultName, pidlock.DeferRecord())
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			return c.UsageError(stderr, ue.Error())
		}
		fmt.Fprintf(stderr, "sole: %s\n", report.ErrorLine(err))
		return cli.ExitCantLock
	}

	if o.service {
		// Under the Windows service control manager, the service handler
		// takes the lock and runs COMMAND (serviceMain, run_windows.go).
		return serviceMain(c, l, path, argv, o, stderr)
	}

	started := time.Now()
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
	if o.fleet.URL != "" {
		// Then the fleet lock, in what is left of --timeout. COMMAND
		// must not outlive the sole that keeps the lease alive, so it
		// does not inherit the local lock either (docs/locking.md).
		<-sigsReady
		// The guard starts first, so that its start overlaps the round
		// trips to etcd; no COMMAND ever runs unguarded.
		g, err := startGuard()
		if err != nil {
			l.Unlock()
			fmt.Fprintf(stderr, "sole: %s: cannot start the fleet guard: %v\n", o.name, err)
			return cli.ExitCantExec
		}
		left := time.Duration(0)
		if o.timeout > 0 {
			left = max(o.timeout-time.Since(started), time.Millisecond)
		}
		h, code := acquireFleet(l, o, left, sigs, stderr)
		if h == nil {
			g.done()
			l.Unlock()
			return code
		}
		o.hold, o.guard, o.noInherit = h, g, true
		o.env = fencingEnv(o.environ(), h)
	}
	if goruntime.GOOS == "windows" {
		// execute starts COMMAND at once there.
		<-sigsReady
	}
	return execute(l, path, argv, o, sigs, stderr)
}

// prepare checks --workdir and reads --env-file into o.env.
func (o *runOpts) prepare(stderr io.Writer) (int, bool) {
	if o.workdir != "" {
		st, err := os.Stat(o.workdir)
		if err == nil && !st.IsDir() {
			err = &fs.PathError{Op: "chdir", Path: o.workdir, Err: errors.New("not a directory")}
		}
		if err != nil {
			fmt.Fprintf(stderr, "sole: --workdir: %s\n", cli.OneLine(err.Error()))
			return cli.ExitCantExec, false
		}
	}
	if o.envFile == "" {
		return 0, true
	}
	vars, err := envfile.ReadFile(o.envFile)
	if err != nil {
		fmt.Fprintf(stderr, "sole: --env-file: %s\n", cli.OneLine(err.Error()))
		if errors.Is(err, fs.ErrNotExist) {
			return cli.ExitNotFound, false
		}
		return cli.ExitUsage, false
	}
	o.env = append(os.Environ(), vars...)
	return 0, true
}

// inWorkdir returns a relative command path containing a separator as
// seen from --workdir, as env -C does; a bare name is looked up in PATH.
func (o *runOpts) inWorkdir(cmd string) string {
	if o.workdir == "" || filepath.IsAbs(cmd) || !strings.ContainsRune(cmd, filepath.Separator) && !strings.ContainsRune(cmd, '/') {
		return cmd
	}
	return filepath.Join(o.workdir, cmd)
}

// environ is COMMAND's environment before sole's own adjustments: sole's,
// with --env-file's variables added.
func (o *runOpts) environ() []string {
	if o.env != nil {
		return o.env
	}
	return os.Environ()
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

// lockFailed reports why the lock was not taken and returns the exit code.
func lockFailed(l *pidlock.Lock, err error, o *runOpts, stderr io.Writer) int {
	var ie errInterrupted
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "sole: %s: gave up waiting for the lock: %v\n", l.Name(), ie)
		return cli.ExitSignal + signalNumber(ie.sig)
	}
	if errors.Is(err, pidlock.ErrLocked) {
		who := "starting"
		if h := holderOf(err); h != nil {
			who = report.Describe(h)
		}
		var re *replaceError
		switch {
		case errors.As(err, &re):
			// What was sent to whom: never kept quiet.
			fmt.Fprintf(stderr, "sole: %s: --replace failed: %s\n", l.Name(), re)
		case o.quiet:
		case o.wait:
			fmt.Fprintf(stderr, "sole: %s is still running after %v (%s)\n", l.Name(), o.timeout, who)
		default:
			fmt.Fprintf(stderr, "sole: %s is already running (%s)\n", l.Name(), who)
		}
		return o.conflict
	}
	fmt.Fprintf(stderr, "sole: %s\n", report.ErrorLine(err))
	return cli.ExitCantLock
}

// exitCodeFlag is an exit status option: a whole number from 0 to 255.
type exitCodeFlag struct{ p *int }

func (f exitCodeFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.Itoa(*f.p)
}

func (f exitCodeFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 255 {
		return errors.New("want an exit status from 0 to 255")
	}
	*f.p = n
	return nil
}

// errNotFound is matched by lookPath's error when nothing by that name is
// found.
var errNotFound = errors.New("command not found")
