package platform

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// initTime is close to when this test process started.
var initTime = time.Now()

// supported reports whether this system implements process information.
func supported() bool {
	switch runtime.GOOS {
	case "linux", "android", "darwin", "ios", "windows":
		return true
	}
	return false
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		s    Scope
		want string
	}{
		{s: ScopeUser, want: "user"},
		{s: ScopeSystem, want: "system"},
		{s: 0, want: "scope(0)"},
		{s: 3, want: "scope(3)"},
		{s: -1, want: "scope(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("Scope(%d).String() = %q, want %q", int(tt.s), got, tt.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    Scope
		wantErr string
	}{
		{in: "user", want: ScopeUser},
		{in: "system", want: ScopeSystem},
		{in: "", wantErr: `invalid scope "": want "system" or "user"`},
		{in: "User", wantErr: `invalid scope "User": want "system" or "user"`},
		{in: " system", wantErr: `invalid scope " system": want "system" or "user"`},
		{in: "scope(1)", wantErr: `invalid scope "scope(1)": want "system" or "user"`},
		{in: "global", wantErr: `invalid scope "global": want "system" or "user"`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseScope(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				if got != 0 {
					t.Errorf("ParseScope(%q) returned scope %v with an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseScope(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			// Round trip.
			if s := got.String(); s != tt.in {
				t.Errorf("ParseScope(%q).String() = %q", tt.in, s)
			}
		})
	}
	for _, s := range []Scope{ScopeUser, ScopeSystem} {
		if got, err := ParseScope(s.String()); err != nil || got != s {
			t.Errorf("ParseScope(%v.String()) = %v, %v", s, got, err)
		}
	}
}

func TestLockDirInvalidScope(t *testing.T) {
	for _, s := range []Scope{0, 3, -1} {
		t.Run(s.String(), func(t *testing.T) {
			d, err := LockDir(s)
			if err == nil {
				t.Fatalf("LockDir(%v) = %q, want an error", s, d)
			}
			if !strings.Contains(err.Error(), s.String()) {
				t.Errorf("LockDir(%v) error %q does not name the scope", s, err)
			}
		})
	}
}

func TestLockDirSystem(t *testing.T) {
	var want string
	switch runtime.GOOS {
	case "linux", "android":
		want = "/run/sole"
	case "windows":
		t.Skip("see TestWindowsLockDir")
	case "plan9", "js", "wasip1":
		if _, err := LockDir(ScopeSystem); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("LockDir(ScopeSystem) error = %v, want ErrUnsupported", err)
		}
		return
	default:
		want = "/var/run/sole"
	}
	if got, err := LockDir(ScopeSystem); err != nil || got != want {
		t.Errorf("LockDir(ScopeSystem) = %q, %v; want %q", got, err, want)
	}
}

func TestProcessInvalidPid(t *testing.T) {
	for _, pid := range []int{0, -1, -2, math.MinInt} {
		t.Run(strconv.Itoa(pid), func(t *testing.T) {
			if n, err := ProcessName(pid); err == nil || errors.Is(err, ErrNoProcess) {
				t.Errorf("ProcessName(%d) = %q, %v; want an error other than ErrNoProcess", pid, n, err)
			}
			if st, err := ProcessStartTime(pid); err == nil || errors.Is(err, ErrNoProcess) {
				t.Errorf("ProcessStartTime(%d) = %v, %v; want an error other than ErrNoProcess", pid, st, err)
			}
		})
	}
}

func TestProcessNoSuchPid(t *testing.T) {
	if !supported() {
		_, err := ProcessName(os.Getpid())
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("ProcessName(self) error = %v, want ErrUnsupported", err)
		}
		t.Skipf("no process information on %s", runtime.GOOS)
	}
	// Above pid_max on Linux (at most 1<<22) and macOS (99999); on Windows,
	// where ids are multiples of 4 (the low two bits are ignored), the
	// largest, which is never handed out in practice.
	pids := []int{1 << 30}
	if strconv.IntSize == 64 {
		big := int64(math.MaxUint32)
		if runtime.GOOS == "windows" {
			pids = append(pids, int(big&^3))
		}
		// Beyond the 32-bit pid_t/DWORD: must not be truncated to a real pid.
		pids = append(pids, int(big+1+int64(os.Getpid())), math.MaxInt)
	}
	for _, pid := range pids {
		t.Run(strconv.Itoa(pid), func(t *testing.T) {
			n, err := ProcessName(pid)
			if !errors.Is(err, ErrNoProcess) {
				t.Errorf("ProcessName(%d) = %q, %v; want ErrNoProcess", pid, n, err)
			}
			st, err := ProcessStartTime(pid)
			if !errors.Is(err, ErrNoProcess) {
				t.Errorf("ProcessStartTime(%d) = %v, %v; want ErrNoProcess", pid, st, err)
			}
			if err != nil && !strings.Contains(err.Error(), strconv.Itoa(pid)) {
				t.Errorf("error %q does not name pid %d", err, pid)
			}
		})
	}
}

