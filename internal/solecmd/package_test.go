//go:build unix

package solecmd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/cli"
)

// TestPackageRunsPackager: `sole package` runs sole-package from PATH with
// its arguments, tells it which sole to ship, and exits with its status.
func TestPackageRunsPackager(t *testing.T) {
	dir := t.TempDir()
	fake := "#!/bin/sh\necho \"args: $*\"\necho \"sole: $SOLE_PACKAGE_SOLE\"\necho oops >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "sole-package"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	var stdout, stderr bytes.Buffer
	code := soleProgram.Main([]string{"package", "deb", "--name", "x y", "--", "-v"}, &stdout, &stderr)
	self, _ := os.Executable()
	if want := "args: deb --name x y -- -v\nsole: " + self + "\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	if code != 3 || stderr.String() != "oops\n" {
		t.Errorf("exit %d, stderr %q; want 3, the packager's", code, stderr.String())
	}
}

// TestPackageWithoutPackager: no sole-package anywhere is one line saying
// how to get it, exit 127.
func TestPackageWithoutPackager(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	code := soleProgram.Main([]string{"package", "deb"}, &stdout, &stderr)
	msg := stderr.String()
	if code != cli.ExitNotFound || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "go install github.com/solehq/sole/cmd/sole-package@") {
		t.Errorf("exit %d, stderr %q", code, msg)
	}
}

// TestSoleLinksNoPackager: the packaging libraries and etcd's client (with
// grpc and protobuf) stay out of the sole binary, whose every start would
// pay their initialisation; sole-fleet links the one, sole-package the
// other.
func TestSoleLinksNoPackager(t *testing.T) {
	out, err := execOutput("go", "list", "-deps", "github.com/solehq/sole/cmd/sole")
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	heavy := []string{"nfpm", "yaml", "go.etcd.io/", "google.golang.org/grpc", "google.golang.org/protobuf", "go.uber.org/zap",
		"github.com/solehq/sole/packaging", "github.com/solehq/sole/internal/fleet/etcdlock"}
	for _, pkg := range strings.Fields(out) {
		for _, h := range heavy {
			if strings.Contains(pkg, h) {
				t.Errorf("sole links %s", pkg)
			}
		}
	}
	// And sole-fleet does link etcd's client: the check above looks for
	// the right names.
	out, err = execOutput("go", "list", "-deps", "github.com/solehq/sole/cmd/sole-fleet")
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(out, "go.etcd.io/etcd/client/v3/concurrency") {
		t.Errorf("sole-fleet does not link go.etcd.io/etcd/client/v3/concurrency")
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
