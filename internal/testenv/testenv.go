// Package testenv holds what the tests of every package need from the
// machine: root, a program, a binary of this module built for the test.
// A test that cannot run here is skipped with a message saying why, so
// that `go test ./...` as a user is a fast inner loop; under CI=true it
// fails instead, so that a tier that could not be set up is never taken
// for a pass.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// CI reports whether the tests run under CI=true, where nothing may be
// skipped for want of root or a tool.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips the test with the message why unless ok, or fails it under
// CI=true.
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s, and CI=true", msg)
	}
	t.Skip(msg)
}

// NeedRoot needs the test to run as root; why says what for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "needs root %s", why)
}

// NeedTool returns the path of the program name, which the Debian package
// debianPackage provides (scripts/test.sh installs it when root).
func NeedTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, "%s not found (Debian package %s): %v", name, debianPackage, err)
	return p
}

// Build builds the command pkg of this module ("cmd/sole", or a full
// import path) into a directory the test removes, with the environment
// env added (GOOS=windows, say), and returns its path. The build cache
// makes a second build of the same binary a link only.
func Build(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	name := filepath.Base(pkg)
	if slices.Contains(env, "GOOS=windows") {
		name += ".exe"
	}
	out := filepath.Join(t.TempDir(), name)
	if err := BuildTo(out, pkg, env...); err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildTo is Build for a binary that outlives one test (built once and
// shared by a package's tests): it writes the binary to out.
func BuildTo(out, pkg string, env ...string) error {
	return goBuild("build", out, pkg, env)
}

// BuildTestTo builds the test binary of the package pkg (go test -c) to
// out: a program that a test runs elsewhere (under Wine, say), which the
// package's TestMain makes a demo of itself.
func BuildTestTo(out, pkg string, env ...string) error {
	return goBuild("test", out, pkg, env, "-c")
}

func goBuild(verb, out, pkg string, env []string, flags ...string) error {
	if !strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") {
		pkg = "github.com/solehq/sole/" + pkg
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append(append([]string{verb}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, b)
	}
	return nil
}
