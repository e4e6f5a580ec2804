//go:build windows

package svcmgr

// The Windows service control manager (SCM), through
// golang.org/x/sys/windows/svc/mgr.
//
// A service is a SERVICE_WIN32_OWN_PROCESS that starts automatically at
// boot, runs as LocalSystem or the account of --run-as (LocalService,
// NetworkService or its virtual account NT SERVICE\NAME: the accounts
// that need no password; see account_windows.go), and is restarted by the
// SCM when it fails (recovery actions; see RecoveryActions). Windows has
// no unit text: Definition renders what Install configures, for --print.
// Besides the SCM's own settings, Install writes three values under the
// service's registry key: Environment (REG_MULTI_SZ, read by the SCM when
// it starts the process) and SoleStartTimeoutMs and SoleStopTimeoutMs
// (REG_DWORD, how long Start and Stop wait for the service; the SCM has
// no such setting). What the SCM has no setting for at all, the working
// directory and the environment file, goes on the program's command line
// (see serviceArgs), as do a `sole run` wrapper's stop timeout and log
// directory.
//
// Only mgr calls that Wine 8's SCM implements are needed for the
// lifecycle: Config and UpdateConfig of package mgr query and set the
// delayed-start and SID settings too, which Wine refuses (ERROR_INVALID_LEVEL),
// so the configuration is read and written here with the plain
// QueryServiceConfig/ChangeServiceConfig and the description level of
// QueryServiceConfig2/ChangeServiceConfig2. See docs/windows.md.
//
// This file holds the operations (Install, Uninstall, Start, Stop,
// Status); config_windows.go the configuration made from a description,
// scmconfig_windows.go what the SCM and the registry hold of it,
// recovery_windows.go the recovery actions, state_windows.go the waits
// for a service's state.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// errPerUser is the error for a per-user service (--user).
var errPerUser = errors.New("per-user services are not supported on Windows; install a system service (without --user)")

// localSystem is how the SCM reports the LocalSystem account, which
// CreateService gets as an empty account name.
const localSystem = "LocalSystem"

// Extra time that Start and Stop give the service beyond its own start
// and stop timeouts, after which the runtime has stopped or exited by
// itself and the SCM says so.
const waitMargin = 5 * time.Second

