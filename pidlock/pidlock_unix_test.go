//go:build unix

package pidlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/platform"
)

// The test binary doubles as a lock holder for the multi-process tests:
// PIDLOCK_HELPER selects what it does.
func TestMain(m *testing.M) {
	switch os.Getenv("PIDLOCK_HELPER") {
	case "":
		os.Exit(m.Run())
	case "hold":
		helperHold()
	case "churn":
		helperChurn(os.Getenv("PIDLOCK_PATH"), os.Getenv("PIDLOCK_DIR"), os.Getenv("PIDLOCK_N"))
	}
	os.Exit(2)
}

// helperChurn takes and releases the lock n times. While it holds it, it
// creates dir/inside with O_EXCL: if that file exists, another process
// believes it holds the lock too, and it reports the overlap.
func helperChurn(path, dir, nstr string) {
	n, _ := strconv.Atoi(nstr)
	l, err := New(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	inside := filepath.Join(dir, "inside")
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := l.Lock(ctx)
		cancel()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		f, err := os.OpenFile(inside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Println("overlap:", err)
			os.Exit(3)
		}
		f.Close()
		if err := os.Remove(inside); err != nil {
			fmt.Println("overlap:", err)
			os.Exit(3)
		}
		if os.Getenv("PIDLOCK_UNLINK") != "" {
			os.Remove(path) // still holding the lock
		}
		if err := l.Unlock(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// TestHolderKilled: a holder killed with SIGKILL leaves no stale lock; the
// next TryLock succeeds at once. Its record is reported as stale meanwhile.
func TestHolderKilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	cmd := startHolder(t, path, "")
	l, _ := New(path)
	var le *LockedError
	if err := l.TryLock(); !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("TryLock while held = %v; want holder pid %d", err, cmd.Process.Pid)
	}
	if st, err := l.Query(); err != nil || st.State != Running || st.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Query while held = %+v, %v", st, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	st, err := l.Query()
	if err != nil || st.State != Stale || st.Holder == nil || st.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Query after kill = %+v, %v; want Stale naming pid %d", st, err, cmd.Process.Pid)
	}
	if err := l.TryLock(); err != nil {
		t.Fatalf("TryLock after the holder was killed: %v", err)
	}
	l.Unlock()
}

// TestLiveUnrelatedRecord: a record naming a live process that holds no
// lock is not a running holder.
func TestLiveUnrelatedRecord(t *testing.T) {
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	l := newLock(t)
	os.WriteFile(l.Path(), formatRecord(sleep.Process.Pid, "sleep"), 0o644)
	st, err := l.Query()
	if err != nil || st.State != Stale || st.Holder.PID != sleep.Process.Pid {
		t.Fatalf("Query = %+v, %v; want Stale naming the sleep", st, err)
	}
	if err := l.TryLock(); err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	l.Unlock()
}

// TestChurn: many processes take and release the lock in a loop; at no
// moment may two of them believe they hold it. pidlock never removes the
// file; in the second case half the processes remove it on release (while
// still holding the lock), as other tools following the unlink protocol
// do. Acquirers check that the path still names the file they locked, and
// without that check the second case fails.
func TestChurn(t *testing.T) {
	for _, unlinkers := range []bool{false, true} {
		t.Run(fmt.Sprintf("unlinkers=%v", unlinkers), func(t *testing.T) {
			churn(t, unlinkers)
		})
	}
}

