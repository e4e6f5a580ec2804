package runtime

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// manageCommands are the commands that manage the program as a service.
var manageCommands = []manageCommand{
	{"install", "install [--user] [--print] [--run-as USER[:GROUP]] [--workdir DIR] [--env-file FILE]\n" +
		"                [--restart on-failure|always|no] [--restart-delay DUR] [--start-timeout DUR]\n" +
		"                [--stop-timeout DUR] [--harden] [--log-dir DIR]", `Register the program as a service that runs it with "run", and enable it.
Installing again with the same settings changes nothing. The options
override the program's own settings (runtime.Config) of the same names.`},
	{"uninstall", "uninstall [--user]", "Stop and disable the service and remove its definition."},
	{"start", "start [--user]", "Start the service; returns once it holds its lock and is ready."},
	{"stop", "stop [--user]", "Stop the service."},
	{"restart", "restart [--user]", "Restart the service."},
	{"status", "status [--user]", `Show the service's state and who holds its lock, as sole status does.

Exit status (LSB): 0 running, 1 not running but a record is left, 3 not
running, 4 the status could not be determined.`},
}

type manageCommand struct{ name, usage, help string }

// command is the entry of m in the program's command table.
func (m manageCommand) command(cfg Config) *cli.Command {
	var user, print bool
	var opts unit.Options
	flags := func() *flag.FlagSet {
		fs := cli.NewFlagSet(m.name)
		fs.BoolVar(&user, "user", cfg.UserService, "a per-user service (systemd --user, a LaunchAgent)")
		if m.name == "install" {
			fs.BoolVar(&print, "print", false, "print the service definition instead of installing it")
			opts = cfg.options()
			opts.Register(fs, "/")
		}
		return fs
	}
	return &cli.Command{
		Name:  m.name,
		Usage: m.usage,
		Help:  m.help,
		Flags: flags,
		Run: func(c *cli.Command, args []string, stdout, stderr io.Writer) int {
			rest, code, ok := c.ParseInterspersed(flags(), args, stdout, stderr)
			if !ok {
				return code
			}
			if len(rest) != 0 {
				return c.UsageError(stderr, fmt.Sprintf("takes no arguments, got %q", rest[0]))
			}
			return manage(cfg, m.name, user, print, opts, stdout, stderr)
		},
	}
}

// manage runs install, uninstall, start, stop, restart and status for the
// program itself.
func manage(cfg Config, cmd string, user, print bool, opts unit.Options, stdout, stderr io.Writer) int {
	switch cmd {
	case "install":
		d, err := cfg.description(user, opts)
		if err == nil {
			err = svcmgr.Apply(d, print, stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: install: %v\n", cfg.Name, err)
			return cli.ExitFailure
		}
		return cli.ExitOK
	case "status":
		l, err := cfg.statusLock(user)
		if err != nil {
			fmt.Fprintf(stderr, "%s: status: %s\n", cfg.Name, report.ErrorLine(err))
			return cli.StatusUnknown
		}
		r := report.Gather(cfg.Name, l, &report.Service{Name: cfg.Name, User: user})
		if r.Err != nil {
			fmt.Fprintf(stderr, "%s: status: %s\n", cfg.Name, report.ErrorLine(r.Err))
		} else {
			fmt.Fprintln(stdout, r.Text())
		}
		return r.Code()
	}
	var err error
	var standby string
	switch cmd {
	case "uninstall":
		err = svcmgr.Uninstall(cfg.Name, user)
	case "start":
		standby, err = svcmgr.StartStatus(cfg.Name, user)
	case "stop":
		err = svcmgr.Stop(cfg.Name, user)
	case "restart":
		standby, err = svcmgr.RestartStatus(cfg.Name, user)
	}
	if standby != "" {
		// With Config.Fleet, another node holds the lock: the service
		// stands by, and is started.
		fmt.Fprintf(stdout, "%s: %s\n", cfg.Name, standby)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", cfg.Name, cmd, err)
		return cli.ExitFailure
	}
	return cli.ExitOK
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
func (cfg Config) description(user bool, opts unit.Options) (unit.Description, error) {
	exe, err := svcmgr.Self()
	if err != nil {
		return unit.Description{}, err
	}
	cfg = cfg.withDefaults()
	d := unit.Description{
		Name:        cfg.Name,
		DisplayName: cfg.DisplayName,
		Description: cfg.Description,
		Exec:        exe,
		Args:        []string{"run"},
		User:        user,
		Env:         cfg.Env,
		Watchdog:    cfg.Watchdog,
	}
	for _, p := range []*string{&opts.Workdir, &opts.EnvFile, &opts.LogDir} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return d, err
			}
		}
	}
	opts.Apply(&d)
	d = d.WithDefaults()
	return d, svcmgr.Check(d)
}

// options are cfg's service options, the defaults of install's.
func (cfg Config) options() unit.Options {
	cfg = cfg.withDefaults()
	return unit.Options{
		RunAs: cfg.RunAs, Workdir: cfg.Workdir, EnvFile: cfg.EnvFile,
		Restart: cfg.Restart, RestartDelay: cfg.RestartDelay,
		StartTimeout: cfg.StartTimeout, StopTimeout: cfg.StopTimeout,
		Harden: cfg.Harden, LogDir: cfg.LogDir,
	}
}
