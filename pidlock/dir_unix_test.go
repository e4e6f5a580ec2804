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

// A fixtureDir is a directory a case makes: path under the test's
// directory, exactly mode, given to owner unless it is 0.
type fixtureDir struct {
	path  string
	mode  os.FileMode
	owner int
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
	tests := map[string]struct {
		root bool         // the fixtures need root
		dirs []fixtureDir // made first, in order, under the test's directory B
		// setup makes the other fixtures (files, symlinks) in b.
		setup func(t *testing.T, b string)
		make  string // the directory to make; "$B" stands for B
		perm  os.FileMode
		euid  int // -1: the test's own
		// wantErr is the whole error ("$B" for B), or wantErrFunc computes
		// it; neither for success, when check (if set) looks at the result.
		wantErr     string
		wantErrFunc func(t *testing.T, b string) string
		check       func(t *testing.T, b string)
	}{
		"good/user-scope-new": {
			make: "$B/sole-1000/x", perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) {
				wantDir(t, b+"/sole-1000", 0o700, me)
				wantDir(t, b+"/sole-1000/x", 0o700, me)
			},
		},
		"good/system-scope-new": {
			make: "$B/run/sole/x", perm: 0o755, euid: -1,
			check: func(t *testing.T, b string) {
				wantDir(t, b+"/run", 0o755, me)
				wantDir(t, b+"/run/sole/x", 0o755, me)
			},
		},
		"good/existing": {
			dirs: []fixtureDir{
				{path: "/u", mode: 0o700},
				{path: "/u/x", mode: 0o755},
			},
			make: "$B/u/x", perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/u/x", 0o755, me) }, // left as it was
		},
		"good/unclean-path": {
			dirs: []fixtureDir{
				{path: "/u", mode: 0o700},
			},
			make: "$B//u/./y/../x/", perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/u/x", 0o700, me) },
		},
		"good/under-root-sticky-dir": {
			root: true,
			dirs: []fixtureDir{
				{path: "/lock", mode: 0o777 | os.ModeSticky},
			},
			make: "$B/lock/sole-1000/x", perm: 0o700, euid: 1000,
			check: func(t *testing.T, b string) { wantDir(t, b+"/lock/sole-1000/x", 0o700, me) },
		},
		"good/root-owned-symlink": {
			root: true,
			dirs: []fixtureDir{
				{path: "/private", mode: 0o755},
				{path: "/private/tmp", mode: 0o777 | os.ModeSticky},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, "private/tmp", b+"/tmp")
			},
			make: "$B/tmp/sole-1000/x", perm: 0o700, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/private/tmp/sole-1000/x", 0o700, me) },
		},
		"good/root-owned-symlink-dotdot": {
			root: true,
			dirs: []fixtureDir{
				{path: "/a", mode: 0o755},
				{path: "/real", mode: 0o755},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, "../real", b+"/a/link")
			},
			make: "$B/a/link/x", perm: 0o755, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/real/x", 0o755, me) },
		},
		"good/root-owned-symlink-absolute-chain": {
			root: true,
			dirs: []fixtureDir{
				{path: "/real", mode: 0o755},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, b+"/real", b+"/hop")
				symlink(t, b+"/hop", b+"/link")
			},
			make: "$B/link/x", perm: 0o755, euid: -1,
			check: func(t *testing.T, b string) { wantDir(t, b+"/real/x", 0o755, me) },
		},
		"good/root-caller-service-dir-of-service-user": {
			root: true,
			dirs: []fixtureDir{
				{path: "/sole", mode: 0o755},
				{path: "/sole/svc", mode: 0o755, owner: nobodyUID},
			},
			make: "$B/sole/svc", perm: 0o755, euid: 0,
		},
		"good/root-caller-group-writable-root-dir": {
			root: true,
			dirs: []fixtureDir{
				{path: "/run", mode: 0o775}, // macOS /var/run: root:daemon 0775
			},
			make: "$B/run/sole/x", perm: 0o755, euid: 0,
		},
		"bad/component-owned-by-other-user": {
			root: true,
			dirs: []fixtureDir{
				{path: "/sole-1000", mode: 0o700, owner: nobodyUID},
			},
			make: "$B/sole-1000/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/sole-1000: is owned by uid 65534, neither this user nor root",
		},
		"bad/component-owned-by-other-user-root-caller": {
			root: true,
			dirs: []fixtureDir{
				{path: "/sole-0", mode: 0o700, owner: nobodyUID},
			},
			make: "$B/sole-0/x", perm: 0o700, euid: 0,
			wantErr: "lock $B/sole-0: is owned by uid 65534, neither this user nor root",
		},
		"bad/lock-dir-owned-by-other-user-caller-not-root": {
			root: true,
			dirs: []fixtureDir{
				{path: "/sole", mode: 0o755},
				{path: "/sole/svc", mode: 0o755, owner: nobodyUID},
			},
			make: "$B/sole/svc", perm: 0o755, euid: 1000,
			wantErr: "lock $B/sole/svc: is owned by uid 65534, neither this user nor root",
		},
		"bad/service-dir-world-writable-root-caller": {
			root: true,
			dirs: []fixtureDir{
				{path: "/sole", mode: 0o755},
				{path: "/sole/svc", mode: 0o777, owner: nobodyUID},
			},
			make: "$B/sole/svc", perm: 0o755, euid: 0,
			wantErr: "lock $B/sole/svc: is world-writable without the sticky bit",
		},
		"bad/world-writable-without-sticky": {
			dirs: []fixtureDir{
				{path: "/sole-1000", mode: 0o777},
			},
			make: "$B/sole-1000/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/sole-1000: is world-writable without the sticky bit",
		},
		"bad/world-writable-leaf": {
			dirs: []fixtureDir{
				{path: "/u", mode: 0o700},
				{path: "/u/x", mode: 0o757},
			},
			make: "$B/u/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/u/x: is world-writable without the sticky bit",
		},
		"bad/group-writable-caller-not-root": {
			root: true,
			dirs: []fixtureDir{
				{path: "/run", mode: 0o775},
			},
			make: "$B/run/sole-1000/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/run: is group-writable without the sticky bit",
		},
		"bad/group-writable-not-root-owned": {
			root: true,
			dirs: []fixtureDir{
				{path: "/run", mode: 0o770, owner: 1000},
			},
			make: "$B/run/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/run: is group-writable without the sticky bit",
		},
		"bad/world-writable-sticky-owned-by-caller": {
			root: true,
			dirs: []fixtureDir{
				{path: "/shared", mode: 0o777 | os.ModeSticky, owner: 1000},
			},
			make: "$B/shared/sole-1000/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/shared: is world-writable with the sticky bit but owned by uid 1000, not root",
		},
		"bad/world-writable-sticky-owned-by-other-user": {
			root: true,
			dirs: []fixtureDir{
				{path: "/shared", mode: 0o777 | os.ModeSticky, owner: nobodyUID},
			},
			make: "$B/shared/sole-1000/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/shared: is owned by uid 65534, neither this user nor root",
		},
		"bad/group-writable-sticky-owned-by-caller": {
			root: true,
			dirs: []fixtureDir{
				{path: "/shared", mode: 0o770 | os.ModeSticky, owner: 1000},
			},
			make: "$B/shared/x", perm: 0o700, euid: 1000,
			wantErr: "lock $B/shared: is group-writable with the sticky bit but owned by uid 1000, not root",
		},
		"bad/symlink-planted": {
			dirs: []fixtureDir{
				{path: "/elsewhere", mode: 0o700},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, b+"/elsewhere", b+"/sole-1000")
				notMine(t, b+"/sole-1000")
			},
			make: "$B/sole-1000/x", perm: 0o700, euid: -1,
			wantErrFunc: func(t *testing.T, b string) string {
				owner := ownerOf(t, b+"/sole-1000")
				return "lock " + b + "/sole-1000: is a symlink owned by uid " + strconv.Itoa(owner) + ", not root; refusing to follow it"
			},
		},
		"bad/symlink-planted-as-leaf": {
			dirs: []fixtureDir{
				{path: "/u", mode: 0o700},
				{path: "/elsewhere", mode: 0o700},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, b+"/elsewhere", b+"/u/x")
				notMine(t, b+"/u/x")
			},
			make: "$B/u/x", perm: 0o700, euid: -1,
			wantErrFunc: func(t *testing.T, b string) string {
				owner := ownerOf(t, b+"/u/x")
				return "lock " + b + "/u/x: is a symlink owned by uid " + strconv.Itoa(owner) + ", not root; refusing to follow it"
			},
		},
		"bad/root-owned-symlink-to-hostile-dir": {
			root: true,
			dirs: []fixtureDir{
				{path: "/bad", mode: 0o777},
			},
			setup: func(t *testing.T, b string) {
				symlink(t, "bad", b+"/link")
			},
			make: "$B/link/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/bad: is world-writable without the sticky bit",
		},
		"bad/root-owned-symlink-loop": {
			root: true,
			setup: func(t *testing.T, b string) {
				symlink(t, "loop", b+"/loop")
			},
			make: "$B/loop/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/loop: too many levels of symbolic links",
		},
		"bad/regular-file": {
			setup: func(t *testing.T, b string) {
				if err := os.WriteFile(b+"/sole-1000", nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			make: "$B/sole-1000/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/sole-1000: is a regular file, not a directory",
		},
		"bad/fifo-as-leaf": {
			setup: func(t *testing.T, b string) {
				if err := syscall.Mkfifo(b+"/x", 0o600); err != nil {
					t.Fatal(err)
				}
			},
			make: "$B/x", perm: 0o700, euid: -1,
			wantErr: "lock $B/x: is not a directory",
		},
		"bad/control-characters-quoted": {
			setup: func(t *testing.T, b string) {
				if err := os.WriteFile(b+"/a\nb", nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			make: "$B/a\nb/x", perm: 0o700, euid: -1,
			wantErrFunc: func(t *testing.T, b string) string {
				return "lock " + strconv.Quote(b+"/a\nb") + ": is a regular file, not a directory"
			},
		},
		"bad/relative": {
			make: "run/sole/x", perm: 0o755, euid: -1,
			wantErr: "lock run/sole/x: is not an absolute path",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.root {
				testenv.NeedRoot(t, "to chown its fixtures")
			}
			b := t.TempDir()
			for _, d := range tt.dirs {
				mkdirs(t, b+d.path, d.mode)
				if d.owner != 0 {
					chown(t, b+d.path, d.owner)
				}
			}
			if tt.setup != nil {
				tt.setup(t, b)
			}
			dir := strings.ReplaceAll(tt.make, "$B", b)
			want := strings.ReplaceAll(tt.wantErr, "$B", b)
			if tt.wantErrFunc != nil {
				want = tt.wantErrFunc(t, b)
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
