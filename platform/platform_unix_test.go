//go:build unix

package platform

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

func TestUnixUserLockDir(t *testing.T) {
	uid := os.Geteuid()
	id := strconv.Itoa(uid)
	other := uid + 1000 // a uid that does not own what this test creates

	// runUser/UID is a directory owned by uid.
	owned := t.TempDir()
	if err := os.Mkdir(filepath.Join(owned, id), 0o700); err != nil {
		t.Fatal(err)
	}
	// runUser/OTHER is a directory, but owned by uid, not by other.
	foreign := t.TempDir()
	if err := os.Mkdir(filepath.Join(foreign, strconv.Itoa(other)), 0o700); err != nil {
		t.Fatal(err)
	}
	// runUser/UID is a file.
	file := t.TempDir()
	if err := os.WriteFile(filepath.Join(file, id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// runUser/UID does not exist.
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	const tmp = "/some/tmp"

	tests := []struct {
		name    string
		goos    string
		env     map[string]string
		uid     int
		runUser string
		want    string
	}{
		{name: "linux/xdg", goos: "linux", env: map[string]string{"XDG_RUNTIME_DIR": "/xdg/run"}, uid: uid, runUser: owned, want: "/xdg/run/sole"},
		{name: "linux/xdg-unclean", goos: "linux", env: map[string]string{"XDG_RUNTIME_DIR": "/xdg//run/"}, uid: uid, runUser: owned, want: "/xdg/run/sole"},
		{name: "linux/run-user", goos: "linux", uid: uid, runUser: owned, want: filepath.Join(owned, id, "sole")},
		{name: "linux/xdg-relative", goos: "linux", env: map[string]string{"XDG_RUNTIME_DIR": "xdg/run"}, uid: uid, runUser: owned, want: filepath.Join(owned, id, "sole")},
		{name: "linux/xdg-empty", goos: "linux", env: map[string]string{"XDG_RUNTIME_DIR": ""}, uid: uid, runUser: empty, want: "/some/tmp/sole-" + id},
		{name: "linux/run-user-missing", goos: "linux", uid: uid, runUser: empty, want: "/some/tmp/sole-" + id},
		{name: "linux/no-run-user", goos: "linux", uid: uid, runUser: missing, want: "/some/tmp/sole-" + id},
		{name: "linux/run-user-file", goos: "linux", uid: uid, runUser: file, want: "/some/tmp/sole-" + id},
		{name: "linux/run-user-foreign", goos: "linux", uid: other, runUser: foreign, want: "/some/tmp/sole-" + strconv.Itoa(other)},
		{name: "freebsd/run-user", goos: "freebsd", uid: uid, runUser: owned, want: filepath.Join(owned, id, "sole")},
		{name: "darwin/xdg", goos: "darwin", env: map[string]string{"XDG_RUNTIME_DIR": "/xdg/run", "TMPDIR": "/var/folders/x/T/"}, uid: uid, runUser: owned, want: "/xdg/run/sole"},
		{name: "darwin/tmpdir", goos: "darwin", env: map[string]string{"TMPDIR": "/var/folders/x/T/"}, uid: uid, runUser: owned, want: "/var/folders/x/T/sole"},
		{name: "darwin/xdg-relative", goos: "darwin", env: map[string]string{"XDG_RUNTIME_DIR": "run", "TMPDIR": "/var/folders/x/T/"}, uid: uid, runUser: owned, want: "/var/folders/x/T/sole"},
		{name: "darwin/tmpdir-relative", goos: "darwin", env: map[string]string{"TMPDIR": "T"}, uid: uid, runUser: owned, want: "/tmp/sole-" + id},
		{name: "darwin/none", goos: "darwin", uid: uid, runUser: owned, want: "/tmp/sole-" + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			got, err := unixUserLockDir(tt.goos, getenv, tt.uid, tt.runUser, tmp)
			if err != nil || got != tt.want {
				t.Errorf("unixUserLockDir(%q, %v, %d, %q, %q) = %q, %v; want %q", tt.goos, tt.env, tt.uid, tt.runUser, tmp, got, err, tt.want)
			}
		})
	}
}

// fallbackUserLockDir computes what LockDir(ScopeUser) must be without
// XDG_RUNTIME_DIR.
func fallbackUserLockDir(t *testing.T) string {
	uid := os.Geteuid()
	id := strconv.Itoa(uid)
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		if d := os.Getenv("TMPDIR"); filepath.IsAbs(d) {
			return filepath.Join(d, "sole")
		}
		return "/tmp/sole-" + id
	}
	d := "/run/user/" + id
	fi, err := os.Stat(d)
	if err == nil && fi.IsDir() && fi.Sys().(*syscall.Stat_t).Uid == uint32(uid) {
		t.Logf("%s exists and is owned by %d", d, uid)
		return d + "/sole"
	}
	t.Logf("%s is not a directory owned by %d (%v)", d, uid, err)
	return filepath.Join(os.TempDir(), "sole-"+id)
}

func TestLockDirUser(t *testing.T) {
	xdg := t.TempDir()
	tests := []struct {
		name string
		xdg  *string // nil: unset
		want func(t *testing.T) string
	}{
		{name: "set", xdg: &xdg, want: func(*testing.T) string { return filepath.Join(xdg, "sole") }},
		{name: "unset", want: fallbackUserLockDir},
		{name: "empty", xdg: strp(""), want: fallbackUserLockDir},
		{name: "relative", xdg: strp("run/user"), want: fallbackUserLockDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", "") // restored at the end of the test
			if tt.xdg == nil {
				os.Unsetenv("XDG_RUNTIME_DIR")
			} else {
				os.Setenv("XDG_RUNTIME_DIR", *tt.xdg)
			}
			want := tt.want(t)
			got, err := LockDir(ScopeUser)
			if err != nil || got != want {
				t.Errorf("LockDir(ScopeUser) with XDG_RUNTIME_DIR %s = %q, %v; want %q", tt.name, got, err, want)
			}
			if !filepath.IsAbs(got) {
				t.Errorf("LockDir(ScopeUser) = %q is not absolute", got)
			}
		})
	}
	if runtime.GOOS == "darwin" {
		return
	}
	t.Run("tmpdir", func(t *testing.T) {
		// Without XDG_RUNTIME_DIR and /run/user/UID, os.TempDir decides.
		t.Setenv("XDG_RUNTIME_DIR", "")
		os.Unsetenv("XDG_RUNTIME_DIR")
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		id := strconv.Itoa(os.Geteuid())
		want := filepath.Join(tmp, "sole-"+id)
		if fi, err := os.Stat("/run/user/" + id); err == nil && fi.IsDir() {
			want = fallbackUserLockDir(t)
		}
		if got, err := LockDir(ScopeUser); err != nil || got != want {
			t.Errorf("LockDir(ScopeUser) = %q, %v; want %q", got, err, want)
		}
	})
}

func strp(s string) *string { return &s }

func TestDefaultScopeUnix(t *testing.T) {
	want := ScopeUser
	if os.Geteuid() == 0 {
		want = ScopeSystem
	}
	if got := DefaultScope(); got != want {
		t.Errorf("DefaultScope() = %v with euid %d, want %v", got, os.Geteuid(), want)
	}
}
