// Package fleet is the runtime's fleet lock on etcd: with
// runtime.Config.Fleet set to New's lock, a service built on package
// runtime runs on one node of many, as `sole run --fleet` runs a command.
//
//	lock, err := fleet.New("etcd://10.0.0.1:2379,10.0.0.2:2379/prod")
//	...
//	runtime.Main(runtime.Config{Name: "reportd", Fleet: lock}, app)
//
// Every node names the same lock (runtime.Config.Name). After its local
// lock, a node takes the fleet lock: it stands by while another node holds
// it (STATUS= says who, EXTEND_TIMEOUT_USEC= keeps systemd waiting), and
// reports READY=1 only once it holds both. The app reads its fencing token
// with runtime.FencingToken, and the processes it starts find it in
// SOLE_FENCING_TOKEN. The lock is a lease that the process keeps alive; a
// margin before it could expire on the server without a keepalive
// acknowledged (a frozen link, a partition), the app's context is
// cancelled with a cause matching runtime.ErrFleetLost and the program
// exits 76, before another node can take over. On a normal stop the lease
// is revoked once the app returned, and a node that stands by takes over at
// once.
//
// The lock is the one of `sole run --fleet` (the same keys in etcd, under
// PREFIX/sole/NAME/), so a service and `sole run --fleet --name NAME`
// exclude each other, and `sole status --fleet URL NAME` shows either. etcd's
// user and password come from the environment: SOLE_FLEET_USER (USER or
// USER:PASSWORD) and SOLE_FLEET_PASSWORD, read when the lock is taken.
//
// This package links etcd's client (some 300 packages); package runtime
// does not, so a program that does not import this package does not pay
// for it.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/solehq/sole/internal/fleet"
	"github.com/solehq/sole/internal/fleet/etcdlock"
	"github.com/solehq/sole/runtime"
)

// DefaultTTL is the lease's time to live when WithTTL is not given: how
// long a node that was cut off or frozen keeps the lock on the server.
const DefaultTTL = fleet.DefaultTTL

// An Option configures New.
type Option func(*fleet.Config)

// WithTTL sets the lease's time to live (default DefaultTTL, at least 1s:
// etcd counts whole seconds, and raises it to its own minimum). A holder
// whose keepalives go unanswered stops its app a margin before the TTL
// runs out: a quarter of it, from 500ms to 5s; a node that stands by takes
// over at most about a TTL after the holder was cut off.
func WithTTL(d time.Duration) Option {
	return func(c *fleet.Config) { c.TTL = d }
}

// WithTLS reaches etcd over TLS: cacert is the CA bundle that verifies
// its certificate, cert and key the client certificate and its key (both
// or neither); they are the files etcdctl calls --cacert, --cert and
// --key, read when the lock is taken.
func WithTLS(cacert, cert, key string) Option {
	return func(c *fleet.Config) { c.CACert, c.Cert, c.Key = cacert, cert, key }
}

// New returns the fleet lock in the etcd at url,
// etcd://HOST:PORT[,HOST:PORT...][/PREFIX], for runtime.Config.Fleet. It
// only checks its arguments; etcd is first reached when the service
// starts.
func New(url string, opts ...Option) (runtime.FleetLock, error) {
	eps, prefix, err := fleet.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	c := fleet.Config{Endpoints: eps, Prefix: prefix, TTL: DefaultTTL}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.TTL < time.Second {
		return nil, fmt.Errorf("fleet: TTL %v: it must be at least 1s: etcd's leases count whole seconds", c.TTL)
	}
	if (c.Cert == "") != (c.Key == "") {
		return nil, errors.New("fleet: the client certificate and its key go together")
	}
	return &lock{cfg: c}, nil
}

// lock is the fleet lock on etcd.
type lock struct{ cfg fleet.Config }

// AcquireFleet implements runtime.FleetLock: it waits for the lock name
// as long as ctx allows, through etcd's outages too (each reported to
// standby, "standing by: etcd at ... cannot be reached: ...; retrying").
// Its errors match runtime.ErrFleetUnreachable when etcd could not be
// reached.
func (l *lock) AcquireFleet(ctx context.Context, name string, standby func(status string)) (runtime.FleetHold, error) {
	if name == "" {
		return nil, errors.New("fleet: the lock needs a name")
	}
	c := l.cfg
	c.Name = name
	c.Credentials(os.Getenv)
	c.Host, _ = os.Hostname()
	c.PID = os.Getpid()
	var report func(*fleet.Holder, error)
	if standby != nil {
		report = func(h *fleet.Holder, err error) {
			switch {
			case h != nil && h.PID == c.PID && h.Host == c.Host:
				// This process's own key, seen as the holder the moment
				// it takes a free lock: no standby.
			case h != nil:
				standby("standing by: " + name + " is held by " + h.String())
			case err != nil:
				standby("standing by: " + err.Error() + "; retrying")
			}
		}
	}
	h, err := etcdlock.Backend{}.Acquire(ctx, c, true, report)
	if err != nil {
		return nil, fmt.Errorf("fleet lock %s: %w", name, err)
	}
	return h, nil
}
