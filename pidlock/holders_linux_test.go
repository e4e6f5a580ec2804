//go:build linux

package pidlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

const sampleFdinfo = "pos:\t0\nflags:\t0100000\nmnt_id:\t27\nino:\t9977871\nlock:\t1: FLOCK  ADVISORY  WRITE 5989 fe:00:9977871 0 EOF\n"

func TestFdinfoHasLock(t *testing.T) {
	tests := map[string]struct {
		text         string
		major, minor uint32
		ino          uint64
		want         bool
	}{
		"held":              {sampleFdinfo, 0xfe, 0, 9977871, true},
		"other inode":       {sampleFdinfo, 0xfe, 0, 9977872, false},
		"no lock line":      {"pos:\t0\nflags:\t02\n", 0xfe, 0, 9977871, false},
		"shared":            {"lock:\t1: FLOCK  ADVISORY  READ 1 08:01:5 0 EOF\n", 8, 1, 5, true},
		"posix lock":        {"lock:\t1: POSIX  ADVISORY  WRITE 1 08:01:5 0 EOF\n", 8, 1, 5, false},
		"no newline at end": {"lock:\t1: FLOCK  ADVISORY  WRITE 1 08:01:5 0 EOF", 8, 1, 5, true},
		"lock word inside":  {"xlock:\t1: FLOCK  ADVISORY  WRITE 1 08:01:5 0 EOF\n", 8, 1, 5, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := fdinfoHasLock([]byte(tt.text), tt.major, tt.minor, tt.ino); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// heldWithChild takes l and hands its descriptor to a child (sleep 300),
// as `sole run` hands it to its command; the child is killed when the
// test ends.
func heldWithChild(t *testing.T, l *Lock) *exec.Cmd {
	t.Helper()
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "300")
	child.ExtraFiles = []*os.File{os.NewFile(l.Fd(), l.Path())}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	return child
}

// TestHolders: the kernel's holders are the process that took the lock
// and every process that inherited its descriptor, and no process that
// merely has the file open.
func TestHolders(t *testing.T) {
	l := newLock(t)
	if hs, err := l.Holders(); err != nil || len(hs) != 0 {
		t.Fatalf("Holders of a missing file = %v, %v", hs, err)
	}
	// A child that inherits the locked descriptor.
	child := heldWithChild(t, l)
	// A reader, not a holder.
	r, err := os.Open(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hs, err := l.Holders()
	if err != nil {
		t.Fatal(err)
	}
	pids := map[int]string{}
	for _, h := range hs {
		pids[h.PID] = h.Process
	}
	if len(hs) != 2 || pids[os.Getpid()] == "" || pids[child.Process.Pid] != "sleep" {
		t.Fatalf("Holders = %+v; want this process and the sleep child", hs)
	}
	if hs[0].PID != os.Getpid() {
		t.Fatalf("Holders = %+v; want the earliest started first", hs)
	}
	if !l.HoldsLock(child.Process.Pid) || l.HoldsLock(1) {
		t.Fatal("HoldsLock is wrong")
	}
}

// TestUnlockInherited: a child keeps the lock after the parent lets go;
// the record stays naming it and the error says so; once the child is
// gone the lock is free, and UnlockInherited with no copies left empties
// the record as Unlock does.
func TestUnlockInherited(t *testing.T) {
	l := newLock(t, DeferRecord())
	child := heldWithChild(t, l)
	if err := l.SetHolder(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := l.UnlockInherited(); !errors.Is(err, ErrStillHeld) {
		t.Fatalf("UnlockInherited = %v; want ErrStillHeld", err)
	}
	st, err := l.Query()
	if err != nil || st.State != Running || st.Holder.PID != child.Process.Pid {
		t.Fatalf("Query = %+v, %v; want the child running", st, err)
	}
	// The child's parent side closed; the child still holds it.
	other, _ := New(l.Path())
	if err := other.TryLock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while the child holds = %v", err)
	}
	child.Process.Kill()
	child.Wait()
	if err := other.TryLock(); err != nil {
		t.Fatalf("TryLock after the child: %v", err)
	}
	if err := other.UnlockInherited(); err != nil {
		t.Fatalf("UnlockInherited without copies = %v", err)
	}
	if b, _ := os.ReadFile(l.Path()); len(b) != 0 {
		t.Fatalf("record left: %q", b)
	}
}

// TestInheritedHolderNamed: when the record's process is gone but a
// process it started holds the lock, Query and a refused TryLock name
// that process.
func TestInheritedHolderNamed(t *testing.T) {
	l := newLock(t, DeferRecord())
	heir := heldWithChild(t, l)
	// The record names a process that has exited.
	gone := exec.Command("true")
	gone.Run()
	if err := os.WriteFile(l.Path(), []byte(strings.Join([]string{itoa(gone.Process.Pid), "true", ""}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	l.UnlockInherited()
	st, err := l.Query()
	if err != nil || st.State != Running || st.Holder == nil || st.Holder.PID != heir.Process.Pid || st.Holder.Process != "sleep" {
		t.Fatalf("Query = %+v, %v; want the heir", st, err)
	}
	var le *LockedError
	other, _ := New(l.Path())
	if err := other.TryLock(); !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != heir.Process.Pid {
		t.Fatalf("TryLock = %v; want it to name the heir", err)
	}
}

// TestSharedFlockCounts: a shared flock another program holds keeps a
// start out, and Query reports it running, naming that program.
func TestSharedFlockCounts(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip(err)
	}
	l := newLock(t)
	os.WriteFile(l.Path(), nil, 0o644)
	hold := exec.Command("flock", "--shared", l.Path(), "sleep", "300")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-hold.Process.Pid, syscall.SIGKILL); hold.Process.Kill(); hold.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if err := l.TryLock(); errors.Is(err, ErrLocked) {
			break
		} else if err == nil {
			l.Unlock()
		}
		if time.Now().After(deadline) {
			t.Fatal("the shared flock never showed")
		}
	}
	st, err := l.Query()
	// An empty file and a holder: starting, as a holder that has not
	// written its record yet.
	if err != nil || st.State != Starting {
		t.Fatalf("Query = %+v, %v; want a holder", st, err)
	}
}

// TestRootUsesServiceUsersFile: root may take a lock file owned by a
// service user in that user's own directory (RuntimeDirectory= with
// User=), but not one another user planted in root's directory.
func TestRootUsesServiceUsersFile(t *testing.T) {
	testenv.NeedRoot(t, "to give a file to a service user")
	dir := tempDir(t)
	svc := filepath.Join(dir, "svc")
	os.Mkdir(svc, 0o755)
	os.Chown(svc, 65534, 65534)
	p := filepath.Join(svc, "svc.pid")
	os.WriteFile(p, nil, 0o644)
	os.Chown(p, 65534, 65534)
	l, _ := New(p)
	if err := l.TryLock(); err != nil {
		t.Fatalf("TryLock of the service user's file: %v", err)
	}
	l.Unlock()
	planted := filepath.Join(dir, "x.pid")
	os.WriteFile(planted, nil, 0o644)
	os.Chown(planted, 65534, 65534)
	l, _ = New(planted)
	if err := l.TryLock(); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		l.Unlock()
		t.Fatalf("TryLock of a planted file = %v; want it refused", err)
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

// FuzzFdinfo checks fdinfoHasLock against a plainer reading: a "lock:"
// line whose rest /proc/locks' reference reader accepts.
func FuzzFdinfo(f *testing.F) {
	f.Add(sampleFdinfo, uint32(0xfe), uint32(0), uint64(9977871))
	f.Add("lock:\t1: FLOCK  ADVISORY  READ 1 08:01:5 0 EOF", uint32(8), uint32(1), uint64(5))
	f.Fuzz(func(t *testing.T, text string, major, minor uint32, ino uint64) {
		want := false
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "lock:"); ok && refProcLocksHas(rest, major, minor, ino) {
				want = true
			}
		}
		if got := fdinfoHasLock([]byte(text), major, minor, ino); got != want {
			t.Fatalf("fdinfoHasLock(%q, %x:%x:%d) = %v, reference says %v", text, major, minor, ino, got, want)
		}
	})
}
