//go:build windows

package runtime

import (
	"log/slog"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

func stderrIsJournal() bool { return false }

// serviceLogger is the event log of the service name when the program runs
// as a Windows service (its source is registered by install), or nil.
func serviceLogger(name string) *slog.Logger {
	if ok, err := svc.IsWindowsService(); err != nil || !ok {
		return nil
	}
	el, err := eventlog.Open(name)
	if err != nil {
		return nil
	}
	return slog.New(newEventHandler(el))
}