func churn(t *testing.T, unlinkers bool) {
	procs, rounds := 8, 150
	if testing.Short() {
		procs, rounds = 4, 50
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.pid")
	var wg sync.WaitGroup
	errs := make(chan string, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "PIDLOCK_HELPER=churn", "PIDLOCK_PATH="+path,
				"PIDLOCK_DIR="+dir, "PIDLOCK_N="+strconv.Itoa(rounds))
			if unlinkers && i%2 == 1 {
				cmd.Env = append(cmd.Env, "PIDLOCK_UNLINK=1")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs <- fmt.Sprintf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestQueryNeverFailsStarter: Query in a tight loop never makes a
// concurrent TryLock fail. The control shows the test can fail: a probe
// that takes a shared lock, however briefly, does make starters fail.
func TestQueryNeverFailsStarter(t *testing.T) {
	run := func(t *testing.T, probe func(path string)) (fails, tries int) {
		l := newLock(t)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					probe(l.Path())
				}
			}()
		}
		deadline := time.Now().Add(3 * time.Second)
		for tries < 3000 && time.Now().Before(deadline) {
			tries++
			if err := l.TryLock(); err != nil {
				if !errors.Is(err, ErrLocked) {
					t.Errorf("TryLock: %v", err)
				}
				fails++
				continue
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		wg.Wait()
		return fails, tries
	}
	t.Run("query", func(t *testing.T) {
		var queries atomic.Int64
		fails, tries := run(t, func(path string) {
			q, _ := New(path)
			if _, err := q.Query(); err != nil {
				t.Error(err)
			}
			queries.Add(1)
		})
		if fails != 0 {
			t.Fatalf("%d of %d starts failed while Query ran", fails, tries)
		}
		if queries.Load() < 100 {
			t.Fatalf("only %d queries ran beside %d starts", queries.Load(), tries)
		}
	})
	t.Run("control: shared-lock probe", func(t *testing.T) {
		fails, tries := run(t, func(path string) {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return
			}
			if unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == nil {
				unix.Flock(fd, unix.LOCK_UN)
			}
			unix.Close(fd)
		})
		if fails == 0 {
			t.Fatalf("no start of %d failed beside a shared-lock probe: the test cannot tell", tries)
		}
		t.Logf("%d of %d starts failed beside a shared-lock probe", fails, tries)
	})
}

func TestHostilePaths(t *testing.T) {
	tests := map[string]struct {
		setup   func(t *testing.T, dir string) string
		wantErr string
	}{
		"symlink": {
			setup: func(t *testing.T, dir string) string {
				target := filepath.Join(dir, "target")
				os.WriteFile(target, nil, 0o644)
				p := filepath.Join(dir, "x.pid")
				os.Symlink(target, p)
				return p
			},
			wantErr: "is a symlink",
		},
		"dangling symlink": {
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "x.pid")
				os.Symlink(filepath.Join(dir, "nowhere"), p)
				return p
			},
			wantErr: "is a symlink",
		},
		"directory": {
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "x.pid")
				os.Mkdir(p, 0o755)
				return p
			},
			wantErr: "is a directory",
		},
		"fifo": {
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "x.pid")
				if err := unix.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: "FIFO",
		},
		"world-writable dir": {
			setup: func(t *testing.T, dir string) string {
				d := filepath.Join(dir, "open")
				os.Mkdir(d, 0o777)
				os.Chmod(d, 0o777)
				return filepath.Join(d, "x.pid")
			},
			wantErr: "world-writable without the sticky bit",
		},
		"missing dir": {
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "none", "x.pid")
			},
			wantErr: "no such file or directory",
		},
		"other user's file": {
			setup: func(t *testing.T, dir string) string {
				testenv.NeedRoot(t, "to give a file to another user")
				p := filepath.Join(dir, "x.pid")
				os.WriteFile(p, nil, 0o644)
				if err := os.Chown(p, 65534, 65534); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: "owned by uid 65534",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := tt.setup(t, t.TempDir())
			l, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- l.TryLock() }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("TryLock hangs")
			}
			var pe *PathError
			if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("TryLock = %v; want a *PathError containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), filepath.Dir(p)) {
				t.Fatalf("error %q: want one line naming the path", err)
			}
			// Query never hangs either, and does not call a refused
			// file a running holder.
			go func() { _, err := l.Query(); done <- err }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Query hangs")
			}
		})
	}
	// The sticky bit makes a world-writable directory (like /tmp) fine.
	t.Run("sticky world-writable dir", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "tmp")
		os.Mkdir(d, 0o777)
		os.Chmod(d, 0o777|os.ModeSticky)
		l, _ := New(filepath.Join(d, "x.pid"))
		if err := l.TryLock(); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	})
}

func TestFileMode(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	l := newLock(t)
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
}

// TestReplacedFile: a holder whose file was replaced under it (removed
// and recreated) no longer blocks others: the path names a new file, and
// the acquirer of that file gets the lock.
func TestReplacedFile(t *testing.T) {
	a := newLock(t)
	if err := a.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	os.Remove(a.Path())
	b, _ := New(a.Path())
	if err := b.TryLock(); err != nil {
		t.Fatalf("TryLock on the new file: %v", err)
	}
	// a's Unlock must not empty b's record.
	a.Unlock()
	if st, err := b.Query(); err != nil || st.State != Running {
		t.Fatalf("after a's Unlock: %+v, %v", st, err)
	}
	b.Unlock()
}

func TestNamedCreatesDir(t *testing.T) {
	// The user scope's directory depends on nothing in the environment.
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	base, err := platform.LockDir(ScopeUser)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("svc-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { os.RemoveAll(filepath.Join(base, name)) })
	l, err := Named(name, WithScope(ScopeUser))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(base, name, name+".pid")
	if l.Path() != want || l.Name() != name {
		t.Fatalf("Path %q Name %q; want %q", l.Path(), l.Name(), want)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Stat(filepath.Dir(want))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("lock dir %s: %v %v", filepath.Dir(want), fi, err)
	}
	if fi, err := os.Stat(base); err != nil || fi.Mode().Perm()&0o022 != 0 {
		t.Fatalf("user lock dir %s: %v %v", base, fi, err)
	}
}
