//go:build windows

package runtime

import (
	"context"
	"os"

	"github.com/kardianos/service"
)

// Start is kardianos/service's start hook: it returns only once the app is
// ready, so SERVICE_RUNNING is reported only then.
func (p *program) Start(s service.Service) error {
	setRecoveryActions(p.l.cfg, p.l.log)
	if err := p.l.start(context.Background()); err != nil {
		return err
	}
	if !service.Interactive() {
		// kardianos' Windows service handler waits only for the SCM, not
		// for RunWait: an app that returns by itself would leave a
		// "running" service holding its lock with nothing behind it. End
		// the process instead: the SCM sees the service stop, and restarts
		// it by the recovery actions when the app failed.
		go func() {
			select {
			case <-p.l.appDone:
			case <-p.l.lost:
			}
			if p.stopping.Load() {
				return // kardianos reports the stop to the SCM
			}
			os.Exit(exitStatus(p.l.stop()))
		}()
	}
	return nil
}

// Stop is kardianos/service's stop hook.
func (p *program) Stop(service.Service) error {
	p.stopping.Store(true)
	p.err = p.l.stop()
	return p.err
}

// Shutdown is kardianos/service's hook for the SCM's shutdown request: a
// stop, which the app can tell from an ordinary one
// (Service.SystemShutdown).
func (p *program) Shutdown(s service.Service) error {
	p.l.shutdown.Store(true)
	return p.Stop(s)
}

// runService runs the app through kardianos/service, which talks to the
// service control manager when the SCM started the program, and otherwise
// calls Start, our wait and Stop.
func runService(cfg Config, app App) error {
	p, stopReload, err := newProgram(cfg, app)
	if err != nil {
		return err
	}
	defer stopReload()
	p.l.stopOnSignal = true
	s, err := service.New(p, &service.Config{
		Name:        cfg.Name,
		Description: cfg.Description,
		Option:      service.KeyValue{"RunWait": p.wait},
	})
	if err != nil || service.Interactive() {
		// Not under the SCM: run the lifecycle here. kardianos' Run would
		// wait for os.Interrupt alone (on an unbuffered channel), never for
		// the app returning by itself or the fleet lock lost: the program
		// would stay, its app gone, holding its lock, until a Ctrl-C.
		if err := p.Start(nil); err != nil {
			return err
		}
		p.wait()
		return p.Stop(nil)
	}
	if err := s.Run(); err != nil {
		return err
	}
	return p.err
}
