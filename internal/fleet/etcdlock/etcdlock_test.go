package etcdlock

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/solehq/sole/internal/etcdtest"
	"github.com/solehq/sole/internal/fleet"
)

func config(c *etcdtest.Cluster, endpoints []string, ttl time.Duration) fleet.Config {
	return fleet.Config{Endpoints: endpoints, Prefix: "t", Name: "job", TTL: ttl}
}

// TestDeadlineBeforeServerExpiry: the holder's link freezes. Lost closes
// while the lease is still alive on the server, and the server expires
// the lease only after the Expiry the holder computed: the holder's
// deadline is a safe bound, on a real etcd.
func TestDeadlineBeforeServerExpiry(t *testing.T) {
	c := etcdtest.Start(t, 1)
	p := etcdtest.StartProxy(t, c.Members[0].ClientAddr)
	ctx := context.Background()
	h, err := Backend{}.Acquire(ctx, config(c, []string{p.Addr()}, 2*time.Second), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	lease := clientv3.LeaseID(h.(*hold).id)
	direct, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()

	// The keepalives move the expiry on.
	first := h.Expiry()
	time.Sleep(1500 * time.Millisecond)
	if !h.Expiry().After(first) {
		t.Fatalf("expiry did not move: %v then %v", first, h.Expiry())
	}

	p.Freeze()
	frozen := time.Now()
	select {
	case <-h.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("Lost did not close within 5 s of the freeze")
	}
	lost := time.Now()
	exp := h.Expiry()
	if !lost.Before(exp) || exp.Sub(lost) < fleet.Margin(2*time.Second)-50*time.Millisecond {
		t.Errorf("Lost at %v, expiry %v: want the margin before it", lost.Sub(frozen), exp.Sub(frozen))
	}
	// TTL counts whole seconds left, rounded down: 0 is alive, -1 gone.
	r, err := direct.TimeToLive(ctx, lease)
	if err != nil || r.TTL < 0 {
		t.Fatalf("when Lost closed, the server's lease: TTL %d, %v; want it still alive", r.TTL, err)
	}
	// Now wait for the server to expire it.
	for {
		r, err := direct.TimeToLive(ctx, lease)
		if err != nil {
			t.Fatal(err)
		}
		if r.TTL < 0 {
			break
		}
		if time.Since(frozen) > 10*time.Second {
			t.Fatalf("the lease is still alive 10 s after the freeze")
		}
		time.Sleep(20 * time.Millisecond)
	}
	expired := time.Now()
	if expired.Before(exp) {
		t.Errorf("the server expired the lease %v before the holder's expiry", exp.Sub(expired))
	}
	t.Logf("after the freeze: Lost %v, holder's expiry %v, server's expiry seen %v",
		lost.Sub(frozen).Round(time.Millisecond), exp.Sub(frozen).Round(time.Millisecond), expired.Sub(frozen).Round(time.Millisecond))
	p.Thaw()
}

// TestLeaseRevoked: a lease revoked behind the holder's back (an
// operator's etcdctl lease revoke) is lost at the next keepalive, not at
// the deadline.
func TestLeaseRevoked(t *testing.T) {
	c := etcdtest.Start(t, 1)
	h, err := Backend{}.Acquire(context.Background(), config(c, c.Endpoints(), 6*time.Second), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	c.Etcdctl(t, "lease", "revoke", strconv.FormatInt(int64(h.(*hold).id), 16))
	revoked := time.Now()
	select {
	case <-h.Lost():
		t.Logf("lost %v after the revoke", time.Since(revoked).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("a revoked lease was not lost within a keepalive interval")
	}
}

// TestTokensRise and the holder record: each new holder's token is above
// the last one's, and Status names the holder.
func TestTokensRise(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := config(c, c.Endpoints(), 2*time.Second)
	var last int64
	for i := range 5 {
		h, err := Backend{}.Acquire(context.Background(), cfg, i%2 == 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Token() <= last {
			t.Errorf("token %d after %d", h.Token(), last)
		}
		last = h.Token()
		st, err := Backend{}.Status(context.Background(), cfg)
		if err != nil || st.Holder == nil || st.Holder.Token != h.Token() || st.Holder.PID == 0 || st.Holder.Host == "" {
			t.Errorf("status %+v, %v", st, err)
		}
		if _, err := (Backend{}).Acquire(context.Background(), cfg, false, nil); !errors.Is(err, fleet.ErrLocked) {
			t.Errorf("second Acquire: %v, want ErrLocked", err)
		}
		if err := h.Release(); err != nil {
			t.Error(err)
		}
	}
	if st, err := (Backend{}).Status(context.Background(), cfg); err != nil || st.Holder != nil {
		t.Errorf("after release: %+v, %v", st, err)
	}
}
