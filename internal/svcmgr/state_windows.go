//go:build windows

package svcmgr

// A service's state: starting and stopping it and waiting for the state
// the SCM reports, and the mapping of that state onto State.

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// poll calls f with the service's state, quickly at first, until f says
// done or the time is up; it returns the last state.
func poll(s *mgr.Service, within time.Duration, f func(svc.Status) (done bool, err error)) (svc.Status, bool, error) {
	deadline := time.Now().Add(within)
	wait := 10 * time.Millisecond
	for {
		st, err := s.Query()
		if err != nil {
			return st, false, scmError(s.Name, "query its state", err)
		}
		if done, err := f(st); done || err != nil {
			return st, done, err
		}
		if !time.Now().Before(deadline) {
			return st, false, nil
		}
		time.Sleep(min(wait, time.Until(deadline)+time.Millisecond))
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// startService starts the service and returns once it reports
// SERVICE_RUNNING (the runtime reports it only once the app is ready and
// holds its lock), or with an error naming the state it got stuck in or
// how it stopped. A service that is stopping is let stop first.
func startService(s *mgr.Service, within, stopWithin time.Duration) error {
	st, err := s.Query()
	if err != nil {
		return scmError(s.Name, "query its state", err)
	}
	switch st.State {
	case svc.Running:
		return nil
	case svc.StopPending:
		if st, ok, err := poll(s, stopWithin, func(st svc.Status) (bool, error) { return st.State == svc.Stopped, nil }); err != nil || !ok {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s: still %s after %v; not started", s.Name, stateName(st.State), stopWithin)
		}
	}
	if st.State != svc.StartPending {
		if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
			return scmError(s.Name, "start", err)
		}
	}
	st, ok, err := poll(s, within, func(st svc.Status) (bool, error) {
		switch st.State {
		case svc.Running:
			return true, nil
		case svc.Stopped:
			return false, fmt.Errorf("%s: stopped while starting (%s)", s.Name, exitText(st))
		}
		return false, nil
	})
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("%s: not running after %v: still %s", s.Name, within, stateName(st.State))
}

// stopService asks the service to stop and waits until it has, at most
// within. A service still starting is asked again once it can take the
// request.
func stopService(s *mgr.Service, within time.Duration) error {
	asked := false
	st, ok, err := poll(s, within, func(st svc.Status) (bool, error) {
		switch st.State {
		case svc.Stopped:
			return true, nil
		case svc.StopPending, svc.StartPending:
			return false, nil
		}
		if asked {
			return false, nil
		}
		_, err := s.Control(svc.Stop)
		switch {
		case err == nil:
			asked = true
		case errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE):
			return true, nil
		case errors.Is(err, windows.ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
			// Between states: ask again at the next poll.
		default:
			return false, scmError(s.Name, "stop", err)
		}
		return false, nil
	})
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("%s: not stopped after %v: still %s", s.Name, within, stateName(st.State))
}

// exitText describes how a stopped service ended.
func exitText(st svc.Status) string {
	switch st.Win32ExitCode {
	case 0:
		return "exit code 0"
	case uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR):
		return fmt.Sprintf("service-specific exit code %d", st.ServiceSpecificExitCode)
	}
	return fmt.Sprintf("exit code %d: %v", st.Win32ExitCode, windows.Errno(st.Win32ExitCode))
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "SERVICE_STOPPED"
	case svc.StartPending:
		return "SERVICE_START_PENDING"
	case svc.StopPending:
		return "SERVICE_STOP_PENDING"
	case svc.Running:
		return "SERVICE_RUNNING"
	case svc.ContinuePending:
		return "SERVICE_CONTINUE_PENDING"
	case svc.PausePending:
		return "SERVICE_PAUSE_PENDING"
	case svc.Paused:
		return "SERVICE_PAUSED"
	}
	return fmt.Sprintf("state %d", s)
}

// mapState maps the SCM's state onto State. A stopped service whose last
// run ended with an error is Failed, as systemd would say.
func mapState(st svc.Status) State {
	switch st.State {
	case svc.Stopped:
		if st.Win32ExitCode != 0 && st.Win32ExitCode != uint32(windows.ERROR_SERVICE_NEVER_STARTED) {
			return Failed
		}
		return Inactive
	case svc.StartPending, svc.ContinuePending:
		return Activating
	case svc.Running:
		return Active
	case svc.StopPending, svc.PausePending:
		return Deactivating
	case svc.Paused:
		return Inactive
	}
	return Unknown
}
