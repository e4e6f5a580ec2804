//go:build windows

package solecmd

// Windows tests of `sole run`, also run under Wine. They start COMMAND
// through startCommand, and install `sole run --service` with the real
// service control manager (Wine's services.exe under Wine). The test
// binary is both sole (named sole.exe: TestMain's testscript.Main runs
// main) and the commands it runs (winHelperArg, below).

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/rmtree/rmtreetest"
	"github.com/solehq/sole/internal/rotlog"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/internal/wintest"
	"github.com/solehq/sole/platform"
)

// winHelperArg makes the test binary one of these commands:
//
//	spawn DIR       start a child (sleep) first thing, write its pid to
//	                DIR\child.pid, sleep
//	sleep           sleep ten minutes
//	describe DIR    write the working directory, then $SOLE_T_A and
//	                $SOLE_T_B, then the arguments to DIR\describe.txt
//	break DIR       write DIR\ready, wait for CTRL_BREAK (os.Interrupt),
//	                write DIR\interrupted and exit 0
//	ignore DIR      write DIR\ready; on CTRL_BREAK, write DIR\ignored and
//	                go on
//	exit CODE       exit CODE
//	ctrlbreak DIR   as sole does under the SCM: take a console of its own,
//	                start `break DIR` in a process group of its own, send
//	                CTRL_BREAK to it; write DIR\result (the error, or what
//	                the command did) and exit 0 if it stopped by itself
//	output DIR N CODE  write N bytes (and the rest of a line) of numbered
//	                lines to stdout, through a 4 KiB buffer, and 1000
//	                lines to stderr, write DIR\written, wait for DIR\go,
//	                exit CODE
const winHelperArg = "-sole.win.helper"

func init() {
	// Before TestMain: a helper must not run the tests.
	if len(os.Args) > 2 && os.Args[1] == winHelperArg {
		os.Exit(winHelper(os.Args[2], os.Args[3:]))
	}
}

func winHelper(mode string, args []string) int {
	switch {
	case mode == "sleep":
		time.Sleep(10 * time.Minute)
		return 0
	case mode == "spawn" && len(args) == 1:
		exe, _ := os.Executable()
		cmd := exec.Command(exe, winHelperArg, "sleep")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		writeMark(args[0], "child.pid", strconv.Itoa(cmd.Process.Pid))
		time.Sleep(10 * time.Minute)
		return 0
	case mode == "describe" && len(args) >= 1:
		wd, _ := os.Getwd()
		lines := append([]string{wd, os.Getenv("SOLE_T_A"), os.Getenv("SOLE_T_B")}, args[1:]...)
		writeMark(args[0], "describe.txt", strings.Join(lines, "\n"))
		return 0
	case (mode == "break" || mode == "ignore") && len(args) == 1:
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		writeMark(args[0], "ready", "")
		for range c {
			if mode == "break" {
				writeMark(args[0], "interrupted", time.Now().Format(time.RFC3339Nano))
				return 0
			}
			writeMark(args[0], "ignored", time.Now().Format(time.RFC3339Nano))
		}
		return 0
	case mode == "exit" && len(args) == 1:
		code, _ := strconv.Atoi(args[0])
		return code
	case mode == "ctrlbreak" && len(args) == 1:
		return helperCtrlBreak(args[0])
	case mode == "output" && len(args) == 3:
		n, err1 := strconv.Atoi(args[1])
		code, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			return 2
		}
		out := bufio.NewWriterSize(os.Stdout, 4096) // cuts lines anywhere, as programs do
		for i := 0; n > 0; i++ {
			line := outputLine(i)
			out.WriteString(line)
			n -= len(line)
		}
		out.Flush()
		for i := range 1000 {
			fmt.Fprintf(os.Stderr, "err line %d\n", i)
		}
		writeMark(args[0], "written", "")
		for !wintest.Exists(filepath.Join(args[0], "go")) {
			time.Sleep(20 * time.Millisecond)
		}
		return code
	}
	fmt.Fprintf(os.Stderr, "bad helper arguments %q\n", append([]string{mode}, args...))
	return 2
}

