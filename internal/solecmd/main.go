// Package solecmd is the sole command: cmd/sole, and cmd/sole-fleet,
// which is the same command with the fleet lock linked in.
//
//	sole run [--name NAME | --lock PATH] [--scope system|user] [--wait [--timeout DUR]]
//	         [--replace [--stop-timeout DUR]] [--no-inherit] [--quiet] [--conflict-exit-code N]
//	         -- COMMAND [ARGS...]
//	sole status [NAME | --name NAME | --lock PATH] [--scope system|user] [--json]
//	sole list [--scope system|user] [--json]
//	sole install | uninstall | start | stop | restart ...
//	sole package deb|rpm|msi ...
//	sole completion bash|zsh|fish
//	sole help [COMMAND]
//	sole --version | -V
//
// See docs/cli.md and sole(1) (docs/man/sole.1) for every option and exit
// code.
package solecmd

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/solehq/sole/internal/fleet"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// version is set at link time with
// -ldflags "-X github.com/solehq/sole/internal/solecmd.version=v1.2.3"; when
// empty the module version from the build information is used.
var version = ""

// soleProgram is sole's command table: the one source of its help, usage
// errors, completion and man page (docs/man/sole.1).
var soleProgram = &cli.Program{
	Name:     "sole",
	Summary:  "sole runs a program as exactly one instance.",
	Commands: []*cli.Command{runCmd, statusCmd, listCmd, installCmd, uninstallCmd, startCmd, stopCmd, restartCmd, packageCmd, completionCmd, completeCmd, guardCmd},
	Version:  func() string { return cli.BuildVersion(version) },
	Footer:   "Exit codes are listed in docs/cli.md and sole(1).\n",
}

// Main runs the sole command with args (os.Args[1:]) and returns its exit
// code. fleet is the fleet lock's implementation: nil in sole, which execs
// sole-fleet for the commands that need it, so that every local sole run
// does not pay for etcd's client.
func Main(args []string, stdout, stderr io.Writer, fleet fleet.Backend) int {
	fleetBackend = fleet
	rememberArgs(args)
	takeGuardExe()
	return soleProgram.Main(args, stdout, stderr)
}

// lockFlags are the options that select a lock.
type lockFlags struct {
	name, path       string
	nameSet, pathSet bool
	scope            string
}

func (lf *lockFlags) register(fs *flag.FlagSet) {
	fs.Var(&stringFlag{&lf.name, &lf.nameSet}, "name", "lock `NAME`, in the scope's directory (default: the command's base name)")
	fs.Var(&stringFlag{&lf.path, &lf.pathSet}, "lock", "lock file `PATH` instead of a name")
	fs.StringVar(&lf.scope, "scope", "", "where a named lock lives: `system|user` (default: system for root, user otherwise)")
	cli.Alias(fs, "l", "lock")
}

// stringFlag is a string option that remembers it was given, so that an
// empty value (--lock "") is an error instead of the default.
type stringFlag struct {
	p   *string
	set *bool
}

func (f *stringFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *stringFlag) Set(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*f.p, *f.set = v, true
	return nil
}

// open returns the lock the flags select; defaultName is used when neither
// --name nor --lock is given.
func (lf *lockFlags) open(defaultName string, opts ...pidlock.Option) (*pidlock.Lock, error) {
	if lf.nameSet && lf.pathSet {
		return nil, errUsage("--name and --lock cannot be used together")
	}
	if lf.scope != "" {
		s, err := platform.ParseScope(lf.scope)
		if err != nil {
			return nil, errUsage(err.Error())
		}
		opts = append(opts, pidlock.WithScope(s))
	}
	if lf.path != "" {
		return pidlock.New(lf.path, opts...)
	}
	name := lf.name
	if !lf.nameSet {
		name = defaultName
		if err := pidlock.ValidName(name); err != nil {
			return nil, errUsage(fmt.Sprintf("cannot name the lock after the command: %v; give --name NAME", err))
		}
	}
	if err := pidlock.ValidName(name); err != nil {
		return nil, errUsage(err.Error())
	}
	return pidlock.Named(name, opts...)
}

// usage errors found after flag parsing.
type usageErr string

func (e usageErr) Error() string { return string(e) }

func errUsage(msg string) error { return usageErr(msg) }
