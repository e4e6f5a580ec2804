//go:build unix

package runtime

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
)

// watchReload runs the reload hook on SIGHUP until the returned function is
// called.
func (l *lifecycle) watchReload() func() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGHUP)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
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
		signal.Stop(c)
		close(done)
		<-stopped
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
	l.n.send(msgReloading()...)
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

func msgReloading() []string {
	m := []string{daemon.SdNotifyReloading}
	if mono := strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"); mono != "" {
		m = append(m, mono)
	}
	return m
}
