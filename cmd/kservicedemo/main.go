// Command kservicedemo is a program written for github.com/kardianos/service
// (a type with Start and Stop, and a service.Config) that runs on sole's
// runtime through one call, kservice.Main, in place of service.New, s.Run
// and service.Control. It gets sole's single-instance lock, readiness
// reported only once Start returned, a health-checked watchdog and the
// commands:
//
//	kservicedemo [run]           serve (as a service when a manager started it)
//	kservicedemo install|uninstall|start|stop|restart|status
//
// It serves HTTP on KSERVICEDEMO_ADDR (default 127.0.0.1:8081, from its
// service.Config's EnvVars): GET / greets, GET /healthz answers "ok".
// Two variables let one watch its lifecycle:
//
//	KSERVICEDEMO_EVENTS=FILE      Start and Stop append a line to FILE
//	                              ("start PID", "started PID ADDR", "stop PID")
//	KSERVICEDEMO_START_GATE=FILE  Start waits until FILE exists, as a slow
//	                              start would: meanwhile the service holds
//	                              its lock and is not ready ("activating")
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kardianos/service"

	"github.com/solehq/sole/runtime/kservice"
)

// program is an ordinary kardianos/service program.
type program struct {
	logger service.Logger
	addr   string
	srv    *http.Server
}

// Start starts serving and returns, as kardianos asks of it.
func (p *program) Start(s service.Service) error {
	var err error
	if p.logger, err = s.Logger(nil); err != nil {
		return err
	}
	p.logger.Infof("Start: %s on %s", s, s.Platform())
	event("start %d", os.Getpid())
	if gate := os.Getenv("KSERVICEDEMO_START_GATE"); gate != "" {
		p.logger.Infof("Start: waiting for %s", gate)
		for {
			if _, err := os.Stat(gate); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	p.addr = os.Getenv("KSERVICEDEMO_ADDR")
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from kservicedemo")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	p.logger.Infof("Start returned: serving on %s", p.addr)
	event("started %d %s", os.Getpid(), p.addr)
	return nil
}

// Stop stops serving.
func (p *program) Stop(s service.Service) error {
	p.logger.Info("Stop: shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	event("stop %d", os.Getpid())
	return err
}

// check asks the program itself whether it answers, for the watchdog.
func (p *program) check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/healthz", nil)
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

// event appends a line to $KSERVICEDEMO_EVENTS, when set.
func event(format string, a ...any) {
	path := os.Getenv("KSERVICEDEMO_EVENTS")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, format+"\n", a...)
	f.Close()
}

func main() {
	p := &program{}
	kservice.Main(p, &service.Config{
		Name:        "kservicedemo",
		DisplayName: "kservice demo",
		Description: "sole example: a kardianos/service program on sole's runtime",
		EnvVars:     map[string]string{"KSERVICEDEMO_ADDR": "127.0.0.1:8081"},
		Option:      service.KeyValue{"Restart": "on-failure", "RestartSec": "1s"},
	}, kservice.WithCheck(p.check))
}
