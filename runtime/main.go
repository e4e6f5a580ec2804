package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/envfile"
	"github.com/solehq/sole/internal/unit"
)

// MainMarker is linked into every program built on Main, which prints it
// when run with the single argument --sole-main. sole's packager looks for
// it in a binary to tell that the program holds its own lock and runs
// itself as a service with the argument "run"; any other program is run
// under `sole run`.
const MainMarker = unit.MainMarker

// Main gives the program its command line and exits:
//
//	PROG run        run in the foreground: logs to stderr, Ctrl-C stops
//	                gracefully, a second Ctrl-C forces; started by a
//	                service manager, run as its service
//	PROG install [--user] [--print]   register PROG as a service
//	PROG uninstall | start | stop | restart | status [--user]
//	PROG help [COMMAND]   PROG --version (-V)
//
// With no arguments it behaves as "run". Exit codes: 0 after a clean stop
// (or a stop while standing by for the fleet lock), 75 when another
// instance runs (the units say RestartPreventExitStatus=75), 76 when the
// fleet lock was lost (Config.Fleet), 69 when the fleet lock's server
// cannot be reached, 64 for a bad command line, 1 for any other failure;
// status uses the LSB codes of `sole status`.
func Main(cfg Config, app App) {
	os.Exit(main(cfg, app, os.Args[1:], os.Stdout, os.Stderr))
}

func main(cfg Config, app App, args []string, stdout, stderr io.Writer) int {
	return commands(cfg, app).Main(args, stdout, stderr)
}

// commands is the command table of a program built on Main.
func commands(cfg Config, app App) *cli.Program {
	run := &cli.Command{
		Name:  "run",
		Usage: "run [--env-file FILE] [--workdir DIR]",
		Short: "Run the service (in the foreground when started by hand).",
		Help: `Run the service in the foreground: logs go to stderr, Ctrl-C stops it
gracefully and a second Ctrl-C forces. Started by a service manager, it
runs as its service. With no command, the program runs this one.
--env-file and --workdir are what launchd and Windows services are given
for the options of the same names (systemd applies them itself).`,
		Flags: func() *flag.FlagSet { fs, _ := runFlags(); return fs },
		Run: func(c *cli.Command, args []string, stdout, stderr io.Writer) int {
			fs, o := runFlags()
			if code, ok := c.Parse(fs, args, stdout, stderr); !ok {
				return code
			} else if fs.NArg() != 0 {
				return c.UsageError(stderr, "takes no arguments")
			}
			if err := o.apply(); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", cfg.Name, err)
				return cli.ExitFailure
			}
			return exitCode(runService(cfg, app), stderr)
		},
	}
	marker := &cli.Command{
		Name:   "--sole-main",
		Hidden: true,
		Help:   "Say that this program is built on runtime.Main (sole's packager asks).",
		Run: func(_ *cli.Command, _ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, MainMarker)
			return cli.ExitOK
		},
	}
	cmds := []*cli.Command{run}
	for _, m := range manageCommands {
		cmds = append(cmds, m.command(cfg))
	}
	return &cli.Program{
		Name:     cfg.Name,
		Summary:  cfg.Name + " runs as a service, as exactly one instance.",
		Commands: append(cmds, marker),
		Default:  "run",
		Version:  func() string { return cli.BuildVersion("") },
		Footer:   footer(cfg),
	}
}

// runOptions are run's options: what the service manager could not apply.
type runOptions struct{ envFile, workdir string }

func runFlags() (*flag.FlagSet, *runOptions) {
	o := new(runOptions)
	fs := cli.NewFlagSet("run")
	fs.StringVar(&o.envFile, "env-file", "", "add the KEY=VALUE lines of `FILE` to the environment first")
	fs.StringVar(&o.workdir, "workdir", "", "change to `DIR` first")
	return fs, o
}

// apply changes to the working directory and sets the environment file's
// variables, before anything else runs.
func (o *runOptions) apply() error {
	if o.workdir != "" {
		if err := os.Chdir(o.workdir); err != nil {
			return fmt.Errorf("--workdir: %w", err)
		}
	}
	if o.envFile == "" {
		return nil
	}
	vars, err := envfile.ReadFile(o.envFile)
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("--env-file: %s: %w", k, err)
		}
	}
	return nil
}

// footer is the end of the program's help: its exit codes.
func footer(cfg Config) string {
	if cfg.Fleet == nil {
		return "Exit codes: 0 after a clean stop, 75 when another instance runs, 64 for a bad\ncommand line, 1 for any other failure; status exits 0 running, 1 dead with a\nrecord left, 3 not running, 4 unknown.\n"
	}
	return "Exit codes: 0 after a clean stop, 75 when another instance runs, 76 when the\nfleet lock was lost, 69 when its etcd cannot be reached, 64 for a bad command\nline, 1 for any other failure; status exits 0 running, 1 dead with a record\nleft, 3 not running, 4 unknown.\n"
}

// exitCode maps Run's error to the exit status, and writes the error to
// stderr.
func exitCode(err error, stderr io.Writer) int {
	code := exitStatus(err)
	if err != nil && !errors.Is(err, errStandbyStopped) {
		fmt.Fprintln(stderr, err)
	}
	return code
}

// exitStatus maps Run's error to the exit status.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, errStandbyStopped):
		return cli.ExitOK
	case errors.Is(err, ErrAlreadyRunning):
		return ExitAlreadyRunning
	case errors.Is(err, ErrFleetLost):
		return ExitLockLost
	case errors.Is(err, ErrFleetUnreachable):
		return ExitUnavailable
	}
	return cli.ExitFailure
}

// program runs the lifecycle for Main: start (which returns only once the
// app is ready), wait, stop. On Windows it is a kardianos/service Interface
// (main_windows.go), so that kardianos speaks to the service control manager
// and reports SERVICE_RUNNING when Start returns. Elsewhere Main runs the
// same three steps itself (main_unix.go): kardianos's Run on Unix does
// nothing else (Start, wait for a signal, Stop), while its package
// initialisation probes the host on every start, and linking it cost each
// service ~0.1 of its start-to-READY time and ~0.4 MiB of memory
// (bench/readybench).
type program struct {
	l        *lifecycle
	err      error
	stopping atomic.Bool // Stop was called: the app's end is not its own
}

// newProgram makes the lifecycle of app and starts watching SIGHUP from
// the beginning (one that comes before the app is ready is ignored rather
// than left to kill the process); stop ends the watch.
func newProgram(cfg Config, app App) (p *program, stop func(), err error) {
	l, err := newLifecycle(cfg, app)
	if err != nil {
		return nil, nil, err
	}
	return &program{l: l}, l.watchReload(), nil
}

// wait blocks until the service manager or a person asks the service to
// stop (SIGTERM, Ctrl-C), the app returns by itself or the fleet lock is
// lost. A second Ctrl-C while stopping exits at once with 130.
func (p *program) wait() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sigs:
	case <-p.l.appDone:
	case <-p.l.lost:
	}
	go func() {
		for s := range sigs {
			if s == os.Interrupt {
				p.l.log.Error("second interrupt: exiting without waiting for the app")
				os.Exit(cli.ExitSignal + int(syscall.SIGINT))
			}
		}
	}()
}
