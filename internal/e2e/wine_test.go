//go:build linux

package e2e

// TestHellodUnderWine runs the example daemon, built for Windows, under
// Wine's own service control manager (services.exe), in a throwaway copy
// of the Wine test prefix (scripts/wine/) with a wineserver of its own.
// What Wine can and cannot prove is in docs/windows.md; in short, Wine 8
// runs services in session 1, so kardianos/service (svc.IsWindowsService)
// takes hellod for a console program: it takes its lock and serves, but
// never tells the SCM it runs, and Wine kills it when its start times out.
// The test checks everything up to that point and skips, naming the
// reason, the part that needs SERVICE_RUNNING.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

const (
	// winePipeTimeout is Wine's ServicesPipeTimeout in the test prefix:
	// how long its SCM waits for a started service to connect before it
	// kills it (Wine's default is 10 s).
	winePipeTimeout = 6 * time.Second
	// wineCmdTimeout bounds each Wine command.
	wineCmdTimeout = 90 * time.Second
	// wineSetupTimeout bounds scripts/wine/setup.sh, which may install
	// Wine with apt-get.
	wineSetupTimeout = 15 * time.Minute
)

type wine struct {
	t      *testing.T
	prefix string
	env    []string
	keeper *exec.Cmd      // a `wine cmd` that keeps services.exe up
	stdin  io.WriteCloser // the keeper's
}

// wineUnavailable skips the test, or fails it when CI=true.
func wineUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.Need(t, false, "wine: cannot run: %s", fmt.Sprintf(format, args...))
}

// setupWine prepares the shared test prefix with scripts/wine/setup.sh
// and returns a throwaway copy of it (drive_c hard-linked, the registry
// copied), so that services installed, a wineserver started and registry
// settings made by the test go away with it.
func setupWine(t *testing.T) *wine {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "scripts/wine/setup.sh")); err != nil {
		t.Fatalf("not in the repository: %v", err)
	}
	shared := os.Getenv("WINEPREFIX")
	if shared == "" {
		shared = filepath.Join(repo, ".cache", "wine")
	}
	_, errWine := exec.LookPath("wine")
	_, errPrefix := os.Stat(filepath.Join(shared, "drive_c/windows/system32/bcryptprimitives.dll"))
	if (errWine != nil || errPrefix != nil) && !testenv.CI() {
		// Not set up, and not in CI: do not install Wine from a test.
		wineUnavailable(t, "Wine or its test prefix %s is not set up (%v); run scripts/wine/setup.sh", shared, errors.Join(errWine, errPrefix))
	}
	// Set up (in CI, installing Wine if need be), or check: idempotent.
	timeout := wineSetupTimeout
	if d, ok := t.Deadline(); ok && time.Until(d)-time.Minute < timeout {
		timeout = time.Until(d) - time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	setup := exec.CommandContext(ctx, filepath.Join(repo, "scripts/wine/setup.sh"))
	setup.WaitDelay = 5 * time.Second
	if out, err := setup.CombinedOutput(); err != nil {
		wineUnavailable(t, "scripts/wine/setup.sh: %v: %s", err, bytes.TrimSpace(out))
	}
	prefix := filepath.Join(t.TempDir(), "prefix")
	if err := os.Mkdir(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Hard links are enough for drive_c: Wine replaces what it changes
	// there. The registry files are rewritten in place: copy them.
	if out, err := exec.Command("cp", "-al", filepath.Join(shared, "drive_c"), prefix).CombinedOutput(); err != nil {
		t.Logf("cp -al drive_c: %v: %s; copying instead", err, out)
		os.RemoveAll(filepath.Join(prefix, "drive_c"))
		if out, err := exec.Command("cp", "-a", filepath.Join(shared, "drive_c"), prefix).CombinedOutput(); err != nil {
			t.Fatalf("copying the Wine prefix: %v: %s", err, out)
		}
	}
	for _, f := range []string{"dosdevices", "system.reg", "user.reg", "userdef.reg", ".update-timestamp"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(shared, f), prefix).CombinedOutput(); err != nil {
			t.Fatalf("copying the Wine prefix: %v: %s", err, out)
		}
	}
	t.Logf("prefix copied in %v", time.Since(start).Round(time.Millisecond))
	w := &wine{t: t, prefix: prefix}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "DISPLAY", "WAYLAND_DISPLAY":
			continue
		}
		w.env = append(w.env, kv)
	}
	w.env = append(w.env, "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	t.Cleanup(w.stop)
	if err := w.start(); err != nil {
		wineUnavailable(t, "%v", err)
	}
	return w
}