func helperCtrlBreak(dir string) int {
	result := func(format string, args ...any) { writeMark(dir, "result", fmt.Sprintf(format, args...)) }
	if err := serviceConsole(); err != nil {
		result("serviceConsole: %v", err)
		return 1
	}
	exe, _ := os.Executable()
	c, err := startCommand(commandSpec{path: exe, argv: []string{exe, winHelperArg, "break", dir}, env: os.Environ(), newGroup: true})
	if err != nil {
		result("startCommand: %v", err)
		return 1
	}
	defer c.close()
	for !wintest.Exists(filepath.Join(dir, "ready")) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctrlBreak(c.pid); err != nil {
		result("%v", err)
		return 1
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		result("sent; COMMAND still runs 30s later")
		return 1
	}
	result("sent; COMMAND exited with code %d, interrupted: %v", c.code, wintest.Exists(filepath.Join(dir, "interrupted")))
	return 0
}

// outputLine is line i of the output helper's stdout.
func outputLine(i int) string {
	return fmt.Sprintf("out line %07d %s\n", i, strings.Repeat("abcdefghij", i%13))
}

func writeMark(dir, name, text string) {
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err == nil {
		os.Rename(tmp, filepath.Join(dir, name))
	}
}

func winTempDir(t *testing.T) string { return rmtreetest.TempDir(t, "sole-cmd-test") }

var procIsProcessInJob = windows.NewLazySystemDLL("kernel32.dll").NewProc("IsProcessInJob")

func isProcessInJob(t *testing.T, process, job windows.Handle) bool {
	t.Helper()
	var in int32
	if r, _, err := procIsProcessInJob.Call(uintptr(process), uintptr(job), uintptr(unsafe.Pointer(&in))); r == 0 {
		t.Fatalf("IsProcessInJob: %v", err)
	}
	return in != 0
}

