//go:build windows

package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWindowsLockDir(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		system  string
		user    string
		userErr bool
	}{
		{
			name:   "set",
			env:    map[string]string{"ProgramData": `D:\Data`, "LOCALAPPDATA": `C:\Users\me\AppData\Local`},
			system: `D:\Data\sole`,
			user:   `C:\Users\me\AppData\Local\sole`,
		},
		{
			name:    "unset",
			system:  `C:\ProgramData\sole`,
			userErr: true,
		},
		{
			name:    "relative",
			env:     map[string]string{"ProgramData": `Data`, "LOCALAPPDATA": `AppData\Local`},
			system:  `C:\ProgramData\sole`,
			userErr: true,
		},
		{
			name:   "unclean",
			env:    map[string]string{"ProgramData": `E:\Program Data\`, "LOCALAPPDATA": `C:\Users\me\AppData\Local\.\`},
			system: `E:\Program Data\sole`,
			user:   `C:\Users\me\AppData\Local\sole`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := windowsSystemLockDir(getenv); got != tt.system {
				t.Errorf("windowsSystemLockDir(%v) = %q, want %q", tt.env, got, tt.system)
			}
			got, err := windowsUserLockDir(getenv)
			if tt.userErr {
				if err == nil {
					t.Errorf("windowsUserLockDir(%v) = %q, want an error", tt.env, got)
				}
				return
			}
			if err != nil || got != tt.user {
				t.Errorf("windowsUserLockDir(%v) = %q, %v; want %q", tt.env, got, err, tt.user)
			}
		})
	}
}

func TestLockDirWindows(t *testing.T) {
	// LockDir does not touch the directories, so they need not exist (and
	// t.TempDir's cleanup fails under Wine 8).
	data, local := `C:\sole-test\data`, `C:\sole-test\local`
	t.Setenv("ProgramData", data)
	t.Setenv("LOCALAPPDATA", local)
	if got, err := LockDir(ScopeSystem); err != nil || got != filepath.Join(data, "sole") {
		t.Errorf("LockDir(ScopeSystem) = %q, %v; want %q", got, err, filepath.Join(data, "sole"))
	}
	if got, err := LockDir(ScopeUser); err != nil || got != filepath.Join(local, "sole") {
		t.Errorf("LockDir(ScopeUser) = %q, %v; want %q", got, err, filepath.Join(local, "sole"))
	}
	t.Setenv("LOCALAPPDATA", "")
	if got, err := LockDir(ScopeUser); err == nil {
		t.Errorf("LockDir(ScopeUser) without LOCALAPPDATA = %q, want an error", got)
	}
}

func TestProcessNameWindowsSelf(t *testing.T) {
	name, err := ProcessName(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.ToLower(name), ".exe") {
		t.Errorf("ProcessName(self) = %q, want a name ending in .exe", name)
	}
	if strings.ContainsAny(name, `\/:`) {
		t.Errorf("ProcessName(self) = %q, want a base name", name)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Base(exe); !strings.EqualFold(name, want) {
		t.Errorf("ProcessName(self) = %q, want %q", name, want)
	}
}

func TestProcessStartTimeWindowsSelf(t *testing.T) {
	st, err := ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if st.After(now) || st.Before(initTime.Add(-time.Minute)) {
		t.Errorf("ProcessStartTime(self) = %v, want shortly before %v (now %v)", st, initTime, now)
	}
}

func TestIsLocalSystem(t *testing.T) {
	sys, err := isLocalSystem()
	if err != nil {
		t.Fatalf("isLocalSystem: %v", err)
	}
	t.Logf("running as LocalSystem: %v", sys)
	want := ScopeUser
	if sys {
		want = ScopeSystem
	}
	if got := DefaultScope(); got != want {
		t.Errorf("DefaultScope() = %v, want %v", got, want)
	}
}
