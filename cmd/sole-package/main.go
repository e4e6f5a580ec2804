// Command sole-package builds .deb, .rpm and .msi packages of a service
// from the same service description that `sole install` uses. `sole
// package` runs it; it is a program of its own so that the packaging
// libraries (nfpm and what it links) never slow the start of `sole run`.
//
//	sole package deb|rpm|msi [--file sole.yaml] --name NAME --version VERSION --binary PATH
//	        [--arch ARCH] [--maintainer "Name <mail>"] [--description TEXT] [--license ID]
//	        [--config SRC:DEST]... [--env K=V]... [--watchdog DUR --health CMD]
//	        [--run-as USER[:GROUP]] [--workdir DIR] [--env-file FILE] [--restart POLICY]
//	        [--restart-delay DUR] [--start-timeout DUR] [--stop-timeout DUR] [--harden] [--log-dir DIR]
//	        [--fleet URL [--fleet-ttl DUR] [--fleet-cacert FILE] [--fleet-cert FILE --fleet-key FILE]]
//	        [--mode auto|runtime|wrap] [--sole PATH] [--sole-fleet PATH] [--output DIR] [-- ARGS...]
//
// The path of each package built is printed on stdout. Exit codes: 0 built,
// 64 bad command line or configuration, 1 the build failed. See
// docs/packaging.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/packaging"
)

func main() {
	os.Exit(program.Main(os.Args[1:], os.Stdout, os.Stderr))
}

// program is sole-package's command table: a command per format.
var program = &cli.Program{
	Name:        "sole package",
	Summary:     "sole package builds a .deb, .rpm or .msi of a service.",
	Commands:    []*cli.Command{formatCommand("deb", "a Debian package"), formatCommand("rpm", "an RPM package"), formatCommand("msi", "a Windows Installer package")},
	CommandNoun: "format",
	Version:     func() string { return cli.BuildVersion("") },
	Footer:      "Exit codes: 0 built (its path is printed), 64 a bad command line or description, 1 the build failed.\nEvery option is in docs/packaging.md.\n",
}

func formatCommand(format, what string) *cli.Command {
	return &cli.Command{
		Name:  format,
		Usage: format + " [--file sole.yaml] [OPTIONS] [-- ARGS...]",
		Short: "Build " + what + ".",
		Help: `Build ` + what + ` of a service: the program, its systemd unit (or Windows
service), and the scripts that enable, start, restart on upgrade, stop and
clean up. Options given on the command line override those of --file;
ARGS after -- are the program's arguments. The package's path is printed.`,
		Flags: func() *flag.FlagSet { return newFlags(&opts{}) },
		Run: func(c *cli.Command, args []string, stdout, stderr io.Writer) int {
			return build(c, format, args, stdout, stderr)
		},
	}
}

