//go:build unix

package platform

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// nobody is the uid that the tests give files away to.
const nobody = 65534

// notRootOwned makes p owned by someone other than root: by nobody when
// the test runs as root, as it already is otherwise.
func notRootOwned(t *testing.T, p string) {
	t.Helper()
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdirMode(t *testing.T, p string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	return p
}

func TestUnixUserLockDir(t *testing.T) {
	const uid = 1000
	const id = "sole-1000"
	const tmp = "/some/tmp"
	// fixtures returns (runLock, tmp) made in dir; want is the result.
	tests := []struct {
		name     string
		goos     string
		root     bool // the fixtures need root
		fixtures func(t *testing.T, dir string) (runLock, tmp string)
		want     func(runLock, tmp string) string
	}{
		{
			name: "linux/run-lock-1777-root", goos: "linux", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o777|os.ModeSticky), tmp
			},
			want: func(runLock, _ string) string { return runLock + "/" + id },
		},
		{
			name: "android/run-lock-1777-root", goos: "android", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o777|os.ModeSticky), tmp
			},
			want: func(runLock, _ string) string { return runLock + "/" + id },
		},
		{
			name: "linux/run-lock-1773-root", goos: "linux", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o773|os.ModeSticky), tmp
			},
			want: func(runLock, _ string) string { return runLock + "/" + id },
		},
		{
			// Any user can test with /tmp, root's and 1777 on every Linux.
			name: "linux/run-lock-is-system-tmp", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				fi, err := os.Lstat("/tmp")
				if err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != 0 || fi.Mode()&(os.ModeSticky|0o777) != os.ModeSticky|0o777 {
					t.Skipf("/tmp is not a root-owned directory of mode 1777: %v, %v", fi, err)
				}
				return "/tmp", tmp
			},
			want: func(string, string) string { return "/tmp/" + id },
		},
		{
			name: "linux/run-lock-0777-no-sticky", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o777), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-0755", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o755), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-1775-not-world-writable", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o775|os.ModeSticky), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-1776-not-searchable", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o776|os.ModeSticky), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-1777-not-root", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				d := mkdirMode(t, dir+"/lock", 0o777|os.ModeSticky)
				notRootOwned(t, d)
				return d, tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-symlink", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				mkdirMode(t, dir+"/real", 0o777|os.ModeSticky)
				if err := os.Symlink("real", dir+"/lock"); err != nil {
					t.Fatal(err)
				}
				return dir + "/lock", tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-file", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				if err := os.WriteFile(dir+"/lock", nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir+"/lock", 0o777|os.ModeSticky); err != nil {
					t.Fatal(err)
				}
				return dir + "/lock", tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/run-lock-missing", goos: "linux",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return dir + "/missing", tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "linux/tmp-root-symlink", goos: "linux", root: true,
			fixtures: rootTmpLink,
			want:     func(_, tmp string) string { return filepath.Dir(tmp) + "/private/tmp/" + id },
		},
		{
			name: "darwin/run-lock-ignored", goos: "darwin", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o777|os.ModeSticky), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
		{
			name: "darwin/tmp", goos: "darwin",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return dir + "/missing", mkdirMode(t, dir+"/tmp", 0o777|os.ModeSticky)
			},
			want: func(_, tmp string) string { return tmp + "/" + id },
		},
		{
			name: "darwin/tmp-root-symlink", goos: "darwin", root: true,
			fixtures: rootTmpLink,
			want:     func(_, tmp string) string { return filepath.Dir(tmp) + "/private/tmp/" + id },
		},
		{
			name: "darwin/tmp-root-symlink-absolute-chain", goos: "darwin", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				mkdirMode(t, dir+"/real", 0o777|os.ModeSticky)
				if err := os.Symlink(dir+"/real", dir+"/hop"); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(dir+"/hop", dir+"/tmp"); err != nil {
					t.Fatal(err)
				}
				return dir + "/missing", dir + "/tmp"
			},
			want: func(_, tmp string) string { return filepath.Dir(tmp) + "/real/" + id },
		},
		{
			name: "darwin/tmp-symlink-not-root", goos: "darwin",
			fixtures: func(t *testing.T, dir string) (string, string) {
				mkdirMode(t, dir+"/real", 0o777|os.ModeSticky)
				if err := os.Symlink("real", dir+"/tmp"); err != nil {
					t.Fatal(err)
				}
				notRootOwned(t, dir+"/tmp")
				return dir + "/missing", dir + "/tmp"
			},
			want: func(_, tmp string) string { return tmp + "/" + id },
		},
		{
			name: "darwin/tmp-missing", goos: "darwin",
			fixtures: func(t *testing.T, dir string) (string, string) {
				return dir + "/missing", dir + "/tmp"
			},
			want: func(_, tmp string) string { return tmp + "/" + id },
		},
		{
			name: "freebsd/run-lock-ignored", goos: "freebsd", root: true,
			fixtures: func(t *testing.T, dir string) (string, string) {
				return mkdirMode(t, dir+"/lock", 0o777|os.ModeSticky), tmp
			},
			want: func(string, string) string { return tmp + "/" + id },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				testenv.NeedRoot(t, "to own a file as root or give one away")
			}
			dir := t.TempDir()
			runLock, tmpDir := tt.fixtures(t, dir)
			want := tt.want(runLock, tmpDir)
			if got := unixUserLockDir(tt.goos, uid, runLock, tmpDir); got != want {
				t.Errorf("unixUserLockDir(%q, %d, %q, %q) = %q, want %q", tt.goos, uid, runLock, tmpDir, got, want)
			}
		})
	}
}

