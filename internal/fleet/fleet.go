// Package fleet describes the fleet lock: a lock held in etcd after the
// local one, so that one node of many runs a job or service. It holds what
// sole, sole-fleet and the runtime share (the options, the URL, the holder
// record, the errors and the Backend interface) and links nothing heavy;
// the implementation on etcd's client is internal/fleet/etcdlock, which
// only the programs that use the fleet link.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/solehq/sole/internal/cli"
)

// DefaultTTL is the lease's time to live when none is given: how long
// after its last acknowledged keepalive a holder that was cut off or
// frozen keeps the lock on the server.
const DefaultTTL = 10 * time.Second

// Config selects a fleet lock and says how to reach its etcd.
type Config struct {
	Endpoints []string // etcd client addresses, HOST:PORT
	Prefix    string   // key prefix: the lock's keys are under PREFIX/sole/NAME/ ("" is none)
	Name      string   // the lock's name, the same on every node
	TTL       time.Duration

	// TLS: the files etcdctl calls --cacert, --cert and --key. With
	// CACert, the endpoints are reached over TLS.
	CACert, Cert, Key string
	// User and Password authenticate to etcd; they come from the
	// environment (EnvUser, EnvPassword), never from the command line.
	User, Password string

	// Host and PID are what the holder record says of this process
	// (default: the host name and os.Getpid()).
	Host string
	PID  int
}

// The environment variables that carry etcd's user and password. As
// etcdctl's --user, SOLE_FLEET_USER may be USER:PASSWORD.
const (
	EnvUser     = "SOLE_FLEET_USER"
	EnvPassword = "SOLE_FLEET_PASSWORD"
)

// Credentials fills c.User and c.Password from the environment.
func (c *Config) Credentials(getenv func(string) string) {
	u, p := getenv(EnvUser), getenv(EnvPassword)
	if name, pw, ok := strings.Cut(u, ":"); ok && p == "" {
		u, p = name, pw
	}
	c.User, c.Password = u, p
}

// Margin is how long before the lease could expire on the server a
// holder that has heard nothing stops its work: a quarter of the TTL,
// from 500 ms to 5 s. The holder sends SIGTERM at the start of the margin
// and SIGKILL half way through it.
func Margin(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 500*time.Millisecond), 5*time.Second)
}

// Key layout, under the prefix: NAME's contenders are
// PREFIX/sole/NAME/lock/LEASE (etcd's concurrency.Mutex, whose first key
// by create revision holds the lock) and their records
// PREFIX/sole/NAME/who/LEASE.
func (c Config) base() string {
	if c.Prefix == "" {
		return "sole/"
	}
	return c.Prefix + "/sole/"
}

// LockPrefix is the prefix given to etcd's concurrency.NewMutex.
func (c Config) LockPrefix() string { return c.base() + c.Name + "/lock" }

// WhoKey is the key of the record of the contender with lease id.
func (c Config) WhoKey(lease int64) string {
	return c.WhoPrefix() + strconv.FormatInt(lease, 16)
}

// WhoPrefix is the prefix of the contenders' records.
func (c Config) WhoPrefix() string { return c.base() + c.Name + "/who/" }

// NamesPrefix is the prefix of every fleet lock under c.Prefix.
func (c Config) NamesPrefix() string { return c.base() }

// ParseURL parses etcd://HOST:PORT[,HOST:PORT...][/PREFIX].
func ParseURL(s string) (endpoints []string, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "etcd://")
	if !ok {
		return nil, "", fmt.Errorf("%q: want etcd://HOST:PORT[,HOST:PORT...][/PREFIX]", s)
	}
	hosts, prefix, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return nil, "", fmt.Errorf("%q: no HOST:PORT", s)
	}
	for _, hp := range strings.Split(hosts, ",") {
		h, p, ok := splitHostPort(hp)
		if !ok || h == "" || strings.ContainsFunc(h, badHostRune) {
			return nil, "", fmt.Errorf("%q: %q is not HOST:PORT", s, hp)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("%q: %q: the port must be a number from 1 to 65535", s, hp)
		}
		endpoints = append(endpoints, hp)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	for _, seg := range strings.Split(prefix, "/") {
		if prefix != "" && (seg == "" || seg == "." || seg == "..") {
			return nil, "", fmt.Errorf("%q: the prefix %q has an empty, . or .. part", s, prefix)
		}
	}
	if strings.ContainsFunc(prefix, func(r rune) bool { return r <= ' ' || r == 0x7f || r == utf8.RuneError }) {
		return nil, "", fmt.Errorf("%q: the prefix may not hold spaces or control characters", s)
	}
	return endpoints, prefix, nil
}

