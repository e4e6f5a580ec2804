package solecmd

import (
	"fmt"
	"io"

	"github.com/solehq/sole/internal/cli"
)

// execFleet: the fleet lock is not supported on Windows yet (runMain says
// so before it gets here).
func execFleet(stderr io.Writer) int {
	fmt.Fprintln(stderr, "sole: --fleet is not supported on Windows yet")
	return cli.ExitUsage
}

type guard struct{}

func startGuard() (*guard, error) { return nil, nil }
func (g *guard) done()            {}

// guardCmd: there is no guard on Windows (see fleet_unix.go).
var guardCmd = &cli.Command{
	Name:   "__fleet-guard",
	Hidden: true,
	Run:    func(*cli.Command, []string, io.Writer, io.Writer) int { return cli.ExitUsage },
}

func takeGuardExe() {}

func rememberArgs([]string) {}
