package pidlock

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// helperHold is the test binary as a lock holder (PIDLOCK_HELPER=hold):
// it takes the lock at PIDLOCK_PATH (scope PIDLOCK_SCOPE, "system" or
// default), says so on stdout, and sleeps until killed.
func helperHold() {
	scope := ScopeUser
	if os.Getenv("PIDLOCK_SCOPE") == "system" {
		scope = ScopeSystem
	}
	l, err := New(os.Getenv("PIDLOCK_PATH"), WithScope(scope))
	if err == nil {
		err = l.TryLock()
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(0)
}

// startHolder starts the test binary as a holder of the lock at path and
// returns once it holds it; the holder is killed when the test ends.
func startHolder(t *testing.T, path, scope string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PIDLOCK_HELPER=hold", "PIDLOCK_PATH="+path, "PIDLOCK_SCOPE="+scope)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd
}
