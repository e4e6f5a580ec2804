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

// fleetProgram is the program that links the fleet lock.
const fleetProgram = "sole-fleet"

// EnvFencingToken is the variable that gives COMMAND its fencing token.
const EnvFencingToken = "SOLE_FENCING_TOKEN"

// fleetFlags are the options that select a fleet lock.
type fleetFlags struct {
	url               string
	ttl               time.Duration
	cacert, cert, key string
}

func (f *fleetFlags) register(fs *flag.FlagSet, withTTL bool) {
	var set bool // stringFlag refuses an empty value; what was given is in the string
	fs.Var(&stringFlag{&f.url, &set}, "fleet", "also hold the lock across machines, in etcd at `URL`: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (docs/fleet.md)")
	if withTTL {
		f.ttl = fleet.DefaultTTL
		fs.Var(cli.Duration(&f.ttl), "fleet-ttl", "with --fleet: the lease's time to live, `DUR` (default 10s; etcd raises it to its minimum)")
	}
	fs.Var(&stringFlag{&f.cacert, &set}, "fleet-cacert", "with --fleet: verify etcd's certificate with the CA bundle `FILE` (TLS)")
	fs.Var(&stringFlag{&f.cert, &set}, "fleet-cert", "with --fleet: the client certificate `FILE` (TLS)")
	fs.Var(&stringFlag{&f.key, &set}, "fleet-key", "with --fleet: the client certificate's key `FILE` (TLS)")
}

// check returns a usage error for fleet options given without --fleet.
func (f *fleetFlags) check(set map[string]bool) error {
	if f.url != "" {
		if _, _, err := fleet.ParseURL(f.url); err != nil {
			return errUsage("--fleet " + err.Error())
		}
		if set["fleet-ttl"] && f.ttl < time.Second {
			return errUsage("--fleet-ttl must be at least 1s: etcd's leases count whole seconds")
		}
		if (f.cert == "") != (f.key == "") {
			return errUsage("--fleet-cert and --fleet-key go together")
		}
		return nil
	}
	for _, n := range []string{"fleet-ttl", "fleet-cacert", "fleet-cert", "fleet-key"} {
		if set[n] {
			return errUsage("--" + n + " needs --fleet")
		}
	}
	return nil
}

// config is the fleet.Config of lock name.
func (f *fleetFlags) config(name string) fleet.Config {
	eps, prefix, _ := fleet.ParseURL(f.url)
	c := fleet.Config{Endpoints: eps, Prefix: prefix, Name: name, TTL: f.ttl,
		CACert: f.cacert, Cert: f.cert, Key: f.key}
	c.Credentials(os.Getenv)
	return c
}

// args are the options again, for a service definition's command line.
func (f *fleetFlags) args() []string {
	if f.url == "" {
		return nil
	}
	a := []string{"--fleet", f.url}
	if f.ttl != 0 && f.ttl != fleet.DefaultTTL {
		a = append(a, "--fleet-ttl", f.ttl.String())
	}
	for _, o := range []struct{ name, v string }{{"--fleet-cacert", f.cacert}, {"--fleet-cert", f.cert}, {"--fleet-key", f.key}} {
		if o.v != "" {
			a = append(a, o.name, o.v)
		}
	}
	return a
}

// acquireFleet takes the fleet lock once the local lock l is held; wait
// is how long it may wait (with --wait; 0 is forever). It reports a
// failure and returns its exit code.
func acquireFleet(l *pidlock.Lock, o *runOpts, wait time.Duration, sigs <-chan os.Signal, stderr io.Writer) (fleet.Hold, int) {
	c := o.fleet.config(o.name)
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
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					_ = sdnotify.Send(notifySocket, sdnotify.ExtendTimeout(30*time.Second))
				}
			}
		}()
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

// fencingEnv adds COMMAND's fencing token to env.
func fencingEnv(env []string, h fleet.Hold) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, EnvFencingToken+"=") })
	return append(env, EnvFencingToken+"="+strconv.FormatInt(h.Token(), 10))
}

// releaseFleet releases the fleet lock h (if any), once COMMAND is gone.
func releaseFleet(name string, h fleet.Hold, stderr io.Writer) {
	if h == nil {
		return
	}
	if err := h.Release(); err != nil {
		fmt.Fprintf(stderr, "sole: %s: warning: %s; the lock is free when the lease expires\n", name, cli.OneLine(err.Error()))
	}
}

// fleetStatus is sole status --fleet: etcd's view of the fleet lock name.
func fleetStatus(f fleetFlags, name string, asJSON bool, stdout, stderr io.Writer) int {
	if err := pidlock.ValidName(name); err != nil {
		fmt.Fprintf(stderr, "sole: %v\n", err)
		return cli.ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := fleetBackend.Status(ctx, f.config(name))
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
	sts, err := fleetBackend.List(ctx, f.config(""))
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

// fleetLost reports whether h is lost, or past the time its guard would
// kill COMMAND.
func fleetLost(h fleet.Hold) bool {
	select {
	case <-h.Lost():
		return true
	default:
	}
	return !time.Now().Before(h.Expiry().Add(-fleet.Margin(h.TTL()) / 2))
}
