//go:build unix

package pidlock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// nobodyUID is the user that the hostile fixtures are given to.
const nobodyUID = 65534

// notMine gives p to nobody when the test runs as root; otherwise p is
// already not root's.
func notMine(t *testing.T, p string) {
	t.Helper()
	if os.Geteuid() == 0 {
		chown(t, p, nobodyUID)
	}
}

// ownerOf returns the uid that owns p (not following a symlink).
func ownerOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// mkdirs makes directory p with exactly mode.
func mkdirs(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// wantDir checks that p is a real directory with mode (permission and
// sticky bits) owned by uid.
func wantDir(t *testing.T, p string, mode os.FileMode, uid int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is %v, not a directory", p, fi.Mode())
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != mode {
		t.Errorf("%s has mode %v, want %v", p, got, mode)
	}
	if got := fi.Sys().(*syscall.Stat_t).Uid; int64(got) != int64(uid) {
		t.Errorf("%s is owned by uid %d, want %d", p, got, uid)
	}
}

func TestMakeLockDir(t *testing.T) {
	me := os.Geteuid()
	tests := []struct {
		name string
		root bool // the fixtures need root
		// setup makes the fixtures in b and returns the directory to make.
		setup func(t *testing.T, b string) string
		perm  os.FileMode
		euid  int // -1: the test's own
		// wantErr is the whole error for b; "" for success, when check
		// (if set) looks at the result.
		wantErr func(t *testing.T, b string) string
		check   func(t *testing.T, b string)
	}{
		{
			name:  "good/user-scope-new",
			setup: func(t *testing.T, b string) string { return b + "/sole-1000/x" },
			perm:  0o700, euid: -1,
			check: func(t *testing.T, b string) {
				wantDir(t, b+"/sole-1000", 0o700, me)
				wantDir(t, b+"/sole-1000/x", 0o700, me)
			},
		},
		{
			name:  "good/system-scope-new",
			setup: func(t *testing.T, b string) string { return b + "/run/sole/x" },
			perm:  0o755, euid: -1,
			check: func(t *testing.T, b string) {
				wantDir(t, b+"/run", 0o755, me)
				wantDir(t, b+"/run/sole/x", 0o755, me)
			},
		},
		{
			name: "good/existing",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/u", 0o700)
				mkdirs(t, b+"/u/x", 0o755)
				return b + "/u/x"
			},
			perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/u/x", 0o755, me) }, // left as it was
		},
		{
			name: "good/unclean-path",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/u", 0o700)
				return b + "//u/./y/../x/"
			},
			perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/u/x", 0o700, me) },
		},
		{
			name: "good/under-root-sticky-dir",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/lock", 0o777|os.ModeSticky)
				return b + "/lock/sole-1000/x"
			},
			perm: 0o700, euid: 1000,
			check: func(t *testing.T, b string) { wantDir(t, b+"/lock/sole-1000/x", 0o700, me) },
		},
		{
			name: "good/root-owned-symlink",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/private", 0o755)
				mkdirs(t, b+"/private/tmp", 0o777|os.ModeSticky)
				symlink(t, "private/tmp", b+"/tmp")
				return b + "/tmp/sole-1000/x"
			},
			perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/private/tmp/sole-1000/x", 0o700, me) },
		},
		{
			name: "good/root-owned-symlink-dotdot",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/a", 0o755)
				mkdirs(t, b+"/real", 0o755)
				symlink(t, "../real", b+"/a/link")
				return b + "/a/link/x"
			},
			perm: 0o755, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/real/x", 0o755, me) },
		},
		{
			name: "good/root-owned-symlink-absolute-chain",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/real", 0o755)
				symlink(t, b+"/real", b+"/hop")
				symlink(t, b+"/hop", b+"/link")
				return b + "/link/x"
			},
			perm: 0o755, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/real/x", 0o755, me) },
		},
		{
			name: "good/root-caller-service-dir-of-service-user",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole", 0o755)
				mkdirs(t, b+"/sole/svc", 0o755)
				chown(t, b+"/sole/svc", nobodyUID)
				return b + "/sole/svc"
			},
			perm: 0o755, euid: 0,
		},
		{
			name: "good/root-caller-group-writable-root-dir",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/run", 0o775) // macOS /var/run: root:daemon 0775
				return b + "/run/sole/x"
			},
			perm: 0o755, euid: 0,
		},
		{
			name: "bad/component-owned-by-other-user",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole-1000", 0o700)
				chown(t, b+"/sole-1000", nobodyUID)
				return b + "/sole-1000/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole-1000: is owned by uid 65534, neither this user nor root"
			},
		},
		{
			name: "bad/component-owned-by-other-user-root-caller",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole-0", 0o700)
				chown(t, b+"/sole-0", nobodyUID)
				return b + "/sole-0/x"
			},
			perm: 0o700, euid: 0,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole-0: is owned by uid 65534, neither this user nor root"
			},
		},
		{
			name: "bad/lock-dir-owned-by-other-user-caller-not-root",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole", 0o755)
				mkdirs(t, b+"/sole/svc", 0o755)
				chown(t, b+"/sole/svc", nobodyUID)
				return b + "/sole/svc"
			},
			perm: 0o755, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole/svc: is owned by uid 65534, neither this user nor root"
			},
		},
		{
			name: "bad/service-dir-world-writable-root-caller",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole", 0o755)
				mkdirs(t, b+"/sole/svc", 0o777)
				chown(t, b+"/sole/svc", nobodyUID)
				return b + "/sole/svc"
			},
			perm: 0o755, euid: 0,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole/svc: is world-writable without the sticky bit"
			},
		},
		{
			name: "bad/world-writable-without-sticky",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/sole-1000", 0o777)
				return b + "/sole-1000/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole-1000: is world-writable without the sticky bit"
			},
		},
		{
			name: "bad/world-writable-leaf",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/u", 0o700)
				mkdirs(t, b+"/u/x", 0o757)
				return b + "/u/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/u/x: is world-writable without the sticky bit"
			},
		},
		{
			name: "bad/group-writable-caller-not-root",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/run", 0o775)
				return b + "/run/sole-1000/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/run: is group-writable without the sticky bit"
			},
		},
		{
			name: "bad/group-writable-not-root-owned",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/run", 0o770)
				chown(t, b+"/run", 1000)
				return b + "/run/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/run: is group-writable without the sticky bit"
			},
		},
		{
			name: "bad/world-writable-sticky-owned-by-caller",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/shared", 0o777|os.ModeSticky)
				chown(t, b+"/shared", 1000)
				return b + "/shared/sole-1000/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/shared: is world-writable with the sticky bit but owned by uid 1000, not root"
			},
		},
		{
			name: "bad/world-writable-sticky-owned-by-other-user",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/shared", 0o777|os.ModeSticky)
				chown(t, b+"/shared", nobodyUID)
				return b + "/shared/sole-1000/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/shared: is owned by uid 65534, neither this user nor root"
			},
		},
		{
			name: "bad/group-writable-sticky-owned-by-caller",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/shared", 0o770|os.ModeSticky)
				chown(t, b+"/shared", 1000)
				return b + "/shared/x"
			},
			perm: 0o700, euid: 1000,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/shared: is group-writable with the sticky bit but owned by uid 1000, not root"
			},
		},
		{
			name: "bad/symlink-planted",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/elsewhere", 0o700)
				symlink(t, b+"/elsewhere", b+"/sole-1000")
				notMine(t, b+"/sole-1000")
				return b + "/sole-1000/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				owner := ownerOf(t, b+"/sole-1000")
				return "lock " + b + "/sole-1000: is a symlink owned by uid " + strconv.Itoa(owner) + ", not root; refusing to follow it"
			},
		},
		{
			name: "bad/symlink-planted-as-leaf",
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/u", 0o700)
				mkdirs(t, b+"/elsewhere", 0o700)
				symlink(t, b+"/elsewhere", b+"/u/x")
				notMine(t, b+"/u/x")
				return b + "/u/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				owner := ownerOf(t, b+"/u/x")
				return "lock " + b + "/u/x: is a symlink owned by uid " + strconv.Itoa(owner) + ", not root; refusing to follow it"
			},
		},
		{
			name: "bad/root-owned-symlink-to-hostile-dir",
			root: true,
			setup: func(t *testing.T, b string) string {
				mkdirs(t, b+"/bad", 0o777)
				symlink(t, "bad", b+"/link")
				return b + "/link/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/bad: is world-writable without the sticky bit"
			},
		},
		{
			name: "bad/root-owned-symlink-loop",
			root: true,
			setup: func(t *testing.T, b string) string {
				symlink(t, "loop", b+"/loop")
				return b + "/loop/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/loop: too many levels of symbolic links"
			},
		},
		{
			name: "bad/regular-file",
			setup: func(t *testing.T, b string) string {
				if err := os.WriteFile(b+"/sole-1000", nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return b + "/sole-1000/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/sole-1000: is a regular file, not a directory"
			},
		},
		{
			name: "bad/fifo-as-leaf",
			setup: func(t *testing.T, b string) string {
				if err := syscall.Mkfifo(b+"/x", 0o600); err != nil {
					t.Fatal(err)
				}
				return b + "/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + b + "/x: is not a directory"
			},
		},
		{
			name: "bad/control-characters-quoted",
			setup: func(t *testing.T, b string) string {
				if err := os.WriteFile(b+"/a\nb", nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return b + "/a\nb/x"
			},
			perm: 0o700, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock " + strconv.Quote(b+"/a\nb") + ": is a regular file, not a directory"
			},
		},
		{
			name:  "bad/relative",
			setup: func(t *testing.T, b string) string { return "run/sole/x" },
			perm:  0o755, euid: -1,
			wantErr: func(t *testing.T, b string) string {
				return "lock run/sole/x: is not an absolute path"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				testenv.NeedRoot(t, "to chown its fixtures")
			}
			b := t.TempDir()
			dir := tt.setup(t, b)
			want := ""
			if tt.wantErr != nil {
				want = tt.wantErr(t, b)
			}
			var err error
			if tt.euid < 0 {
				err = makeLockDir(dir, tt.perm)
			} else {
				err = makeLockDirAs(dir, tt.perm, tt.euid)
			}
			if want == "" {
				if err != nil {
					t.Fatalf("makeLockDir(%q, %v) = %v, want nil", dir, tt.perm, err)
				}
				if tt.check != nil {
					tt.check(t, b)
				}
				return
			}
			if err == nil {
				t.Fatalf("makeLockDir(%q, %v) = nil, want %q", dir, tt.perm, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("makeLockDir(%q, %v) = %q, want %q", dir, tt.perm, err, want)
			}
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Errorf("makeLockDir error %q (%T) is not a *PathError", err, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("makeLockDir error %q is not one line", err)
			}
		})
	}
}

