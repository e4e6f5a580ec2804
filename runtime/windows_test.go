//go:build windows

package runtime

// Windows tests, also run under Wine (scripts/wine/exec.sh, the wine tier
// of `make test`). They drive the real service control manager: Wine's
// services.exe under Wine, so TestWindowsServiceLifecycle needs no
// administrator there, while on Windows it skips without that right.
//
// What Wine 8 cannot do, and how each test deals with it (details in
// docs/windows.md):
//   - it runs services in session 1, so svc.IsWindowsService, and with it
//     kardianos/service, takes a service process for a console program. The
//     service helper then hands kardianos' own service handler to svc.Run
//     itself; under Windows it takes runtime.Main's path (runService).
//   - it accepts recovery actions but neither keeps nor reports them
//     (QueryServiceConfig2 answers ERROR_INVALID_LEVEL).
//   - os.RemoveAll cannot remove a directory with entries (see
//     removeTree), which Uninstall's removal of the lock directory hits.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/rmtree"
	"github.com/solehq/sole/internal/rmtree/rmtreetest"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/internal/wintest"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// helperArg makes the test binary a helper instead of running tests:
//
//	-sole.test.helper hold NAME
//	    run NAME (system scope) through Run, print "ready" once ready,
//	    stop when stdin closes
//	-sole.test.helper returns NAME
//	    run NAME (system scope) as runtime.Main runs a console program
//	    (runService): the app is ready, then returns an error by itself
//	-sole.test.helper service NAME DIR ok|fail ARGS...
//	    run as the Windows service NAME: write ARGS to DIR\args.txt, log
//	    to DIR\service.log; "ok" becomes ready after helperReadyDelay and
//	    writes DIR\ready first, "fail" returns an error before being ready
const helperArg = "-sole.test.helper"

const helperReadyDelay = time.Second

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

func helper(mode string, args []string) int {
	switch {
	case mode == "hold" && len(args) == 1:
		return helperHold(args[0])
	case mode == "returns" && len(args) == 1:
		return exitCode(runService(Config{Name: args[0], Scope: pidlock.ScopeSystem, Logger: quietLogger()}, AppFunc(func(ctx context.Context, s *Service) error {
			s.Ready()
			return errors.New("app done by itself")
		})), os.Stdout)
	case mode == "service" && len(args) >= 3:
		return helperService(args[0], args[1], args[2], args[3:])
	}
	fmt.Fprintf(os.Stderr, "bad helper arguments %q\n", append([]string{mode}, args...))
	return 2
}

func helperHold(name string) int {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := Run(ctx, Config{Name: name, Scope: pidlock.ScopeSystem, Logger: quietLogger()}, AppFunc(func(ctx context.Context, s *Service) error {
		s.Ready()
		fmt.Println("ready")
		<-ctx.Done()
		return nil
	}))
	return exitCode(err, os.Stdout)
}

