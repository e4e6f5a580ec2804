// Package kservice runs a program written for github.com/kardianos/service
// on sole's runtime, unchanged but for one call: its service.Interface (Start
// and Stop, and Shutdown when it is a service.Shutdowner) and its
// service.Config become a runtime.App and a runtime.Config, so that it gets
// the single-instance lock, readiness reported only once it holds the lock,
// the watchdog, reload, and the install, uninstall, start, stop, restart
// and status commands of runtime.Main.
//
//	func main() {
//		kservice.Main(&program{}, &service.Config{Name: "myd", Description: "my daemon"})
//	}
//
// in place of service.New, s.Run and service.Control. On every OS, in this
// order:
//
//  1. the runtime takes the lock (a second instance exits 75 naming the
//     holder; Start is never called in it);
//  2. the variables of Config.EnvVars that the environment does not set
//     already are set;
//  3. Start is called, with a service.Service (see below);
//  4. when Start returns nil, readiness is reported (systemd READY=1, the
//     Windows SERVICE_RUNNING); when it returns an error, the start fails,
//     the lock is released and the process exits 1;
//  5. on stop (SIGTERM, Ctrl-C, the service manager's stop; or the
//     function of the "RunWait" option returning) Stop is called, or
//     Shutdown instead when the program is a service.Shutdowner and the
//     service manager says the system is shutting down. Stop's error makes
//     the exit status 1. systemd and launchd send a service the same
//     SIGTERM on a stop and on a shutdown, so there Stop is always called;
//     only Windows' service control manager tells them apart (its
//     SERVICE_CONTROL_SHUTDOWN).
//
// The service.Service handed to Start, Stop and Shutdown logs through the
// runtime's logger (Logger and SystemLogger: the journal under systemd,
// the event log of a Windows service, stderr by hand), and answers
// String (the display name, else the name), Platform (kardianos'
// service.Platform) and Status (the service manager's state). Its Run,
// Start, Stop, Restart, Install and Uninstall return an error matching
// ErrManaged: sole runs and manages the service (`PROG install`, `PROG
// start`...).
//
// This package is the only one of sole that imports kardianos/service on
// Unix: a program built on package runtime alone does not link it, and so
// does not pay its package initialisation, which probes the host on every
// start. docs/runtime.md has the table of how each service.Config field and
// each Option key maps onto sole.
package kservice

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kardianos/service"

	"github.com/solehq/sole/runtime"
)

// ErrManaged is matched by the error of the service.Service methods that a
// program built on sole does not run itself: Run, Start, Stop, Restart,
// Install and Uninstall.
var ErrManaged = errors.New("sole manages the service")

// Option sets what service.Config cannot say.
type Option func(*options)

type options struct {
	check     func(context.Context) error
	reload    func(context.Context) error
	configure []func(*runtime.Config)
}

// WithCheck makes check the health check: the systemd watchdog is fed only
// while it returns nil (runtime.Checker). A program whose Interface has a
// method Check(context.Context) error gets it without this option.
func WithCheck(check func(context.Context) error) Option {
	return func(o *options) { o.check = check }
}

// WithReload makes reload run on SIGHUP (`systemctl reload`), between
// RELOADING=1 and READY=1 (runtime.Reloader). A program whose Interface has
// a method Reload(context.Context) error gets it without this option.
func WithReload(reload func(context.Context) error) Option {
	return func(o *options) { o.reload = reload }
}

// WithWaitForLock makes a start wait for a running instance to exit
// instead of exiting 75 at once (runtime.Config.WaitForLock).
func WithWaitForLock() Option {
	return WithConfig(func(c *runtime.Config) { c.WaitForLock = true })
}

