// Package etcdlock is the fleet lock on etcd, through its official client
// (go.etcd.io/etcd/client/v3) and its concurrency package: a lease that
// this process keeps alive itself, and a concurrency.Mutex on that lease
// under PREFIX/sole/NAME/lock/.
//
// The lease is kept alive by a loop of its own (KeepAliveOnce, one at a
// time) rather than by the client's KeepAlive channel, because the
// deadline needs the send time of each acknowledged keepalive: the server
// renews the lease for TTL from when it receives the keepalive, which is
// after it was sent, so send time + TTL is a time before which the lease
// cannot expire, on this process's clock. The Hold's Lost channel closes
// a margin before that, whether or not the client library has noticed
// anything (its Session.Done fires only after the server expired the
// lease).
package etcdlock

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/solehq/sole/internal/fleet"
)

// Backend is the fleet.Backend on etcd.
type Backend struct{}

var _ fleet.Backend = Backend{}

// callTimeout bounds each request that is not a wait: an etcd that does
// not answer within it is unreachable.
const callTimeout = 5 * time.Second

// record is the value of a contender's who key.
type record struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (c *fleetConfig) record(since time.Time) string {
	b, _ := json.Marshal(record{Host: c.Host, PID: c.PID, Since: since.UTC().Truncate(time.Millisecond)})
	return string(b)
}

type fleetConfig struct{ fleet.Config }