func serviceKey(name string) string { return `SYSTEM\CurrentControlSet\Services\` + name }

func definition(d unit.Description) (string, []byte, error) {
	c, err := newConfig(d)
	if err != nil {
		return "", nil, err
	}
	return `HKLM\` + serviceKey(d.Name), c.render(d.Watchdog), nil
}

// scmError wraps an error of the SCM for service name.
func scmError(name, op string, err error) error {
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	return fmt.Errorf("%s: %s: %w", name, op, err)
}

func connect(access uint32) (*mgr.Mgr, error) {
	h, err := windows.OpenSCManager(nil, nil, access)
	if err != nil {
		return nil, fmt.Errorf("connect to the service control manager: %w", err)
	}
	return &mgr.Mgr{Handle: h}, nil
}

// connectFor connects to the SCM to act on the existing service name;
// per-user services do not exist on Windows.
func connectFor(name string, user bool) (*mgr.Mgr, error) {
	if user {
		return nil, fmt.Errorf("%s: %w", name, errPerUser)
	}
	return connect(windows.SC_MANAGER_CONNECT)
}

// open opens service name with only the access it needs, so that status
// works without administrator rights.
func open(m *mgr.Mgr, name string, access uint32) (*mgr.Service, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h, err := windows.OpenService(m.Handle, p, access)
	if err != nil {
		return nil, scmError(name, "open service", err)
	}
	return &mgr.Service{Name: name, Handle: h}, nil
}

func install(d unit.Description) (bool, error) {
	c, err := newConfig(d)
	if err != nil {
		return false, err
	}
	m, err := connect(windows.SC_MANAGER_ALL_ACCESS)
	if err != nil {
		return false, err
	}
	defer m.Disconnect()
	changed := false
	s, err := m.OpenService(c.name)
	switch {
	case errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST):
		s, err = m.CreateService(c.name, c.exec, mgr.Config{
			ServiceType:      windows.SERVICE_WIN32_OWN_PROCESS,
			StartType:        mgr.StartAutomatic,
			ErrorControl:     mgr.ErrorNormal,
			DisplayName:      c.displayName,
			Description:      c.description,
			ServiceStartName: c.account, // "": LocalSystem; the others take no password
		}, c.args...)
		if errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
			return false, fmt.Errorf("%s: create service: it is still marked for deletion; close the programs that have it open (the Services console, say) and try again: %w", c.name, err)
		}
		if err != nil {
			return false, scmError(c.name, "create service", err)
		}
		changed = true
	case err != nil:
		return false, scmError(c.name, "open service", err)
	default:
		if changed, err = updateConfig(s, c); err != nil {
			s.Close()
			return changed, err
		}
	}
	defer s.Close()
	ch, err := setValues(c)
	changed = changed || ch
	if err != nil {
		return changed, err
	}
	ch, err = setRecovery(s, c.actions, c.resetPeriod)
	changed = changed || ch
	if err != nil {
		return changed, err
	}
	ch, err = prepareDirs(c)
	if err != nil {
		return changed || ch, err
	}
	// The event source the service logs to (package runtime).
	if err := eventlog.InstallAsEventCreate(c.name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return changed || ch, fmt.Errorf("%s: event log source: %w", c.name, err)
	} else if err == nil {
		ch = true
	}
	return changed || ch, nil
}

func uninstall(name string, user bool) error {
	m, err := connectFor(name, user)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := open(m, name, windows.SERVICE_STOP|windows.SERVICE_QUERY_STATUS|windows.DELETE)
	if err != nil {
		return err
	}
	_, stopTO := timeouts(name)
	if err := stopService(s, stopTO+waitMargin); err != nil {
		s.Close()
		return err
	}
	err = s.Delete()
	s.Close()
	if err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return scmError(name, "delete service", err)
	}
	_ = eventlog.Remove(name) // absent when installed by something else
	// The SCM removes it once no handle to it is open; wait a little, so
	// that an install right after does not find it marked for deletion.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s, err := open(m, name, windows.SERVICE_QUERY_STATUS)
		if err != nil {
			break
		}
		s.Close()
	}
	return nil
}

// start starts or restarts the service: no fleet service stands by under
// this manager (StartStatus).
func start(name string, user bool, action string) (string, error) {
	return "", control(name, user, action)
}

func control(name string, user bool, action string) error {
	m, err := connectFor(name, user)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	access := uint32(windows.SERVICE_QUERY_STATUS)
	switch action {
	case "start":
		access |= windows.SERVICE_START
	case "stop":
		access |= windows.SERVICE_STOP
	case "restart":
		access |= windows.SERVICE_START | windows.SERVICE_STOP
	default:
		return fmt.Errorf("%s: unknown action %q", name, action)
	}
	s, err := open(m, name, access)
	if err != nil {
		return err
	}
	defer s.Close()
	startTO, stopTO := timeouts(name)
	switch action {
	case "start":
		return startService(s, startTO+waitMargin, stopTO+waitMargin)
	case "stop":
		return stopService(s, stopTO+waitMargin)
	case "restart":
		if err := stopService(s, stopTO+waitMargin); err != nil {
			return err
		}
	}
	return startService(s, startTO+waitMargin, stopTO+waitMargin)
}

func status(name string, user bool) (State, error) {
	m, err := connectFor(name, user)
	if err != nil {
		return Unknown, err
	}
	defer m.Disconnect()
	s, err := open(m, name, windows.SERVICE_QUERY_STATUS)
	if errors.Is(err, ErrNotInstalled) {
		return NotInstalled, nil
	}
	if err != nil {
		return Unknown, err
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return Unknown, scmError(name, "query its state", err)
	}
	return mapState(st), nil
}
