//go:build !linux && !darwin && !windows

package svcmgr

import (
	"fmt"
	"runtime"

	"github.com/solehq/sole/internal/unit"
)

// Only systemd is driven so far; launchd and the Windows service control
// manager come next (their definitions are rendered by package unit
// already).
func errUnsupported() error {
	return fmt.Errorf("service management on %s is not supported yet", runtime.GOOS)
}

func definition(d unit.Description) (string, []byte, error) {
	return "", nil, errUnsupported()
}
func install(unit.Description) (bool, error) { return false, errUnsupported() }
func uninstall(string, bool) error           { return errUnsupported() }
func control(string, bool, string) error     { return errUnsupported() }
func status(string, bool) (State, error)     { return Unknown, errUnsupported() }