// start starts the wineserver and Wine's system processes (services.exe
// among them) under a `wine cmd` kept waiting on its standard input, with
// standard output and error closed: the system processes inherit them and
// would otherwise hold the test's pipes open. It returns once Wine has
// booted, which includes services.exe starting the automatic services.
// It does not call t.Fatal: it may run in its own goroutine.
func (w *wine) start() error {
	w.keeper = exec.Command("wine", "cmd")
	w.keeper.Env = w.env
	stdin, err := w.keeper.StdinPipe()
	if err != nil {
		return err
	}
	w.stdin = stdin
	if err := w.keeper.Start(); err != nil {
		return fmt.Errorf("starting wine: %w", err)
	}
	// Once a command with closed standard output and error has run, the
	// system processes are up (started by it or by the keeper): later
	// commands' output can be captured.
	// The keeper and this command race to start the prefix's wineserver;
	// the loser can fail at once (exit 1), so try a few times.
	err = nil
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wineCmdTimeout)
		up := exec.CommandContext(ctx, "wine", "cmd", "/c", "exit")
		up.Env = w.env
		err = up.Run()
		cancel()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("wine does not start: %w", err)
}

// stop ends the keeper and the prefix's wineserver with every Wine
// process of the prefix (all of them started by this test).
func (w *wine) stop() {
	if w.keeper == nil {
		return
	}
	w.stdin.Close()
	done := make(chan struct{})
	go func() { w.keeper.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		w.keeper.Process.Kill()
		<-done
	}
	w.keeper = nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, arg := range []string{"-k", "-w"} {
		cmd := exec.CommandContext(ctx, "wineserver", arg)
		cmd.Env = w.env
		cmd.Run() // -k fails when the server is gone already
	}
}

// exec runs a Wine command (a program of the prefix or a Windows path)
// and returns its combined output and exit code. It does not call
// t.Fatal: it may run in its own goroutine. The output goes to a file,
// not a pipe: a process the command leaves behind (msiexec's custom
// action server lingers, longer on a busy machine) would hold a pipe open
// and make Wait wait for it.
//
// When Wine could not start the program at all ("ShellExecuteEx failed",
// seen on a busy machine while the prefix's system processes came and
// went), it is started again: it never ran, so nothing happens twice.
func (w *wine) exec(args ...string) (string, int, error) {
	for try := 1; ; try++ {
		out, code, err := w.execOnce(args...)
		if err != nil || code == 0 || !strings.Contains(out, "ShellExecuteEx failed") || try == 5 {
			return out, code, err
		}
		w.t.Logf("wine %s: exit %d: %q; starting it again", strings.Join(args, " "), code, out)
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
}

func (w *wine) execOnce(args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wineCmdTimeout)
	defer cancel()
	f, err := os.CreateTemp("", "sole-wine-out-")
	if err != nil {
		return "", -1, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, "wine", args...)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, rerr := os.ReadFile(f.Name())
	if rerr != nil {
		return "", -1, rerr
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0, nil
	case errors.As(err, &ee) && ctx.Err() == nil:
		return string(out), ee.ExitCode(), nil
	}
	return string(out), -1, fmt.Errorf("wine %s: %w: %s", strings.Join(args, " "), err, out)
}

func (w *wine) run(args ...string) (string, int) {
	w.t.Helper()
	out, code, err := w.exec(args...)
	if err != nil {
		w.t.Fatal(err)
	}
	return out, code
}

