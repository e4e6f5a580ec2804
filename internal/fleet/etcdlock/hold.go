package etcdlock

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/solehq/sole/internal/fleet"
)

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
