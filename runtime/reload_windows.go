//go:build windows

package runtime

// Windows services have no reload signal.
func (l *lifecycle) watchReload() func() { return func() {} }