func (w *wine) must(args ...string) string {
	w.t.Helper()
	out, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("wine %s: exit %d: %s", strings.Join(args, " "), code, out)
	}
	return out
}

// regQuery returns `reg query KEY`'s output and whether the key exists.
// Wine's reg.exe once exited 1 with no output at all for a key that sc
// had just found (in CI, under load): an answer that is neither the key
// nor "Unable to find" is asked again, and fails the test the fifth time.
func (w *wine) regQuery(key string) (string, bool) {
	w.t.Helper()
	var out string
	var code int
	for try := 1; try <= 5; try++ {
		out, code = w.run("reg", "query", key)
		switch {
		case code == 0:
			return out, true
		case strings.Contains(out, "Unable to find"):
			return out, false
		}
		w.t.Logf("wine reg query %s: exit %d: %q; asking again", key, code, out)
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
	w.t.Fatalf("wine reg query %s: exit %d: %s", key, code, out)
	return "", false
}

// mustReg returns `reg query KEY`'s output, failing the test if the key
// does not exist.
func (w *wine) mustReg(key string) string {
	w.t.Helper()
	out, ok := w.regQuery(key)
	if !ok {
		w.t.Fatalf("wine reg query %s: %s", key, out)
	}
	return out
}

// winPath is the Windows path of a Linux path (drive Z: is /).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

var scState = regexp.MustCompile(`STATE\s*:\s*\d+\s+(\w+)`)

// scQuery returns the service's state as `sc query` shows it, or "" and
// the output when sc cannot find it.
func (w *wine) scQuery(name string) (string, string) {
	w.t.Helper()
	out, code := w.run("sc", "query", name)
	m := scState.FindStringSubmatch(out)
	if code != 0 || m == nil {
		return "", out
	}
	return m[1], out
}

var holderRe = regexp.MustCompile(`running \(pid ([0-9]+), hellod\.exe, since`)

// holder returns the pid that `hellod status` names as the holder of
// hellod's lock, trying the system scope, then the user scope (Wine's
// services do not run as LocalSystem, so their lock is a user one); 0 if
// none holds it.
func (w *wine) holder(exe string) (int, string) {
	w.t.Helper()
	var outs []string
	for _, args := range [][]string{{exe, "status"}, {exe, "status", "--user"}} {
		out, _ := w.run(args...)
		outs = append(outs, strings.TrimSpace(out))
		if m := holderRe.FindStringSubmatch(out); m != nil {
			pid, _ := strconv.Atoi(m[1])
			return pid, out
		}
	}
	return 0, strings.Join(outs, "\n")
}

func wineFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func wineWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

func buildForWindows(t *testing.T, pkg, out string) {
	t.Helper()
	if err := testenv.BuildTo(out, pkg, "GOOS=windows", "GOARCH=amd64"); err != nil {
		t.Fatal(err)
	}
}

// checkServing checks, while hellod holds its lock, that it serves on addr
// and that a second instance exits 75 naming it.
func (w *wine) checkServing(exe, addr string, pid int) {
	w.t.Helper()
	if got := httpGet(addr); got != "hello\n" {
		w.t.Errorf("GET http://%s/ while hellod holds its lock: %q, want hello", addr, got)
	}
	out, code := w.run(exe, "run")
	if code != 75 || !strings.Contains(out, fmt.Sprintf("pid %d (hellod.exe)", pid)) {
		w.t.Errorf("a second hellod while pid %d holds the lock: exit %d, want 75 naming it: %s", pid, code, out)
	}
}

func TestHellodUnderWine(t *testing.T) {
	t0 := time.Now()
	w := setupWine(t)
	t.Logf("wine ready in %v (setup.sh, prefix copy, boot)", time.Since(t0).Round(time.Millisecond))
	// A program path with a space: the SCM must get it quoted.
	dir := filepath.Join(t.TempDir(), "sole e2e")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	buildForWindows(t, "cmd/hellod", filepath.Join(dir, "hellod.exe"))
	t.Logf("hellod.exe built in %v", time.Since(t1).Round(time.Millisecond))
	exe := winPath(filepath.Join(dir, "hellod.exe"))
	addr := fmt.Sprintf("127.0.0.1:%d", wineFreePort(t))

	// The service's environment: Wine builds it from the system
	// environment in the registry (it ignores the service's own
	// Environment value). And a shorter start timeout than Wine's 10 s.
	w.must("reg", "add", `HKLM\System\CurrentControlSet\Control\Session Manager\Environment`, "/v", "HELLOD_ADDR", "/d", addr, "/f")
	w.must("reg", "add", `HKLM\System\CurrentControlSet\Control`, "/v", "ServicesPipeTimeout", "/t", "REG_SZ", "/d", strconv.Itoa(int(winePipeTimeout/time.Millisecond)), "/f")

	if out, code := w.run(exe, "status"); code != 3 || !strings.Contains(out, "hellod is not running") || strings.Contains(out, "; service") {
		t.Fatalf("status before install: exit %d: %s", code, out)
	}

	// Install through svcmgr, twice.
	if out, code := w.run(exe, "install"); code != 0 || !strings.Contains(out, "hellod: installed") {
		t.Fatalf("install: exit %d: %s", code, out)
	}
	if out := w.must(exe, "install"); !strings.Contains(out, "hellod: already installed, unchanged") {
		t.Fatalf("second install: %s", out)
	}
	// The event log source the service logs to.
	if out, found := w.regQuery(`HKLM\System\CurrentControlSet\Services\EventLog\Application\hellod`); !found || !strings.Contains(out, "TypesSupported") {
		t.Fatalf("no event log source after install: found %v: %s", found, out)
	}
	if st, out := w.scQuery("hellod"); st != "STOPPED" || !strings.Contains(out, "WIN32_OWN_PROCESS") {
		t.Fatalf("sc query hellod after install: %s", out)
	}
	reg := w.mustReg(`HKLM\System\CurrentControlSet\Services\hellod`)
	for _, re := range []string{
		`ImagePath\s+REG_\w*SZ\s+"` + regexp.QuoteMeta(exe) + `" run\r?\n`,
		`Start\s+REG_DWORD\s+0x2\r?\n`,
		`ObjectName\s+REG_SZ\s+LocalSystem\r?\n`,
		`Type\s+REG_DWORD\s+0x10\r?\n`,
	} {
		if !regexp.MustCompile(re).MatchString(reg) {
			t.Errorf("the service's registry key lacks %s:\n%s", re, reg)
		}
	}
	for _, re := range []string{`ErrorControl\s+REG_DWORD\s+0x1\r?\n`, `Description\s+REG_SZ\s+sole example daemon`, `SoleStartTimeoutMs\s+REG_DWORD\s+0x15f90`} {
		if !regexp.MustCompile(re).MatchString(reg) {
			t.Errorf("the service's registry key lacks %s:\n%s", re, reg)
		}
	}
	if out, code := w.run(exe, "status"); code != 3 || !strings.Contains(out, "hellod is not running; service inactive") {
		t.Fatalf("status after install: exit %d: %s", code, out)
	}

	// Start type automatic: a fresh services.exe starts hellod by itself.
	// It does so while Wine boots, and every Wine process waits for the
	// boot, so watch from Linux: hellod's lock record and its answer.
	clearRecords(t, w.prefix)
	w.stop()
	t2 := time.Now()
	booted := make(chan error, 1)
	go func() { booted <- w.start() }()
	autoPID, bootDone := 0, false
	var bootErr error
	for deadline := time.Now().Add(winePipeTimeout + 30*time.Second); autoPID == 0 && !bootDone && time.Now().Before(deadline); {
		select {
		case bootErr = <-booted:
			bootDone = true
		case <-time.After(100 * time.Millisecond):
		}
		if pid, ok := lockRecord(w.prefix); ok && httpGet(addr) == "hello\n" {
			autoPID = pid
		}
	}
	if autoPID == 0 {
		t.Errorf("services.exe did not start hellod while booting (no lock record naming hellod.exe, or no answer on %s)", addr)
	} else {
		t.Logf("services.exe started hellod (pid %d) while booting: it wrote its lock record and answered on %s %v after the boot began", autoPID, addr, time.Since(t2).Round(time.Millisecond))
	}
	if !bootDone {
		select {
		case bootErr = <-booted:
		case <-time.After(winePipeTimeout + 60*time.Second):
			t.Fatal("wine did not finish booting")
		}
	}
	if bootErr != nil {
		t.Fatal(bootErr)
	}
	t.Logf("wine booted in %v", time.Since(t2).Round(time.Millisecond))
	st, scOut := w.scQuery("hellod")
	pid, out := w.holder(exe)
	t.Logf("after the boot: sc query: %s; hellod status: %s", st, strings.TrimSpace(out))
	running := st == "RUNNING" && pid != 0
	if !running && pid != 0 {
		t.Errorf("sc query says %s, yet pid %d holds hellod's lock", st, pid)
	}

	// hellod start (svcmgr.Start) returns once the service runs, or with
	// Wine's verdict. Meanwhile: hellod holds its lock, answers, and a
	// second instance exits 75 naming it.
	if running {
		w.must(exe, "stop")
	}
	clearRecords(t, w.prefix)
	t3 := time.Now()
	type result struct {
		out  string
		code int
		err  error
	}
	started := make(chan result, 1)
	go func() {
		out, code, err := w.exec(exe, "start")
		started <- result{out, code, err}
	}()
	var r *result
	pid = 0
	for deadline := time.Now().Add(winePipeTimeout + 30*time.Second); pid == 0 && r == nil && time.Now().Before(deadline); {
		select {
		case res := <-started:
			r = &res
		default:
		}
		pid, out = w.holder(exe)
	}
	if pid == 0 {
		t.Errorf("while hellod start ran, nobody held hellod's lock: %s", out)
	} else {
		t.Logf("%v into hellod start, pid %d holds the lock: %s", time.Since(t3).Round(time.Millisecond), pid, strings.TrimSpace(out))
		w.checkServing(exe, addr, pid)
		st, _ = w.scQuery("hellod")
		t.Logf("sc query meanwhile: %s", st)
	}
	if r == nil {
		select {
		case res := <-started:
			r = &res
		case <-time.After(wineCmdTimeout + 10*time.Second):
			t.Fatal("hellod start did not return")
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	out, code := r.out, r.code
	t.Logf("hellod start: exit %d after %v: %s", code, time.Since(t3).Round(time.Millisecond), strings.TrimSpace(out))
	switch {
	case code == 0:
		running = true
		if st, scOut = w.scQuery("hellod"); st != "RUNNING" {
			t.Errorf("sc query after hellod start: %s", scOut)
		}
		if p, out := w.holder(exe); p != pid {
			t.Errorf("after hellod start, the lock holder is %d, want %d: %s", p, pid, out)
		}
		w.must("sc", "stop", "hellod")
		wineWaitFor(t, 40*time.Second, "sc query hellod: STOPPED", func() bool {
			st, scOut = w.scQuery("hellod")
			return st == "STOPPED"
		})
		if pid, out = w.holder(exe); pid != 0 {
			t.Errorf("after sc stop, pid %d still holds the lock: %s", pid, out)
		}
	case strings.Contains(out, "Service request timeout"):
		if running {
			t.Errorf("hellod ran at boot, but hellod start timed out: %s", out)
		}
		if st, scOut = w.scQuery("hellod"); st != "STOPPED" {
			t.Errorf("sc query after the timed-out start: %s", scOut)
		}
		if pid, out = w.holder(exe); pid != 0 {
			t.Errorf("after Wine killed hellod, pid %d holds its lock: %s", pid, out)
		}
	default:
		t.Errorf("hellod start: exit %d: %s", code, out)
	}

	// Uninstall through svcmgr, whoever installed.
	if out, code := w.run(exe, "uninstall"); code != 0 {
		t.Fatalf("uninstall: exit %d: %s", code, out)
	}
	if st, out := w.scQuery("hellod"); st != "" {
		t.Errorf("sc query after uninstall: %s", out)
	}
	if out, found := w.regQuery(`HKLM\System\CurrentControlSet\Services\EventLog\Application\hellod`); found {
		t.Errorf("event log source left after uninstall: %s", out)
	}
	if out, code := w.run(exe, "status"); code != 3 || !strings.Contains(out, "hellod is not running") || strings.Contains(out, "; service") {
		t.Errorf("status after uninstall: exit %d: %s", code, out)
	}
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))

	if !running {
		t.Skip("Wine 8 could not prove SERVICE_RUNNING: it runs services in session 1, so svc.IsWindowsService (which kardianos/service uses) is false in hellod started by services.exe; hellod ran as a console program (it took its lock and served, as checked above) and never connected to the SCM, which killed it after ServicesPipeTimeout. runtime/windows_test.go proves the runtime's SERVICE_RUNNING-after-ready order under Wine's SCM by handing kardianos' service handler to svc.Run itself")
	}
}

// recordGlobs are where hellod's lock record can be in the prefix: its
// user lock directory, ProgramData, and what Wine gives services as
// ProgramData (C:\users\Public).
var recordGlobs = []string{
	"drive_c/users/*/AppData/Local/sole/hellod/hellod.pid",
	"drive_c/ProgramData/sole/hellod/hellod.pid",
	"drive_c/users/Public/sole/hellod/hellod.pid",
}

// lockRecord reads hellod's lock record from Linux: the pid it names, if
// it names hellod.exe.
func lockRecord(prefix string) (int, bool) {
	for _, g := range recordGlobs {
		files, _ := filepath.Glob(filepath.Join(prefix, g))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
			if len(lines) < 2 || lines[1] != "hellod.exe" {
				continue
			}
			if pid, err := strconv.Atoi(lines[0]); err == nil && pid > 0 {
				return pid, true
			}
		}
	}
	return 0, false
}