// WithConfig runs f on the runtime.Config made from the service.Config,
// for the settings that service.Config has no field for (Watchdog, Harden,
// EnvFile, StartTimeout, a Logger...). f runs after the mapping, so what
// it sets wins.
func WithConfig(f func(*runtime.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

// Main runs the program i, described by c, as runtime.Main runs an App:
// it gives the program sole's command line (run, install, uninstall,
// start, stop, restart, status) and exits. A c that sole cannot honour
// (see App) makes it print one line saying why and exit 1, whatever the
// command.
func Main(i service.Interface, c *service.Config, opts ...Option) {
	m, err := newMapping(i, c, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.Main(m.cfg, m.app())
}

// App returns the runtime.Config and the runtime.App that run i as c
// describes, for runtime.Run or runtime.Main; Main is App and
// runtime.Main. It returns an error, one line starting with "kservice: "
// and naming the field or Option key, for a c that sole cannot honour: a
// bad name, an environment variable that no service manager can pass, an
// Option key that sole does not know or cannot give the meaning it has
// for kardianos, Arguments, Executable, Dependencies or ChRoot. The
// mapping is the table in docs/runtime.md.
func App(i service.Interface, c *service.Config, opts ...Option) (runtime.Config, runtime.App, error) {
	m, err := newMapping(i, c, opts)
	if err != nil {
		return runtime.Config{}, nil, err
	}
	return m.cfg, m.app(), nil
}

func newMapping(i service.Interface, c *service.Config, opts []Option) (*mapping, error) {
	if i == nil {
		return nil, errors.New("kservice: the service.Interface is nil")
	}
	m, err := mapConfig(c)
	if err != nil {
		return nil, err
	}
	m.i = i
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	m.opts = o
	for _, f := range o.configure {
		f(&m.cfg)
	}
	return m, nil
}

func (m *mapping) app() runtime.App { return &app{m: m} }

// app is the runtime.App of a kardianos program.
type app struct{ m *mapping }

// shutdownReporter is implemented by a *runtime.Service that can tell a
// stop from a system shutdown (the Windows SCM's SERVICE_CONTROL_SHUTDOWN):
// SystemShutdown reports true once the app's context is done because the
// system shuts down.
type shutdownReporter interface{ SystemShutdown() bool }

func (a *app) Run(ctx context.Context, svc *runtime.Service) error {
	m := a.m
	if err := setEnv(m.env); err != nil {
		return err
	}
	h := &handle{name: m.cfg.Name, display: m.displayName, user: m.userService, log: svc.Logger()}
	if err := m.i.Start(h); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	svc.Ready()
	var returned <-chan struct{}
	if m.runWait != nil {
		c := make(chan struct{})
		go func() {
			defer close(c)
			m.runWait()
		}()
		returned = c
	}
	select {
	case <-ctx.Done():
	case <-returned:
		h.log.Info("RunWait returned: stopping")
	}
	if r, ok := any(svc).(shutdownReporter); ok && r.SystemShutdown() {
		if s, ok := m.i.(service.Shutdowner); ok {
			if err := s.Shutdown(h); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		}
	}
	if err := m.i.Stop(h); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// Check runs the health check: WithCheck's, else the Interface's own
// Check method; healthy without either.
func (a *app) Check(ctx context.Context) error {
	if a.m.opts.check != nil {
		return a.m.opts.check(ctx)
	}
	if c, ok := a.m.i.(runtime.Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// Reload runs the reload hook: WithReload's, else the Interface's own
// Reload method; nothing without either.
func (a *app) Reload(ctx context.Context) error {
	if a.m.opts.reload != nil {
		return a.m.opts.reload(ctx)
	}
	if r, ok := a.m.i.(runtime.Reloader); ok {
		return r.Reload(ctx)
	}
	return nil
}

// setEnv sets each KEY=VALUE of env whose KEY the environment lacks: the
// service manager's own variables (an EnvFile's, a drop-in's) and a
// person's by hand win, as a unit's EnvironmentFile= wins over its
// Environment=.
func setEnv(env []string) error {
	for _, kv := range env {
		k, v := splitEnv(kv)
		if _, ok := os.LookupEnv(k); ok {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("kservice: EnvVars[%q]: %w", k, err)
		}
	}
	return nil
}
