package kservice

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/kardianos/service"

	"github.com/solehq/sole/internal/svcmgr"
)

// handle is the service.Service that Start, Stop and Shutdown get.
type handle struct {
	name    string
	display string
	user    bool
	log     *slog.Logger
}

var _ service.Service = (*handle)(nil)

// managed is the error of a method that sole does for the program: cmd is
// the program's command that does it instead ("" for Run).
func (h *handle) managed(method, cmd string) error {
	if cmd == "" {
		return fmt.Errorf("kservice: %s: %w: the runtime runs it", method, ErrManaged)
	}
	return fmt.Errorf("kservice: %s: %w: run `%s %s`", method, ErrManaged, h.name, cmd)
}

func (h *handle) Run() error       { return h.managed("Run", "") }
func (h *handle) Start() error     { return h.managed("Start", "start") }
func (h *handle) Stop() error      { return h.managed("Stop", "stop") }
func (h *handle) Restart() error   { return h.managed("Restart", "restart") }
func (h *handle) Install() error   { return h.managed("Install", "install") }
func (h *handle) Uninstall() error { return h.managed("Uninstall", "uninstall") }

// Logger returns a service.Logger writing to the runtime's logger. errs
// is not used: writing a line never fails.
func (h *handle) Logger(errs chan<- error) (service.Logger, error) {
	return logger{h.log}, nil
}

// SystemLogger is Logger: the runtime's logger already goes where the
// service manager keeps a service's lines.
func (h *handle) SystemLogger(errs chan<- error) (service.Logger, error) {
	return logger{h.log}, nil
}

// String is the display name, else the name, as kardianos' String.
func (h *handle) String() string {
	if h.display != "" {
		return h.display
	}
	return h.name
}

// Platform is kardianos' name for the service manager it detected
// ("linux-systemd", "windows-service", "darwin-launchd"...).
func (h *handle) Platform() string { return service.Platform() }

// Status asks the service manager for the service's state.
func (h *handle) Status() (service.Status, error) {
	st, err := svcmgr.Status(h.name, h.user)
	switch {
	case errors.Is(err, svcmgr.ErrNotInstalled) || err == nil && st == svcmgr.NotInstalled:
		return service.StatusUnknown, service.ErrNotInstalled
	case err != nil:
		return service.StatusUnknown, fmt.Errorf("kservice: Status: %w", err)
	}
	switch st {
	case svcmgr.Active, svcmgr.Reloading, svcmgr.Activating, svcmgr.Deactivating:
		return service.StatusRunning, nil
	case svcmgr.Inactive, svcmgr.Failed:
		return service.StatusStopped, nil
	}
	return service.StatusUnknown, nil
}

// logger is kardianos' Logger on a slog.Logger: its arguments are joined
// as fmt.Sprint and fmt.Sprintf join them.
type logger struct{ l *slog.Logger }

func (l logger) Error(v ...any) error   { l.l.Error(fmt.Sprint(v...)); return nil }
func (l logger) Warning(v ...any) error { l.l.Warn(fmt.Sprint(v...)); return nil }
func (l logger) Info(v ...any) error    { l.l.Info(fmt.Sprint(v...)); return nil }
func (l logger) Errorf(format string, a ...any) error {
	l.l.Error(fmt.Sprintf(format, a...))
	return nil
}
func (l logger) Warningf(format string, a ...any) error {
	l.l.Warn(fmt.Sprintf(format, a...))
	return nil
}
func (l logger) Infof(format string, a ...any) error {
	l.l.Info(fmt.Sprintf(format, a...))
	return nil
}
