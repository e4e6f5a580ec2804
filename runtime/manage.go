package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// manage runs install, uninstall, start, stop, restart and status for the
// program itself.
func manage(cfg Config, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.Bool("user", false, "a per-user service (systemd --user, a LaunchAgent)")
	print := false
	if cmd == "install" {
		fs.BoolVar(&print, "print", false, "print the service definition instead of installing it")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			err = errors.New("unexpected arguments")
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", cfg.Name, cmd, err)
		return 64
	}
	switch cmd {
	case "install":
		d, err := cfg.description(*user)
		if err != nil {
			fmt.Fprintf(stderr, "%s install: %v\n", cfg.Name, err)
			return 1
		}
		if err := svcmgr.Apply(d, print, stdout); err != nil {
			fmt.Fprintf(stderr, "%s install: %v\n", cfg.Name, err)
			return 1
		}
		return 0
	case "status":
		l, err := cfg.statusLock(*user)
		if err != nil {
			fmt.Fprintf(stderr, "%s status: %s\n", cfg.Name, report.ErrorLine(err))
			return cli.StatusUnknown
		}
		r := report.Gather(cfg.Name, l, &report.Service{Name: cfg.Name, User: *user})
		if r.Err != nil {
			fmt.Fprintf(stderr, "%s status: %s\n", cfg.Name, report.ErrorLine(r.Err))
		} else {
			fmt.Fprintln(stdout, r.Text())
		}
		return r.Code()
	}
	var err error
	switch cmd {
	case "uninstall":
		err = svcmgr.Uninstall(cfg.Name, *user)
	case "start":
		err = svcmgr.Start(cfg.Name, *user)
	case "stop":
		err = svcmgr.Stop(cfg.Name, *user)
	case "restart":
		err = svcmgr.Restart(cfg.Name, *user)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", cfg.Name, cmd, err)
		return 1
	}
	return 0
}

// statusLock is the lock the service takes (see newLifecycle), for its
// status: Config.LockPath when set, else the lock named Config.Name; in
// Config.Scope when set, else in the scope of the service, which runs as
// root (the system scope) or, with --user, as the user.
func (cfg Config) statusLock(user bool) (*pidlock.Lock, error) {
	scope := pidlock.ScopeSystem
	if user {
		scope = pidlock.ScopeUser
	}
	if cfg.Scope != 0 {
		scope = cfg.Scope
	}
	if cfg.LockPath != "" {
		return pidlock.New(cfg.LockPath, pidlock.WithScope(scope))
	}
	return pidlock.Named(cfg.Name, pidlock.WithScope(scope))
}

// description is the service definition of this program: it runs itself
// with "run".
func (cfg Config) description(user bool) (unit.Description, error) {
	exe, err := svcmgr.Self()
	if err != nil {
		return unit.Description{}, err
	}
	cfg = cfg.withDefaults()
	d := unit.Description{
		Name:         cfg.Name,
		Description:  cfg.Description,
		Exec:         exe,
		Args:         []string{"run"},
		User:         user,
		Watchdog:     cfg.Watchdog,
		StartTimeout: cfg.StartTimeout,
		StopTimeout:  cfg.StopTimeout,
	}.WithDefaults()
	return d, svcmgr.Check(d)
}
