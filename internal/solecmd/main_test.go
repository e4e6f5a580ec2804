package solecmd

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/solehq/sole/internal/fleet/etcdlock"
	"github.com/solehq/sole/platform"
)

// TestMain makes the test binary double as the sole command: testscript
// puts it in $PATH under the name "sole", for the scripts and for the Go
// tests that start sole as a process.
func TestMain(m *testing.M) {
	// Under -race, the race runtime sleeps a second at exit in a process
	// with more than one thread (every `sole run`): the tests start
	// hundreds of them.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	testscript.Main(m, map[string]func(){
		"sole":       func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, nil)) },
		"sole-fleet": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, etcdlock.Backend{})) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Named user-scope locks live in the user's one lock directory,
			// whatever the environment: the scripts name theirs $N...,
			// unique to the run, and find them under $LOCKS.
			dir, err := platform.LockDir(platform.ScopeUser)
			if err != nil {
				return err
			}
			n := "t" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid()) + "-"
			env.Setenv("LOCKS", dir)
			env.Setenv("N", n)
			env.Defer(func() {
				names, _ := filepath.Glob(filepath.Join(dir, n+"*"))
				for _, d := range names {
					os.RemoveAll(d)
				}
			})
			return nil
		},
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"waitfile": cmdWaitFile,
		},
	})
}

// cmdExits runs a command and checks its exact exit code:
//
//	exits 75 sole run ...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// cmdWaitFile waits up to 20 s for a file to exist:
//
//	waitfile started
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	p := ts.MkAbs(args[0])
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			if neg {
				ts.Fatalf("%s exists", p)
			}
			return
		}
	}
	if !neg {
		ts.Fatalf("%s did not appear within 20s", p)
	}
}
