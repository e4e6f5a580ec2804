//go:build !windows

package runtime

import "context"

// runService runs the lifecycle: start, wait, stop.
func runService(cfg Config, app App) error {
	p, stopReload, err := newProgram(cfg, app)
	if err != nil {
		return err
	}
	defer stopReload()
	p.l.stopOnSignal = true
	if err := p.l.start(context.Background()); err != nil {
		return err
	}
	p.wait()
	p.stopping.Store(true)
	p.err = p.l.stop()
	return p.err
}
