package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// MainMarker is linked into every program built on Main, which prints it
// when run with the single argument --sole-main. sole's packager looks for
// it in a binary to tell that the program holds its own lock and runs
// itself as a service with the argument "run"; any other program is run
// under `sole run`.
const MainMarker = "sole runtime.Main v1: PROG run runs the service"

// Main gives the program its command line and exits:
//
//	PROG run        run in the foreground: logs to stderr, Ctrl-C stops
//	                gracefully, a second Ctrl-C forces; started by a
//	                service manager, run as its service
//	PROG install [--user] [--print]   register PROG as a service
//	PROG uninstall | start | stop | restart | status
//
// With no arguments it behaves as "run". Exit codes: 0 after a clean stop,
// 75 when another instance runs (the units say RestartPreventExitStatus=75),
// 64 for a bad command line, 1 for any other failure; status uses the LSB
// codes of `sole status`.
func Main(cfg Config, app App) {
	os.Exit(main(cfg, app, os.Args[1:], os.Stdout, os.Stderr))
}

func main(cfg Config, app App, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		if len(args) != 0 {
			fmt.Fprintf(stderr, "%s: run takes no arguments\n", cfg.Name)
			return 64
		}
		return exitCode(runService(cfg, app), stderr)
	case "install", "uninstall", "start", "stop", "restart", "status":
		return manage(cfg, cmd, args, stdout, stderr)
	case "--sole-main":
		// Asked by hand or by a tool: this program is built on Main.
		fmt.Fprintln(stdout, MainMarker)
		return 0
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, "usage: %s [run | install [--user] [--print] | uninstall | start | stop | restart | status]\n", os.Args[0])
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown command %q (want run, install, uninstall, start, stop, restart or status)\n", cfg.Name, cmd)
	return 64
}

// exitCode maps Run's error to the exit status.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrAlreadyRunning):
		fmt.Fprintln(stderr, err)
		return ExitAlreadyRunning
	}
	fmt.Fprintln(stderr, err)
	return 1
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
// stop (SIGTERM, Ctrl-C), or the app returns by itself. A second Ctrl-C
// while stopping exits at once with 130.
func (p *program) wait() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sigs:
	case <-p.l.appDone:
	}
	go func() {
		for s := range sigs {
			if s == os.Interrupt {
				p.l.log.Error("second interrupt: exiting without waiting for the app")
				os.Exit(130)
			}
		}
	}()
}
