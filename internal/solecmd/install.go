package solecmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/envfile"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

var installCmd = &cli.Command{
	Name: "install",
	Args: cli.ArgCommand,
	Usage: "install [--name NAME] [--user] [--description TEXT] [--watchdog DUR --health CMD]\n" +
		"                    [--env K=V]... [--run-as USER[:GROUP]] [--workdir DIR] [--env-file FILE]\n" +
		"                    [--restart on-failure|always|no] [--restart-delay DUR]\n" +
		"                    [--start-timeout DUR] [--stop-timeout DUR] [--harden] [--log-dir DIR]\n" +
		"                    [--fleet URL [--fleet-ttl DUR] [--fleet-cacert FILE]\n" +
		"                     [--fleet-cert FILE --fleet-key FILE]]\n" +
		"                    [--print] -- COMMAND [ARGS...]",
	Help: `Register COMMAND as a service that runs with "sole run" semantics: the
single-instance lock, readiness reported only once COMMAND runs under it,
signals forwarded, no restart loop on "already running" (exit 75).
Installing again with the same settings changes nothing; with other
settings the definition is updated and the service manager reloaded.
COMMAND runs in the directory sole install ran in unless --workdir says
otherwise, so relative paths in ARGS mean what they meant when typed.
With --fleet the service also holds its lock across machines, in etcd
(docs/fleet.md): it runs "sole run --fleet URL ... --wait", so that it
stands by on every node but the one that holds the lock, and a system
unit starts after network-online.target. etcd's user and password go in
--env-file (SOLE_FLEET_USER, SOLE_FLEET_PASSWORD), never on the command
line. Installed on every node, the service runs on one at a time.
--print writes the definition to stdout and touches nothing.`,
	Short: "Register COMMAND as a service run with \"sole run\" semantics.",
	Flags: func() *flag.FlagSet { fs, _ := newInstallFlags(); return fs },
	Run:   installMain,
}