func defaults(c fleet.Config) *fleetConfig {
	if c.TTL <= 0 {
		c.TTL = fleet.DefaultTTL
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	if c.PID == 0 {
		c.PID = os.Getpid()
	}
	return &fleetConfig{c}
}

// Acquire implements fleet.Backend.
func (Backend) Acquire(ctx context.Context, cfg fleet.Config, wait bool, standby func(*fleet.Holder, error)) (fleet.Hold, error) {
	c := defaults(cfg)
	cli, err := client(c.Config)
	if err != nil {
		return nil, err
	}
	backoff := 100 * time.Millisecond
	for {
		h, err := c.probedAttempt(ctx, cli, wait, standby)
		if err == nil {
			return h, nil
		}
		if !wait || ctx.Err() != nil || !(errors.Is(err, fleet.ErrUnreachable) || errors.Is(err, concurrency.ErrSessionExpired)) {
			if cli != nil {
				cli.Close()
			}
			if ctx.Err() != nil && wait {
				return nil, errors.Join(context.Cause(ctx), err)
			}
			return nil, err
		}
		// Waiting through an outage: try again, with backoff.
		if standby != nil && errors.Is(err, fleet.ErrUnreachable) {
			standby(nil, err)
		}
		select {
		case <-ctx.Done():
			if cli != nil {
				cli.Close()
			}
			return nil, errors.Join(context.Cause(ctx), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// probeDelay is how long an attempt runs before a probe looks at why it
// takes so long: a healthy etcd answers well within it, and pays nothing
// for the probe.
const probeDelay = 200 * time.Millisecond

// probedAttempt is attempt with a probe beside it, once it has run for
// probeDelay: when the probe finds that no endpoint answers, the attempt
// is cancelled and the probe's error, which says why, is returned.
func (c *fleetConfig) probedAttempt(ctx context.Context, cli *clientv3.Client, wait bool, standby func(*fleet.Holder, error)) (*hold, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-actx.Done():
			return
		case <-time.After(probeDelay):
		}
		if err := probe(actx, c.Config); err != nil && actx.Err() == nil {
			cancel(err)
		}
	}()
	h, err := c.attempt(actx, cli, wait, standby)
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(actx); errors.Is(cause, fleet.ErrUnreachable) {
			return nil, cause
		}
	}
	return h, err
}

// attempt grants a lease, starts keeping it alive and takes the mutex.
func (c *fleetConfig) attempt(ctx context.Context, cli *clientv3.Client, wait bool, standby func(*fleet.Holder, error)) (*hold, error) {
	gctx, cancel := context.WithTimeout(ctx, callTimeout)
	sent := time.Now()
	g, err := cli.Grant(gctx, int64(math.Ceil(c.TTL.Seconds())))
	cancel()
	if err != nil {
		return nil, wrapUnreachable(ctx, c.Config, err)
	}
	h := newHold(cli, g.ID, time.Duration(g.TTL)*time.Second, sent)
	fail := func(err error) (*hold, error) {
		h.stop(true)
		return nil, err
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithLease(g.ID))
	if err != nil {
		return fail(wrapUnreachable(ctx, c.Config, err))
	}
	// The session's own keepalives would only lengthen the lease, but
	// the deadline is this process's: only its keepalives renew it.
	sess.Orphan()
	m := concurrency.NewMutex(sess, c.LockPrefix())
	// The record goes beside the first request for the lock, so that
	// etcd commits the two together rather than one after the other.
	who := make(chan error, 1)
	putWho := func(since time.Time) {
		pctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := cli.Put(pctx, c.WhoKey(int64(g.ID)), c.record(since), clientv3.WithLease(g.ID))
		cancel()
		who <- err
	}
	go putWho(time.Now())
	if !wait {
		tctx, cancel := context.WithTimeout(ctx, callTimeout)
		err = m.TryLock(tctx)
		cancel()
		werr := <-who
		if errors.Is(err, concurrency.ErrLocked) {
			st, serr := c.status(ctx, cli)
			h.stop(true)
			return nil, &fleet.LockedError{Name: c.Name, Holder: pick(st.Holder, serr)}
		}
		if err == nil {
			err = werr
		}
		if err == nil {
			// TryLock took the lock in the transaction that created
			// the key: its revision is the key's create revision.
			h.token = m.Header().Revision
		}
	} else {
		stopWatch := c.watchHolder(ctx, cli, int64(g.ID), standby)
		// The lock may be lost while it is waited for (an outage longer
		// than the TTL): the wait then ends, and Acquire starts over.
		lctx, lcancel := context.WithCancelCause(ctx)
		go func() {
			select {
			case <-h.lost:
				lcancel(concurrency.ErrSessionExpired)
			case <-lctx.Done():
			}
		}()
		began := time.Now()
		err = m.Lock(lctx)
		lcancel(nil)
		stopWatch()
		if err != nil && context.Cause(lctx) == concurrency.ErrSessionExpired && ctx.Err() == nil {
			err = concurrency.ErrSessionExpired
		}
		if werr := <-who; err == nil {
			err = werr
		}
		if err == nil {
			// After a wait, the header is a later read's: the token is
			// read back; and the record now says since when it holds
			// the lock.
			if time.Since(began) > 100*time.Millisecond {
				go putWho(time.Now())
			} else {
				who <- nil
			}
			rctx, cancel := context.WithTimeout(ctx, callTimeout)
			r, gerr := cli.Get(rctx, m.Key())
			cancel()
			switch {
			case gerr != nil:
				err = gerr
			case len(r.Kvs) == 0:
				err = concurrency.ErrSessionExpired
			default:
				h.token = r.Kvs[0].CreateRevision
			}
			if werr := <-who; err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		return fail(wrapUnreachable(ctx, c.Config, err))
	}
	select {
	case <-h.lost:
		return fail(concurrency.ErrSessionExpired)
	default:
	}
	return h, nil
}

func pick(h *fleet.Holder, err error) *fleet.Holder {
	if err != nil {
		return nil
	}
	return h
}

// watchHolder calls standby with the holder, and again whenever it
// changes, until the returned function is called.
func (c *fleetConfig) watchHolder(ctx context.Context, cli *clientv3.Client, self int64, standby func(*fleet.Holder, error)) func() {
	if standby == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last int64 = -1
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			// The holder is never this process: once its own key comes
			// first, the lock is its own, and Lock returns.
			if st, err := c.status(ctx, cli); err == nil && st.Holder != nil && st.Holder.Lease != self && st.Holder.Token != last {
				last = st.Holder.Token
				standby(st.Holder, nil)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
