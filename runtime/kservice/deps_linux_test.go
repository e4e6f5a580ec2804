package kservice

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// TestOnlyAdopterLinksKardianos: on Unix, kardianos/service is linked only
// into programs that use this package; the runtime, and a program built
// on it alone (cmd/hellod), do not link it, so they do not pay its package
// initialisation at each start.
func TestOnlyAdopterLinksKardianos(t *testing.T) {
	goTool, err := exec.LookPath("go")
	testenv.Need(t, err == nil, "needs the go command: %v", err)
	const k = "github.com/kardianos/service"
	for _, goos := range []string{"linux", "darwin", "freebsd"} {
		for pkg, want := range map[string]bool{
			"github.com/solehq/sole/runtime":          false,
			"github.com/solehq/sole/cmd/hellod":       false,
			"github.com/solehq/sole/cmd/sole":         false,
			"github.com/solehq/sole/runtime/kservice": true,
			"github.com/solehq/sole/cmd/kservicedemo": true,
		} {
			cmd := exec.Command(goTool, "list", "-deps", pkg)
			cmd.Env = append(cmd.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("GOOS=%s go list -deps %s: %v", goos, pkg, err)
			}
			if got := strings.Contains("\n"+string(out), "\n"+k+"\n"); got != want {
				t.Errorf("GOOS=%s: %s links %s: %v, want %v", goos, pkg, k, got, want)
			}
		}
	}
}