// TestMakeLockDirSyscallError: a failed mkdir is a *PathError naming the
// directory, with the errno.
func TestMakeLockDirSyscallError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may create directories anywhere")
	}
	b := t.TempDir()
	mkdirs(t, b+"/ro", 0o555)
	err := makeLockDir(b+"/ro/sole-1/x", 0o700)
	want := "mkdir " + b + "/ro/sole-1: permission denied"
	var pe *PathError
	if err == nil || err.Error() != want || !errors.As(err, &pe) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("makeLockDir = %v, want the *PathError %q", err, want)
	}
}

// TestMakeLockDirUmask: the directories made get perm exactly, whatever
// the umask.
func TestMakeLockDirUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	b := t.TempDir()
	if err := makeLockDir(b+"/run/x", 0o755); err != nil {
		t.Fatal(err)
	}
	wantDir(t, b+"/run", 0o755, os.Geteuid())
	wantDir(t, b+"/run/x", 0o755, os.Geteuid())
}

// TestMakeLockDirConcurrent: starters creating the same directories at
// once all succeed (EEXIST is checked, not an error).
func TestMakeLockDirConcurrent(t *testing.T) {
	for i := range 20 {
		dir := filepath.Join(t.TempDir(), "sole-1000", "x"+strconv.Itoa(i))
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- makeLockDir(dir, 0o700) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		wantDir(t, dir, 0o700, os.Geteuid())
	}
}