// splitHostPort is net.SplitHostPort for the forms etcd's client takes
// (HOST:PORT, [IPV6]:PORT), without linking package net into sole.
func splitHostPort(hp string) (host, port string, ok bool) {
	if rest, found := strings.CutPrefix(hp, "["); found {
		host, port, ok = strings.Cut(rest, "]:")
		return host, port, ok && host != "" && !strings.ContainsAny(host, "[]")
	}
	i := strings.LastIndexByte(hp, ':')
	if i < 0 || strings.Contains(hp[:i], ":") {
		return "", "", false
	}
	return hp[:i], hp[i+1:], true
}

func badHostRune(r rune) bool {
	return !(r == '.' || r == '-' || r == ':' || r == '_' || r == '%' ||
		'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}

// A Holder is a contender for a fleet lock: the one that holds it, or
// one waiting.
type Holder struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"` // since it holds the lock, or waits for it
	// Token is the create revision of the contender's key: the fencing
	// token, which rises with every new holder (0 when not known).
	Token int64 `json:"token"`
	Lease int64 `json:"lease"`
}

// String describes the holder as sole's lines do: "pid 42 on web1, since
// 10:04:05".
func (h Holder) String() string {
	s := "pid " + strconv.Itoa(h.PID) + " on " + h.Host
	if h.Host == "" {
		s = "a contender with no record"
	}
	if !h.Since.IsZero() {
		s += ", since " + cli.Since(h.Since.Local())
	}
	return s
}

// A Status is what etcd says of one fleet lock.
type Status struct {
	Name    string   `json:"name"`
	Holder  *Holder  `json:"holder"` // nil: free
	Waiters []Holder `json:"waiters"`
}

var (
	// ErrLocked is matched by the error of a lock that another node holds.
	ErrLocked = errors.New("held by another node")
	// ErrUnreachable is matched by the error of an etcd that cannot be
	// reached.
	ErrUnreachable = errors.New("etcd cannot be reached")
	// ErrLost is matched when a held lock's deadline passed without an
	// acknowledged keepalive, or its lease is gone.
	ErrLost = errors.New("fleet lock lost")
)

// A LockedError says who holds the lock (Holder is nil when no record of
// the holder could be read). It matches ErrLocked.
type LockedError struct {
	Name   string
	Holder *Holder
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return e.Name + ": " + ErrLocked.Error()
	}
	return e.Name + ": held by " + e.Holder.String()
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// An UnreachableError is an etcd that did not answer; it matches
// ErrUnreachable and wraps the client's error.
type UnreachableError struct {
	Endpoints []string
	Err       error
}

func (e *UnreachableError) Error() string {
	return "etcd at " + strings.Join(e.Endpoints, ",") + " cannot be reached: " + e.Err.Error()
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// A Backend takes fleet locks and reports on them.
type Backend interface {
	// Dial starts connecting to c's etcd in the background, for the
	// Acquire, Status or List of the same c that follows, so that the
	// connection is being made while the local lock is taken. Calling it
	// is optional; it reports nothing (the call that follows does).
	Dial(c Config)
	// Acquire takes the lock c.Name. Results:
	//   - the Hold, once this process holds the lock;
	//   - a *LockedError at once, without wait, when another holds it;
	//   - an *UnreachableError at once, without wait, when etcd does not
	//     answer; with wait, it keeps trying with backoff;
	//   - with wait, ctx's error when ctx ends first.
	// While it waits, standby is called (from another goroutine) with
	// every change of holder, and with nil and the error while etcd
	// cannot be reached.
	Acquire(ctx context.Context, c Config, wait bool, standby func(*Holder, error)) (Hold, error)
	// Status reports on the lock c.Name.
	Status(ctx context.Context, c Config) (Status, error)
	// List reports on every lock under c.Prefix that has a contender.
	List(ctx context.Context, c Config) ([]Status, error)
}

// A Hold is a fleet lock held.
type Hold interface {
	// Token is the fencing token: the create revision of the lock's key.
	Token() int64
	// TTL is the lease's time to live as the server granted it, which
	// may be more than was asked for (the server's minimum).
	TTL() time.Duration
	// Lost is closed once the lock may be lost: the margin
	// (Margin(TTL())) before the lease could expire on the server,
	// counted from the send time of the last acknowledged keepalive, or
	// at once when the server says the lease is gone. Whoever works
	// under the lock must have stopped by Expiry.
	Lost() <-chan struct{}
	// Expiry is the earliest time the lease can expire on the server, as
	// this process knows it.
	Expiry() time.Time
	// Release revokes the lease, so that a waiter takes over at once.
	Release() error
}
