package solecmd

import (
	"flag"
	"fmt"
	"io"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// listCmd is `sole list`: every named lock in the lock directories.
var listCmd = &cli.Command{
	Name:  "list",
	Usage: "list [--scope system|user] [--fleet URL] [--json]",
	Help: `List every named lock in the lock directories, with its state, holder and since.

One line a lock, sorted by name, worded as sole status words it; nothing
when there are none. Without --scope both scopes are listed, the system's
first, and the lines of the scope that is not the default one (system for
root, user otherwise) end with "; scope SCOPE".

With --fleet, every fleet lock under the URL's prefix that a node holds
or waits for, as sole status --fleet words it.

Exit status: 0 when the directories (or etcd) were read (even if empty), 4 when one
could not be.`,
	Flags: func() *flag.FlagSet { fs, _ := newListFlags(); return fs },
	Run:   listMain,
}

// listScope lists the locks of a scope (a variable for tests).
var listScope = report.List

type listOpts struct {
	scope string
	fleet fleetFlags
	json  bool
}

func newListFlags() (*flag.FlagSet, *listOpts) {
	o := new(listOpts)
	fs := cli.NewFlagSet("list")
	fs.StringVar(&o.scope, "scope", "", "list only the locks of `system|user` (default: both)")
	o.fleet.register(fs, false)
	fs.BoolVar(&o.json, "json", false, "print a JSON array of the objects sole status --json prints")
	cli.Alias(fs, "j", "json")
	return fs, o
}

func listMain(c *cli.Command, args []string, stdout, stderr io.Writer) int {
	fs, o := newListFlags()
	rest, code, ok := c.ParseInterspersed(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) != 0 {
		return c.UsageError(stderr, fmt.Sprintf("takes no arguments, got %q", rest[0]))
	}
	if code, done := fleetCommand(c, fs, o.fleet, o.scope != "", "--fleet and --scope cannot be used together", stderr,
		func() int { return fleetList(o.fleet, o.json, stdout, stderr) }); done {
		return code
	}
	scopes := []pidlock.Scope{pidlock.ScopeSystem, pidlock.ScopeUser}
	if o.scope != "" {
		s, err := platform.ParseScope(o.scope)
		if err != nil {
			return c.UsageError(stderr, "--scope: "+err.Error())
		}
		scopes = []pidlock.Scope{s}
	}
	// A lock of a scope that `sole status NAME` would not look in says
	// which scope it is in.
	mark := func(pidlock.Scope) string { return "" }
	if o.scope == "" {
		def := platform.DefaultScope()
		mark = func(s pidlock.Scope) string {
			if s == def {
				return ""
			}
			return "; scope " + s.String()
		}
	}
	code = cli.ExitOK
	var all []report.Report
	var text []byte
	for _, s := range scopes {
		rs, err := listScope(s)
		if err != nil {
			fmt.Fprintf(stderr, "sole: list: %s locks: %s\n", s, report.ErrorLine(err))
			code = cli.StatusUnknown
		}
		all = append(all, rs...)
		for _, r := range rs {
			text = append(append(append(text, r.Text()...), mark(s)...), '\n')
		}
	}
	if o.json {
		stdout.Write(report.AppendJSONArray(nil, all))
	} else {
		stdout.Write(text)
	}
	return code
}