// selfName is the name the kernel gives this test process.
func selfName(t *testing.T) string {
	switch runtime.GOOS {
	case "windows":
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Base(exe)
	case "darwin", "ios":
		return truncate(filepath.Base(os.Args[0]), 16) // MAXCOMLEN
	}
	return truncate(filepath.Base(os.Args[0]), 15) // TASK_COMM_LEN-1
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestProcessSelf(t *testing.T) {
	if !supported() {
		t.Skipf("no process information on %s", runtime.GOOS)
	}
	pid := os.Getpid()
	name, err := ProcessName(pid)
	if err != nil {
		t.Fatalf("ProcessName(self): %v", err)
	}
	if want := selfName(t); name != want && !(runtime.GOOS == "windows" && strings.EqualFold(name, want)) {
		t.Errorf("ProcessName(self) = %q, want %q", name, want)
	}
	st, err := ProcessStartTime(pid)
	if err != nil {
		t.Fatalf("ProcessStartTime(self): %v", err)
	}
	// The process started shortly before this package was initialized;
	// allow for the 1 s granularity of the Linux boot time.
	if lo, hi := initTime.Add(-time.Minute), initTime.Add(2*time.Second); st.Before(lo) || st.After(hi) {
		t.Errorf("ProcessStartTime(self) = %v, want within [%v, %v]", st, lo, hi)
	}
	// Stable across calls, up to the granularity of btime on Linux.
	st2, err := ProcessStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if d := st2.Sub(st).Abs(); d > time.Second {
		t.Errorf("ProcessStartTime(self) changed by %v between calls", d)
	}
}

const helperEnv = "SOLE_PLATFORM_TEST_HELPER"

// TestHelperProcess is not a test: it is the child process of
// TestProcessChild on systems without sleep(1).
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "sleep" {
		t.Skip("helper process")
	}
	time.Sleep(5 * time.Second)
	os.Exit(0)
}

// sleepCommand returns a command that runs for 5 seconds and the process
// name it will have.
func sleepCommand(t *testing.T) (*exec.Cmd, string) {
	if runtime.GOOS == "windows" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"=sleep")
		return cmd, filepath.Base(exe)
	}
	return exec.Command("sleep", "5"), "sleep"
}

func TestProcessChild(t *testing.T) {
	if !supported() {
		t.Skipf("no process information on %s", runtime.GOOS)
	}
	cmd, want := sleepCommand(t)
	before := time.Now()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %v: %v", cmd.Args, err)
	}
	after := time.Now()
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	pid := cmd.Process.Pid

	// Right after fork the child may still have the parent's name until
	// it execs; wait for the name to change.
	var name string
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		name, err = ProcessName(pid)
		if err != nil || name == want || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("ProcessName(child %d): %v", pid, err)
	}
	if name != want && !(runtime.GOOS == "windows" && strings.EqualFold(name, want)) {
		t.Errorf("ProcessName(child %d) = %q, want %q", pid, name, want)
	}

	st, err := ProcessStartTime(pid)
	if err != nil {
		t.Fatalf("ProcessStartTime(child %d): %v", pid, err)
	}
	if lo, hi := before.Add(-2*time.Second), after.Add(2*time.Second); st.Before(lo) || st.After(hi) {
		t.Errorf("ProcessStartTime(child %d) = %v, want within [%v, %v]", pid, st, lo, hi)
	}

	cmd.Process.Kill()
	cmd.Wait()
	waited = true
	if runtime.GOOS == "windows" {
		return // Windows reuses process ids at once.
	}
	// Reaped: the pid is free (Unix hands out pids in sequence, so it is
	// not reused this soon).
	if n, err := ProcessName(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessName(reaped child %d) = %q, %v; want ErrNoProcess", pid, n, err)
	}
	if st, err := ProcessStartTime(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessStartTime(reaped child %d) = %v, %v; want ErrNoProcess", pid, st, err)
	}
}

func TestServiceManager(t *testing.T) {
	var want Manager
	switch runtime.GOOS {
	case "linux", "android":
		want = ManagerNone
		if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
			want = ManagerSystemd
		}
	case "darwin", "ios":
		want = ManagerLaunchd
	case "windows":
		want = ManagerWindows
	default:
		want = ManagerNone
	}
	if got := ServiceManager(); got != want {
		t.Errorf("ServiceManager() = %q, want %q", got, want)
	}
}

func TestUnderSystemdEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{name: "none", env: nil, want: false},
		{name: "invocation", env: map[string]string{"INVOCATION_ID": "0123456789abcdef0123456789abcdef"}, want: true},
		{name: "notify", env: map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, want: true},
		{name: "both", env: map[string]string{"INVOCATION_ID": "x", "NOTIFY_SOCKET": "@abstract"}, want: true},
		{name: "empty", env: map[string]string{"INVOCATION_ID": "", "NOTIFY_SOCKET": ""}, want: false},
		{name: "other", env: map[string]string{"JOURNAL_STREAM": "8:12345", "SYSTEMD_EXEC_PID": "1"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := underSystemd(getenv); got != tt.want {
				t.Errorf("underSystemd(%v) = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

func TestUnderSystemd(t *testing.T) {
	tests := []struct {
		name                string
		invocation, socket  string
		wantOnSystemdSystem bool
	}{
		{name: "unset", wantOnSystemdSystem: false},
		{name: "invocation", invocation: "0123456789abcdef0123456789abcdef", wantOnSystemdSystem: true},
		{name: "notify", socket: "/run/systemd/notify", wantOnSystemdSystem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("INVOCATION_ID", tt.invocation)
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			want := tt.wantOnSystemdSystem && (runtime.GOOS == "linux" || runtime.GOOS == "android")
			if got := UnderSystemd(); got != want {
				t.Errorf("UnderSystemd() = %v, want %v", got, want)
			}
		})
	}
}
