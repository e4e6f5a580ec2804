//go:build !unix

package sdnotify

import "errors"

// Outside Unix there is no notify socket: on Windows readiness is the
// service's SERVICE_RUNNING state. Send returns nil before it gets here
// when addr is "".
func send(string, string) error { return errors.ErrUnsupported }

// monotonicUsec: no MONOTONIC_USEC= where there is no notify socket.
func monotonicUsec() (int64, bool) { return 0, false }
