// Package report is the one status report of a lock, shared by `sole
// status`, `sole list` and the status command of every program built on
// runtime.Main: it gathers a lock's state (who holds it, since when) and,
// for a service, its service manager's state, and words it as a text line,
// as a JSON object and as an LSB exit code (the table of internal/cli).
//
// The JSON is written by hand, to keep reflection-driven encoding out of
// sole's start-up.
package report

import (
	"errors"
	"fmt"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// Report is what is known about one lock.
type Report struct {
	// Name is what the lock is called: a named lock's name, the program's
	// name, or for a lock given by path its base name without ".pid".
	Name string
	// Lock is the PID file's path (for an entry of a lock directory that
	// is not a lock, the entry's path).
	Lock string
	// Status is what the query found; it means nothing when Err is set.
	Status pidlock.Status
	// Err says why the state could not be determined; nil when it was.
	Err error
	// Service is the installed service's state as its manager reports it;
	// "" when no service of that name is installed, none was asked about,
	// or the manager could not say.
	Service svcmgr.State
}

// Service names the service whose state a report includes.
type Service struct {
	Name string
	User bool // a per-user service (systemd --user, a LaunchAgent)
}

// Gather queries l, without taking it, and reports it as name. With svc,
// the state of that service is included when it is installed.
func Gather(name string, l *pidlock.Lock, svc *Service) Report {
	r := Report{Name: name, Lock: l.Path()}
	r.Status, r.Err = l.Query()
	if svc != nil {
		r.Service = serviceState(svc.Name, svc.User)
	}
	return r
}

// serviceState is the state of the installed service called name, or ""
// when there is none or the manager cannot say. A host without a service
// manager (no systemd booted) is not asked at all: a list of many locks
// would otherwise run a failing systemctl for each.
var serviceState = func(name string, user bool) svcmgr.State {
	if platform.ServiceManager() == platform.ManagerNone {
		return ""
	}
	st, err := svcmgr.Status(name, user)
	if err != nil || st == svcmgr.NotInstalled || st == svcmgr.Unknown {
		return ""
	}
	return st
}

// State names the state: "running", "starting", "stale", "not running"
// or "unknown".
func (r Report) State() string {
	if r.Err != nil {
		return "unknown"
	}
	return r.Status.State.String()
}

// Running reports whether an instance holds the lock (running or
// starting).
func (r Report) Running() bool {
	return r.Err == nil && (r.Status.State == pidlock.Running || r.Status.State == pidlock.Starting)
}

// Code is the LSB status code of the report: cli.StatusRunning (running or
// starting), cli.StatusDeadRecord (stale), cli.StatusNotRunning, or
// cli.StatusUnknown when the state could not be determined. It follows the
// lock, not the service manager: the lock is the truth about whether an
// instance runs.
func (r Report) Code() int {
	switch {
	case r.Err != nil:
		return cli.StatusUnknown
	case r.Running():
		return cli.StatusRunning
	case r.Status.State == pidlock.Stale:
		return cli.StatusDeadRecord
	}
	return cli.StatusNotRunning
}

// Text is the report as one line, without a newline:
//
//	backup is running (pid 1234, backup.sh, since 10:42:07)
//	backup is running (starting)
//	backup is not running (stale record: pid 1234, backup.sh, since 10:42:07)
//	backup is not running (unreadable record left in /run/sole/backup/backup.pid)
//	backup is not running
//	backup state unknown (/run/sole/backup/backup.pid: holds data that is not a lock record ...)
//
// followed by "; service STATE" when the service's state is known.
func (r Report) Text() string {
	name := cli.Quote(r.Name)
	var s string
	switch {
	case r.Err != nil:
		s = name + " state unknown (" + ErrorLine(r.Err) + ")"
	case r.Status.State == pidlock.Running && r.Status.Holder != nil:
		s = name + " is running (" + Describe(r.Status.Holder) + ")"
	case r.Running():
		s = name + " is running (starting)"
	case r.Status.State == pidlock.Stale && r.Status.Holder != nil:
		s = name + " is not running (stale record: " + Describe(r.Status.Holder) + ")"
	case r.Status.State == pidlock.Stale:
		s = name + " is not running (unreadable record left in " + cli.Quote(r.Lock) + ")"
	default:
		s = name + " is not running"
	}
	if r.Service != "" {
		s += "; service " + string(r.Service)
	}
	return s
}

// Describe names a holder as "pid 1234, backup.sh, since 10:42:07".
func Describe(h *pidlock.Holder) string {
	return fmt.Sprintf("pid %d, %s, since %s", h.PID, cli.OneLine(h.Process), cli.Since(h.Since))
}

// ErrorLine words an error from opening, taking or querying a lock on one
// line: a path with anything but printable characters (a newline, say) is
// quoted, and control characters in the message become their Go escapes.
func ErrorLine(err error) string {
	var pe *pidlock.PathError
	if errors.As(err, &pe) {
		return cli.Quote(pe.Path) + ": " + cli.OneLine(pe.Err.Error())
	}
	return cli.OneLine(err.Error())
}