// clearRecords removes hellod's lock records (a killed hellod leaves its
// record), so that the next one seen is new. In the copied prefix this
// removes the copy's links only.
func clearRecords(t *testing.T, prefix string) {
	t.Helper()
	for _, g := range recordGlobs {
		files, _ := filepath.Glob(filepath.Join(prefix, g))
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func httpGet(addr string) string {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestSoleInstallUnderWine: `sole install -- COMMAND` on Windows, with
// Wine's service control manager: sole runs as the service (`run
// --service`), connects to the SCM, takes the lock, starts COMMAND (here
// hellod.exe, as any program) and only then reports SERVICE_RUNNING; stop
// ends COMMAND and frees the lock.
func TestSoleInstallUnderWine(t *testing.T) {
	w := setupWine(t)
	dir := t.TempDir()
	buildForWindows(t, "cmd/sole", filepath.Join(dir, "sole.exe"))
	buildForWindows(t, "cmd/hellod", filepath.Join(dir, "hellod.exe"))
	sole, hellod := winPath(filepath.Join(dir, "sole.exe")), winPath(filepath.Join(dir, "hellod.exe"))
	addr := fmt.Sprintf("127.0.0.1:%d", wineFreePort(t))
	w.must("reg", "add", `HKLM\System\CurrentControlSet\Control\Session Manager\Environment`, "/v", "HELLOD_ADDR", "/d", addr, "/f")
	// services.exe reads the system environment when it starts.
	w.stop()
	if err := w.start(); err != nil {
		t.Fatal(err)
	}

	if out := w.must(sole, "install", "--name", "worker", "--", hellod, "run"); !strings.Contains(out, "worker: installed") {
		t.Fatalf("install: %s", out)
	}
	if out := w.must(sole, "install", "--name", "worker", "--", hellod, "run"); !strings.Contains(out, "unchanged") {
		t.Fatalf("second install: %s", out)
	}
	start := time.Now()
	out, code := w.run(sole, "start", "worker")
	if code != 0 {
		t.Fatalf("sole start worker: exit %d after %v: %s", code, time.Since(start), out)
	}
	t.Logf("sole start worker returned after %v", time.Since(start).Round(time.Millisecond))
	if st, out := w.scQuery("worker"); st != "RUNNING" {
		t.Fatalf("sc query worker: %s", out)
	}
	// RUNNING came after COMMAND started under the lock: it serves.
	wineWaitFor(t, 20*time.Second, "COMMAND to answer", func() bool { return httpGet(addr) == "hello\n" })
	// The service holds Global\sole.worker: a second start is refused.
	if out, code := w.run(sole, "run", "--name", "worker", "--scope", "system", "--", "cmd", "/c", "exit"); code != 75 || !strings.Contains(out, "worker is already running") {
		t.Fatalf("a second worker while the service runs: exit %d, want 75: %s", code, out)
	}

	out, code = w.run(sole, "stop", "worker")
	if code != 0 {
		t.Fatalf("sole stop worker: exit %d: %s", code, out)
	}
	if st, out := w.scQuery("worker"); st != "STOPPED" {
		t.Fatalf("after stop: %s", out)
	}
	wineWaitFor(t, 20*time.Second, "COMMAND to be gone", func() bool { return httpGet(addr) == "" })
	w.must(sole, "uninstall", "worker")
	if st, _ := w.scQuery("worker"); st != "" {
		t.Fatalf("worker still known to the SCM after uninstall: %s", st)
	}

	// The service options, end to end: the account as the SCM stores it,
	// the environment file and working directory applied by sole run when
	// the service starts (COMMAND serves on the file's address), and its
	// output in the log directory.
	work, logs := filepath.Join(dir, "work"), filepath.Join(dir, "logs")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	addr2 := fmt.Sprintf("127.0.0.1:%d", wineFreePort(t))
	envFile := filepath.Join(dir, "opts.env")
	if err := os.WriteFile(envFile, []byte("# from the env file\nHELLOD_ADDR="+addr2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.must(sole, "install", "--name", "opts", "--run-as", "LocalService", "--env-file", winPath(envFile),
		"--workdir", winPath(work), "--log-dir", winPath(logs), "--stop-timeout", "3s", "--", hellod, "run")
	key := w.mustReg(`HKLM\System\CurrentControlSet\Services\opts`)
	for _, want := range []string{`NT AUTHORITY\LocalService`, "--env-file", "--workdir", "--log-dir", "--stop-timeout"} {
		if !strings.Contains(key, want) {
			t.Errorf("the service's key has no %q:\n%s", want, key)
		}
	}
	w.must(sole, "start", "opts")
	wineWaitFor(t, 20*time.Second, "COMMAND to answer on the env file's address", func() bool { return httpGet(addr2) == "hello\n" })
	w.must(sole, "stop", "opts")
	wineWaitFor(t, 20*time.Second, "COMMAND to be gone", func() bool { return httpGet(addr2) == "" })
	errLog, err := os.ReadFile(filepath.Join(logs, "opts.err.log"))
	if err != nil || !strings.Contains(string(errLog), "ready") {
		t.Errorf("COMMAND's stderr in the log directory: %q, %v", errLog, err)
	}
	w.must(sole, "uninstall", "opts")

	// --max-time: the job (COMMAND and all it started) is ended at the
	// deadline, and sole exits 124 as timeout(1) does.
	start = time.Now()
	out, code = w.run(sole, "run", "--name", "worker", "--max-time", "3s", "--", hellod, "run")
	if code != 124 || !strings.Contains(out, "--max-time 3s reached") {
		t.Fatalf("sole run --max-time 3s: exit %d after %v, want 124: %s", code, time.Since(start), out)
	}
	if httpGet(addr) != "" {
		t.Fatalf("COMMAND still answers after --max-time")
	}
}