// wantUserLockDir computes, independently of unixUserLockDir, what
// LockDir(ScopeUser) must be on this machine.
func wantUserLockDir(t *testing.T) string {
	t.Helper()
	id := "sole-" + strconv.Itoa(os.Geteuid())
	if runtime.GOOS == "linux" || runtime.GOOS == "android" {
		fi, err := os.Lstat("/run/lock")
		if err == nil && fi.IsDir() && fi.Sys().(*syscall.Stat_t).Uid == 0 && fi.Mode()&os.ModeSticky != 0 && fi.Mode().Perm()&0o003 == 0o003 {
			return "/run/lock/" + id
		}
		t.Logf("/run/lock is not a root-owned sticky world-writable directory (%v, %v)", fi, err)
	}
	if fi, err := os.Lstat("/tmp"); err == nil && fi.Mode()&os.ModeSymlink != 0 && fi.Sys().(*syscall.Stat_t).Uid == 0 {
		real, err := filepath.EvalSymlinks("/tmp")
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(real, id)
	}
	return "/tmp/" + id
}

// TestLockDirUser: the user lock directory does not depend on the
// environment.
func TestLockDirUser(t *testing.T) {
	want := wantUserLockDir(t)
	other := t.TempDir()
	tests := []struct {
		name string
		env  map[string]*string // nil: unset
	}{
		{name: "login", env: map[string]*string{"XDG_RUNTIME_DIR": strp("/run/user/" + strconv.Itoa(os.Geteuid())), "TMPDIR": nil}},
		{name: "cron", env: map[string]*string{"XDG_RUNTIME_DIR": nil, "TMPDIR": nil}},
		{name: "ssh-tmpdir", env: map[string]*string{"XDG_RUNTIME_DIR": nil, "TMPDIR": strp(other)}},
		{name: "systemd-user", env: map[string]*string{"XDG_RUNTIME_DIR": strp(other), "TMPDIR": strp(other)}},
		{name: "empty", env: map[string]*string{"XDG_RUNTIME_DIR": strp(""), "TMPDIR": strp("")}},
		{name: "relative", env: map[string]*string{"XDG_RUNTIME_DIR": strp("run/user"), "TMPDIR": strp("tmp")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, "") // restored at the end of the test
				if v == nil {
					os.Unsetenv(k)
				} else {
					os.Setenv(k, *v)
				}
			}
			got, err := LockDir(ScopeUser)
			if err != nil || got != want {
				t.Errorf("LockDir(ScopeUser) in a %s environment = %q, %v; want %q", tt.name, got, err, want)
			}
			if got != unixUserLockDir(runtime.GOOS, os.Geteuid(), "/run/lock", "/tmp") {
				t.Errorf("LockDir(ScopeUser) = %q, not unixUserLockDir of /run/lock and /tmp", got)
			}
		})
	}
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

// rootTmpLink is the fixture of macOS's /tmp: a symlink owned by root
// (the test runs as root) to private/tmp, with no /run/lock.
func rootTmpLink(t *testing.T, dir string) (string, string) {
	mkdirMode(t, dir+"/private", 0o755)
	mkdirMode(t, dir+"/private/tmp", 0o777|os.ModeSticky)
	if err := os.Symlink("private/tmp", dir+"/tmp"); err != nil {
		t.Fatal(err)
	}
	return dir + "/missing", dir + "/tmp"
}
