//go:build !linux && !darwin && !windows

package svcmgr

import (
	"fmt"
	"runtime"

	"github.com/solehq/sole/internal/unit"
)

// Services are managed through systemd (Linux), launchd (macOS) and the
// service control manager (Windows); elsewhere (the BSDs) there is no
// manager sole drives yet.
func errUnsupported() error {
	return fmt.Errorf("service management on %s is not supported yet", runtime.GOOS)
}

func definition(d unit.Description) (string, []byte, error) {
	return "", nil, errUnsupported()
}
func install(unit.Description) (bool, error) { return false, errUnsupported() }
func uninstall(string, bool) error           { return errUnsupported() }
func control(string, bool, string) error     { return errUnsupported() }
func start(string, bool, string) (string, error) {
	return "", errUnsupported()
}
func status(string, bool) (State, error) { return Unknown, errUnsupported() }
