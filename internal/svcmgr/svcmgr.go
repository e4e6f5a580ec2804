// Package svcmgr installs, controls and inspects services through the
// host's service manager: systemd on Linux, launchd on macOS, the service
// control manager on Windows. The service definitions come from package
// unit, the one description every manager and package is rendered from.
//
// It is used by `sole install` and by programs built on package runtime; it
// does not import kardianos/service, whose package initialisation probes
// the host, so that `sole run` starts without that cost.
package svcmgr

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/solehq/sole/internal/rmtree"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// State is a service's state as its manager reports it.
type State string

// The states. Managers with more states map onto these.
const (
	NotInstalled State = "not installed"
	Inactive     State = "inactive"
	Activating   State = "activating"
	Active       State = "active"
	Reloading    State = "reloading"
	Deactivating State = "deactivating"
	Failed       State = "failed"
	Unknown      State = "unknown"
)

// ErrNotInstalled is matched by the error of Uninstall, Start, Stop and
// Restart for a service that is not installed.
var ErrNotInstalled = errors.New("not installed")

// Definition returns where the service definition of d goes and its text,
// as Install would write it (`--print`).
func Definition(d unit.Description) (path string, text []byte, err error) {
	return definition(d)
}

// Install writes the definition of d, reloads the manager if it changed,
// and enables the service (starts it at boot or login). Installing the same
// description twice changes nothing and reports changed false.
func Install(d unit.Description) (changed bool, err error) { return install(d) }

// Uninstall stops and disables the service, removes its definition and,
// once nobody holds it, its lock directory (the unit keeps that directory
// across stops: RuntimeDirectoryPreserve=yes), leaving nothing behind.
func Uninstall(name string, user bool) error {
	if err := uninstall(name, user); err != nil {
		return err
	}
	return removeLockDir(name, user)
}

// removeLockDir removes the service's lock directory if the lock is free.
// It takes the lock first and removes the directory while holding it:
// anyone who opened the old file and locks it after us finds that the path
// no longer names it (pidlock checks), so no two holders can result.
func removeLockDir(name string, user bool) error {
	scope := pidlock.ScopeSystem
	if user {
		scope = pidlock.ScopeUser
	}
	l, err := pidlock.Named(name, pidlock.WithScope(scope))
	if err != nil {
		return err
	}
	dir := filepath.Dir(l.Path())
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := l.TryLock(); err != nil {
		if errors.Is(err, pidlock.ErrLocked) {
			return fmt.Errorf("%s: uninstalled, but its lock is still held, so %s was left in place: %w", name, dir, err)
		}
		return err
	}
	rmErr := rmtree.RemoveAll(dir) // not os.RemoveAll: see rmtree
	if err := l.Unlock(); err != nil && rmErr == nil {
		rmErr = err
	}
	return rmErr
}

// Start starts the service; under systemd it returns once the service
// reported READY=1, or once it stands by for its fleet lock (see
// StartStatus).
func Start(name string, user bool) error {
	_, err := start(name, user, "start")
	return err
}

// StartStatus is Start, returning also the status line of a fleet service
// that stands by. A fleet service (`sole run --fleet ... --wait`, or a
// program with runtime.Config.Fleet) reports READY=1 only once it holds
// its lock across the fleet, which on a node that stands by may be never;
// under systemd, StartStatus returns as soon as the service, started by
// this call or already starting, stands by (still activating, its status
// line "standing by: NAME is held by ...", or "standing by: etcd at ...
// cannot be reached: ...; retrying"), and returns that line: systemd's
// start job stays queued, and the service becomes ready once it takes
// the lock. standby is "" when the service is ready, and elsewhere than
// under systemd. Any other service is started as Start always did.
func StartStatus(name string, user bool) (standby string, err error) {
	return start(name, user, "start")
}

// Stop stops the service.
func Stop(name string, user bool) error { return control(name, user, "stop") }

// Restart restarts the service; under systemd it returns once the service
// reported READY=1, or once it stands by for its fleet lock (see
// RestartStatus).
func Restart(name string, user bool) error {
	_, err := start(name, user, "restart")
	return err
}

// RestartStatus is Restart, returning also the status line of a fleet
// service that stands by once restarted, as StartStatus does for a start.
func RestartStatus(name string, user bool) (standby string, err error) {
	return start(name, user, "restart")
}

// Status reports the service's state.
func Status(name string, user bool) (State, error) { return status(name, user) }

// Self returns the path of the running executable with symbolic links
// resolved: what a service definition should run.
func Self() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

// Check validates d for the host's service manager: it must render (the
// rules of package unit for systemd and launchd, which refuse what their
// manager cannot honour), and systemd takes no log directory. On Windows,
// Install checks what the service control manager needs itself.
func Check(d unit.Description) error {
	switch goruntime.GOOS {
	case "windows":
		return nil
	case "linux":
		if d.LogDir != "" {
			return &unit.Error{Field: "log directory", Reason: "systemd keeps a service's output in the journal (journalctl -u NAME); --log-dir is for launchd and Windows"}
		}
	}
	_, _, err := Definition(d)
	return err
}

// Apply installs d, or with print writes its definition to w instead, and
// says on w what it did ("NAME: installed", "NAME: already installed,
// unchanged").
func Apply(d unit.Description, print bool, w io.Writer) error {
	if print {
		_, text, err := Definition(d)
		if err != nil {
			return err
		}
		_, err = w.Write(text)
		return err
	}
	changed, err := Install(d)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(w, "%s: installed\n", d.Name)
	} else {
		fmt.Fprintf(w, "%s: already installed, unchanged\n", d.Name)
	}
	return nil
}
