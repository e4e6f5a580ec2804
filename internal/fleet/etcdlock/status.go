package etcdlock

import (
	"context"
	"encoding/json"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/solehq/sole/internal/fleet"
)

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
