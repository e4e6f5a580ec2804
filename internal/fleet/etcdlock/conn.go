package etcdlock

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/solehq/sole/internal/fleet"
)

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
