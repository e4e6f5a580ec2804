//go:build unix

package solecmd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
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
	err = syscall.Exec(path, append([]string{fleetProgram}, mainArgs...), os.Environ())
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

// guardCmd is the hidden command of the guard: a process that sole starts
// beside COMMAND under the fleet lock, and that kills COMMAND's process
// group when sole dies however it dies. The kernel's parent-death signal
// reaches COMMAND alone; the guard reaches the processes COMMAND started.
// It reads COMMAND's process group from standard input, then waits: a
// line "done" means sole ended COMMAND itself, and end of file (sole's
// end, even by SIGKILL) sends SIGKILL to the group.
var guardCmd = &cli.Command{
	Name:   "__fleet-guard",
	Hidden: true,
	Run: func(_ *cli.Command, _ []string, _, _ io.Writer) int {
		// The guard outlives sole only by the moment it takes to see the
		// end of file: it ignores the signals a terminal or a service
		// manager sends to the job.
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		var pg int
		if _, err := fmt.Fscan(os.Stdin, &pg); err != nil || pg <= 1 {
			return cli.ExitUsage
		}
		var word string
		if _, err := fmt.Fscan(os.Stdin, &word); err == nil && word == "done" {
			return cli.ExitOK
		}
		_ = syscall.Kill(-pg, syscall.SIGKILL)
		return cli.ExitOK
	},
}

// guardPID is the guard's pid, once started: a child of sole that is not
// part of COMMAND's tree.
var guardPID int

// guard is sole's end of the guard's standard input.
type guard struct{ w *os.File }

// startGuard starts the guard (see guardCmd) as a process of its own
// group, before COMMAND starts, so that no COMMAND ever runs unguarded.
func startGuard() (*guard, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devnull.Close()
	pid, _, err := children.start(func() (int, error) {
		return syscall.ForkExec(self, []string{fleetProgram, guardCmd.Name}, &syscall.ProcAttr{
			Env:   []string{},
			Files: []uintptr{r.Fd(), devnull.Fd(), 2},
			Sys:   &syscall.SysProcAttr{Setpgid: true},
		})
	})
	if err != nil {
		w.Close()
		return nil, err
	}
	guardPID = pid
	return &guard{w}, nil
}

// watch gives the guard COMMAND's process group.
func (g *guard) watch(pgid int) {
	if g != nil {
		_, _ = g.w.WriteString(strconv.Itoa(pgid) + "\n")
	}
}

// done tells the guard that COMMAND's tree is gone, and lets it exit.
func (g *guard) done() {
	if g != nil {
		_, _ = g.w.WriteString("done\n")
		g.w.Close()
	}
}
