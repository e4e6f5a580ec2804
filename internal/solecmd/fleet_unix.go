//go:build unix

package solecmd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fleet"
)

// execFleet replaces this process with sole-fleet, found beside sole or
// on PATH, running the same command line. It returns only on failure.
func execFleet(stderr io.Writer) int {
	path, err := findFleet()
	if err != nil {
		fmt.Fprintf(stderr, "sole: --fleet: %v\n", err)
		return cli.ExitNotFound
	}
	env := os.Environ()
	if self, err := os.Executable(); err == nil {
		env = append(env, EnvGuard+"="+self)
	}
	err = syscall.Exec(path, append([]string{fleetProgram}, mainArgs...), env)
	fmt.Fprintf(stderr, "sole: --fleet: %s: %v\n", path, err)
	return cli.ExitCantExec
}

// findFleet looks for sole-fleet beside this sole, then on PATH.
func findFleet() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), fleetProgram)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(fleetProgram); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is not installed beside sole or on PATH; it is a separate program so that a local sole run does not pay for etcd's client: go install github.com/solehq/sole/cmd/%s@%s", fleetProgram, fleetProgram, soleVersionTag())
}

// fleetProgram is the program that links the fleet lock.
const fleetProgram = "sole-fleet"

// mainArgs are the arguments Main was given: execFleet passes them on.
var mainArgs []string

func rememberArgs(args []string) { mainArgs = args }

// releaseFleet releases the fleet lock h (if any), once COMMAND is gone.
func releaseFleet(name string, h fleet.Hold, stderr io.Writer) {
	if h == nil {
		return
	}
	if err := h.Release(); err != nil {
		fmt.Fprintf(stderr, "sole: %s: warning: %s; the lock is free when the lease expires\n", name, cli.OneLine(err.Error()))
	}
}

// fleetLost reports whether h is lost, or past the time its guard would
// kill COMMAND.
func fleetLost(h fleet.Hold) bool {
	select {
	case <-h.Lost():
		return true
	default:
	}
	return !time.Now().Before(h.Expiry().Add(-fleet.Margin(h.TTL()) / 2))
}
