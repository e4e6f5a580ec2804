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
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/solehq/sole/internal/fleet"
)

// Backend is the fleet.Backend on etcd.
type Backend struct{}

var _ fleet.Backend = Backend{}

// callTimeout bounds each request that is not a wait: an etcd that does
// not answer within it is unreachable.
const callTimeout = 5 * time.Second

// connect returns a client of c's etcd, once probe found an endpoint that
// answers.
func connect(ctx context.Context, c fleet.Config) (*clientv3.Client, error) {
	if err := probe(ctx, c); err != nil {
		return nil, err
	}
	return client(c)
}

// probeTimeout bounds the probe of one endpoint.
const probeTimeout = 2 * time.Second

// probe dials every endpoint at once and, with TLS, shakes hands, and
// returns nil as soon as one answers, or an *UnreachableError with the
// first endpoint's error when none does. The client dials lazily and
// waits for a connection until its request times out, saying only
// "context deadline exceeded"; the probe says why (connection refused, no
// route, a certificate refused) and says it at once.
func probe(ctx context.Context, c fleet.Config) error {
	var tc *tls.Config
	if c.CACert != "" || c.Cert != "" {
		var err error
		if tc, err = tlsConfig(c); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	errs := make(chan error, len(c.Endpoints))
	for _, ep := range c.Endpoints {
		go func() {
			d := &net.Dialer{}
			conn, err := d.DialContext(ctx, "tcp", ep)
			if err == nil && tc != nil {
				host, _, _ := net.SplitHostPort(ep)
				t := tc.Clone()
				t.ServerName = host
				t.NextProtos = []string{"h2"}
				tconn := tls.Client(conn, t)
				err = tconn.HandshakeContext(ctx)
				conn = tconn
			}
			if err == nil {
				err = speaksHTTP2(ctx, conn, tc != nil)
			}
			if conn != nil {
				conn.Close()
			}
			errs <- err
		}()
	}
	var first error
	for range c.Endpoints {
		err := <-errs
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return &fleet.UnreachableError{Endpoints: c.Endpoints, Err: first}
}

// speaksHTTP2 sends HTTP/2's client preface and an empty SETTINGS frame,
// and checks that the server's first frame is its SETTINGS, as etcd's
// gRPC server sends at once. Over TLS, this is also where a server that
// refuses the client's certificate says so (TLS 1.3 reports it after the
// handshake).
func speaksHTTP2(ctx context.Context, conn net.Conn, overTLS bool) error {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	if _, err := io.WriteString(conn, preface); err != nil {
		return err
	}
	var hdr [9]byte
	_, err := io.ReadFull(conn, hdr[:])
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s accepted the connection but did not answer as etcd does (gRPC over HTTP/2) within %v", conn.RemoteAddr(), probeTimeout)
	case err != nil && !overTLS && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset")):
		return fmt.Errorf("the server closed the connection: is it TLS? give --fleet-cacert (%w)", err)
	case err != nil:
		return err
	case hdr[3] != 0x4:
		if !overTLS && hdr[0] == 0x15 {
			return errors.New("the server speaks TLS: give --fleet-cacert")
		}
		return errors.New("the server does not speak etcd's protocol (gRPC over HTTP/2)")
	}
	return nil
}

// dialed is the client that Dial makes, for the call that follows.
var dialed struct {
	sync.Mutex
	key     string
	pending chan struct{} // closed once cli is set
	cli     *clientv3.Client
}

// dialKey says which Config a dialed client is for.
func dialKey(c fleet.Config) string {
	return fmt.Sprintf("%q", []string{strings.Join(c.Endpoints, ","), c.CACert, c.Cert, c.Key, c.User, c.Password})
}

// Dial implements fleet.Backend: even the client is made in the
// background (a gRPC client takes a millisecond of work to set up).
func (Backend) Dial(cfg fleet.Config) {
	c := defaults(cfg)
	ch := make(chan struct{})
	dialed.Lock()
	old := dialed.cli
	dialed.key, dialed.pending, dialed.cli = dialKey(c.Config), ch, nil
	dialed.Unlock()
	if old != nil {
		old.Close()
	}
	go func() {
		defer close(ch)
		cli, err := newClient(c.Config)
		if err != nil {
			return
		}
		cli.ActiveConnection().Connect()
		dialed.Lock()
		dialed.cli = cli
		dialed.Unlock()
	}()
}

// client returns the client Dial made for c, or a new one.
func client(c fleet.Config) (*clientv3.Client, error) {
	dialed.Lock()
	pending, match := dialed.pending, dialed.key == dialKey(c)
	dialed.Unlock()
	if pending != nil && match {
		<-pending
		dialed.Lock()
		cli := dialed.cli
		if dialed.pending == pending {
			dialed.cli, dialed.pending = nil, nil
		}
		dialed.Unlock()
		if cli != nil {
			return cli, nil
		}
	}
	return newClient(c)
}

// newClient returns a client of c's etcd. The client dials lazily.
func newClient(c fleet.Config) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:            c.Endpoints,
		DialTimeout:          callTimeout,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		Username:             c.User,
		Password:             c.Password,
		// The client's own log lines ("retrying of unary invoker
		// failed") would go to COMMAND's stderr: sole says what matters
		// in its own lines.
		Logger: zap.NewNop(),
	}
	if c.CACert != "" || c.Cert != "" {
		t, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	return clientv3.New(cfg)
}