type installOpts struct {
	name, description, health string
	user, print               bool
	watchdog                  time.Duration
	env                       multiFlag
	svc                       unit.Options
	fleet                     fleetFlags // --fleet: sole run's options, passed on
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newInstallFlags() (*flag.FlagSet, *installOpts) {
	o := new(installOpts)
	fs := cli.NewFlagSet("install")
	fs.StringVar(&o.name, "name", "", "service `NAME` (default: the command's base name)")
	fs.BoolVar(&o.user, "user", false, "a per-user service (systemctl --user) instead of a system one")
	fs.StringVar(&o.description, "description", "", "one-line `TEXT` for the service manager")
	fs.DurationVar(&o.watchdog, "watchdog", 0, "systemd watchdog interval `DUR`; needs --health")
	fs.StringVar(&o.health, "health", "", "shell `CMD` whose success means COMMAND is healthy; the watchdog is fed only then")
	fs.Var(&o.env, "env", "`K=V` for COMMAND's environment (repeatable)")
	o.svc.Register(fs, "the current directory")
	o.fleet.register(fs, true)
	if f := fs.Lookup("fleet"); f != nil {
		f.Usage += "; the service waits for it (--wait); etcd's user and password: SOLE_FLEET_USER and SOLE_FLEET_PASSWORD in --env-file, never on the command line"
	}
	fs.BoolVar(&o.print, "print", false, "print the service definition and exit")
	return fs, o
}

func installMain(c *cli.Command, args []string, stdout, stderr io.Writer) int {
	fs, o := newInstallFlags()
	if code, ok := c.Parse(fs, args, stdout, stderr); !ok {
		return code
	}
	argv := fs.Args()
	switch {
	case len(argv) == 0 || argv[0] == "":
		return c.UsageError(stderr, "missing COMMAND")
	case o.watchdog < 0:
		return c.UsageError(stderr, "--watchdog must not be negative")
	case o.watchdog > 0 && o.health == "":
		return c.UsageError(stderr, "--watchdog needs --health CMD: sole cannot tell by itself whether COMMAND is healthy, and a watchdog fed blindly would keep a hung COMMAND alive")
	case o.health != "" && o.watchdog == 0:
		return c.UsageError(stderr, "--health needs --watchdog")
	}
	// The fleet options are checked as sole run checks them: the service
	// would fail at every start otherwise.
	if err := o.fleet.check(cli.Given(fs)); err != nil {
		return c.UsageError(stderr, err.Error())
	}
	if o.fleet.URL != "" && goruntime.GOOS == "windows" {
		return c.UsageError(stderr, "--fleet is not supported on Windows yet")
	}
	d, err := o.unitDescription(argv)
	if err != nil {
		var ue usageErr
		var de *unit.Error
		switch {
		case errors.As(err, &ue):
			return c.UsageError(stderr, ue.Error())
		case errors.As(err, &de):
			return c.UsageError(stderr, de.Error())
		}
		fmt.Fprintf(stderr, "sole: install: %v\n", err)
		if errors.Is(err, errNotFound) {
			return cli.ExitNotFound
		}
		return cli.ExitFailure
	}
	if err := svcmgr.Apply(d, o.print, stdout); err != nil {
		fmt.Fprintf(stderr, "sole: install: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// description is the service definition: this sole binary runs COMMAND
// with `sole run`.
func (o *installOpts) unitDescription(argv []string) (unit.Description, error) {
	path, err := lookPath(argv[0])
	if err != nil {
		return unit.Description{}, fmt.Errorf("%s: %w", argv[0], err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return unit.Description{}, err
	}
	name := o.name
	if name == "" {
		name = trimExeSuffix(filepath.Base(argv[0]))
	}
	if err := pidlock.ValidName(name); err != nil {
		return unit.Description{}, errUsage(err.Error())
	}
	self, err := svcmgr.Self()
	if err != nil {
		return unit.Description{}, fmt.Errorf("cannot find the sole binary: %w", err)
	}
	if err := o.fleetFiles(); err != nil {
		return unit.Description{}, err
	}
	args := unit.SoleRun{
		Name:           name,
		User:           o.user,
		WindowsService: goruntime.GOOS == "windows",
		Health:         o.health,
		Fleet:          o.fleet.args(),
		Command:        append([]string{path}, argv[1:]...),
	}.Args()
	desc := o.description
	if desc == "" {
		desc = name + " (run by sole)"
	}
	d := unit.Description{
		Name:        name,
		Description: desc,
		Exec:        self,
		Args:        args,
		User:        o.user,
		Env:         o.env,
		Watchdog:    o.watchdog,
	}
	o.svc.Apply(&d)
	if d.WorkingDirectory, err = workdir(o.svc.Workdir, o.svc.Harden); err != nil {
		return d, err
	}
	if d.EnvFile != "" {
		if d.EnvFile, err = filepath.Abs(d.EnvFile); err != nil {
			return d, err
		}
		if _, err := envfile.ReadFile(d.EnvFile); err != nil {
			return d, errUsage("--env-file: " + cli.OneLine(err.Error()))
		}
	}
	if d.LogDir != "" {
		if d.LogDir, err = filepath.Abs(d.LogDir); err != nil {
			return d, err
		}
	}
	d = d.WithDefaults()
	return d, svcmgr.Check(d)
}

// fleetFiles makes the fleet's TLS files absolute (the service does not
// run where sole install ran) and checks that they are there, as
// --env-file's is checked: a typo must not wait for the first start.
func (o *installOpts) fleetFiles() error {
	for _, f := range []struct {
		name string
		path *string
	}{{"--fleet-cacert", &o.fleet.CACert}, {"--fleet-cert", &o.fleet.Cert}, {"--fleet-key", &o.fleet.Key}} {
		if *f.path == "" {
			continue
		}
		abs, err := filepath.Abs(*f.path)
		if err != nil {
			return err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return errUsage(f.name + ": " + cli.OneLine(err.Error()))
		}
		if !st.Mode().IsRegular() {
			return errUsage(fmt.Sprintf("%s: %s is not a file", f.name, cli.Quote(abs)))
		}
		*f.path = abs
	}
	return nil
}

// workdir is the service's working directory: --workdir made absolute, by
// default the current directory, where the relative paths of COMMAND's
// arguments were typed. A hardened service cannot see /home, /root or
// /run/user, so the default is refused there with a line that says so.
func workdir(given string, harden bool) (string, error) {
	dir := given
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("the current directory, the service's default working directory: %w", err)
		}
		dir = wd
		if harden {
			for _, hidden := range []string{"/home", "/root", "/run/user"} {
				if dir == hidden || strings.HasPrefix(dir, hidden+"/") {
					return "", errUsage(fmt.Sprintf("--harden hides %s from the service, so it cannot run in the current directory %s; give --workdir DIR", hidden, cli.Quote(dir)))
				}
			}
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil {
		return "", errUsage("--workdir: " + cli.OneLine(err.Error()))
	} else if !st.IsDir() {
		return "", errUsage(fmt.Sprintf("--workdir: %s is not a directory", cli.Quote(abs)))
	}
	return abs, nil
}

// The commands that act on an installed service.
var uninstallCmd = serviceCmd("uninstall", "Stop and disable the service NAME and remove its definition.", svcmgr.Uninstall)
var startCmd = standbyCmd("start", `Start the service NAME; returns once it holds its lock and is ready.
A fleet service (installed or packaged with --fleet) that stands by, its
lock held on another node or etcd out of reach, is ready only once it
takes the lock over, maybe never: start then returns as soon as it
stands by, printing its status line ("NAME: standing by: NAME is held by
pid P on HOST, since T"), and exits 0; the service keeps standing by.`, svcmgr.StartStatus)
var stopCmd = serviceCmd("stop", "Stop the service NAME.", svcmgr.Stop)
var restartCmd = standbyCmd("restart", `Restart the service NAME; returns once it holds its lock and is ready.
A fleet service (installed or packaged with --fleet) that stands by once
restarted: restart returns as soon as it stands by, printing its status
line ("NAME: standing by: ..."), and exits 0, as start does.`, svcmgr.RestartStatus)

// standbyCmd is serviceCmd for start and restart: do returns the status
// line of a fleet service that stands by, which is printed.
func standbyCmd(name, help string, do func(string, bool) (string, error)) *cli.Command {
	return serviceCmdOut(name, help, func(svc string, user bool, stdout io.Writer) error {
		standby, err := do(svc, user)
		if err == nil && standby != "" {
			fmt.Fprintf(stdout, "%s: %s\n", svc, cli.OneLine(standby))
		}
		return err
	})
}

func serviceCmd(name, help string, do func(string, bool) error) *cli.Command {
	return serviceCmdOut(name, help, func(svc string, user bool, _ io.Writer) error { return do(svc, user) })
}

func serviceCmdOut(name, help string, do func(svc string, user bool, stdout io.Writer) error) *cli.Command {
	newFlags := func() (*flag.FlagSet, *bool) {
		fs := cli.NewFlagSet(name)
		user := fs.Bool("user", false, "the per-user service (systemctl --user)")
		return fs, user
	}
	return &cli.Command{
		Name:  name,
		Args:  cli.ArgService,
		Usage: "" + name + " [--user] NAME",
		Help:  help,
		Flags: func() *flag.FlagSet { fs, _ := newFlags(); return fs },
		Run: func(c *cli.Command, args []string, stdout, stderr io.Writer) int {
			fs, user := newFlags()
			names, code, ok := c.ParseInterspersed(fs, args, stdout, stderr)
			if !ok {
				return code
			}
			if len(names) != 1 {
				return c.UsageError(stderr, "want exactly one NAME")
			}
			svc := names[0]
			if err := pidlock.ValidName(svc); err != nil {
				return c.UsageError(stderr, err.Error())
			}
			if err := do(svc, *user, stdout); err != nil {
				fmt.Fprintf(stderr, "sole: %s: %v\n", name, err)
				if errors.Is(err, svcmgr.ErrNotInstalled) {
					return cli.ExitNotInstalled
				}
				return cli.ExitFailure
			}
			return cli.ExitOK
		},
	}
}
