package svcmgr

import "strings"

// launchdState reads the state of a job from `launchctl print` output:
// its top-level "state = running" line (nested blocks are indented
// further and ignored).
func launchdState(out string) State {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "\tstate = ") {
			continue
		}
		switch strings.TrimSpace(strings.TrimPrefix(line, "\tstate = ")) {
		case "running":
			return Active
		case "not running", "waiting":
			return Inactive
		case "spawn scheduled", "spawning", "xpcproxy":
			return Activating
		case "exited":
			return Inactive
		}
		return Unknown
	}
	return Unknown
}
