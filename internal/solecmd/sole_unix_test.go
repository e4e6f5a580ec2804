//go:build unix

package solecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/pidlock"
)

// sole starts the sole command (this test binary, by way of testscript's
// $PATH entry) as a process.
func soleCmd(args ...string) *exec.Cmd {
	return exec.Command("sole", args...)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitFile waits for a file to exist.
func waitFile(t *testing.T, p string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", p)
}

// holdScript is a command that says it started, then waits for a release
// file.
func holdScript(dir string) []string {
	return []string{"sh", "-c", `touch "$1/started.$$"; while [ ! -e "$1/release" ]; do sleep 0.01; done`, "sh", dir}
}

var holderLine = regexp.MustCompile(`^sole: x is already running \(pid ([0-9]+), sh, since [0-9]{2}:[0-9]{2}:[0-9]{2}\)\n$`)

// Test64Starters: 64 concurrent starters, exactly one runs, the other 63
// exit 75 at once, each with one line naming the one that runs.
func Test64Starters(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	const n = 64
	type result struct {
		code   int
		stderr string
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := soleCmd(append([]string{"run", "--lock", lock, "--"}, holdScript(dir)...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			<-start
			err := cmd.Run()
			results <- result{exitCode(err), stderr.String()}
		}()
	}
	close(start)
	// Everyone but the one that runs must give up at once.
	var refused []result
	for len(refused) < n-1 {
		select {
		case r := <-results:
			if r.code != cli.ExitTempFail {
				t.Fatalf("a starter exited %d (stderr %q) while the lock was held", r.code, r.stderr)
			}
			refused = append(refused, r)
		case <-time.After(60 * time.Second):
			t.Fatalf("only %d starters gave up", len(refused))
		}
	}
	started, _ := filepath.Glob(filepath.Join(dir, "started.*"))
	if len(started) != 1 {
		t.Fatalf("%d commands started, want exactly 1", len(started))
	}
	runningPid := strings.TrimPrefix(filepath.Ext(started[0]), ".")
	named := 0
	for _, r := range refused {
		if r.stderr == "sole: x is already running (starting)\n" {
			continue
		}
		m := holderLine.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("stderr %q is not one line naming the holder", r.stderr)
		}
		if m[1] == runningPid {
			named++
		}
	}
	// A starter that came while the holder was still starting says so;
	// most name the holder's pid.
	if named == 0 {
		t.Fatalf("no refusal named the running command's pid %s", runningPid)
	}
	os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	wg.Wait()
	if r := <-results; r.code != 0 {
		t.Fatalf("the holder exited %d: %s", r.code, r.stderr)
	}
}

func mustLock(t *testing.T, path string) *pidlock.Lock {
	t.Helper()
	l, err := pidlock.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestHolderKilledNextStarts: the holder (sole and its command) killed
// with SIGKILL; the next start succeeds at once, without --wait.
func TestHolderKilledNextStarts(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	cmd := soleCmd(append([]string{"run", "--lock", lock, "--"}, holdScript(dir)...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, lock)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "started.*")); len(m) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// sole and its command, which runs in a process group of its own.
	st, err := mustLock(t, lock).Query()
	if err != nil || st.Holder == nil {
		t.Fatalf("Query = %+v, %v", st, err)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	syscall.Kill(-st.Holder.PID, syscall.SIGKILL)
	cmd.Wait()
	// The grandchild is gone once its process group is; wait for it.
	waitGone(t, lock)
	out, err := soleCmd("run", "--lock", lock, "--", "true").CombinedOutput()
	if err != nil {
		t.Fatalf("start after the holder was killed: %v: %s", err, out)
	}
}

// waitGone waits until nobody holds the lock.
func waitGone(t *testing.T, lock string) {
	t.Helper()
	l, _ := pidlock.New(lock)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st, err := l.Query(); err == nil && st.State != pidlock.Running && st.State != pidlock.Starting {
			return
		}
	}
	t.Fatal("the lock stayed held")
}

// TestSoleKilledCommandKeepsLock: sole SIGKILLed while its command runs;
// no second command starts until the first exits, and then one can.
func TestSoleKilledCommandKeepsLock(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	cmd := soleCmd(append([]string{"run", "--lock", lock, "--"}, holdScript(dir)...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var started []string
	for len(started) == 0 {
		started, _ = filepath.Glob(filepath.Join(dir, "started.*"))
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	cmdPid, _ := strconv.Atoi(strings.TrimPrefix(filepath.Ext(started[0]), "."))
	if syscall.Kill(cmdPid, 0) != nil {
		t.Fatalf("the command (pid %d) died with sole", cmdPid)
	}
	for i := range 20 {
		var stderr bytes.Buffer
		c := soleCmd(append([]string{"run", "--lock", lock, "--"}, holdScript(dir)...)...)
		c.Stderr = &stderr
		if code := exitCode(c.Run()); code != cli.ExitTempFail {
			t.Fatalf("start %d while the orphaned command runs exited %d: %s", i, code, stderr.String())
		}
		if m := holderLine.FindStringSubmatch(stderr.String()); m == nil || m[1] != strconv.Itoa(cmdPid) {
			t.Fatalf("refusal %q does not name the running command %d", stderr.String(), cmdPid)
		}
	}
	out, _ := soleCmd("status", "--lock", lock).Output()
	if !strings.Contains(string(out), fmt.Sprintf("running (pid %d, sh,", cmdPid)) {
		t.Fatalf("status while the orphan runs: %q", out)
	}
	// Let it exit; then a new one starts.
	os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	for syscall.Kill(cmdPid, 0) == nil {
		time.Sleep(time.Millisecond)
	}
	os.Remove(filepath.Join(dir, "release"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sole", "run", "--lock", lock, "--wait", "--timeout", "20s", "--", "echo", "second").CombinedOutput()
	if err != nil || string(out) != "second\n" {
		t.Fatalf("start after the orphan exited: %v: %q", err, out)
	}
}

// TestLiveUnrelatedRecordNotRunning: a record naming a live process, with
// no lock held, counts as not running: status says 1 (stale), run runs.
func TestLiveUnrelatedRecordNotRunning(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	lock := filepath.Join(t.TempDir(), "x.pid")
	os.WriteFile(lock, []byte(fmt.Sprintf("%d\nsleep\n", sleep.Process.Pid)), 0o644)
	out, err := soleCmd("status", "--json", "--lock", lock).Output()
	if code := exitCode(err); code != cli.StatusDeadRecord {
		t.Fatalf("status exited %d, want %d: %s", code, cli.StatusDeadRecord, out)
	}
	var st struct {
		Name    string `json:"name"`
		Lock    string `json:"lock"`
		State   string `json:"state"`
		Running bool   `json:"running"`
		PID     int    `json:"pid"`
		Process string `json:"process"`
		Since   string `json:"since"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	if st.Running || st.State != "stale" || st.PID != sleep.Process.Pid || st.Process != "sleep" || st.Lock != lock || st.Name != "x" {
		t.Fatalf("status --json = %+v", st)
	}
	if out, err := soleCmd("run", "--lock", lock, "--", "true").CombinedOutput(); err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
}

// TestChurnWait: processes loop over `sole run --wait`; no two commands
// ever overlap, and every run happens.
func TestChurnWait(t *testing.T) {
	procs, rounds := 8, 20
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	// mkdir is atomic: if it fails, another command is inside.
	body := `mkdir "$1/inside" 2>/dev/null || { touch "$1/overlap"; exit 1; }; echo x >> "$1/count"; rmdir "$1/inside"`
	var wg sync.WaitGroup
	errs := make(chan error, procs*rounds)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				out, err := soleCmd("run", "--wait", "--timeout", "2m", "--lock", lock, "--", "sh", "-c", body, "sh", dir).CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("%v: %s", err, out)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "overlap")); err == nil {
		t.Fatal("two commands ran at once")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "count"))
	if n := bytes.Count(b, []byte("x")); n != procs*rounds {
		t.Fatalf("%d runs, want %d", n, procs*rounds)
	}
}

// TestStatusProbesNeverFailStart: `sole status` in a tight loop never makes
// a concurrent `sole run` fail.
func TestStatusProbesNeverFailStart(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "x.pid")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var probes sync.Map
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for ctx.Err() == nil {
				err := soleCmd("status", "--lock", lock).Run()
				if c := exitCode(err); c != cli.StatusRunning && c != cli.StatusNotRunning {
					t.Errorf("status exited %d", c)
				}
				n++
			}
			probes.Store(i, n)
		}()
	}
	// Bounded in count and time: under -race, on two cores, the probes
	// and the starts compete for the CPU.
	starts := 0
	for deadline := time.Now().Add(20 * time.Second); starts < 300 && time.Now().Before(deadline); starts++ {
		i := starts
		var stderr bytes.Buffer
		c := soleCmd("run", "--lock", lock, "--", "true")
		c.Stderr = &stderr
		if err := c.Run(); err != nil {
			t.Errorf("start %d failed beside status probes: %v: %s", i, err, stderr.String())
		}
	}
	cancel()
	wg.Wait()
	total := 0
	probes.Range(func(_, v any) bool { total += v.(int); return true })
	t.Logf("%d starts beside %d status probes", starts, total)
	if total < 20 || starts < 20 {
		t.Fatalf("only %d probes beside %d starts ran", total, starts)
	}
}

// TestSignalsForwarded: each forwarded signal sent to sole reaches the
// command, and sole exits with the command's status.
func TestSignalsForwarded(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			name := strings.ToUpper(strings.TrimPrefix(sigName(sig), "SIG"))
			// The command traps the signal, reports it, and exits 42.
			script := fmt.Sprintf(`trap 'echo got %s > "$1/got"; exit 42' %s; touch "$1/ready"; while :; do sleep 0.01; done`, name, name)
			cmd := soleCmd("run", "--lock", filepath.Join(dir, "x.pid"), "--", "sh", "-c", script, "sh", dir)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFile(t, filepath.Join(dir, "ready"))
			cmd.Process.Signal(sig)
			if code := exitCode(cmd.Wait()); code != 42 {
				t.Fatalf("sole exited %d, want the command's 42", code)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "got")); string(b) != "got "+name+"\n" {
				t.Fatalf("command reported %q", b)
			}
		})
	}
	t.Run("death by forwarded signal", func(t *testing.T) {
		dir := t.TempDir()
		cmd := soleCmd("run", "--lock", filepath.Join(dir, "x.pid"), "--", "sh", "-c", `touch "$1/ready"; while :; do sleep 0.01; done`, "sh", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFile(t, filepath.Join(dir, "ready"))
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitCode(cmd.Wait()); code != 128+int(syscall.SIGTERM) {
			t.Fatalf("sole exited %d, want 143", code)
		}
	})
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return s.String()
}

// TestReplace: --replace stops the holder (SIGTERM first), takes the lock
// and runs; a holder that ignores SIGTERM is killed after --stop-timeout.
func TestReplace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   string // what the old command leaves behind
	}{
		{"polite", `trap 'echo term > "$1/old"; exit 0' TERM; touch "$1/ready"; while :; do sleep 0.01; done`, "term\n"},
		{"stubborn", `trap '' TERM; touch "$1/ready"; while :; do sleep 0.01; done`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lock := filepath.Join(dir, "x.pid")
			old := soleCmd("run", "--lock", lock, "--", "sh", "-c", tc.script, "sh", dir)
			if err := old.Start(); err != nil {
				t.Fatal(err)
			}
			defer old.Process.Kill()
			waitFile(t, filepath.Join(dir, "ready"))
			out, err := soleCmd("run", "--lock", lock, "--replace", "--stop-timeout", "300ms", "--", "echo", "new").CombinedOutput()
			if err != nil || string(out) != "new\n" {
				t.Fatalf("--replace: %v: %q", err, out)
			}
			code := exitCode(old.Wait())
			if tc.want != "" {
				if b, _ := os.ReadFile(filepath.Join(dir, "old")); string(b) != tc.want || code != 0 {
					t.Fatalf("old command: exit %d, left %q", code, b)
				}
			} else if code != 128+int(syscall.SIGKILL) {
				t.Fatalf("stubborn old command: sole exited %d, want 137", code)
			}
		})
	}
}

// TestWaitInterrupted: Ctrl-C (SIGINT) cancels --wait: exit 130, and the
// command never runs.
func TestWaitInterrupted(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.pid")
	holder := soleCmd(append([]string{"run", "--lock", lock, "--"}, holdScript(dir)...)...)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); holder.Wait() }()
	for m := []string(nil); len(m) == 0; time.Sleep(time.Millisecond) {
		m, _ = filepath.Glob(filepath.Join(dir, "started.*"))
	}
	var stderr bytes.Buffer
	waiter := soleCmd("run", "--lock", lock, "--wait", "--", "touch", filepath.Join(dir, "waiter-ran"))
	waiter.Stderr = &stderr
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	waiter.Process.Signal(syscall.SIGINT)
	if code := exitCode(waiter.Wait()); code != 130 {
		t.Fatalf("interrupted wait exited %d, want 130: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "gave up waiting for the lock: interrupted by interrupt") {
		t.Fatalf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "waiter-ran")); err == nil {
		t.Fatal("the command ran after the wait was interrupted")
	}
}
