//go:build windows

// Package wintest holds what the Windows tests of several packages need
// (they run under Wine in the wine tier, and on Windows): telling Wine
// from Windows, waiting for a service's files, the lock of a service, and
// running a kardianos/service program under the service control manager
// even where kardianos takes it for a console program.
package wintest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// UnderWine reports whether the test runs under Wine (ntdll exports
// wine_get_version there).
func UnderWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// Executable is the running test binary's path.
func Executable(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// Exists reports whether path exists.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// CopyFile copies the file from to the executable file to.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// WaitFile waits for path to exist, at most d, and returns its contents.
func WaitFile(t testing.TB, path string, d time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, d)
		}
	}
}

// MustInstall installs d with install (svcmgr.Install) and checks that
// it says it changed the service, or did not.
func MustInstall(t testing.TB, install func(unit.Description) (bool, error), d unit.Description, changed bool) {
	t.Helper()
	got, err := install(d)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if got != changed {
		t.Errorf("Install reported changed %v, want %v", got, changed)
	}
}

// ServiceLock is the system-scope lock name of a service whose helper
// wrote its %ProgramData% to dir\programdata.txt. Under Wine 8 services
// see another ProgramData than the test does; the test then takes the
// service's, to look at the same lock record.
func ServiceLock(t *testing.T, dir, name string) *pidlock.Lock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "programdata.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if theirs, ours := string(b), os.Getenv("ProgramData"); theirs != ours {
		if !UnderWine() {
			t.Fatalf("the service has ProgramData=%s, this test %s", theirs, ours)
		}
		t.Logf("Wine 8: the service has ProgramData=%s, this test %s; using the service's", theirs, ours)
		t.Setenv("ProgramData", theirs)
	}
	l, err := pidlock.Named(name, pidlock.WithScope(pidlock.ScopeSystem))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ServeKardianos runs the kardianos/service program i as the service
// name, with kardianos' own Windows service handler handed to svc.Run.
// Wine's SCM runs services in session 1, where kardianos (through
// svc.IsWindowsService) takes the process for a console program and
// would never answer the SCM; with this it calls i's Start and Stop just
// as under Windows.
func ServeKardianos(name string, i service.Interface) error {
	s, err := service.New(i, &service.Config{Name: name})
	if err != nil {
		return fmt.Errorf("service.New: %w", err)
	}
	h, ok := s.(svc.Handler)
	if !ok {
		return fmt.Errorf("kardianos/service's %T is not an svc.Handler", s)
	}
	if err := svc.Run(name, h); err != nil {
		return fmt.Errorf("svc.Run: %w", err)
	}
	return nil
}

// ConnectAdmin connects to the service control manager with the right to
// install services, or skips the test without it; the connection closes
// with the test.
func ConnectAdmin(t *testing.T) *mgr.Mgr {
	t.Helper()
	m, err := mgr.Connect()
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Skip("installing a service needs administrator rights")
	}
	if err != nil {
		t.Fatalf("connecting to the service control manager: %v", err)
	}
	t.Cleanup(func() { m.Disconnect() })
	return m
}