// opts are the command line; set records which options were given.
type opts struct {
	file    string
	cfg     config
	set     map[string]bool
	configs multi
	env     multi
	depends multi
	svc     unit.Options // the service options shared by every front end
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(o *opts) *flag.FlagSet {
	fs := cli.NewFlagSet("package")
	c := &o.cfg
	fs.StringVar(&o.file, "file", "", "read the options from `sole.yaml` (keys as the long options, see docs/packaging.md)")
	fs.StringVar(&c.Name, "name", "", "package and service `NAME`")
	fs.StringVar(&c.Version, "version", "", "upstream `VERSION`")
	fs.StringVar(&c.Release, "release", "", "package revision (default 1)")
	fs.StringVar(&c.Binary, "binary", "", "the program's file `PATH`")
	fs.StringVar(&c.Arch, "arch", "", "target architecture, Go's spelling (default: the binary's)")
	fs.StringVar(&c.Maintainer, "maintainer", "", "`\"Name <mail>\"`")
	fs.StringVar(&c.Description, "description", "", "one-line summary `TEXT`")
	fs.StringVar(&c.License, "license", "", "the program's license, an SPDX `ID`")
	fs.StringVar(&c.Homepage, "homepage", "", "the program's `URL`")
	fs.StringVar(&c.Section, "section", "", "Debian section (default misc)")
	fs.Var(&o.configs, "config", "`SRC:DEST` configuration file kept across upgrades (repeatable)")
	fs.Var(&o.env, "env", "`K=V` for the program's environment (repeatable)")
	fs.Var(&o.depends, "depends", "extra package dependency `DEP` (repeatable)")
	fs.Var(cli.Duration((*time.Duration)(&c.Watchdog)), "watchdog", "systemd watchdog interval `DUR`")
	fs.StringVar(&c.Health, "health", "", "shell `CMD` whose success feeds the watchdog (wrapped programs)")
	o.svc.Register(fs, "/; in an .msi %SystemRoot%\\System32")
	fs.StringVar(&c.Fleet, "fleet", "", "also hold the lock across machines, in etcd at `URL`: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (docs/fleet.md); the service waits for it (--wait) and starts after network-online.target; etcd's user and password: SOLE_FLEET_USER and SOLE_FLEET_PASSWORD in --env-file")
	fs.Var(cli.Duration((*time.Duration)(&c.FleetTTL)), "fleet-ttl", "with --fleet: the lease's time to live, `DUR` (default 10s)")
	fs.StringVar(&c.FleetCACert, "fleet-cacert", "", "with --fleet: verify etcd's certificate with the CA bundle `FILE` on the target (TLS)")
	fs.StringVar(&c.FleetCert, "fleet-cert", "", "with --fleet: the client certificate `FILE` on the target (TLS)")
	fs.StringVar(&c.FleetKey, "fleet-key", "", "with --fleet: the client certificate's key `FILE` on the target (TLS)")
	fs.StringVar(&c.SoleFleet, "sole-fleet", "", "with --fleet: a sole-fleet binary `PATH` for the target, shipped beside sole (default: sole-fleet beside the sole shipped)")
	fs.StringVar(&c.Mode, "mode", "", "auto, runtime (the program is built on sole's runtime.Main) or wrap (run it under sole run) (default auto)")
	fs.StringVar(&c.Sole, "sole", "", "a sole binary for the target, shipped for wrapped programs (default: the sole running this, else one for the target beside sole-package or in $GOPATH/bin/GOOS_GOARCH)")
	fs.BoolVar(&c.User, "user", false, "a per-user service (a user unit enabled for every user) instead of a system one")
	fs.BoolVar(&c.NoStrip, "no-strip", false, "ship ELF binaries with their symbol table")
	fs.StringVar(&c.Sign.Cert, "sign-cert", "", "PEM certificate `FILE`: Authenticode-sign the .exe and .msi")
	fs.StringVar(&c.Sign.Key, "sign-key", "", "PEM private key `FILE` for --sign-cert")
	fs.StringVar(&c.Output, "output", "", "output `DIR` (default dist)")
	return fs
}

func build(c *cli.Command, format string, args []string, stdout, stderr io.Writer) int {
	usageErr := func(msg string) int { return c.UsageError(stderr, cli.OneLine(strings.TrimPrefix(msg, "package: "))) }
	o := &opts{set: map[string]bool{}}
	fs := newFlags(o)
	if code, ok := c.Parse(fs, args, stdout, stderr); !ok {
		return code
	}
	o.set = cli.Given(fs)
	cfg, err := o.merge(fs.Args())
	if err != nil {
		return usageErr(err.Error())
	}
	spec, out, err := cfg.spec()
	if err != nil {
		return usageErr(err.Error())
	}
	if spec.Sign != nil && format != "msi" {
		return usageErr("--sign-cert and --sign-key sign Windows files: they are for msi")
	}
	if spec.Sole == "" {
		spec.Sole = defaultSole(format)
	}
	path, err := packaging.Build(context.Background(), spec, packaging.Format(format), out)
	if err != nil {
		var se *packaging.Error
		if errors.As(err, &se) {
			return usageErr(err.Error())
		}
		fmt.Fprintf(stderr, "%s: %s: %s\n", c.Program().Name, format, cli.OneLine(err.Error()))
		return cli.ExitFailure
	}
	fmt.Fprintln(stdout, path)
	return cli.ExitOK
}

// merge applies the file (if any) and then the options given.
func (o *opts) merge(args []string) (config, error) {
	var cfg config
	if o.file != "" {
		var err error
		if cfg, err = readConfig(o.file); err != nil {
			return cfg, err
		}
	}
	f := o.cfg
	str := func(name string, dst *string, v string) {
		if o.set[name] {
			*dst = v
		}
	}
	str("name", &cfg.Name, f.Name)
	str("version", &cfg.Version, f.Version)
	str("release", &cfg.Release, f.Release)
	str("binary", &cfg.Binary, f.Binary)
	str("arch", &cfg.Arch, f.Arch)
	str("maintainer", &cfg.Maintainer, f.Maintainer)
	str("description", &cfg.Description, f.Description)
	str("license", &cfg.License, f.License)
	str("homepage", &cfg.Homepage, f.Homepage)
	str("section", &cfg.Section, f.Section)
	str("health", &cfg.Health, f.Health)
	str("mode", &cfg.Mode, f.Mode)
	str("sole", &cfg.Sole, f.Sole)
	str("output", &cfg.Output, f.Output)
	str("sign-cert", &cfg.Sign.Cert, f.Sign.Cert)
	str("sign-key", &cfg.Sign.Key, f.Sign.Key)
	if o.set["watchdog"] {
		cfg.Watchdog = f.Watchdog
	}
	v := o.svc
	str("run-as", &cfg.RunAs, v.RunAs)
	str("workdir", &cfg.Workdir, v.Workdir)
	str("env-file", &cfg.EnvFile, v.EnvFile)
	str("restart", &cfg.Restart, v.Restart)
	str("log-dir", &cfg.LogDir, v.LogDir)
	str("fleet", &cfg.Fleet, f.Fleet)
	str("fleet-cacert", &cfg.FleetCACert, f.FleetCACert)
	str("fleet-cert", &cfg.FleetCert, f.FleetCert)
	str("fleet-key", &cfg.FleetKey, f.FleetKey)
	str("sole-fleet", &cfg.SoleFleet, f.SoleFleet)
	if o.set["fleet-ttl"] {
		if time.Duration(f.FleetTTL) < time.Second {
			return cfg, errors.New("--fleet-ttl must be at least 1s: etcd's leases count whole seconds")
		}
		cfg.FleetTTL = f.FleetTTL
	}
	for _, d := range []struct {
		name string
		dst  *duration
		v    time.Duration
	}{{"restart-delay", &cfg.RestartDelay, v.RestartDelay}, {"start-timeout", &cfg.StartTimeout, v.StartTimeout}, {"stop-timeout", &cfg.StopTimeout, v.StopTimeout}} {
		if o.set[d.name] {
			*d.dst = duration(d.v)
		}
	}
	if o.set["harden"] {
		cfg.Harden = v.Harden
	}
	if o.set["user"] {
		cfg.User = f.User
	}
	if o.set["no-strip"] {
		cfg.NoStrip = f.NoStrip
	}
	if len(o.configs) > 0 {
		cfg.Configs = nil
		for _, c := range o.configs {
			src, dest, ok := strings.Cut(c, ":")
			if !ok || src == "" || dest == "" {
				return cfg, fmt.Errorf("--config %q: want SRC:DEST", c)
			}
			cfg.Configs = append(cfg.Configs, configFile{Src: src, Dest: dest})
		}
	}
	if len(o.env) > 0 {
		cfg.Env = o.env
	}
	if len(o.depends) > 0 {
		cfg.Depends = o.depends
	}
	if len(args) > 0 {
		cfg.Args = args
	}
	return cfg, nil
}

// defaultSole is the sole binary shipped for a wrapped program when none
// is given: the one that ran `sole package` (it says so in
// SOLE_PACKAGE_SOLE), else a sole beside this program, else sole on PATH.
// The packager checks that it suits the target.
func defaultSole(format string) string {
	if format == "msi" {
		return ""
	}
	if s := os.Getenv("SOLE_PACKAGE_SOLE"); s != "" {
		return s
	}
	if exe, err := os.Executable(); err == nil {
		s := filepath.Join(filepath.Dir(exe), "sole")
		if runtime.GOOS == "windows" {
			s += ".exe"
		}
		if _, err := os.Stat(s); err == nil {
			return s
		}
	}
	return ""
}
