//go:build windows

package svcmgr

// The SCM's recovery actions: what it does when a service's process
// dies, Windows' counterpart of the systemd unit's Restart=on-failure.

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// maxRestarts bounds the restart actions written for StartLimitBurst;
// beyond it the service is restarted after every failure, without limit.
const maxRestarts = 64

// RecoveryActions returns the SCM recovery actions for d (defaults filled
// in), mirroring the systemd unit's Restart=on-failure with its start
// limit: after each of the first StartLimitBurst failures, restart after
// RestartSec; after more, do nothing (the service stays stopped, as a
// systemd unit that hit its start limit stays failed). The failure count
// goes back to zero after StartLimitInterval without a failure (the reset
// period, in seconds). A burst above 64 means restarting after every
// failure.
//
// The SCM counts as a failure a process that ends without reporting
// SERVICE_STOPPED (a crash, a kill, a panic). Actions on "non-crash
// failures" (a service that stops with a non-zero exit code) stay off, so
// a service that stops because another instance holds its lock is not
// restarted: the nearest Windows gets to RestartPreventExitStatus=75.
func RecoveryActions(d unit.Description) ([]mgr.RecoveryAction, uint32) {
	d = d.WithDefaults()
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
	return actions, seconds(d.StartLimitInterval)
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

// setRecovery sets the recovery actions unless the SCM reports exactly
// these already. An SCM that cannot report them (Wine's refuses the query)
// gets them written every time, without counting as a change.
func setRecovery(s *mgr.Service, c config) (bool, error) {
	old, err := s.RecoveryActions()
	var reset uint32
	if err == nil {
		reset, err = s.ResetPeriod()
	}
	known := err == nil
	if known && slices.Equal(old, c.actions) && reset == c.resetPeriod {
		return false, nil
	}
	if err := s.SetRecoveryActions(c.actions, c.resetPeriod); err != nil {
		return false, scmError(c.name, "set its recovery actions", err)
	}
	return known, nil
}
