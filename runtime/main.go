package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"sync/atomic"
	"syscall"

	"github.com/kardianos/service"
)

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

// program is the runtime as a kardianos/service Interface: Start returns
// only once the app is ready (on Windows, kardianos reports SERVICE_RUNNING
// when Start returns), Stop stops it.
type program struct {
	l        *lifecycle
	err      error
	stopping atomic.Bool // Stop was called: the app's end is not its own
}

func (p *program) Start(s service.Service) error {
	setRecoveryActions(p.l.cfg.Name, p.l.log)
	if err := p.l.start(context.Background()); err != nil {
		return err
	}
	if goruntime.GOOS == "windows" && !service.Interactive() {
		// kardianos' Windows service handler waits only for the SCM, not
		// for RunWait: an app that returns by itself would leave a
		// "running" service holding its lock with nothing behind it. End
		// the process instead: the SCM sees the service stop, and restarts
		// it by the recovery actions when the app failed.
		go func() {
			<-p.l.appDone
			if p.stopping.Load() {
				return // kardianos reports the stop to the SCM
			}
			err := p.l.stop()
			if err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		}()
	}
	return nil
}

func (p *program) Stop(service.Service) error {
	p.stopping.Store(true)
	p.err = p.l.stop()
	return p.err
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

// runService runs the app through kardianos/service, which on Windows
// talks to the service control manager and elsewhere calls Start, our wait
// and Stop.
func runService(cfg Config, app App) error {
	l, err := newLifecycle(cfg, app)
	if err != nil {
		return err
	}
	stopReload := l.watchReload()
	defer stopReload()
	p := &program{l: l}
	s, err := service.New(p, &service.Config{
		Name:        cfg.Name,
		Description: cfg.Description,
		Option:      service.KeyValue{"RunWait": p.wait},
	})
	if err != nil {
		// No service system known to kardianos here (a container, say):
		// the same order, without it.
		if err := p.Start(nil); err != nil {
			return err
		}
		p.wait()
		return p.Stop(nil)
	}
	if err := s.Run(); err != nil {
		return err
	}
	return p.err
}
