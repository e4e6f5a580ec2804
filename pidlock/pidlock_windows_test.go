//go:build windows

package pidlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/solehq/sole/internal/testenv"
)

// The test binary doubles as a lock holder: PIDLOCK_HELPER=hold takes the
// lock at PIDLOCK_PATH (scope PIDLOCK_SCOPE), says so, and sleeps.
func TestMain(m *testing.M) {
	if os.Getenv("PIDLOCK_HELPER") == "race" {
		// Wait for the start signal (a file), try once, report, and hold
		// a winning lock until the release file appears.
		path := os.Getenv("PIDLOCK_PATH")
		for !exists(path + ".go") {
			time.Sleep(time.Millisecond)
		}
		l, _ := New(path)
		if err := l.TryLock(); err != nil {
			if errors.Is(err, ErrLocked) {
				fmt.Println("lost")
				os.Exit(0)
			}
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("won")
		for !exists(path + ".release") {
			time.Sleep(time.Millisecond)
		}
		l.Unlock()
		os.Exit(0)
	}
	if os.Getenv("PIDLOCK_HELPER") == "hold" {
		helperHold()
	}
	os.Exit(m.Run())
}

// TestTwoProcesses: a second process is refused while the first holds the
// named mutex, sees who holds it, and gets it once the holder is killed
// (the mutex is then abandoned, which the kernel hands to the next waiter).
func TestTwoProcesses(t *testing.T) {
	for _, scope := range []string{"user", "system"} {
		t.Run(scope, func(t *testing.T) {
			s := ScopeUser
			if scope == "system" {
				s = ScopeSystem
			}
			path := filepath.Join(tempDir(t), "x.pid")
			cmd := startHolder(t, path, scope)
			l, _ := New(path, WithScope(s))
			wantPrefix := `Local\sole.path.`
			if s == ScopeSystem {
				wantPrefix = `Global\sole.path.`
			}
			if !strings.HasPrefix(l.mutex, wantPrefix) {
				t.Fatalf("mutex name %q, want prefix %q", l.mutex, wantPrefix)
			}
			var le *LockedError
			err := l.TryLock()
			if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
				t.Fatalf("TryLock while held = %v", err)
			}
			if le.Holder == nil || le.Holder.PID != cmd.Process.Pid || !strings.HasSuffix(strings.ToLower(le.Holder.Process), ".exe") {
				t.Fatalf("holder = %+v, want pid %d", le.Holder, cmd.Process.Pid)
			}
			st, err := l.Query()
			if err != nil || st.State != Running || st.Holder.PID != cmd.Process.Pid {
				t.Fatalf("Query while held = %+v, %v", st, err)
			}
			// A query never takes the mutex: right after many queries, a
			// start still fails only because of the holder.
			for range 50 {
				if _, err := l.Query(); err != nil {
					t.Fatal(err)
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			st, err = l.Query()
			if err != nil || st.State != Stale {
				t.Fatalf("Query after the holder died = %+v, %v; want Stale", st, err)
			}
			if err := l.TryLock(); err != nil {
				t.Fatalf("TryLock after the holder died: %v", err)
			}
			if st, err := l.Query(); err != nil || st.State != Running || st.Holder.PID != os.Getpid() {
				t.Fatalf("Query while we hold it = %+v, %v", st, err)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			if st, err := l.Query(); err != nil || st.State != NotRunning {
				t.Fatalf("Query after Unlock = %+v, %v", st, err)
			}
		})
	}
}

// TestRelockOnOtherThreads: the mutex is owned by a locked OS thread, so a
// long-lived process can lock and unlock again and again from any
// goroutine, and a concurrent Lock of the same mutex in this process is
// refused while held.
func TestRelockOnOtherThreads(t *testing.T) {
	l := newLock(t)
	other, _ := New(l.Path())
	for i := range 20 {
		if err := l.TryLock(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := other.TryLock(); !errors.Is(err, ErrLocked) {
			t.Fatalf("round %d: second Lock = %v", i, err)
		}
		goruntime.Gosched()
		if err := l.Unlock(); err != nil {
			t.Fatalf("round %d: Unlock: %v", i, err)
		}
	}
}

// TestLockWaitsForRelease: a blocking Lock wakes when the holder releases,
// and a cancelled one leaves nothing waiting.
func TestLockWaitsForRelease(t *testing.T) {
	holder := newLock(t)
	if err := holder.TryLock(); err != nil {
		t.Fatal(err)
	}
	waiter, _ := New(holder.Path())
	before := goruntime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := waiter.Lock(ctx)
	cancel()
	if !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with deadline = %v", err)
	}
	for deadline := time.Now().Add(2 * time.Second); goruntime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after cancel, %d before", n, before)
	}
	go func() { time.Sleep(50 * time.Millisecond); holder.Unlock() }()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := waiter.Lock(ctx); err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	t.Logf("woke %v after the release was scheduled", time.Since(start))
	waiter.Unlock()
}

func TestNamedMutexName(t *testing.T) {
	t.Setenv("LOCALAPPDATA", tempDir(t))
	t.Setenv("ProgramData", tempDir(t))
	for _, tc := range []struct {
		scope Scope
		want  string
	}{{ScopeUser, `Local\sole.svc`}, {ScopeSystem, `Global\sole.svc`}} {
		l, err := Named("svc", WithScope(tc.scope))
		if err != nil {
			t.Fatal(err)
		}
		if l.mutex != tc.want {
			t.Fatalf("mutex %q, want %q", l.mutex, tc.want)
		}
		if err := l.TryLock(); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	if _, err := Named(`Global\svc`); err == nil || !strings.Contains(err.Error(), "backslash") {
		t.Fatalf("Named with a backslash = %v", err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestRace: eight processes race for one named mutex; exactly one wins.
func TestRace(t *testing.T) {
	path := filepath.Join(tempDir(t), "x.pid")
	const n = 8
	outs := make([]*testenv.Buffer, n)
	cmds := make([]*exec.Cmd, n)
	for i := range n {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PIDLOCK_HELPER=race", "PIDLOCK_PATH="+path)
		outs[i] = new(testenv.Buffer)
		cmd.Stdout = outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	os.WriteFile(path+".go", nil, 0o644)
	// The losers exit at once; then release the winner.
	deadline := time.Now().Add(60 * time.Second)
	for {
		lost := 0
		for _, o := range outs {
			if strings.TrimSpace(o.String()) == "lost" {
				lost++
			}
		}
		if lost == n-1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	os.WriteFile(path+".release", nil, 0o644)
	won := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("racer %d: %v: %s", i, err, outs[i])
		}
		switch strings.TrimSpace(outs[i].String()) {
		case "won":
			won++
		case "lost":
		default:
			t.Errorf("racer %d said %q", i, outs[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d racers won, want exactly 1", won)
	}
}

// TestGlobalMutexSecurity: a system-scope lock's mutex lets every
// authenticated user and every service wait on it and release it, so
// that a service running as LocalService and an administrator see each
// other's lock as held, not as "access denied". (Under Wine every process
// has the same token, so only the descriptor itself can be checked.)
func TestGlobalMutexSecurity(t *testing.T) {
	name := "sdtest" + strconv.Itoa(os.Getpid())
	l, err := Named(name, WithScope(ScopeSystem))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	p, _ := windows.UTF16PtrFromString(namedMutexName(ScopeSystem, name))
	h, err := windows.OpenMutex(windows.READ_CONTROL|windows.SYNCHRONIZE, false, p)
	if err != nil {
		t.Fatalf("open the mutex: %v", err)
	}
	defer windows.CloseHandle(h)
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Skipf("GetSecurityInfo on a mutex: %v", err)
	}
	got := sd.String()
	t.Logf("mutex DACL: %s", got)
	for _, ace := range []string{"(A;;0x100001;;;AU)", "(A;;0x100001;;;SU)"} {
		if !strings.Contains(got, ace) {
			t.Errorf("mutex DACL %s lacks %s", got, ace)
		}
	}
}
