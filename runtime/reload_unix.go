//go:build unix

package runtime

import (
	"os"
	"os/signal"
	"syscall"
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
