//go:build linux

package e2e

// MSIs built with packaging.Build, installed with Wine's msiexec in a
// throwaway prefix (setupWine). TestMSIUnderWine: hellod's own package (a
// program on sole's runtime, the service runs `hellod.exe run`); Wine's
// SCM cannot see it run as a service (see TestHellodUnderWine), so
// ServiceControl's start fails and Windows Installer rolls the install
// back: the test checks everything up to there, and the rollback, then
// skips naming the limitation. TestMSIWrappedUnderWine: the package of
// hellod run by sole.exe, which Wine's SCM does see run: the whole life
// of the package (install and start, upgrade, refused downgrade,
// uninstall). What Wine proved is in docs/packaging-msi.md.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/packaging"
)

// msiProductCode reads a package's ProductCode with msiinfo.
func msiProductCode(t *testing.T, msi string) string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, "Property").Output()
	if err != nil {
		t.Fatalf("msiinfo export %s Property: %v", msi, err)
	}
	m := regexp.MustCompile(`(?m)^ProductCode\t(\{[0-9A-F-]{36}\})\r?$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no ProductCode in %s:\n%s", msi, out)
	}
	return string(m[1])
}

const arpKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\`

// msiTrial is a Wine prefix with hellod's address and a short service
// start timeout, and packages of hellod.
type msiTrial struct {
	t      *testing.T
	w      *wine
	dir    string
	hellod string // hellod.exe, on Linux
	addr   string
	logs   string
}

func newMSITrial(t *testing.T) *msiTrial {
	t.Helper()
	for _, tool := range []string{"wixl", "msiinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			wineUnavailable(t, "%s is not installed (Debian packages wixl, msitools): %v", tool, err)
		}
	}
	t0 := time.Now()
	w := setupWine(t)
	t.Logf("wine ready in %v", time.Since(t0).Round(time.Millisecond))
	m := &msiTrial{t: t, w: w, dir: t.TempDir()}
	m.logs = filepath.Join(m.dir, "logs")
	if d := os.Getenv("SOLE_MSI_LOGS"); d != "" {
		m.logs = filepath.Join(d, t.Name()) // keep msiexec's logs
	}
	if err := os.MkdirAll(m.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	m.hellod = filepath.Join(m.dir, "hellod.exe")
	buildForWindows(t, "cmd/hellod", m.hellod)
	// hellod's address, and a short start timeout (Wine's SCM kills a
	// service that does not connect: see TestHellodUnderWine).
	m.addr = fmt.Sprintf("127.0.0.1:%d", wineFreePort(t))
	w.must("reg", "add", `HKLM\System\CurrentControlSet\Control\Session Manager\Environment`, "/v", "HELLOD_ADDR", "/d", m.addr, "/f")
	w.must("reg", "add", `HKLM\System\CurrentControlSet\Control`, "/v", "ServicesPipeTimeout", "/t", "REG_SZ", "/d", strconv.Itoa(int(winePipeTimeout/time.Millisecond)), "/f")
	// services.exe reads the system environment when it starts.
	w.stop()
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	return m
}

// build builds a package of hellod, wrapped by sole.exe when sole is set
// (for which TestMSIWrappedUnderWine hides hellod.exe's runtime.Main
// marker first: see hideMainMarker).
func (m *msiTrial) build(version, sole string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	msi, err := packaging.Build(ctx, packaging.Spec{
		Name:        "hellod",
		DisplayName: "Hello daemon",
		Description: "sole example daemon: a single-instance HTTP greeter",
		Version:     version,
		Maintainer:  "Sole Team <team@example.com>",
		License:     "MIT",
		Binary:      m.hellod,
		Sole:        sole,
	}, packaging.MSI, filepath.Join(m.dir, "out"))
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Logf("built %s in %v", filepath.Base(msi), time.Since(start).Round(time.Millisecond))
	return msi
}

// msiexec runs `msiexec ARGS /qn /l*v LOG` and returns the log, the exit
// code, and whether hellod answered meanwhile, with the service's registry
// key as it was then (ServiceControl starts the service on install).
func (m *msiTrial) msiexec(what string, args ...string) (log string, code int, served bool, during string) {
	m.t.Helper()
	logFile := filepath.Join(m.logs, what+".log")
	type result struct {
		out  string
		code int
		err  error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, code, err := m.w.exec(append(append([]string{"msiexec"}, args...), "/qn", "/l*v", winPath(logFile))...)
		done <- result{out, code, err}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				m.t.Fatal(r.err)
			}
			b, _ := os.ReadFile(logFile)
			log = strings.ReplaceAll(string(b), "\x00", "")
			m.t.Logf("msiexec %s: exit %d after %v; hellod answered meanwhile: %v", what, r.code, time.Since(start).Round(time.Millisecond), served)
			return log, r.code, served, during
		case <-time.After(200 * time.Millisecond):
			if !served && httpGet(m.addr) == "hello\n" {
				served = true
				during, _, _ = m.w.exec("reg", "query", `HKLM\System\CurrentControlSet\Services\hellod`)
			}
		}
	}
}

// checkService checks the service's registry key: the program exe and
// its arguments. Wine 8's msi writes the program's path in ImagePath
// without quotes (Windows Installer quotes it); either is accepted.
func (m *msiTrial) checkService(reg, exe, args string) {
	m.t.Helper()
	image := regexp.MustCompile(`ImagePath\s+REG_\w*SZ\s+(.*?)\r?\n`).FindStringSubmatch(reg)
	switch {
	case image == nil:
		m.t.Errorf("the service's registry key has no ImagePath:\n%s", reg)
	case image[1] == `"`+exe+`" `+args:
		m.t.Logf("ImagePath (quoted): %s", image[1])
	case image[1] == exe+" "+args:
		m.t.Logf("ImagePath (unquoted, as Wine 8's msi writes it): %s", image[1])
	default:
		m.t.Errorf("ImagePath is %s, want %q (quoted or not) followed by %s", image[1], exe, args)
	}
	for _, re := range []string{
		`Start\s+REG_DWORD\s+0x2\r?\n`,
		`ObjectName\s+REG_SZ\s+LocalSystem\r?\n`,
		`Type\s+REG_DWORD\s+0x10\r?\n`,
		`ErrorControl\s+REG_DWORD\s+0x1\r?\n`,
		`DisplayName\s+REG_SZ\s+Hello daemon\r?\n`,
		`Description\s+REG_SZ\s+sole example daemon: a single-instance HTTP greeter\r?\n`,
	} {
		if !regexp.MustCompile(re).MatchString(reg) {
			m.t.Errorf("the service's registry key lacks %s:\n%s", re, reg)
		}
	}
}

// checkGone checks that nothing of the package is left.
func (m *msiTrial) checkGone(what string, codes ...string) {
	m.t.Helper()
	if st, out := m.w.scQuery("hellod"); st != "" {
		m.t.Errorf("after %s: sc query: %s", what, out)
	}
	if out, found := m.w.regQuery(`HKLM\System\CurrentControlSet\Services\hellod`); found {
		m.t.Errorf("after %s: the service's key is left: %s", what, out)
	}
	dir := filepath.Join(m.w.prefix, "drive_c/Program Files/hellod")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		m.t.Errorf("after %s: INSTALLDIR is left (%v): %v", what, err, entries)
	}
	for _, c := range codes {
		if out, found := m.w.regQuery(arpKey + c); found {
			m.t.Errorf("after %s: Add/Remove Programs entry %s is left: %s", what, c, out)
		}
	}
	if httpGet(m.addr) != "" {
		m.t.Errorf("after %s: hellod still answers", what)
	}
}

func (m *msiTrial) checkARP(code, version string) {
	m.t.Helper()
	arp := m.w.mustReg(arpKey + code)
	for _, re := range []string{`DisplayName\s+REG_SZ\s+Hello daemon`, `DisplayVersion\s+REG_SZ\s+` + regexp.QuoteMeta(version), `Publisher\s+REG_SZ\s+Sole Team`, `Contact\s+REG_SZ\s+team@example\.com`, `Comments\s+REG_SZ\s+sole example daemon`, `NoModify\s+REG_DWORD\s+0x1`} {
		if !regexp.MustCompile(re).MatchString(arp) {
			m.t.Errorf("Add/Remove Programs entry lacks %s:\n%s", re, arp)
		}
	}
}

func TestMSIUnderWine(t *testing.T) {
	t0 := time.Now()
	m := newMSITrial(t)
	msi := m.build("1.2.3", "")
	code := msiProductCode(t, msi)

	log, exit, served, during := m.msiexec("install", "/i", winPath(msi))
	// InstallFiles, InstallServices, then StartServices: services.exe
	// started `"C:\Program Files\hellod\hellod.exe" run`, which served.
	if !served {
		t.Fatalf("hellod never answered while msiexec installed it (exit %d); log:\n%s", exit, msiLogTail(log, 60))
	}
	m.checkService(during, `C:\Program Files\hellod\hellod.exe`, "run")
	if exit == 0 {
		// Wine's SCM saw hellod run: the whole install went through.
		if st, out := m.w.scQuery("hellod"); st != "RUNNING" {
			t.Errorf("sc query after install: %s", out)
		}
		m.checkARP(code, "1.2.3")
		if _, exit, _, _ := m.msiexec("uninstall", "/x", code); exit != 0 {
			t.Fatalf("msiexec /x: exit %d", exit)
		}
		m.checkGone("uninstall", code)
		return
	}
	// Wine's SCM killed hellod after ServicesPipeTimeout: StartServices
	// failed (ServiceControl Wait="yes") and the install was rolled back.
	if !regexp.MustCompile(`StartServices\. Return value 0`).MatchString(log) {
		t.Fatalf("msiexec /i: exit %d, not from StartServices; log:\n%s", exit, msiLogTail(log, 60))
	}
	m.checkGone("the rolled back install", code)
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))
	t.Skipf("Wine 8 could not prove a complete install of a runtime program's package: msiexec exit %d, StartServices failed and the install was rolled back (checked: nothing left). Wine runs services in session 1, so hellod started by services.exe (it served, with the ImagePath checked above) took itself for a console program, never reported SERVICE_RUNNING and was killed after ServicesPipeTimeout; on Windows the same package starts it. TestMSIWrappedUnderWine proves the package's whole life with sole.exe as the service", exit)
}

// hideMainMarker blanks runtime.Main's marker in the program file, so
// that the packager takes the program for one that knows nothing of sole
// and ships sole.exe to run it: it refuses to wrap a program built on
// runtime.Main, which takes its own lock.
func hideMainMarker(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(unit.MainMarker)
	if !bytes.Contains(b, marker) {
		t.Fatalf("%s does not hold runtime.Main's marker", file)
	}
	b = bytes.ReplaceAll(b, marker, bytes.Repeat([]byte{'-'}, len(marker)))
	if err := os.WriteFile(file, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestMSIWrappedUnderWine(t *testing.T) {
	t0 := time.Now()
	m := newMSITrial(t)
	hideMainMarker(t, m.hellod)
	sole := filepath.Join(m.dir, "sole.exe")
	buildForWindows(t, "cmd/sole", sole)
	msi1, msi2 := m.build("1.2.3", sole), m.build("1.2.4", sole)
	code1, code2 := msiProductCode(t, msi1), msiProductCode(t, msi2)
	soleExe, args := `C:\Program Files\hellod\sole.exe`, `run --name hellod --scope system --service -- "C:\Program Files\hellod\hellod.exe"`
	installed := filepath.Join(m.w.prefix, "drive_c/Program Files/hellod")

	// Install: files, service, Add/Remove Programs; started (ServiceControl).
	log, exit, served, _ := m.msiexec("install", "/i", winPath(msi1))
	if exit != 0 {
		t.Fatalf("msiexec /i %s: exit %d; log:\n%s", filepath.Base(msi1), exit, msiLogTail(log, 60))
	}
	for _, f := range []string{"hellod.exe", "sole.exe"} {
		fi, err := os.Stat(filepath.Join(installed, f))
		if err != nil {
			t.Fatalf("after install: %v", err)
		}
		src, _ := os.Stat(filepath.Join(m.dir, f))
		if fi.Size() != src.Size() {
			t.Errorf("installed %s has %d bytes, want %d", f, fi.Size(), src.Size())
		}
	}
	m.checkService(m.w.mustReg(`HKLM\System\CurrentControlSet\Services\hellod`), soleExe, args)
	if st, out := m.w.scQuery("hellod"); st != "RUNNING" {
		t.Errorf("sc query after install: %s", out)
	}
	wineWaitFor(t, 20*time.Second, "hellod to answer after install", func() bool { return httpGet(m.addr) == "hello\n" })
	t.Logf("hellod answered during the install: %v", served)
	m.checkARP(code1, "1.2.3")

	// Upgrade: 1.2.4 replaces 1.2.3 (MajorUpgrade), the service runs again.
	if log, exit, _, _ := m.msiexec("upgrade", "/i", winPath(msi2)); exit != 0 {
		t.Fatalf("msiexec /i %s (upgrade): exit %d; log:\n%s", filepath.Base(msi2), exit, msiLogTail(log, 60))
	}
	if out, found := m.w.regQuery(arpKey + code1); found {
		t.Errorf("1.2.3 still registered after the upgrade to 1.2.4: %s", out)
	}
	m.checkARP(code2, "1.2.4")
	m.checkService(m.w.mustReg(`HKLM\System\CurrentControlSet\Services\hellod`), soleExe, args)
	if st, out := m.w.scQuery("hellod"); st != "RUNNING" {
		t.Errorf("sc query after the upgrade: %s", out)
	}
	wineWaitFor(t, 20*time.Second, "hellod to answer after the upgrade", func() bool { return httpGet(m.addr) == "hello\n" })

	// Downgrade: refused by MajorUpgrade's launch condition (Wine's log
	// does not show its message); 1.2.4 stays.
	log, exit, _, _ = m.msiexec("downgrade", "/i", winPath(msi1))
	if exit == 0 {
		t.Errorf("msiexec /i 1.2.3 over 1.2.4 succeeded, want the downgrade refused")
	} else if !strings.Contains(log, "Found application: "+code2) || !strings.Contains(log, "LaunchConditions. Return value 0") {
		t.Errorf("downgrade refused (exit %d) but not by the launch condition on the newer product; log:\n%s", exit, msiLogTail(log, 60))
	}
	m.checkARP(code2, "1.2.4")
	if st, out := m.w.scQuery("hellod"); st != "RUNNING" {
		t.Errorf("sc query after the refused downgrade: %s", out)
	}

	// Uninstall: stopped, deleted, files and entry gone.
	if log, exit, _, _ := m.msiexec("uninstall", "/x", code2); exit != 0 {
		t.Fatalf("msiexec /x %s: exit %d; log:\n%s", code2, exit, msiLogTail(log, 60))
	}
	m.checkGone("uninstall", code1, code2)
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))
}

func msiLogTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\r\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
