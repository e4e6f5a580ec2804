//go:build !linux

package systemdtest

import (
	"errors"
	"os"
	"runtime"
	"testing"
)

const goos = runtime.GOOS

// machineOS: without Linux, Machine has only the portable fields; Boot
// always skips or fails.
//
//lint:ignore U1000 used by the portable Machine, empty here
type machineOS struct{}

func boot(t testing.TB, env environment) *Machine {
	t.Helper()
	reason := precheck(env)
	if reason == "" {
		reason = "needs Linux"
	}
	unavailable(t, env, reason)
	return nil
}

func (m *Machine) kill() {}

func (m *Machine) release() error { return nil }

func (m *Machine) writeFile(guestPath string, data []byte, perm os.FileMode) error {
	return errors.New("needs Linux")
}
