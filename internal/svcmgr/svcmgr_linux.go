//go:build linux

package svcmgr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/solehq/sole/internal/unit"
)

func definition(d unit.Description) (string, []byte, error) {
	h, err := home(d.User)
	if err != nil {
		return "", nil, err
	}
	text, err := unit.SystemdUnit(d)
	if err != nil {
		return "", nil, err
	}
	return unit.SystemdUnitPath(d, h), text, nil
}

// systemctl runs systemctl, with --user for user units.
func systemctl(user bool, args ...string) (string, error) {
	if user {
		args = append([]string{"--user"}, args...)
	}
	return runTool("systemctl", args...)
}

func install(d unit.Description) (bool, error) {
	path, text, err := definition(d)
	if err != nil {
		return false, err
	}
	old, err := os.ReadFile(path)
	changed := err != nil || !bytes.Equal(old, text)
	if changed {
		if err := writeFileAtomic(path, text, 0o644); err != nil {
			return false, err
		}
		if _, err := systemctl(d.User, "daemon-reload"); err != nil {
			return true, err
		}
	}
	if out, _ := systemctl(d.User, "is-enabled", "--", d.Name); strings.TrimSpace(out) != "enabled" {
		if _, err := systemctl(d.User, "enable", "--", d.Name); err != nil {
			return true, err
		}
		changed = true
	}
	return changed, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sole-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func unitPath(name string, user bool) (string, error) {
	h, err := home(user)
	if err != nil {
		return "", err
	}
	return unit.SystemdUnitPath(unit.Description{Name: name, User: user}, h), nil
}

func uninstall(name string, user bool) error {
	path, err := unitPath(name, user)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	if _, err := systemctl(user, "disable", "--now", "--", name); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	if _, err := systemctl(user, "daemon-reload"); err != nil {
		return err
	}
	systemctl(user, "reset-failed", "--", name) // fails when it had not failed
	return nil
}

func control(name string, user bool, action string) error {
	if st, err := status(name, user); err == nil && st == NotInstalled {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	_, err := systemctl(user, action, "--", name)
	return err
}

// standbyPrefix begins the status line (STATUS=) of a fleet service that
// stands by for its lock: `sole run --fleet --wait`'s and package
// runtime's ("standing by: NAME is held by pid P on HOST, since T",
// "standing by: etcd at ... cannot be reached: ...; retrying").
const standbyPrefix = "standing by"

// startPoll is how often start looks at a unit that is starting: first
// after startPoll[0], then at twice the last interval, at most
// startPoll[1].
var startPoll = [2]time.Duration{50 * time.Millisecond, 500 * time.Millisecond}

// unitState is what start reads of a unit (systemctl show).
type unitState struct {
	load, active, sub, status, invocation string
}

func showUnit(name string, user bool) (unitState, error) {
	out, err := systemctl(user, "show", "--property=LoadState,ActiveState,SubState,StatusText,InvocationID", "--", name)
	if err != nil {
		return unitState{}, err
	}
	var u unitState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "LoadState":
			u.load = v
		case "ActiveState":
			u.active = v
		case "SubState":
			u.sub = v
		case "StatusText":
			u.status = v
		case "InvocationID":
			u.invocation = v
		}
	}
	return u, nil
}

// standingBy reports that the unit is starting (its start job waits for
// READY=1: not in auto-restart, not stopping) and says that it stands by.
func (u unitState) standingBy() bool {
	return u.active == "activating" && u.sub == "start" && strings.HasPrefix(u.status, standbyPrefix)
}

// start runs systemctl start or restart as control does, and waits for it
// as control does, but returns early once the unit stands by for its
// fleet lock, with its status line: systemctl would wait for the job
// until the unit holds that lock, maybe forever. The job stays queued
// (ending systemctl, which only waits for it, does not cancel it). systemd
// clears a service's status line when it starts it (with a new
// invocation ID), so a standby seen while starting is the current
// process's; but before a restart's job runs, it is the old one's: only
// a new invocation's counts then. A start of a unit that stands by
// already joins its start job and returns at once.
func start(name string, user bool, action string) (string, error) {
	before, err := showUnit(name, user)
	if err == nil && before.load == "not-found" {
		return "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	args := []string{action, "--", name}
	if user {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.Command("systemctl", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", toolError("systemctl", args, "", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for wait := startPoll[0]; ; wait = min(2*wait, startPoll[1]) {
		t := time.NewTimer(wait)
		select {
		case err := <-done:
			t.Stop()
			if err != nil {
				return "", toolError("systemctl", args, stderr.String(), err)
			}
			return "", nil
		case <-t.C:
		}
		now, err := showUnit(name, user)
		if err != nil || !now.standingBy() {
			continue
		}
		if action == "start" || now.invocation != before.invocation {
			_ = cmd.Process.Kill() // systemctl, which only waits for the job
			<-done
			return now.status, nil
		}
	}
}

func status(name string, user bool) (State, error) {
	out, err := systemctl(user, "show", "--property=LoadState,ActiveState", "--", name)
	if err != nil {
		return Unknown, err
	}
	props := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	if props["LoadState"] == "not-found" {
		return NotInstalled, nil
	}
	switch props["ActiveState"] {
	case "active":
		return Active, nil
	case "inactive":
		return Inactive, nil
	case "activating":
		return Activating, nil
	case "deactivating":
		return Deactivating, nil
	case "reloading":
		return Reloading, nil
	case "failed":
		return Failed, nil
	}
	return Unknown, nil
}