// TestWindowsStartInJob: COMMAND and a child it starts first thing are in
// COMMAND's job, and terminating the job ends both.
func TestWindowsStartInJob(t *testing.T) {
	dir := winTempDir(t)
	exe := wintest.Executable(t)
	c, err := startCommand(commandSpec{path: exe, argv: []string{exe, winHelperArg, "spawn", dir}, env: os.Environ(), stderr: stdHandle(os.Stderr), newGroup: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	pid, err := strconv.Atoi(wintest.WaitFile(t, filepath.Join(dir, "child.pid"), 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		t.Fatalf("the child, pid %d: %v", pid, err)
	}
	defer windows.CloseHandle(h)
	if !isProcessInJob(t, c.process, c.job) {
		t.Error("COMMAND is not in its job")
	}
	if !isProcessInJob(t, h, c.job) {
		t.Errorf("COMMAND's child (pid %d) is not in COMMAND's job", pid)
	}
	pids, err := c.processes()
	if err != nil {
		t.Error(err)
	} else if !slices.Contains(pids, uint32(c.pid)) || !slices.Contains(pids, uint32(pid)) {
		t.Errorf("the job's processes are %v, want COMMAND (%d) and its child (%d)", pids, c.pid, pid)
	}
	if err := c.terminate(7); err != nil {
		t.Fatal(err)
	}
	if ev, err := windows.WaitForSingleObject(h, 30000); ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("COMMAND's child still runs after the job was terminated: %d, %v", ev, err)
	}
	<-c.exited
	if c.code != 7 {
		t.Errorf("COMMAND's exit code %d, want 7 (TerminateJobObject's)", c.code)
	}
}

// TestWindowsStartSpec: COMMAND gets its working directory, environment
// and arguments as given.
func TestWindowsStartSpec(t *testing.T) {
	dir := winTempDir(t)
	work := filepath.Join(dir, "work dir")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := wintest.Executable(t)
	args := []string{"a b", `q"x`, "", `C:\dir with space\`}
	env := append(os.Environ(), "SOLE_T_A=first", "sole_t_a=second", "SOLE_T_B=b=c")
	c, err := startCommand(commandSpec{path: exe, argv: append([]string{"helper", winHelperArg, "describe", dir}, args...), env: env, dir: work, stderr: stdHandle(os.Stderr)})
	if err != nil {
		t.Fatal(err)
	}
	<-c.exited
	c.close()
	if c.waitErr != nil || c.code != 0 {
		t.Fatalf("describe: exit %d, %v", c.code, c.waitErr)
	}
	got := strings.Split(wintest.WaitFile(t, filepath.Join(dir, "describe.txt"), time.Second), "\n")
	want := append([]string{work, "second", "b=c"}, args...)
	if !slices.Equal(got, want) {
		t.Errorf("COMMAND saw %q, want %q", got, want)
	}
}

// TestWindowsRunForeground: `sole run` without --service starts COMMAND
// in --workdir, with --env-file's variables, and exits with its code.
func TestWindowsRunForeground(t *testing.T) {
	dir := winTempDir(t)
	b, err := os.ReadFile(wintest.Executable(t))
	if err != nil {
		t.Fatal(err)
	}
	sole := filepath.Join(dir, "sole.exe")
	if err := os.WriteFile(sole, b, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("SOLE_T_A=from the file\nSOLE_T_B='b c'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sole-cmd-fg-%d", os.Getpid())
	// A relative COMMAND path is taken from --workdir.
	if err := os.WriteFile(filepath.Join(work, "helper.exe"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sole, "run", "--name", name, "--workdir", work, "--env-file", envFile, "--", `.\helper.exe`, winHelperArg, "describe", dir, "x y").CombinedOutput()
	if err != nil {
		t.Fatalf("sole run: %v: %s", err, out)
	}
	got := strings.Split(wintest.WaitFile(t, filepath.Join(dir, "describe.txt"), time.Second), "\n")
	if want := []string{work, "from the file", "b c", "x y"}; !slices.Equal(got, want) {
		t.Errorf("COMMAND saw %q, want %q", got, want)
	}
	err = exec.Command(sole, "run", "--name", name, "--", wintest.Executable(t), winHelperArg, "exit", "42").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Errorf("sole run of a command that exits 42: %v", err)
	}
}

func TestWindowsEnvBlock(t *testing.T) {
	for name, tt := range map[string]struct {
		env  []string
		want string // the block with NULs as |
	}{
		"empty":       {nil, "||"},
		"sorted":      {[]string{"B=2", "a=1", "C=3"}, "a=1|B=2|C=3||"},
		"last wins":   {[]string{"Path=x", "A=1", "PATH=y"}, "A=1|PATH=y||"},
		"drive dirs":  {[]string{"=D:=D:\\x", "=C:=C:\\", "A=1"}, "=C:=C:\\|=D:=D:\\x|A=1||"},
		"value has =": {[]string{"A=b=c"}, "A=b=c||"},
		"empty entry": {[]string{"", "A="}, "A=||"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := envBlock(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for _, u := range b {
				if u == 0 {
					sb.WriteByte('|')
				} else {
					sb.WriteRune(rune(u))
				}
			}
			if sb.String() != tt.want {
				t.Errorf("block %q, want %q", sb.String(), tt.want)
			}
		})
	}
	if _, err := envBlock([]string{"A=x\x00y"}); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("a NUL in a value: %v, want an error", err)
	}
}

// TestWindowsCtrlBreak: CTRL_BREAK_EVENT, sent as a service's sole sends
// it (from a console of its own, to COMMAND's process group), reaches a
// program that handles it. Wine 8 cannot generate the event (see
// docs/windows.md): there the test checks that it fails as documented.
func TestWindowsCtrlBreak(t *testing.T) {
	dir := winTempDir(t)
	out, err := exec.Command(wintest.Executable(t), winHelperArg, "ctrlbreak", dir).CombinedOutput()
	result := wintest.WaitFile(t, filepath.Join(dir, "result"), 30*time.Second)
	t.Logf("CTRL_BREAK to COMMAND's process group: %s", result)
	if wintest.UnderWine() {
		if err == nil || !strings.Contains(result, "GenerateConsoleCtrlEvent: Invalid handle.") {
			t.Errorf("Wine 8 generated CTRL_BREAK_EVENT (%q, %v): update docs/windows.md and TestWindowsServiceStop", result, err)
		}
		t.Skip("Wine 8 cannot generate CTRL_BREAK_EVENT (GenerateConsoleCtrlEvent fails with ERROR_INVALID_HANDLE)")
	}
	if err != nil || !strings.Contains(result, "exited with code 0, interrupted: true") {
		t.Errorf("helper: %v: %s", err, out)
	}
}

// winService is a `sole run --service` installed for a test: sole.exe
// (this test binary) wrapping COMMAND (this test binary again, as a
// helper), both in a directory with spaces.
type winService struct {
	name, dir, sole, helper string
}

func newWinService(t *testing.T) *winService {
	t.Helper()
	m := wintest.ConnectAdmin(t)
	deleteWinLeftovers(t, m)
	s := &winService{name: fmt.Sprintf("sole-cmd-%d-%s", os.Getpid(), strings.ToLower(strings.TrimPrefix(t.Name(), "TestWindowsService")))}
	s.dir = filepath.Join(winTempDir(t), "sole cmd test")
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(wintest.Executable(t))
	if err != nil {
		t.Fatal(err)
	}
	s.sole, s.helper = filepath.Join(s.dir, "sole.exe"), filepath.Join(s.dir, "helper.exe")
	for _, p := range []string{s.sole, s.helper} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := svcmgr.Uninstall(s.name, false); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			if st, serr := svcmgr.Status(s.name, false); serr != nil || st != svcmgr.NotInstalled {
				t.Errorf("cleanup: uninstall: %v", err)
			} else {
				// Wine 8: the lock directory's removal fails as any
				// os.RemoveAll does there; the service is gone.
				t.Logf("uninstall: %v", err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(s.dir, "logs", s.name+".sole.log")); err == nil {
			t.Logf("sole's own log (the event log could not be opened):\n%s", b)
		}
	})
	return s
}

// install installs `sole run --service` with the options opts (put before
// "--") and COMMAND the helper in mode with args.
func (s *winService) install(t *testing.T, opts []string, mode string, args ...string) {
	t.Helper()
	run := unit.SoleRunArgs(s.name, false, true, "", append([]string{s.helper, winHelperArg, mode}, args...))
	i := slices.Index(run, "--")
	run = slices.Concat(run[:i], opts, run[i:])
	if _, err := svcmgr.Install(unit.Description{
		Name:         s.name,
		Description:  "sole run --service test",
		Exec:         s.sole,
		Args:         run,
		StartTimeout: 30 * time.Second,
		StopTimeout:  30 * time.Second,
	}); err != nil {
		t.Fatalf("install: %v", err)
	}
}

func (s *winService) query(t *testing.T) svc.Status {
	t.Helper()
	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	sv, err := m.OpenService(s.name)
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()
	st, err := sv.Query()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitStopped waits for the service to stop by itself, at most d.
func (s *winService) waitStopped(t *testing.T, d time.Duration) svc.Status {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if st := s.query(t); st.State == svc.Stopped {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service has not stopped after %v", d)
		}
	}
}

// processGone waits for pid to exit, at most d.
func processGone(pid int, d time.Duration) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return true
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, uint32(d.Milliseconds()))
	return ev == windows.WAIT_OBJECT_0
}

// deleteWinLeftovers deletes the services (sole-cmd-PID-...) that a killed
// run of these tests left behind; not those of a test binary that runs.
func deleteWinLeftovers(t *testing.T, m *mgr.Mgr) {
	names, err := m.ListServices()
	if err != nil {
		return
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, "sole-cmd-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil {
			continue
		}
		if name, err := platform.ProcessName(pid); err == nil && strings.HasSuffix(strings.ToLower(name), ".test.exe") {
			continue
		}
		if err := svcmgr.Uninstall(n, false); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			t.Logf("removing leftover service %s: %v", n, err)
		}
	}
}

// TestWindowsServiceStop: a stop request sends CTRL_BREAK to COMMAND,
// which handles it and exits; a COMMAND that ignores it is terminated
// after --stop-timeout. Either way the service stops with exit code 0.
func TestWindowsServiceStop(t *testing.T) {
	s := newWinService(t)
	logs := filepath.Join(s.dir, "logs")
	// Wine 8 cannot send CTRL_BREAK (TestWindowsCtrlBreak) and has no
	// windows: there sole can ask nothing, and both commands are
	// terminated at once.
	wine := wintest.UnderWine()
	breakTimeout := 20 * time.Second
	if wine {
		breakTimeout = 3 * time.Second
	}
	for _, tt := range []struct {
		mode    string
		timeout time.Duration
	}{
		{"break", breakTimeout},
		{"ignore", 3 * time.Second},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			marks := filepath.Join(s.dir, tt.mode)
			if err := os.Mkdir(marks, 0o755); err != nil {
				t.Fatal(err)
			}
			s.install(t, []string{"--log-dir", logs, "--stop-timeout", tt.timeout.String()}, tt.mode, marks)
			if err := svcmgr.Start(s.name, false); err != nil {
				t.Fatalf("start: %v", err)
			}
			wintest.WaitFile(t, filepath.Join(marks, "ready"), 30*time.Second)
			st := s.query(t)
			if st.State != svc.Running {
				t.Fatalf("after start: %+v", st)
			}
			pids := servicePids(t, int(st.ProcessId))
			if len(pids) != 2 {
				t.Errorf("the service's processes: %v, want sole and COMMAND", pids)
			}
			start := time.Now()
			if err := svcmgr.Stop(s.name, false); err != nil {
				t.Fatalf("stop: %v", err)
			}
			took := time.Since(start)
			t.Logf("stop returned after %v (--stop-timeout %v)", took.Round(time.Millisecond), tt.timeout)
			st = s.query(t)
			if st.State != svc.Stopped || st.Win32ExitCode != 0 || st.ServiceSpecificExitCode != 0 {
				t.Errorf("after stop: %+v, want stopped with exit code 0", st)
			}
			if mst, err := svcmgr.Status(s.name, false); err != nil || mst != svcmgr.Inactive {
				t.Errorf("status %q, %v; want inactive", mst, err)
			}
			interrupted, ignored := wintest.Exists(filepath.Join(marks, "interrupted")), wintest.Exists(filepath.Join(marks, "ignored"))
			switch {
			case wine:
				if interrupted || ignored {
					t.Errorf("under Wine 8, COMMAND got CTRL_BREAK: update docs/windows.md")
				}
				// Nothing could be sent, so sole does not wait.
				if took >= tt.timeout {
					t.Errorf("stop returned after %v: sole waited --stop-timeout %v though it could ask nothing", took, tt.timeout)
				}
			case tt.mode == "break":
				if !interrupted {
					t.Errorf("COMMAND did not get CTRL_BREAK (no %s)", filepath.Join(marks, "interrupted"))
				}
				if took >= tt.timeout {
					t.Errorf("stop took %v: COMMAND was terminated at --stop-timeout, not stopped by CTRL_BREAK", took)
				}
			case tt.mode == "ignore":
				if !ignored {
					t.Errorf("COMMAND did not get CTRL_BREAK (no %s)", filepath.Join(marks, "ignored"))
				}
				if took < tt.timeout {
					t.Errorf("stop returned after %v, before --stop-timeout %v", took, tt.timeout)
				}
			}
			for _, pid := range pids {
				if !processGone(pid, 10*time.Second) {
					t.Errorf("pid %d (sole or COMMAND) still runs after stop", pid)
				}
			}
		})
	}
}

// servicePids returns the service's pid and those of its children.
func servicePids(t *testing.T, servicePid int) []int {
	t.Helper()
	pids := []int{servicePid}
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		t.Logf("listing processes: %v", err)
		return pids
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if int(e.ParentProcessID) == servicePid {
			pids = append(pids, int(e.ProcessID))
		}
	}
	return pids
}

// TestWindowsServiceLogs: an installed COMMAND's output goes to
// NAME.out.log and NAME.err.log in --log-dir, rotated at 10 MiB without
// losing or splitting a line; COMMAND exiting non-zero stops the service
// as failed with its exit code, exiting 0 as a clean stop.
func TestWindowsServiceLogs(t *testing.T) {
	s := newWinService(t)
	logs := filepath.Join(s.dir, "logs") // made by sole
	const size = rotlog.DefaultMaxSize + rotlog.DefaultMaxSize/4
	var want strings.Builder
	for i, n := 0, size; n > 0; i++ {
		line := outputLine(i)
		want.WriteString(line)
		n -= len(line)
	}
	for _, tt := range []struct {
		name  string
		code  int
		state svcmgr.State
	}{
		{"exit 3", 3, svcmgr.Failed},
		{"exit 0", 0, svcmgr.Inactive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			marks := filepath.Join(s.dir, fmt.Sprint("code ", tt.code))
			if err := os.Mkdir(marks, 0o755); err != nil {
				t.Fatal(err)
			}
			s.install(t, []string{"--log-dir", logs}, "output", marks, strconv.Itoa(size), strconv.Itoa(tt.code))
			if err := svcmgr.Start(s.name, false); err != nil {
				t.Fatalf("start: %v", err)
			}
			wintest.WaitFile(t, filepath.Join(marks, "written"), 60*time.Second)
			writeMark(marks, "go", "")
			st := s.waitStopped(t, 30*time.Second)
			wantWin32, wantSpecific := uint32(0), uint32(0)
			if tt.code != 0 {
				wantWin32, wantSpecific = uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR), uint32(tt.code)
			}
			if st.Win32ExitCode != wantWin32 || st.ServiceSpecificExitCode != wantSpecific {
				t.Errorf("stopped with Win32ExitCode %d, ServiceSpecificExitCode %d; want %d, %d", st.Win32ExitCode, st.ServiceSpecificExitCode, wantWin32, wantSpecific)
			}
			if mst, err := svcmgr.Status(s.name, false); err != nil || mst != tt.state {
				t.Errorf("status %q, %v; want %q", mst, err, tt.state)
			}

			out := filepath.Join(logs, s.name+".out.log")
			files, err := rotlog.Files(out)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > 0 && b[len(b)-1] != '\n' {
					t.Errorf("%s ends inside a line", f)
				}
				// A file can exceed 10 MiB only by the end of its last line
				// (which came in pieces through the pipe).
				body := b[:max(0, len(b)-1)]
				if before := strings.LastIndexByte(string(body), '\n') + 1; before > rotlog.DefaultMaxSize {
					t.Errorf("%s: %d bytes, %d before its last line: more than 10 MiB", f, len(b), before)
				}
				t.Logf("%s: %d bytes", filepath.Base(f), len(b))
				got.WriteString(string(b))
			}
			// The second run appends to the first's files: its output is
			// at the end.
			runs := tt.code == 0
			all := want.String()
			if runs {
				all += all
			}
			switch {
			case len(files) != 2 && !runs, len(files) != 3 && runs:
				t.Errorf("files %q; want the log and the rotated ones", files)
			case got.String() != all:
				t.Errorf("the out files hold %d bytes, not the %d written in order", got.Len(), len(all))
			}
			b, err := os.ReadFile(filepath.Join(logs, s.name+".err.log"))
			if err != nil {
				t.Fatal(err)
			}
			var wantErr strings.Builder
			for range 1 + btoi(runs) {
				for i := range 1000 {
					fmt.Fprintf(&wantErr, "err line %d\n", i)
				}
			}
			if string(b) != wantErr.String() {
				t.Errorf("%s.err.log: %d bytes, want the %d written", s.name, len(b), wantErr.Len())
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWindowsGUIProgram: the kind of program (console or GUI) that
// decides how a stop asks it, read from its PE header.
func TestWindowsGUIProgram(t *testing.T) {
	if gui, known := guiProgram(wintest.Executable(t)); gui || !known {
		t.Errorf("the test binary (a console program): gui %v, known %v", gui, known)
	}
	dir := winTempDir(t)
	for name, data := range map[string][]byte{
		"empty":        nil,
		"text":         []byte("#!/bin/sh\necho hi\n"),
		"bad e_lfanew": append([]byte("MZ"), make([]byte, 0x40)...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, known := guiProgram(p); known {
			t.Errorf("%s: taken for a program", name)
		}
	}
	if _, known := guiProgram(filepath.Join(dir, "missing.exe")); known {
		t.Errorf("a missing file taken for a program")
	}
}
