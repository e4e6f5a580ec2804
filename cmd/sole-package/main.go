// Command sole-package builds .deb, .rpm and .msi packages of a service
// from the same service description that `sole install` uses. `sole
// package` runs it; it is a program of its own so that the packaging
// libraries (nfpm and what it links) never slow the start of `sole run`.
//
//	sole package deb|rpm|msi [--file sole.yaml] --name NAME --version VERSION --binary PATH
//	        [--arch ARCH] [--maintainer "Name <mail>"] [--description TEXT] [--license ID]
//	        [--config SRC:DEST]... [--env K=V]... [--watchdog DUR --health CMD]
//	        [--mode auto|runtime|wrap] [--sole PATH] [--output DIR] [-- ARGS...]
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

	"github.com/solehq/sole/packaging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

const usage = `Usage: sole package deb|rpm|msi [--file sole.yaml] [OPTIONS] [-- ARGS...]

Build a package of a service: the program, its systemd unit (or Windows
service), and the scripts that enable, start, restart on upgrade, stop and
clean up. Options given on the command line override those of --file.
`

// opts are the command line; set records which options were given.
type opts struct {
	file    string
	cfg     config
	set     map[string]bool
	configs multi
	env     multi
	depends multi
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(o *opts) *flag.FlagSet {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
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
	fs.Var((*durationValue)(&c.Watchdog), "watchdog", "systemd watchdog interval `DUR`")
	fs.StringVar(&c.Health, "health", "", "shell `CMD` whose success feeds the watchdog (wrapped programs)")
	fs.Var((*durationValue)(&c.StartTimeout), "start-timeout", "time to report ready `DUR` (default 90s)")
	fs.Var((*durationValue)(&c.StopTimeout), "stop-timeout", "time to exit after SIGTERM `DUR` (default 30s)")
	fs.StringVar(&c.Mode, "mode", "", "auto, runtime (the program is built on sole's runtime.Main) or wrap (run it under sole run) (default auto)")
	fs.StringVar(&c.Sole, "sole", "", "a sole binary for the target, shipped for wrapped programs (default: the sole running this)")
	fs.BoolVar(&c.User, "user", false, "a per-user service (a user unit enabled for every user) instead of a system one")
	fs.BoolVar(&c.NoStrip, "no-strip", false, "ship ELF binaries with their symbol table")
	fs.StringVar(&c.Sign.Cert, "sign-cert", "", "PEM certificate `FILE`: Authenticode-sign the .exe and .msi")
	fs.StringVar(&c.Sign.Key, "sign-key", "", "PEM private key `FILE` for --sign-cert")
	fs.StringVar(&c.Output, "output", "", "output `DIR` (default dist)")
	return fs
}

// durationValue is a flag.Value for a time.Duration field of config.
type durationValue duration

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 10s or 1m30s")
	}
	*d = durationValue(v)
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	format := args[0]
	switch format {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nOptions:")
		newFlags(&opts{}).VisitAll(func(f *flag.Flag) {
			arg, u := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			fmt.Fprintf(stdout, "  --%s%s\n    \t%s\n", f.Name, arg, u)
		})
		return exitOK
	case "deb", "rpm", "msi":
	default:
		return usageErr(stderr, fmt.Sprintf("unknown format %q: want deb, rpm or msi", format))
	}
	o := &opts{set: map[string]bool{}}
	fs := newFlags(o)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return run([]string{"--help"}, stdout, stderr)
		}
		return usageErr(stderr, strings.TrimSpace(err.Error()))
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	cfg, err := o.merge(fs.Args())
	if err != nil {
		return usageErr(stderr, err.Error())
	}
	spec, out, err := cfg.spec()
	if err != nil {
		return usageErr(stderr, err.Error())
	}
	if spec.Sign != nil && format != "msi" {
		return usageErr(stderr, "--sign-cert and --sign-key sign Windows files: they are for msi")
	}
	if spec.Sole == "" {
		spec.Sole = defaultSole(format)
	}
	path, err := packaging.Build(context.Background(), spec, packaging.Format(format), out)
	if err != nil {
		var se *packaging.Error
		if errors.As(err, &se) {
			return usageErr(stderr, err.Error())
		}
		fmt.Fprintf(stderr, "sole: %s\n", oneLine(err.Error()))
		return exitFail
	}
	fmt.Fprintln(stdout, path)
	return exitOK
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
	if o.set["start-timeout"] {
		cfg.StartTimeout = f.StartTimeout
	}
	if o.set["stop-timeout"] {
		cfg.StopTimeout = f.StopTimeout
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

func usageErr(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "sole: package: %s\n", oneLine(strings.TrimPrefix(msg, "package: ")))
	fmt.Fprintln(stderr, "Run 'sole package --help' for usage.")
	return exitUsage
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
