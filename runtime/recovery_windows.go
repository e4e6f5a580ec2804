//go:build windows

package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
)

// setRecoveryActions makes the service control manager restart this
// program's service when it fails, by a crash or a non-zero exit code
// (svcmgr.SetRecovery, what `PROG install` sets, with the default policy
// and limits), if this process is the one the SCM started for the
// service and the service has no recovery actions yet: a service
// installed by other means than `PROG install` (sc create, an MSI, ...)
// gets them too, and an administrator's own choice (sc failure), or the
// single no-action of --restart no, is kept.
// kardianos/service sets recovery actions only in its own Install, which
// the runtime does not use. A failure, such as a service account without
// the right to change its own configuration, is logged as a warning: the
// service runs, without automatic restarts.
func setRecoveryActions(cfg Config, log *slog.Logger) {
	set, err := ensureRecoveryActions(cfg, uint32(os.Getpid()))
	switch {
	case err != nil:
		log.Warn("cannot set the service's recovery actions; it will not be restarted when it fails", "err", err)
	case set != "":
		log.Info("recovery actions set: the service control manager restarts this service when it fails", "scm_service", set)
	}
}

// ensureRecoveryActions sets the recovery actions of the service whose
// process pid is, if it has none, and returns the service's name; "" when
// pid is not a service's process or the service has actions already.
func ensureRecoveryActions(cfg Config, pid uint32) (string, error) {
	name := cfg.Name
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return "", fmt.Errorf("connect to the service control manager: %w", err)
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()
	own, err := ownService(m, name, pid)
	if own == "" || err != nil {
		return "", err
	}
	s, err := openService(m, own, windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return "", err
	}
	old, err := s.RecoveryActions()
	s.Close()
	// An SCM that cannot report them (Wine's) gets them set.
	if err == nil && len(old) > 0 {
		return "", nil
	}
	// Restart actions need SERVICE_START on the handle that sets them.
	s, err = openService(m, own, windows.SERVICE_CHANGE_CONFIG|windows.SERVICE_QUERY_CONFIG|windows.SERVICE_START)
	if err != nil {
		return "", err
	}
	defer s.Close()
	if _, err := svcmgr.SetRecovery(s, unit.Description{Name: own, Restart: cfg.Restart, RestartSec: cfg.RestartDelay}); err != nil {
		return "", fmt.Errorf("service %s: %w", own, err)
	}
	return own, nil
}

func openService(m *mgr.Mgr, name string, access uint32) (*mgr.Service, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	h, err := windows.OpenService(m.Handle, p, access)
	if err != nil {
		return nil, fmt.Errorf("service %s: open: %w", name, err)
	}
	return &mgr.Service{Name: name, Handle: h}, nil
}

// ownService returns the name of the service whose process pid is: name
// if the SCM says so, else (when this process runs as a service, under
// another name) the active service with that process; "" if none.
func ownService(m *mgr.Mgr, name string, pid uint32) (string, error) {
	if s, err := openService(m, name, windows.SERVICE_QUERY_STATUS); err == nil {
		st, err := s.Query()
		s.Close()
		if err == nil && st.ProcessId == pid {
			return name, nil
		}
	}
	if ok, err := svc.IsWindowsService(); err != nil || !ok {
		return "", nil
	}
	var buf []byte
	var needed, count, resume uint32
	for {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		err := windows.EnumServicesStatusEx(m.Handle, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_ACTIVE, p, uint32(len(buf)), &needed, &count, &resume, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) || needed <= uint32(len(buf)) {
			return "", fmt.Errorf("list services: %w", err)
		}
		buf = make([]byte, needed)
		resume = 0
	}
	if count == 0 {
		return "", nil
	}
	for _, e := range unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), count) {
		if e.ServiceStatusProcess.ProcessId == pid {
			return windows.UTF16PtrToString(e.ServiceName), nil
		}
	}
	return "", nil
}