func helperService(name, dir, mode string, extra []string) int {
	logf, err := os.OpenFile(filepath.Join(dir, "service.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 2
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var quoted []string
	for _, a := range extra {
		quoted = append(quoted, strconv.Quote(a))
	}
	if err := os.WriteFile(filepath.Join(dir, "args.txt"), []byte(strings.Join(quoted, "\n")), 0o644); err != nil {
		log.Error("writing args.txt", "err", err)
		return 2
	}
	if err := os.WriteFile(filepath.Join(dir, "programdata.txt"), []byte(os.Getenv("ProgramData")), 0o644); err != nil {
		log.Error("writing programdata.txt", "err", err)
		return 2
	}
	cfg := Config{Name: name, Scope: pidlock.ScopeSystem, Logger: log, StartTimeout: 20 * time.Second, StopTimeout: 10 * time.Second}
	app := AppFunc(func(ctx context.Context, s *Service) error {
		if mode == "fail" {
			return errors.New("told to fail before being ready")
		}
		time.Sleep(helperReadyDelay)
		if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(time.Now().Format(time.RFC3339Nano)), 0o644); err != nil {
			return err
		}
		s.Ready()
		<-ctx.Done()
		return nil
	})
	if ok, _ := svc.IsWindowsService(); ok {
		// Windows: exactly runtime.Main's path.
		log.Info("helper: svc.IsWindowsService is true; runService")
		return exitCode(runService(cfg, app), logf)
	}
	// Wine: its SCM runs services in session 1, where kardianos/service
	// (through svc.IsWindowsService) takes this process for a console
	// program and would never answer the SCM. Hand kardianos' own Windows
	// service handler to svc.Run: it calls program.Start and Stop just as
	// under Windows.
	log.Info("helper: svc.IsWindowsService is false (Wine); running kardianos' service handler under svc.Run")
	l, err := newLifecycle(cfg, app)
	if err != nil {
		log.Error("helper", "err", err)
		return 1
	}
	p := &program{l: l}
	if err := wintest.ServeKardianos(name, p); err != nil {
		log.Error("helper", "err", err)
		return 1
	}
	log.Info("helper: done", "err", p.err)
	return exitCode(p.err, logf)
}

// tempDir is t.TempDir that also works under Wine 8.
func tempDir(t *testing.T) string { return rmtreetest.TempDir(t, "sole-runtime-test") }

func TestWindowsDefinition(t *testing.T) {
	t.Setenv("ProgramData", `C:\ProgramData`) // where the lock directory goes
	d := unit.Description{
		Name:        "myd",
		DisplayName: "My Daemon",
		Description: "my daemon, as a service",
		Exec:        `C:\Program Files\My App\myd.exe`,
		Args:        []string{"run", "a b", `q"x`, "", `C:\dir with space\`},
		Env:         []string{"MYD_ADDR=127.0.0.1:8080", "MYD_MODE=a b"},
		Watchdog:    30 * time.Second,
	}
	path, text, err := svcmgr.Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `HKLM\SYSTEM\CurrentControlSet\Services\myd`; path != want {
		t.Errorf("path %q, want %q", path, want)
	}
	want := `Windows service myd (HKLM\SYSTEM\CurrentControlSet\Services\myd)
display name:   My Daemon
description:    my daemon, as a service
binary path:    "C:\Program Files\My App\myd.exe" run "a b" q\"x "" "C:\dir with space\\"
type:           own process
start type:     automatic
account:        LocalSystem
environment:    MYD_ADDR=127.0.0.1:8080
                MYD_MODE=a b
directories:    C:\ProgramData\sole\myd (created at install)
on failure:     restart after 1s, for 5 failures, then no action; the count resets after 60s without a failure
                (a crash, or a stop with a non-zero exit code)
start timeout:  1m30s (how long start waits for SERVICE_RUNNING)
stop timeout:   30s (how long stop waits for SERVICE_STOPPED)
watchdog:       none (Windows has no service watchdog; 30s is for systemd)
`
	if string(text) != want {
		t.Errorf("definition:\n%s\nwant:\n%s", text, want)
	}
	// The binary path reads back, by the rules every Windows program
	// (and Go's os.Args) uses, as the program and its arguments.
	line := strings.TrimPrefix(strings.Split(string(text), "\n")[3], "binary path:    ")
	argv, err := windows.DecomposeCommandLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if wantArgv := append([]string{d.Exec}, d.Args...); !slices.Equal(argv, wantArgv) {
		t.Errorf("binary path %s reads back as %q, want %q", line, argv, wantArgv)
	}
	// Same text twice: --print is deterministic.
	if _, again, _ := svcmgr.Definition(d); !bytes.Equal(again, text) {
		t.Error("a second Definition differs")
	}
	d.Name = "plain"
	d.DisplayName, d.Env, d.Watchdog = "", nil, 0
	d.Exec, d.Args = `C:\svc\plain.exe`, []string{"run"}
	_, text, err = svcmgr.Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"display name:   plain\n", "binary path:    C:\\svc\\plain.exe run\n", "environment:    (none)\n"} {
		if !strings.Contains(string(text), s) {
			t.Errorf("definition lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(string(text), "watchdog") {
		t.Errorf("definition without a watchdog mentions one:\n%s", text)
	}
}

func TestWindowsDefinitionRefused(t *testing.T) {
	ok := unit.Description{Name: "myd", Exec: `C:\svc\myd.exe`, Args: []string{"run"}}
	for name, tt := range map[string]struct {
		change func(*unit.Description)
		want   string
	}{
		"user":         {func(d *unit.Description) { d.User = true }, "per-user services are not supported on Windows"},
		"run as":       {func(d *unit.Description) { d.RunAs = "svc" }, `unit: run as: "svc": a Windows service runs as LocalSystem, LocalService, NetworkService or its virtual account`},
		"working dir":  {func(d *unit.Description) { d.WorkingDirectory = `svc` }, `unit: working directory: "svc" is not an absolute Windows path`},
		"unix exec":    {func(d *unit.Description) { d.Exec = "/usr/bin/myd" }, `unit: exec: "/usr/bin/myd" is not an absolute Windows path`},
		"relative":     {func(d *unit.Description) { d.Exec = `myd.exe` }, "is not an absolute Windows path"},
		"unclean":      {func(d *unit.Description) { d.Exec = `C:\svc\..\myd.exe` }, `is not a clean path (want "C:\\myd.exe")`},
		"bad name":     {func(d *unit.Description) { d.Name = `a\b` }, "unit: name:"},
		"newline arg":  {func(d *unit.Description) { d.Args = []string{"a\nb"} }, "unit: args[0]:"},
		"bad env":      {func(d *unit.Description) { d.Env = []string{"1X=y"} }, "unit: env[0]:"},
		"negative dur": {func(d *unit.Description) { d.StopTimeout = -time.Second }, "unit: stop timeout:"},
	} {
		t.Run(name, func(t *testing.T) {
			d := ok
			tt.change(&d)
			_, _, err := svcmgr.Definition(d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Definition: %v, want an error containing %q", err, tt.want)
			}
			if _, err := svcmgr.Install(d); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestWindowsRecoveryActions(t *testing.T) {
	restart := func(d time.Duration) mgr.RecoveryAction {
		return mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	acts, reset := svcmgr.RecoveryActions(unit.Description{})
	want := []mgr.RecoveryAction{restart(time.Second), restart(time.Second), restart(time.Second), restart(time.Second), restart(time.Second), {Type: mgr.NoAction}}
	if !slices.Equal(acts, want) || reset != 60 {
		t.Errorf("defaults: %v, reset %d; want %v, reset 60", acts, reset, want)
	}
	acts, reset = svcmgr.RecoveryActions(unit.Description{RestartSec: 2500 * time.Millisecond, StartLimitBurst: 1, StartLimitInterval: 1500 * time.Millisecond})
	if want := []mgr.RecoveryAction{restart(2500 * time.Millisecond), {Type: mgr.NoAction}}; !slices.Equal(acts, want) || reset != 2 {
		t.Errorf("burst 1: %v, reset %d; want %v, reset 2", acts, reset, want)
	}
	acts, _ = svcmgr.RecoveryActions(unit.Description{StartLimitBurst: 1000})
	if want := []mgr.RecoveryAction{restart(time.Second)}; !slices.Equal(acts, want) {
		t.Errorf("burst 1000: %v, want %v (restart every time)", acts, want)
	}
}

func TestWindowsInstallPrint(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := main(Config{Name: "myd", Description: "my daemon", Logger: quietLogger()}, AppFunc(nil), []string{"install", "--print"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	for _, s := range []string{"Windows service myd", "binary path:    " + svcCommandLine(exe, "run") + "\n", "start type:     automatic\n", "account:        LocalSystem\n"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("install --print lacks %q:\n%s", s, stdout.String())
		}
	}
}

func svcCommandLine(exe string, args ...string) string {
	s := windows.EscapeArg(exe)
	for _, a := range args {
		s += " " + windows.EscapeArg(a)
	}
	return s
}

func TestWindowsNotInstalled(t *testing.T) {
	if _, err := mgr.Connect(); err != nil && !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Skipf("no service control manager to ask: %v", err)
	}
	name := fmt.Sprintf("sole-rt-none-%d", os.Getpid())
	st, err := svcmgr.Status(name, false)
	if err != nil || st != svcmgr.NotInstalled {
		t.Errorf("Status = %q, %v; want %q", st, err, svcmgr.NotInstalled)
	}
	for op, f := range map[string]func(string, bool) error{"Start": svcmgr.Start, "Stop": svcmgr.Stop, "Restart": svcmgr.Restart, "Uninstall": svcmgr.Uninstall} {
		if err := f(name, false); !errors.Is(err, svcmgr.ErrNotInstalled) {
			t.Errorf("%s: %v, want ErrNotInstalled", op, err)
		}
	}
	if _, err := svcmgr.Status(name, true); err == nil || !strings.Contains(err.Error(), "per-user services are not supported on Windows") {
		t.Errorf("Status(user): %v, want the per-user error", err)
	}
}

// TestWindowsRunEndsWithTheApp: a console program (PROG run) whose app
// returns by itself ends, with the app's error and exit 1. Through
// kardianos' interactive Run it waited for a Ctrl-C alone, its app gone
// and its lock held (found when the fleet lock was lost under Wine: the
// app stopped, the program stayed).
func TestWindowsRunEndsWithTheApp(t *testing.T) {
	name, l := systemLock(t, "sole-rt-returns")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := helperCommand(ctx, t, "returns", name).CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "app done by itself") {
		t.Fatalf("a program whose app returned by itself: %v (context %v): %s", err, ctx.Err(), out)
	}
	if err := l.TryLock(); err != nil {
		t.Fatalf("its lock, once it ended: %v", err)
	}
	l.Unlock()
}

// systemLock returns a lock name of this test's own, in the system
// scope, and its lock; its directory is removed after the test.
func systemLock(t *testing.T, prefix string) (string, *pidlock.Lock) {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	l, err := pidlock.Named(name, pidlock.WithScope(pidlock.ScopeSystem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rmtree.RemoveAll(filepath.Dir(l.Path())) })
	return name, l
}

// helperCommand is this test binary run as the helper (helperArg) with
// args, ended by ctx.
func helperCommand(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exec.CommandContext(ctx, exe, append([]string{helperArg}, args...)...)
}

// TestWindowsGlobalMutex: a service's lock is the named mutex
// Global\sole.NAME; a second Run, in another process or in this one,
// fails with ErrAlreadyRunning naming the holder.
func TestWindowsGlobalMutex(t *testing.T) {
	name, _ := systemLock(t, "sole-rt-mutex")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := helperCommand(ctx, t, "hold", name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder said %q, %v; want ready", line, err)
	}

	for _, tt := range []struct {
		mutex string
		exist bool
	}{{`Global\sole.` + name, true}, {`Local\sole.` + name, false}} {
		p, _ := windows.UTF16PtrFromString(tt.mutex)
		h, err := windows.OpenMutex(windows.SYNCHRONIZE, false, p)
		if err == nil {
			windows.CloseHandle(h)
		}
		if (err == nil) != tt.exist {
			t.Errorf("OpenMutex(%s): %v; want it to exist: %v", tt.mutex, err, tt.exist)
		}
	}

	app := AppFunc(func(ctx context.Context, s *Service) error { s.Ready(); <-ctx.Done(); return nil })
	cfg := Config{Name: name, Scope: pidlock.ScopeSystem, Logger: quietLogger()}
	err = Run(ctx, cfg, app)
	var le *pidlock.LockedError
	if !errors.Is(err, ErrAlreadyRunning) || !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("second Run: %v; want ErrAlreadyRunning naming pid %d", err, cmd.Process.Pid)
	}
	if code := exitCode(err, io.Discard); code != ExitAlreadyRunning {
		t.Errorf("exit code %d, want %d", code, ExitAlreadyRunning)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}

	// Now in one process: the first Run holds, the second fails.
	ready := make(chan struct{})
	first := make(chan error, 1)
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		first <- Run(rctx, cfg, AppFunc(func(ctx context.Context, s *Service) error {
			s.Ready()
			close(ready)
			<-ctx.Done()
			return nil
		}))
	}()
	select {
	case <-ready:
	case err := <-first:
		t.Fatalf("first Run: %v", err)
	}
	if err := Run(ctx, cfg, app); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run in the same process: %v, want ErrAlreadyRunning", err)
	}
	rcancel()
	if err := <-first; err != nil {
		t.Errorf("first Run: %v", err)
	}
}

// deleteLeftovers deletes the services (named sole-rt-svc-PID) and lock
// directories that an earlier, killed run of this test left behind; not
// those of a test binary that still runs.
func deleteLeftovers(t *testing.T, m *mgr.Mgr) {
	alive := func(name string) bool {
		pid, err := strconv.Atoi(strings.TrimPrefix(name, "sole-rt-svc-"))
		if err != nil {
			return false
		}
		n, err := platform.ProcessName(pid)
		return err == nil && strings.HasSuffix(strings.ToLower(n), ".test.exe")
	}
	names, err := m.ListServices()
	if err != nil {
		t.Logf("listing services: %v", err)
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "sole-rt-svc-") || alive(n) {
			continue
		}
		tmp := ""
		if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+n, registry.QUERY_VALUE); err == nil {
			image, _, _ := k.GetStringValue("ImagePath")
			k.Close()
			if argv, err := windows.DecomposeCommandLine(image); err == nil && len(argv) > 0 {
				tmp = filepath.Dir(filepath.Dir(argv[0])) // its tempDir
			}
		}
		if err := svcmgr.Uninstall(n, false); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			t.Logf("removing leftover service %s: %v", n, err)
		}
		if strings.HasPrefix(filepath.Base(tmp), "sole-runtime-test") {
			rmtree.RemoveAll(tmp)
		}
	}
	// Wine's services have ProgramData=%PUBLIC% (see serviceLock).
	for _, root := range []string{os.Getenv("ProgramData"), os.Getenv("PUBLIC")} {
		dirs, _ := filepath.Glob(filepath.Join(root, "sole", "sole-rt-svc-*"))
		for _, d := range dirs {
			if st, err := svcmgr.Status(filepath.Base(d), false); err == nil && st == svcmgr.NotInstalled && !alive(filepath.Base(d)) {
				rmtree.RemoveAll(d)
			}
		}
	}
}

// uninstall is svcmgr.Uninstall, tolerating (and reporting) what Wine 8
// cannot do: os.RemoveAll of the lock directory, which holds the lock's
// record while svcmgr removes it.
func uninstall(t *testing.T, name string, lockDir string) error {
	err := svcmgr.Uninstall(name, false)
	if err != nil && wintest.UnderWine() && lockDir != "" && !errors.Is(err, svcmgr.ErrNotInstalled) && strings.Contains(err.Error(), lockDir) {
		if st, serr := svcmgr.Status(name, false); serr == nil && st == svcmgr.NotInstalled {
			t.Logf("Wine 8: the service is gone, but removing its lock directory failed as os.RemoveAll does under Wine (%v); removed by hand", err)
			return rmtree.RemoveAll(lockDir)
		}
	}
	return err
}

// TestWindowsServiceLifecycle installs the test binary as a service
// through svcmgr, at a path with spaces, and drives it through the SCM:
// Start returns only once the app is ready and holds its lock, a second
// instance fails, Stop releases the lock, a failing start is reported as
// such, Uninstall leaves nothing.
func TestWindowsServiceLifecycle(t *testing.T) {
	m := wintest.ConnectAdmin(t)
	deleteLeftovers(t, m)
	wine := wintest.UnderWine()

	name := fmt.Sprintf("sole-rt-svc-%d", os.Getpid())
	dir := filepath.Join(tempDir(t), "sole svc test")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "runtime test.exe")
	wintest.CopyFile(t, wintest.Executable(t), exe)
	extra := []string{"a b", `q"x`, "", `C:\dir with space\`}
	d := unit.Description{
		Name:         name,
		Description:  "sole runtime test service",
		Exec:         exe,
		Args:         append([]string{helperArg, "service", name, dir, "ok"}, extra...),
		StartTimeout: 30 * time.Second,
		StopTimeout:  15 * time.Second,
	}
	var lockDir string // known once the service ran
	// Install makes the lock directory where this process's ProgramData
	// says; under Wine the service's is another (see serviceLock).
	installDir := filepath.Join(os.Getenv("ProgramData"), "sole", name)
	t.Cleanup(func() { rmtree.RemoveAll(installDir) })
	t.Cleanup(func() {
		if err := uninstall(t, name, lockDir); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			t.Errorf("cleanup: uninstall: %v", err)
		}
		if lockDir != "" {
			rmtree.RemoveAll(lockDir)
		}
	})
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "service.log")); err == nil && t.Failed() {
			t.Logf("service log:\n%s", b)
		}
	})

	// Install: created, then unchanged, then updated.
	wintest.MustInstall(t, svcmgr.Install, d, true)
	wintest.MustInstall(t, svcmgr.Install, d, false)
	d2 := d
	d2.Description = "sole runtime test service, changed"
	wintest.MustInstall(t, svcmgr.Install, d2, true)
	wintest.MustInstall(t, svcmgr.Install, d, true)
	wintest.MustInstall(t, svcmgr.Install, d, false)

	// What the SCM stores is what Definition shows.
	_, def, err := svcmgr.Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+name, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	image, _, err1 := k.GetStringValue("ImagePath")
	start, _, err2 := k.GetIntegerValue("Start")
	account, _, err3 := k.GetStringValue("ObjectName")
	k.Close()
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(def), "binary path:    "+image+"\n") || !strings.HasPrefix(image, `"`+exe+`" `) {
		t.Errorf("ImagePath %s is not the definition's binary path (or the program is not quoted):\n%s", image, def)
	}
	if start != windows.SERVICE_AUTO_START || account != "LocalSystem" {
		t.Errorf("Start %d, ObjectName %q; want %d (automatic), LocalSystem", start, account, windows.SERVICE_AUTO_START)
	}
	mustStatus(t, name, svcmgr.Inactive)

	// The environment goes into the service key's Environment value, and
	// goes away with it from the description.
	withEnv := d
	withEnv.Env = []string{"SOLE_A=1", "SOLE_B=two words"}
	wintest.MustInstall(t, svcmgr.Install, withEnv, true)
	wintest.MustInstall(t, svcmgr.Install, withEnv, false)
	if env := regStrings(t, name, "Environment"); !slices.Equal(env, withEnv.Env) {
		t.Errorf("Environment value %q, want %q", env, withEnv.Env)
	}
	wintest.MustInstall(t, svcmgr.Install, d, true)
	if env := regStrings(t, name, "Environment"); env != nil {
		t.Errorf("Environment value %q after installing without, want none", env)
	}

	// No recovery actions: the service sets them itself when it starts.
	s, err := m.OpenService(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ResetRecoveryActions(); err != nil {
		t.Fatal(err)
	}

	// Start returns once the app is ready, holding its lock.
	t0 := time.Now()
	if err := svcmgr.Start(name, false); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t1 := time.Now()
	t.Logf("Start returned after %v (the app becomes ready after %v)", t1.Sub(t0).Round(time.Millisecond), helperReadyDelay)
	readyAt := readReady(t, dir)
	if readyAt.After(t1) || t1.Sub(t0) < helperReadyDelay {
		t.Errorf("Start returned at %v, %v after it began; the app became ready at %v", t1, t1.Sub(t0), readyAt)
	}
	st, err := s.Query()
	if err != nil || st.State != svc.Running || st.ProcessId == 0 {
		t.Fatalf("after Start: %+v, %v; want running", st, err)
	}
	pid := int(st.ProcessId)
	lock := wintest.ServiceLock(t, dir, name)
	lockDir = filepath.Dir(lock.Path())
	ls, err := lock.Query()
	if err != nil || ls.State != pidlock.Running || ls.Holder.PID != pid {
		t.Fatalf("lock after Start: %+v, %v; want held by the service's pid %d", ls, err, pid)
	}
	t.Logf("service pid %d holds the lock %s: %s", pid, lock.Path(), ls.Holder.Process)
	if b, err := os.ReadFile(filepath.Join(dir, "args.txt")); err != nil {
		t.Error(err)
	} else {
		var want []string
		for _, a := range extra {
			want = append(want, strconv.Quote(a))
		}
		if got := strings.Split(string(b), "\n"); !slices.Equal(got, want) {
			t.Errorf("the service got arguments %s, want %s", got, want)
		}
	}
	mustStatus(t, name, svcmgr.Active)
	var stdout bytes.Buffer
	if code := main(Config{Name: name}, AppFunc(nil), []string{"status"}, &stdout, io.Discard); code != 0 ||
		!strings.HasPrefix(stdout.String(), fmt.Sprintf("%s is running (pid %d, ", name, pid)) || !strings.Contains(stdout.String(), "; service active") {
		t.Errorf("status: exit %d: %q", code, stdout.String())
	}

	// A second instance fails, naming the service.
	err = Run(context.Background(), Config{Name: name, Scope: pidlock.ScopeSystem, Logger: quietLogger()}, AppFunc(func(ctx context.Context, s *Service) error { s.Ready(); <-ctx.Done(); return nil }))
	var le *pidlock.LockedError
	if !errors.Is(err, ErrAlreadyRunning) || !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != pid {
		t.Errorf("second instance: %v; want ErrAlreadyRunning naming pid %d", err, pid)
	}

	// Recovery actions, set by the service itself.
	acts, err := s.RecoveryActions()
	switch {
	case wine && errors.Is(err, windows.ERROR_INVALID_LEVEL):
		t.Logf("Wine 8 cannot report recovery actions (%v); checking that the service set them from its log", err)
		if b, _ := os.ReadFile(filepath.Join(dir, "service.log")); !strings.Contains(string(b), "recovery actions set") {
			t.Errorf("the service did not log setting its recovery actions:\n%s", b)
		}
	case err != nil:
		t.Errorf("RecoveryActions: %v", err)
	default:
		if want, _ := svcmgr.RecoveryActions(unit.Description{}); !slices.Equal(acts, want) {
			t.Errorf("recovery actions %v, want %v (set by the service)", acts, want)
		}
	}

	// Start again: already running, nothing to do.
	if err := svcmgr.Start(name, false); err != nil {
		t.Errorf("Start while running: %v", err)
	}

	// Restart: a new process, holding the lock.
	if err := svcmgr.Restart(name, false); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	st, err = s.Query()
	if err != nil || st.State != svc.Running || int(st.ProcessId) == pid {
		t.Errorf("after Restart: %+v, %v; want running with a pid other than %d", st, err, pid)
	}
	if ls, err := lock.Query(); err != nil || ls.State != pidlock.Running || ls.Holder.PID != int(st.ProcessId) {
		t.Errorf("lock after Restart: %+v, %v; want held by pid %d", ls, err, st.ProcessId)
	}

	// Stop: the lock is released once it returns.
	if err := svcmgr.Stop(name, false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if ls, err := lock.Query(); err != nil || ls.State != pidlock.NotRunning {
		t.Errorf("lock after Stop: %+v, %v; want not running", ls, err)
	}
	mustStatus(t, name, svcmgr.Inactive)
	if err := svcmgr.Stop(name, false); err != nil {
		t.Errorf("Stop while stopped: %v", err)
	}

	// An app that fails before it is ready: Start says how it stopped,
	// Status says failed.
	fail := d
	fail.Args = slices.Clone(d.Args)
	fail.Args[4] = "fail"
	wintest.MustInstall(t, svcmgr.Install, fail, true)
	err = svcmgr.Start(name, false)
	if err == nil || !strings.Contains(err.Error(), "stopped while starting (service-specific exit code 1)") {
		t.Errorf("Start of a failing app: %v; want it stopped while starting with exit code 1", err)
	}
	mustStatus(t, name, svcmgr.Failed)
	if ls, err := lock.Query(); err != nil || ls.State != pidlock.NotRunning {
		t.Errorf("lock after a failed start: %+v, %v; want not running", ls, err)
	}

	// Uninstall: nothing left.
	s.Close()
	if err := uninstall(t, name, lockDir); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	mustStatus(t, name, svcmgr.NotInstalled)
	if _, err := os.Stat(lockDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock directory %s still there: %v", lockDir, err)
	}
	if err := svcmgr.Start(name, false); !errors.Is(err, svcmgr.ErrNotInstalled) {
		t.Errorf("Start after Uninstall: %v, want ErrNotInstalled", err)
	}
}

// regStrings reads a REG_MULTI_SZ value of the service's key; nil if
// there is none.
func regStrings(t *testing.T, name, value string) []string {
	t.Helper()
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+name, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	v, _, err := k.GetStringsValue(value)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustStatus(t *testing.T, name string, want svcmgr.State) {
	t.Helper()
	if st, err := svcmgr.Status(name, false); err != nil || st != want {
		t.Errorf("Status = %q, %v; want %q", st, err, want)
	}
}

func readReady(t *testing.T, dir string) time.Time {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ready"))
	if err != nil {
		t.Fatalf("the app never became ready: %v", err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return at
}
