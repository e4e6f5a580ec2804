//go:build linux || darwin

package svcmgr

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runTool runs a service manager's command-line tool (systemctl,
// launchctl) and returns its standard output; a failure's error carries the
// first line of its standard error.
func runTool(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), toolError(name, args, stderr.String(), err)
	}
	return stdout.String(), nil
}

// toolError is the error of a tool that failed: its command line, the
// first line of its standard error, and err.
func toolError(name string, args []string, stderr string, err error) error {
	msg, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	if msg != "" {
		return fmt.Errorf("%s %s: %s: %w", name, strings.Join(args, " "), msg, err)
	}
	return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
}

// home is the user's home directory for a per-user service, "" for a
// system one.
func home(user bool) (string, error) {
	if !user {
		return "", nil
	}
	return os.UserHomeDir()
}
