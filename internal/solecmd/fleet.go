package solecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fleet"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/internal/sdnotify"
	"github.com/solehq/sole/pidlock"
)

// fleetBackend is the fleet lock's implementation: nil in sole, which
// execs sole-fleet (execFleet) for the commands that use the fleet.
var fleetBackend fleet.Backend

// EnvFencingToken is the variable that gives COMMAND its fencing token.
const EnvFencingToken = "SOLE_FENCING_TOKEN"

// fleetFlags are the options that select a fleet lock: fleet.Options as
// flags.
type fleetFlags struct {
	fleet.Options
}

func (f *fleetFlags) register(fs *flag.FlagSet, withTTL bool) {
	var set bool // stringFlag refuses an empty value; what was given is in the string
	fs.Var(&stringFlag{&f.URL, &set}, "fleet", "also hold the lock across machines, in etcd at `URL`: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (docs/fleet.md)")
	if withTTL {
		f.TTL = fleet.DefaultTTL
		fs.Var(cli.Duration(&f.TTL), "fleet-ttl", "with --fleet: the lease's time to live, `DUR` (default 10s; etcd raises it to its minimum)")
	}
	fs.Var(&stringFlag{&f.CACert, &set}, "fleet-cacert", "with --fleet: verify etcd's certificate with the CA bundle `FILE` (TLS)")
	fs.Var(&stringFlag{&f.Cert, &set}, "fleet-cert", "with --fleet: the client certificate `FILE` (TLS)")
	fs.Var(&stringFlag{&f.Key, &set}, "fleet-key", "with --fleet: the client certificate's key `FILE` (TLS)")
}

// check checks the options (fleet.Options.Check) as a usage error.
func (f *fleetFlags) check(set map[string]bool) error {
	if err := f.Check(func(n string) bool { return set[n] }); err != nil {
		return errUsage(err.Error())
	}
	return nil
}

// config is the fleet.Config of lock name; the user and password come
// from sole's environment, or from env (COMMAND's, with --env-file's
// variables) when it is not nil.
func (f *fleetFlags) config(name string, env []string) fleet.Config {
	getenv := os.Getenv
	if env != nil {
		getenv = func(k string) string {
			v := ""
			for _, kv := range env {
				if rest, ok := strings.CutPrefix(kv, k+"="); ok {
					v = rest
				}
			}
			return v
		}
	}
	return f.Config(name, getenv)
}

// args are the options again, for a service definition's command line.
func (f *fleetFlags) args() []string { return f.Args() }

// acquireFleet takes the fleet lock once the local lock l is held; wait
// is how long it may wait (with --wait; 0 is forever). It reports a
// failure and returns its exit code.
func acquireFleet(l *pidlock.Lock, o *runOpts, wait time.Duration, sigs <-chan os.Signal, stderr io.Writer) (fleet.Hold, int) {
	c := o.fleet.config(o.name, o.env)
	ctx, stop := signalContext(sigs)
	defer stop()
	if o.wait && wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	notifySocket := os.Getenv("NOTIFY_SOCKET")
	var mu sync.Mutex
	last := ""
	standby := func(h *fleet.Holder, err error) {
		// While it stands by: one line per change (a new holder, etcd
		// lost or back), systemd's status line, and more time for the
		// start.
		var line string
		if h != nil {
			line = "standing by: " + c.Name + " is held by " + h.String()
		} else {
			line = "standing by: " + cli.OneLine(unreachableLine(err)) + "; retrying"
		}
		mu.Lock()
		defer mu.Unlock()
		if line == last {
			return
		}
		last = line
		if !o.quiet {
			fmt.Fprintf(stderr, "sole: %s\n", line)
		}
		_ = sdnotify.Send(notifySocket, sdnotify.Status(line), sdnotify.ExtendTimeout(30*time.Second))
	}
	if notifySocket != "" && o.wait {
		// Keep extending the start timeout while standing by.
		stop := sdnotify.Extending(10*time.Second, 30*time.Second, func(line string) { _ = sdnotify.Send(notifySocket, line) })
		defer stop()
	}
	h, err := fleetBackend.Acquire(ctx, c, o.wait, standby)
	if err == nil {
		if h.TTL() > c.TTL {
			fmt.Fprintf(stderr, "sole: %s: etcd raised --fleet-ttl %v to its minimum, %v\n", c.Name, c.TTL, h.TTL())
		}
		return h, 0
	}
	var ie errInterrupted
	var le *fleet.LockedError
	switch {
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "sole: %s: gave up waiting for the fleet lock: %v\n", c.Name, ie)
		return nil, cli.ExitSignal + signalNumber(ie.sig)
	case errors.As(err, &le) || o.wait && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, fleet.ErrUnreachable):
		who := "another node"
		if le != nil && le.Holder != nil {
			who = le.Holder.String()
		} else if le == nil {
			// The wait ran out: who holds it now?
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if st, err := fleetBackend.Status(sctx, c); err == nil && st.Holder != nil {
				who = st.Holder.String()
			}
			cancel()
		}
		switch {
		case o.quiet:
		case o.wait:
			fmt.Fprintf(stderr, "sole: %s is still running after %v, across the fleet (%s)\n", c.Name, o.timeout, who)
		default:
			fmt.Fprintf(stderr, "sole: %s is already running, across the fleet (%s)\n", c.Name, who)
		}
		return nil, o.conflict
	case errors.Is(err, fleet.ErrUnreachable):
		if o.wait && ctx.Err() != nil {
			fmt.Fprintf(stderr, "sole: %s: gave up after %v: %s\n", c.Name, o.timeout, cli.OneLine(unreachableLine(err)))
		} else {
			fmt.Fprintf(stderr, "sole: %s: %s\n", c.Name, cli.OneLine(unreachableLine(err)))
		}
		return nil, cli.ExitUnavailable
	}
	fmt.Fprintf(stderr, "sole: %s: fleet lock: %s\n", c.Name, cli.OneLine(err.Error()))
	return nil, cli.ExitFailure
}

