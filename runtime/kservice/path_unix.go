//go:build !windows

package kservice

import "github.com/solehq/sole/internal/unit"

// checkPath checks a directory or file path of the service (its working
// directory, log directory, PID file) with the rules of a systemd unit's
// WorkingDirectory=: absolute, clean, one line, no tab, no trailing space
// or backslash.
func checkPath(p string) error {
	return unitCheck(unit.Description{WorkingDirectory: p})
}
