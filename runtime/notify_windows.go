//go:build windows

package runtime

import "errors"

// Windows has no notify socket: readiness is SERVICE_RUNNING, reported
// when kardianos' Start returns.
func sendDatagram(string, string) error { return errors.New("notify socket not supported on windows") }
