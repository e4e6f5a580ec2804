package solecmd

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/pidlock"
)

var statusCmd = &cli.Command{
	Name:  "status",
	Args:  cli.ArgLock,
	Usage: "status [NAME | --name NAME | --lock PATH] [--scope system|user] [--fleet URL] [--json]",
	Help: `Show who holds a lock, without taking it.

With --fleet, the fleet lock NAME in etcd: the node that holds it (host,
pid, since, fencing token) and the nodes waiting.

Exit status (LSB): 0 running (the holder is printed), 1 not running but a
record is left (its holder died), 3 not running, 4 the status could not be
determined.`,
	Flags: func() *flag.FlagSet { fs, _ := newStatusFlags(); return fs },
	Run:   statusMain,
}

type statusOpts struct {
	lockFlags
	fleet fleetFlags
	json  bool
}

func newStatusFlags() (*flag.FlagSet, *statusOpts) {
	o := new(statusOpts)
	fs := cli.NewFlagSet("status")
	o.register(fs)
	o.fleet.register(fs, false)
	fs.BoolVar(&o.json, "json", false, "print one JSON object: name, lock, state, running, pid, process, since, service (and error); with --fleet: name, state, running, holder, waiters (and error)")
	cli.Alias(fs, "j", "json")
	return fs, o
}

func statusMain(c *cli.Command, args []string, stdout, stderr io.Writer) int {
	fs, o := newStatusFlags()
	rest, code, ok := c.ParseInterspersed(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(rest) > 1:
		return c.UsageError(stderr, "too many arguments")
	case len(rest) == 1 && (o.nameSet || o.pathSet):
		return c.UsageError(stderr, "give NAME or --name or --lock, not both")
	case len(rest) == 1:
		o.name, o.nameSet = rest[0], true
	case !o.nameSet && !o.pathSet:
		return c.UsageError(stderr, "missing NAME (or --name, --lock)")
	}
	if code, done := fleetCommand(c, fs, o.fleet, o.pathSet || o.scope != "", "--fleet takes a NAME, not --lock or --scope", stderr,
		func() int { return fleetStatus(o.fleet, o.name, o.json, stdout, stderr) }); done {
		return code
	}
	l, err := o.open("")
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			return c.UsageError(stderr, ue.Error())
		}
		fmt.Fprintf(stderr, "sole: %s\n", report.ErrorLine(err))
		return cli.StatusUnknown
	}
	// A named lock may belong to an installed service: then its
	// manager's state is reported too.
	var svc *report.Service
	if o.path == "" {
		svc = &report.Service{Name: l.Name(), User: l.Scope() == pidlock.ScopeUser}
	}
	r := report.Gather(l.Name(), l, svc)
	if o.json {
		stdout.Write(append(r.AppendJSON(nil), '\n'))
	}
	if r.Err != nil {
		// The line `sole run` refuses the same lock with.
		fmt.Fprintf(stderr, "sole: %s\n", report.ErrorLine(r.Err))
	} else if !o.json {
		fmt.Fprintln(stdout, r.Text())
	}
	return r.Code()
}
