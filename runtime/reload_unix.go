//go:build unix

package runtime

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/solehq/sole/internal/sdnotify"
)

// watchReload runs the reload hook on SIGHUP until the returned function is
// called. Setting up the handler costs a few hundred microseconds (a
// thread of the runtime's own), so it runs beside the lock and the app's
// start; start waits for it (l.watching) before it reports READY=1, so a
// reload asked for once the service is ready is never lost. (systemd does
// not send a reload before READY=1.)
func (l *lifecycle) watchReload() func() {
	c := make(chan os.Signal, 4)
	done := make(chan struct{})
	stopped := make(chan struct{})
	watching := make(chan struct{})
	l.watching = watching
	go func() {
		defer close(stopped)
		signal.Notify(c, syscall.SIGHUP)
		close(watching)
		for {
			select {
			case <-c:
				l.reload()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		signal.Stop(c)
	}
}

// reload runs the app's reload hook between RELOADING=1 and READY=1.
func (l *lifecycle) reload() {
	r, ok := l.app.(Reloader)
	l.mu.Lock()
	if l.stopped || !l.isReady {
		l.mu.Unlock()
		return
	}
	l.n.send(sdnotify.Reloading, sdnotify.MonotonicUsec())
	l.mu.Unlock()
	l.log.Info("reloading")
	var err error
	if ok {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.StartTimeout)
		err = r.Reload(ctx)
		cancel()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	status := l.cfg.ReadyStatus
	if err != nil {
		l.log.Error("reload failed", "err", err)
		status = "reload failed: " + err.Error()
	} else {
		l.log.Info("reloaded")
	}
	l.n.send(msgReady(status)...)
}