// tlsConfig is etcdctl's --cacert, --cert and --key.
func tlsConfig(c fleet.Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("--fleet-cacert: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--fleet-cacert: %s: no PEM certificate in it", c.CACert)
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return nil, errors.New("--fleet-cert and --fleet-key go together")
	}
	if c.Cert != "" {
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("--fleet-cert/--fleet-key: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// unreachable says whether err means etcd did not answer (rather than
// answered no).
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "Unavailable") || strings.Contains(s, "connection refused") ||
		strings.Contains(s, "DeadlineExceeded") || strings.Contains(s, "context deadline exceeded")
}

// wrapUnreachable makes err an *UnreachableError when it says that etcd
// did not answer in time, but not when ctx, the caller's, ended: then the
// caller gave up, and etcd is not to blame.
func wrapUnreachable(ctx context.Context, c fleet.Config, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if unreachable(err) {
		return &fleet.UnreachableError{Endpoints: c.Endpoints, Err: err}
	}
	return err
}

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

// Status implements fleet.Backend.
func (Backend) Status(ctx context.Context, cfg fleet.Config) (fleet.Status, error) {
	c := defaults(cfg)
	cli, err := connect(ctx, c.Config)
	if err != nil {
		return fleet.Status{}, err
	}
	defer cli.Close()
	return c.status(ctx, cli)
}

// status reads the contenders of c.Name: the first by create revision
// holds the lock.
func (c *fleetConfig) status(ctx context.Context, cli *clientv3.Client) (fleet.Status, error) {
	st := fleet.Status{Name: c.Name, Waiters: []fleet.Holder{}}
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	locks, err := cli.Get(sctx, c.LockPrefix()+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return st, wrapUnreachable(ctx, c.Config, err)
	}
	who, err := cli.Get(sctx, c.WhoPrefix(), clientv3.WithPrefix())
	if err != nil {
		return st, wrapUnreachable(ctx, c.Config, err)
	}
	records := map[int64]record{}
	for _, kv := range who.Kvs {
		var r record
		if json.Unmarshal(kv.Value, &r) == nil {
			records[kv.Lease] = r
		}
	}
	for i, kv := range locks.Kvs {
		r := records[kv.Lease]
		h := fleet.Holder{Host: r.Host, PID: r.PID, Since: r.Since, Token: kv.CreateRevision, Lease: kv.Lease}
		if i == 0 {
			st.Holder = &h
		} else {
			st.Waiters = append(st.Waiters, h)
		}
	}
	return st, nil
}

