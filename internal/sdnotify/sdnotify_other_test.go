//go:build !unix

package sdnotify_test

import (
	"errors"
	"testing"

	"github.com/solehq/sole/internal/sdnotify"
)

// TestSendUnsupported: outside Unix there is no notify socket to send to.
func TestSendUnsupported(t *testing.T) {
	if err := sdnotify.Send(`\\.\pipe\notify`, sdnotify.Ready); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Send: %v, want errors.ErrUnsupported", err)
	}
	if m := sdnotify.MonotonicUsec(); m != "" {
		t.Fatalf("MonotonicUsec() = %q, want \"\"", m)
	}
}
