// Command hellod is the example daemon of the runtime package: a small HTTP
// service that runs as exactly one instance, reports readiness only once it
// holds its lock and listens, reloads its greeting on SIGHUP, and feeds the
// systemd watchdog only while it answers its own health check.
//
//	hellod [run]                 serve (as a service when a manager started it)
//	hellod install|uninstall|start|stop|restart|status
//
// It listens on the sockets systemd passes (socket activation) or else on
// HELLOD_ADDR (default 127.0.0.1:8080). The greeting comes from the file
// HELLOD_GREETING (default: "hello"). GET / greets, GET /healthz answers
// "ok"; POST /hang makes the handlers hang, as a stuck program would, so
// that the watchdog's handling of it can be tested.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/solehq/sole/runtime"
)

type hellod struct {
	mu       sync.Mutex
	greeting string
	addr     string // where it listens, for the health check
	hung     atomic.Bool
	release  chan struct{}
}

func (h *hellod) loadGreeting() error {
	g := "hello"
	if p := os.Getenv("HELLOD_GREETING"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		g = strings.TrimSpace(string(b))
	}
	h.mu.Lock()
	h.greeting = g
	h.mu.Unlock()
	return nil
}

func (h *hellod) Run(ctx context.Context, svc *runtime.Service) error {
	if err := h.loadGreeting(); err != nil {
		return err
	}
	var ln net.Listener
	if ls := svc.Listeners(); len(ls) > 0 {
		ln = ls[0]
	} else {
		addr := os.Getenv("HELLOD_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
	}
	h.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.maybeHang()
		h.mu.Lock()
		g := h.greeting
		h.mu.Unlock()
		fmt.Fprintln(w, g)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h.maybeHang()
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /hang", func(w http.ResponseWriter, r *http.Request) {
		h.hung.Store(true)
		fmt.Fprintln(w, "hanging")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	svc.SetStatus("serving on " + h.addr)
	svc.Ready()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(h.release)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func (h *hellod) maybeHang() {
	if h.hung.Load() {
		<-h.release
	}
}

// Reload re-reads the greeting.
func (h *hellod) Reload(context.Context) error { return h.loadGreeting() }

// Check asks the daemon itself, over HTTP, whether it answers.
func (h *hellod) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+h.addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func main() {
	runtime.Main(runtime.Config{
		Name:        "hellod",
		Description: "sole example daemon: a single-instance HTTP greeter",
	}, &hellod{release: make(chan struct{})})
}
