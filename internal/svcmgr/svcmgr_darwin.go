//go:build darwin

package svcmgr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/solehq/sole/internal/unit"
)

// launchd: LaunchDaemons (system) and LaunchAgents (user), loaded with
// launchctl bootstrap/bootout (not the deprecated load/unload).

// domain is launchctl's domain target: system, or the user's GUI session.
func domain(user bool) string {
	if user {
		return "gui/" + strconv.Itoa(os.Getuid())
	}
	return "system"
}

func target(name string, user bool) string {
	return domain(user) + "/" + unit.LaunchdLabel(unit.Description{Name: name})
}

func definition(d unit.Description) (string, []byte, error) {
	h, err := home(d.User)
	if err != nil {
		return "", nil, err
	}
	text, err := unit.LaunchdPlist(d, h)
	if err != nil {
		return "", nil, err
	}
	return unit.LaunchdPlistPath(d, h), text, nil
}

func launchctl(args ...string) (string, error) { return runTool("launchctl", args...) }

func install(d unit.Description) (bool, error) {
	path, text, err := definition(d)
	if err != nil {
		return false, err
	}
	h, _ := home(d.User)
	if err := os.MkdirAll(unit.LaunchdLogDir(d, h), 0o755); err != nil {
		return false, err
	}
	old, err := os.ReadFile(path)
	changed := err != nil || !bytes.Equal(old, text)
	_, loadedErr := launchctl("print", target(d.Name, d.User))
	if !changed && loadedErr == nil {
		return false, nil
	}
	if changed {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(path+".tmp", text, 0o644); err != nil {
			return false, err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return false, err
		}
	}
	if loadedErr == nil {
		// Loaded with the old definition: bootout first.
		if _, err := launchctl("bootout", target(d.Name, d.User)); err != nil {
			return true, err
		}
	}
	if _, err := launchctl("enable", target(d.Name, d.User)); err != nil {
		return true, err
	}
	_, err = launchctl("bootstrap", domain(d.User), path)
	return true, err
}

func uninstall(name string, user bool) error {
	h, err := home(user)
	if err != nil {
		return err
	}
	path := unit.LaunchdPlistPath(unit.Description{Name: name, User: user}, h)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	if _, err := launchctl("print", target(name, user)); err == nil {
		if _, err := launchctl("bootout", target(name, user)); err != nil {
			return err
		}
	}
	return os.Remove(path)
}

// start starts or restarts the service: no fleet service stands by under
// this manager (StartStatus).
func start(name string, user bool, action string) (string, error) {
	return "", control(name, user, action)
}

func control(name string, user bool, action string) error {
	st, err := status(name, user)
	if err != nil {
		return err
	}
	if st == NotInstalled {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	switch action {
	case "start":
		_, err = launchctl("kickstart", target(name, user))
	case "restart":
		_, err = launchctl("kickstart", "-k", target(name, user))
	case "stop":
		_, err = launchctl("kill", "SIGTERM", target(name, user))
	}
	if err != nil || action == "stop" {
		return err
	}
	// launchd has no readiness: wait until the job runs.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st, _ := status(name, user); st == Active {
			return nil
		}
	}
	return fmt.Errorf("%s: not running 30s after %s", name, action)
}

func status(name string, user bool) (State, error) {
	out, err := launchctl("print", target(name, user))
	if err != nil {
		h, _ := home(user)
		if _, serr := os.Stat(unit.LaunchdPlistPath(unit.Description{Name: name, User: user}, h)); errors.Is(serr, os.ErrNotExist) {
			return NotInstalled, nil
		}
		return Inactive, nil
	}
	return launchdState(out), nil
}
