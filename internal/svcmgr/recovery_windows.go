//go:build windows

package svcmgr

// The SCM's recovery actions: what it does when a service fails,
// Windows' counterpart of the systemd unit's Restart=.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// maxRestarts bounds the restart actions written for StartLimitBurst;
// beyond it the service is restarted after every failure, without limit.
const maxRestarts = 64

// RecoveryActions returns the SCM recovery actions for d (defaults filled
// in), mirroring the systemd unit's Restart= with its start limit: after
// each of the first StartLimitBurst failures, restart after RestartSec;
// after more, do nothing (the service stays stopped, as a systemd unit
// that hit its start limit stays failed). The failure count goes back to
// zero after StartLimitInterval without a failure (the reset period, in
// seconds). A burst above 64 means restarting after every failure.
// Restart "no" gives one action, NoAction: the service then has recovery
// actions, which package runtime leaves alone, and none restarts it.
//
// SetRecovery also turns on the actions for "non-crash failures", so the
// SCM applies them both when the process ends without reporting
// SERVICE_STOPPED (a crash, a kill, a panic) and when the service stops
// with a non-zero exit code (`sole run --service` reports COMMAND's).
// Windows has no counterpart of RestartPreventExitStatus=75, and restarts
// nothing after a stop with exit code 0: Restart "always" acts as
// "on-failure" there.
func RecoveryActions(d unit.Description) ([]mgr.RecoveryAction, uint32) {
	d = d.WithDefaults()
	reset := seconds(d.StartLimitInterval)
	if d.Restart == "no" {
		return []mgr.RecoveryAction{{Type: mgr.NoAction}}, reset
	}
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d.RestartSec}
	var actions []mgr.RecoveryAction
	if d.StartLimitBurst > maxRestarts {
		actions = []mgr.RecoveryAction{restart}
	} else {
		for range d.StartLimitBurst {
			actions = append(actions, restart)
		}
		actions = append(actions, mgr.RecoveryAction{Type: mgr.NoAction})
	}
	return actions, reset
}

// SetRecovery gives service s (opened with SERVICE_CHANGE_CONFIG,
// SERVICE_QUERY_CONFIG and, for restart actions, SERVICE_START) the
// recovery settings of d: RecoveryActions(d), applied to non-crash
// failures too. It is what Install does, and what package runtime does
// for a service that has no recovery actions.
func SetRecovery(s *mgr.Service, d unit.Description) (bool, error) {
	actions, reset := RecoveryActions(d)
	return setRecovery(s, actions, reset)
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	if s > 1<<32-1 {
		s = 1<<32 - 1
	}
	return uint32(s)
}

func describeActions(actions []mgr.RecoveryAction, reset uint32) string {
	if len(actions) == 1 && actions[0].Type == mgr.ServiceRestart {
		return fmt.Sprintf("restart after %v, every time", actions[0].Delay)
	}
	restarts := 0
	for _, a := range actions {
		if a.Type == mgr.ServiceRestart {
			restarts++
		}
	}
	if restarts == 0 {
		return "no action"
	}
	return fmt.Sprintf("restart after %v, for %d failures, then no action; the count resets after %ds without a failure",
		actions[0].Delay, restarts, reset)
}

// setRecovery sets the recovery actions and the non-crash-failures flag
// unless the SCM reports exactly these already, and reports whether it
// changed anything. An SCM that cannot report them (Wine 8 answers
// ERROR_INVALID_LEVEL) gets them written every time, without counting as
// a change; one that does not take the flag (Wine 8 again:
// ERROR_INVALID_LEVEL, and it keeps no actions either) goes without it.
func setRecovery(s *mgr.Service, actions []mgr.RecoveryAction, resetPeriod uint32) (bool, error) {
	old, err := s.RecoveryActions()
	var reset uint32
	if err == nil {
		reset, err = s.ResetPeriod()
	}
	known := err == nil
	changed := false
	if !known || !slices.Equal(old, actions) || reset != resetPeriod {
		if err := s.SetRecoveryActions(actions, resetPeriod); err != nil {
			return false, scmError(s.Name, "set its recovery actions", err)
		}
		changed = known
	}
	flag, err := s.RecoveryActionsOnNonCrashFailures()
	if err == nil && flag {
		return changed, nil
	}
	known = err == nil
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
			return changed, nil
		}
		return changed, scmError(s.Name, "apply its recovery actions to non-crash failures", err)
	}
	return changed || known, nil
}
