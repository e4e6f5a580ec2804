//go:build linux

package svcmgr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
