//go:build !windows

package runtime

import "log/slog"

// setRecoveryActions is for Windows services only: elsewhere the unit
// (systemd Restart=on-failure, launchd KeepAlive) says what happens when
// the program fails.
func setRecoveryActions(string, *slog.Logger) {}