// List implements fleet.Backend.
func (Backend) List(ctx context.Context, cfg fleet.Config) ([]fleet.Status, error) {
	c := defaults(cfg)
	cli, err := connect(ctx, c.Config)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	r, err := cli.Get(lctx, c.NamesPrefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return nil, wrapUnreachable(ctx, c.Config, err)
	}
	var names []string
	seen := map[string]bool{}
	for _, kv := range r.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), c.NamesPrefix())
		name, kind, ok := strings.Cut(rest, "/")
		if ok && strings.HasPrefix(kind, "lock/") && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	var out []fleet.Status
	for _, n := range names {
		nc := *c
		nc.Name = n
		st, err := nc.status(ctx, cli)
		if err != nil {
			return nil, err
		}
		if st.Holder != nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// hold is a lease kept alive by this process, and the lock on it.
type hold struct {
	cli   *clientv3.Client
	id    clientv3.LeaseID
	ttl   time.Duration
	token int64

	mu     sync.Mutex
	expiry time.Time // send time of the last acknowledged keepalive + ttl

	lost     chan struct{} // closed at expiry - margin, or when the lease is gone
	lostOnce sync.Once
	done     chan struct{} // closed by stop
	stopped  chan struct{} // closed when the keepalive loop returns
	stopOnce sync.Once
}

func newHold(cli *clientv3.Client, id clientv3.LeaseID, ttl time.Duration, sent time.Time) *hold {
	h := &hold{cli: cli, id: id, ttl: ttl, expiry: sent.Add(ttl),
		lost: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
	go h.keepAlive()
	return h
}

func (h *hold) Token() int64          { return h.token }
func (h *hold) TTL() time.Duration    { return h.ttl }
func (h *hold) Lost() <-chan struct{} { return h.lost }

func (h *hold) Expiry() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.expiry
}

func (h *hold) lose() { h.lostOnce.Do(func() { close(h.lost) }) }

// keepAlive sends a keepalive every TTL/3 (sooner after one that failed)
// and moves the expiry to its send time + TTL when it is acknowledged. It
// closes lost when the margin before the expiry is reached first, or when
// the server says the lease is gone.
func (h *hold) keepAlive() {
	defer close(h.stopped)
	margin := fleet.Margin(h.ttl)
	interval := h.ttl / 3
	type ack struct {
		sent time.Time
		ttl  int64
		err  error
	}
	acks := make(chan ack, 1)
	next := time.NewTimer(interval)
	defer next.Stop()
	deadline := time.NewTimer(time.Until(h.Expiry().Add(-margin)))
	defer deadline.Stop()
	inflight := false
	for {
		select {
		case <-h.done:
			return
		case <-deadline.C:
			h.lose()
			return
		case <-next.C:
			if inflight {
				next.Reset(interval / 4)
				continue
			}
			inflight = true
			go func() {
				// One keepalive at a time, each given until the next is
				// due: over a link that hangs, it times out rather than
				// piling up.
				sent := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), interval)
				r, err := h.cli.KeepAliveOnce(ctx, h.id)
				cancel()
				a := ack{sent: sent, err: err}
				if err == nil {
					a.ttl = r.TTL
				}
				acks <- a
			}()
		case a := <-acks:
			inflight = false
			switch {
			case a.err == nil && a.ttl > 0:
				exp := a.sent.Add(time.Duration(a.ttl) * time.Second)
				h.mu.Lock()
				if exp.After(h.expiry) {
					h.expiry = exp
				}
				e := h.expiry
				h.mu.Unlock()
				deadline.Reset(time.Until(e.Add(-margin)))
				next.Reset(time.Until(a.sent.Add(interval)))
			case a.err == nil || isLeaseGone(a.err):
				// The server says the lease is gone (TTL 0 or not
				// found): the lock is lost now.
				h.lose()
				return
			default:
				// No answer: try again soon, until the deadline.
				next.Reset(min(interval/4, 250*time.Millisecond))
			}
		}
	}
}

func isLeaseGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), "requested lease not found")
}

// stop ends the keepalive loop and, with revoke, revokes the lease (which
// deletes the lock's keys). The client stays open: Acquire may try again
// on it.
func (h *hold) stop(revoke bool) error {
	var err error
	h.stopOnce.Do(func() {
		close(h.done)
		<-h.stopped
		if revoke {
			// A lock lost to an etcd that does not answer is not held up
			// for long: the lease expires anyway.
			timeout := callTimeout
			select {
			case <-h.lost:
				timeout = time.Second
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			_, err = h.cli.Revoke(ctx, h.id)
			cancel()
			if isLeaseGone(err) {
				err = nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("revoking lease %s: %w", strconv.FormatInt(int64(h.id), 16), err)
	}
	return nil
}

// Release implements fleet.Hold: it revokes the lease and closes the
// client.
func (h *hold) Release() error {
	err := h.stop(true)
	h.cli.Close()
	return err
}
