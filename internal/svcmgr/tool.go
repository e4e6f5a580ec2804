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
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if msg != "" {
			return stdout.String(), fmt.Errorf("%s %s: %s: %w", name, strings.Join(args, " "), msg, err)
		}
		return stdout.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

// home is the user's home directory for a per-user service, "" for a
// system one.
func home(user bool) (string, error) {
	if !user {
		return "", nil
	}
	return os.UserHomeDir()
}
