//go:build unix

package solecmd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/solehq/sole/internal/cli"
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