// unreachableLine is the UnreachableError inside err.
func unreachableLine(err error) string {
	var ue *fleet.UnreachableError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return err.Error()
}

// fencingEnv adds COMMAND's fencing token to env, and takes etcd's user
// and password out of it: they are sole's, not COMMAND's.
func fencingEnv(env []string, h fleet.Hold) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, EnvFencingToken+"=") || strings.HasPrefix(kv, fleet.EnvUser+"=") || strings.HasPrefix(kv, fleet.EnvPassword+"=")
	})
	return append(env, EnvFencingToken+"="+strconv.FormatInt(h.Token(), 10))
}

// fleetCommand is the fleet part of sole status and sole list: it checks
// the fleet options and, with --fleet, refuses the options given with it
// that make no sense there (conflict, saying refused), or runs the
// command: in sole-fleet, which sole execs, or there with run. done is
// false without --fleet: the command goes on with its local locks.
func fleetCommand(c *cli.Command, fs *flag.FlagSet, f fleetFlags, conflict bool, refused string, stderr io.Writer, run func() int) (code int, done bool) {
	if err := f.check(cli.Given(fs)); err != nil {
		return c.UsageError(stderr, err.Error()), true
	}
	switch {
	case f.URL == "":
		return 0, false
	case conflict:
		return c.UsageError(stderr, refused), true
	case fleetBackend == nil:
		return execFleet(stderr), true
	}
	return run(), true
}

// fleetStatus is sole status --fleet: etcd's view of the fleet lock name.
func fleetStatus(f fleetFlags, name string, asJSON bool, stdout, stderr io.Writer) int {
	if err := pidlock.ValidName(name); err != nil {
		fmt.Fprintf(stderr, "sole: %v\n", err)
		return cli.ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := fleetBackend.Status(ctx, f.config(name, nil))
	st.Name = name
	r := report.Fleet{Status: st, Err: err}
	if asJSON {
		stdout.Write(append(r.AppendJSON(nil), '\n'))
	}
	if err != nil {
		fmt.Fprintf(stderr, "sole: %s: %s\n", name, cli.OneLine(unreachableLine(err)))
	} else if !asJSON {
		fmt.Fprintln(stdout, r.Text())
	}
	return r.Code()
}

// fleetList is sole list --fleet: every fleet lock under the prefix that
// a node holds.
func fleetList(f fleetFlags, asJSON bool, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sts, err := fleetBackend.List(ctx, f.config("", nil))
	if err != nil {
		fmt.Fprintf(stderr, "sole: list: %s\n", cli.OneLine(unreachableLine(err)))
		return cli.StatusUnknown
	}
	var b []byte
	if asJSON && len(sts) == 0 {
		b = []byte("[]\n")
	} else if asJSON {
		b = append(b, "[\n"...)
	}
	for i, st := range sts {
		r := report.Fleet{Status: st}
		if !asJSON {
			b = append(append(b, r.Text()...), '\n')
			continue
		}
		b = r.AppendJSON(b)
		if i < len(sts)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	if asJSON && len(sts) > 0 {
		b = append(b, "]\n"...)
	}
	stdout.Write(b)
	return cli.ExitOK
}
