package fleet

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/runtime"
)

// The test binary is also the demo service of the etcd tests: started
// with FLEETDEMO_URL, it runs demoMain instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("FLEETDEMO_URL") != "" {
		demoMain()
		return
	}
	os.Exit(m.Run())
}

// demoMain is a service built on runtime.Main with a fleet lock:
//
//	FLEETDEMO_URL       the etcd URL
//	FLEETDEMO_NAME      the service's (and the fleet lock's) name
//	FLEETDEMO_LOCK      its local lock's path
//	FLEETDEMO_TTL       the lease's TTL (a duration), if set
//	FLEETDEMO_STUBBORN  if set, the app does not return when its context ends
//
// Its status once ready says its fencing token ("serving token=N ok=true
// env=N"); when its context ends it prints "cancelled lost=BOOL cause=..."
// on stdout.
func demoMain() {
	var opts []Option
	if s := os.Getenv("FLEETDEMO_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			os.Stderr.WriteString("FLEETDEMO_TTL: " + err.Error() + "\n")
			os.Exit(2)
		}
		opts = append(opts, WithTTL(d))
	}
	lock, err := New(os.Getenv("FLEETDEMO_URL"), opts...)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	stubborn := os.Getenv("FLEETDEMO_STUBBORN") != ""
	cfg := runtime.Config{
		Name:        os.Getenv("FLEETDEMO_NAME"),
		LockPath:    os.Getenv("FLEETDEMO_LOCK"),
		Fleet:       lock,
		StopTimeout: 10 * time.Second,
	}
	runtime.Main(cfg, runtime.AppFunc(func(ctx context.Context, svc *runtime.Service) error {
		token, ok := runtime.FencingToken(ctx)
		svc.SetStatus("serving token=" + strconv.FormatInt(token, 10) + " ok=" + strconv.FormatBool(ok) +
			" env=" + os.Getenv(runtime.EnvFencingToken))
		svc.Ready()
		<-ctx.Done()
		cause := context.Cause(ctx)
		os.Stdout.WriteString("cancelled lost=" + strconv.FormatBool(errors.Is(cause, runtime.ErrFleetLost)) +
			" cause=" + cause.Error() + "\n")
		if stubborn {
			select {}
		}
		return nil
	}))
}

func TestNew(t *testing.T) {
	tests := map[string]struct {
		url  string
		opts []Option
		err  string // "" for none
	}{
		"one endpoint":       {url: "etcd://127.0.0.1:2379"},
		"three, prefix":      {url: "etcd://a:1,b:2,[::1]:3/prod/eu", opts: []Option{WithTTL(2 * time.Second)}},
		"tls":                {url: "etcd://a:1", opts: []Option{WithTLS("ca.pem", "c.pem", "k.pem"), nil}},
		"tls, CA only":       {url: "etcd://a:1", opts: []Option{WithTLS("ca.pem", "", "")}},
		"empty":              {url: "", err: "want etcd://HOST:PORT"},
		"http":               {url: "http://127.0.0.1:2379", err: "want etcd://HOST:PORT"},
		"no host":            {url: "etcd:///prefix", err: "no HOST:PORT"},
		"no port":            {url: "etcd://127.0.0.1", err: "is not HOST:PORT"},
		"port 0":             {url: "etcd://127.0.0.1:0", err: "the port must be a number from 1 to 65535"},
		"bad prefix":         {url: "etcd://a:1/x/../y", err: "has an empty, . or .. part"},
		"ttl under a second": {url: "etcd://a:1", opts: []Option{WithTTL(500 * time.Millisecond)}, err: "at least 1s"},
		"cert without key":   {url: "etcd://a:1", opts: []Option{WithTLS("", "c.pem", "")}, err: "go together"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := New(tt.url, tt.opts...)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("New(%q) = %v", tt.url, err)
			case tt.err == "" && l == nil:
				t.Fatalf("New(%q) = nil, nil", tt.url)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "fleet: ")):
				t.Fatalf("New(%q) = %v, want an error starting \"fleet: \" containing %q", tt.url, err, tt.err)
			case tt.err != "" && l != nil:
				t.Fatalf("New(%q) returned a lock with its error", tt.url)
			}
		})
	}
}

// TestUnreachable: an etcd that does not answer: the standby line says
// so while it waits, and when the wait ends the error matches
// runtime.ErrFleetUnreachable too.
func TestUnreachable(t *testing.T) {
	l, err := New("etcd://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	lines := make(chan string, 100)
	_, err = l.AcquireFleet(ctx, "svc", func(s string) { lines <- s })
	if !errors.Is(err, runtime.ErrFleetUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireFleet = %v, want an error matching ErrFleetUnreachable and the deadline", err)
	}
	select {
	case s := <-lines:
		if !strings.HasPrefix(s, "standing by: etcd at 127.0.0.1:1 cannot be reached: ") || !strings.HasSuffix(s, "; retrying") {
			t.Fatalf("standby line %q", s)
		}
	default:
		t.Fatal("no standby line while etcd could not be reached")
	}
}

// TestFleetNotLinked: etcd's client (and gRPC under it) is linked only
// into programs that import this package: not into the runtime, nor into
// a program built on it alone (cmd/hellod).
func TestFleetNotLinked(t *testing.T) {
	goTool, err := exec.LookPath("go")
	testenv.Need(t, err == nil, "needs the go command: %v", err)
	tests := map[string]struct {
		pkg, goos string
		want      bool
	}{
		"runtime, linux":       {pkg: "github.com/solehq/sole/runtime", goos: "linux"},
		"runtime, darwin":      {pkg: "github.com/solehq/sole/runtime", goos: "darwin"},
		"runtime, windows":     {pkg: "github.com/solehq/sole/runtime", goos: "windows"},
		"hellod, linux":        {pkg: "github.com/solehq/sole/cmd/hellod", goos: "linux"},
		"hellod, windows":      {pkg: "github.com/solehq/sole/cmd/hellod", goos: "windows"},
		"runtime/fleet, linux": {pkg: "github.com/solehq/sole/runtime/fleet", goos: "linux", want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(goTool, "list", "-deps", tt.pkg)
			cmd.Env = append(cmd.Environ(), "GOOS="+tt.goos, "GOARCH=amd64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			deps := strings.Fields(string(out))
			for _, heavy := range []string{"go.etcd.io/", "google.golang.org/grpc"} {
				var found []string
				for _, d := range deps {
					if strings.HasPrefix(d, heavy) {
						found = append(found, d)
					}
				}
				if got := len(found) > 0; got != tt.want {
					t.Errorf("GOOS=%s %s links %s: %v (%d packages: %.200q), want %v", tt.goos, tt.pkg, heavy, got, len(found), found, tt.want)
				}
			}
			if !tt.want {
				t.Logf("GOOS=%s %s: %d packages, none of etcd or gRPC", tt.goos, tt.pkg, len(deps))
			}
		})
	}
}
