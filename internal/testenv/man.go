package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// ManPage renders the man page at path with "groff -man -ww -z" and
// "man -l" with groff's warnings on, fails t on any warning, and returns
// man's output (plain text, 80 columns). It needs groff and man-db.
func ManPage(t testing.TB, path string) string {
	t.Helper()
	NeedTool(t, "groff", "groff")
	NeedTool(t, "man", "man-db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(env []string, name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s %q: %v\n%s", name, args, err, stderr.String())
		}
		return stdout.String()
	}
	if out := run(nil, "groff", "-man", "-ww", "-z", path); out != "" {
		t.Errorf("groff -z wrote %q", out)
	}
	run(nil, "groff", "-man", "-ww", "-z", "-Tutf8", "-k", path)
	// man-db: no pager, and groff's warnings on (plain man -l hides them).
	return run([]string{"MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "LC_ALL=C.UTF-8", "MANROFFOPT=-ww"}, "man", "-l", path)
}
