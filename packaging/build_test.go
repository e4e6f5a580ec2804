package packaging

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/internal/unit"
)

// bins are Linux binaries built once per test binary: hellod (built on
// runtime.Main, with its symbol table), sole, and a script.
var bins struct {
	once                 sync.Once
	dir                  string
	hellod, sole, script string
	stranger             string // a Go program that does not use sole
	err                  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{bins.dir, winBins.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func linuxBins(t testing.TB) {
	t.Helper()
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "sole-packaging-test-"); bins.err != nil {
			return
		}
		goBuild := func(out, pkg string) error { return testenv.BuildTo(out, pkg, "GOOS=linux", "GOARCH=amd64") }
		bins.hellod = filepath.Join(bins.dir, "hellod")
		bins.sole = filepath.Join(bins.dir, "sole")
		bins.stranger = filepath.Join(bins.dir, "stranger")
		bins.script = filepath.Join(bins.dir, "ticker.sh")
		if bins.err = goBuild(bins.hellod, "github.com/solehq/sole/cmd/hellod"); bins.err != nil {
			return
		}
		if bins.err = goBuild(bins.sole, "github.com/solehq/sole/cmd/sole"); bins.err != nil {
			return
		}
		if bins.err = goBuild(bins.stranger, "github.com/solehq/sole/bench/floor"); bins.err != nil {
			return
		}
		bins.err = os.WriteFile(bins.script, []byte("#!/bin/sh\nexec sleep infinity\n"), 0o755)
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// needTools skips (or, with CI=true, fails) when a checker is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.NeedTool(t, tool, "lintian, dpkg, rpm, binutils, wixl, msitools or osslsigncode")
	}
}

func baseSpec() Spec {
	return Spec{
		Name:        "hellod",
		Version:     "1.2.3",
		Binary:      bins.hellod,
		Maintainer:  "Sole Test <test@example.com>",
		License:     "MIT",
		Description: "example greeting server",
		Date:        time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %q: %v\n%s%s", name, args, err, out, stderr)
	}
	return string(out)
}

// debFiles reads the data archive of a .deb: path → content (nil for a
// directory), and each entry's header.
func debFiles(t *testing.T, deb string) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	data, err := exec.Command("dpkg-deb", "--fsys-tarfile", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile: %v", err)
	}
	return tarFiles(t, data)
}

// tarFiles reads a tar archive: path (without "./" and a trailing "/") →
// content (regular files only), and each entry's header.
func tarFiles(t *testing.T, data []byte) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, hdrs := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "."), "/")
		hdrs[name] = h
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[name] = b
		}
	}
	return files, hdrs
}

// lintian runs lintian once on the packages and returns its errors and
// warnings.
func lintian(t *testing.T, debs ...string) []string {
	t.Helper()
	out, _ := exec.Command("lintian", append([]string{"--allow-root", "--no-tag-display-limit"}, debs...)...).CombinedOutput()
	var bad []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			bad = append(bad, line)
		}
	}
	return bad
}

func TestBuildDeb(t *testing.T) {
	needTools(t, "dpkg-deb", "lintian", "strip")
	linuxBins(t)
	conf := filepath.Join(t.TempDir(), "greeting")
	if err := os.WriteFile(conf, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		spec     func(*Spec)
		wrap     bool
		exe      string
		wantArgs []string
	}{
		"runtime program runs directly": {
			spec: func(s *Spec) {
				s.Configs = []File{{conf, "/etc/hellod/greeting"}}
				s.Env = []string{"HELLOD_GREETING=/etc/hellod/greeting"}
			},
			exe:      "hellod",
			wantArgs: []string{"run"},
		},
		"any Go program runs under sole run": {
			spec: func(s *Spec) {
				s.Name, s.Binary, s.Sole, s.Args, s.Description = "stranger", bins.stranger, bins.sole, []string{"-n", "3"}, "program that knows nothing of sole"
				s.Watchdog, s.Health = 30*time.Second, "test -e /tmp"
			},
			wrap:     true,
			exe:      "stranger",
			wantArgs: []string{"run", "--name", "stranger", "--scope", "system", "--health", "test -e /tmp", "--", "/usr/sbin/stranger", "-n", "3"},
		},
		"a per-user service": {
			spec: func(s *Spec) {
				s.Name, s.Binary, s.Sole, s.Description, s.User = "ticker", bins.script, bins.sole, "ticking script", true
			},
			wrap:     true,
			exe:      "ticker",
			wantArgs: []string{"run", "--name", "ticker", "--scope", "user", "--", "/usr/sbin/ticker"},
		},
		"a script runs under sole run": {
			spec: func(s *Spec) {
				s.Name, s.Binary, s.Sole, s.Description = "ticker", bins.script, bins.sole, "ticking script"
			},
			wrap:     true,
			exe:      "ticker", // no language extension in PATH (Debian's policy)
			wantArgs: []string{"run", "--name", "ticker", "--scope", "system", "--", "/usr/sbin/ticker"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			tt.spec(&s)
			deb, err := Build(t.Context(), s, Deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%s_1.2.3-1_amd64.deb", s.Name); filepath.Base(deb) != want {
				t.Errorf("file name %s, want %s", filepath.Base(deb), want)
			}
			if bad := lintian(t, deb); len(bad) > 0 {
				t.Errorf("lintian:\n%s", strings.Join(bad, "\n"))
			}
			files, hdrs := debFiles(t, deb)
			var names []string
			for n, b := range files {
				names = append(names, n)
				if h := hdrs[n]; h.Uname != "root" || h.Gname != "root" || !h.ModTime.Equal(s.Date) {
					t.Errorf("%s: owner %s:%s, time %v", n, h.Uname, h.Gname, h.ModTime)
				}
				_ = b
			}
			sort.Strings(names)
			unitPath := "/lib/systemd/system/" + s.Name + ".service"
			if s.User {
				unitPath = "/usr/lib/systemd/user/" + s.Name + ".service"
			}
			want := []string{
				unitPath,
				"/usr/sbin/" + tt.exe,
				"/usr/share/doc/" + s.Name + "/changelog.Debian.gz",
				"/usr/share/doc/" + s.Name + "/copyright",
				"/usr/share/lintian/overrides/" + s.Name,
				"/usr/share/man/man8/" + tt.exe + ".8.gz",
			}
			for _, c := range s.Configs {
				want = append(want, c.Dest)
			}
			if tt.wrap {
				want = append(want, "/usr/lib/"+s.Name+"/sole")
			}
			sort.Strings(want)
			if !reflect.DeepEqual(names, want) {
				t.Errorf("files:\n%q\nwant:\n%q", names, want)
			}
			// The unit is the one the same description renders.
			d := unit.Description{Name: s.Name, Description: s.Description, Documentation: []string{"man:" + tt.exe + "(8)"}, User: s.User, Env: s.Env, Watchdog: s.Watchdog, Exec: "/usr/sbin/" + tt.exe, Args: tt.wantArgs}
			if tt.wrap {
				d.Exec = "/usr/lib/" + s.Name + "/sole"
			}
			wantUnit, err := unit.SystemdUnit(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := files[unitPath]; !bytes.Equal(got, wantUnit) {
				t.Errorf("unit:\n%s\nwant:\n%s", got, wantUnit)
			}
			// Binaries are shipped stripped, as dh_strip does.
			for n, b := range files {
				if ef, err := elf.NewFile(bytes.NewReader(b)); err == nil {
					if ef.Section(".symtab") != nil {
						t.Errorf("%s still has its symbol table", n)
					}
					if hdrs[n].Mode&0o777 != 0o755 {
						t.Errorf("%s: mode %o", n, hdrs[n].Mode)
					}
				}
			}
			// The maintainer scripts are NewDebScripts'.
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			ds, _ := NewDebScripts(s.Name)
			if s.User {
				ds, _ = NewDebUserScripts(s.Name)
			}
			for file, want := range map[string]string{"postinst": ds.Postinst, "prerm": ds.Prerm, "postrm": ds.Postrm} {
				got, err := os.ReadFile(filepath.Join(ctl, file))
				if err != nil || string(got) != want {
					t.Errorf("%s (%v):\n%s\nwant:\n%s", file, err, got, want)
				}
			}
			conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
			var wantConf string
			for _, c := range s.Configs {
				wantConf += c.Dest + "\n"
			}
			if string(conffiles) != wantConf {
				t.Errorf("conffiles %q, want %q", conffiles, wantConf)
			}
			control := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Section", "Architecture", "Maintainer", "Depends")
			for _, f := range []string{"Package: " + s.Name, "Version: 1.2.3-1", "Section: misc", "Architecture: amd64", "Maintainer: " + s.Maintainer} {
				if !strings.Contains(control, f+"\n") {
					t.Errorf("control lacks %q:\n%s", f, control)
				}
			}
			if strings.Contains(control, "Depends") {
				t.Errorf("a static binary needs no dependency:\n%s", control)
			}
		})
	}
}

func TestBuildRPM(t *testing.T) {
	needTools(t, "rpm", "strip")
	linuxBins(t)
	conf := filepath.Join(t.TempDir(), "greeting")
	if err := os.WriteFile(conf, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := baseSpec()
	s.Binary, s.Sole = bins.stranger, bins.sole // wrapped: both binaries ship
	s.Name = "hellod"
	s.Configs = []File{{conf, "/etc/hellod/greeting"}}
	r, err := Build(t.Context(), s, RPM, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(r) != "hellod-1.2.3-1.x86_64.rpm" {
		t.Errorf("file name %s", filepath.Base(r))
	}
	files := strings.Fields(run(t, "rpm", "-qpl", r))
	// The package owns its own directories, so that rpm -e removes them.
	want := []string{"/etc/hellod", "/etc/hellod/greeting", "/usr/lib/hellod", "/usr/lib/hellod/sole", "/usr/lib/systemd/system/hellod.service", "/usr/sbin/stranger", "/usr/share/doc/hellod", "/usr/share/doc/hellod/copyright", "/usr/share/man/man8/stranger.8.gz"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("rpm -qpl:\n%q\nwant\n%q", files, want)
	}
	if c := strings.TrimSpace(run(t, "rpm", "-qpc", r)); c != "/etc/hellod/greeting" {
		t.Errorf("config files: %q", c)
	}
	// %config(noreplace): flag bits RPMFILE_CONFIG (1) | RPMFILE_NOREPLACE (16).
	if fl := run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS}\n]", r); !strings.Contains(fl, "/etc/hellod/greeting 17\n") {
		t.Errorf("file flags:\n%s", fl)
	}
	if q := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}", r); q != "hellod 1.2.3 1 x86_64 MIT" {
		t.Errorf("header: %q", q)
	}
	rs, _ := NewRPMScripts("hellod")
	scripts := run(t, "rpm", "-qp", "--scripts", r)
	for _, part := range []struct{ head, body string }{
		{"postinstall scriptlet (using /bin/sh):", rs.Post},
		{"preuninstall scriptlet (using /bin/sh):", rs.Preun},
		{"postuninstall scriptlet (using /bin/sh):", rs.Postun},
	} {
		if !strings.Contains(scripts, part.head+"\n"+part.body) {
			t.Errorf("rpm -qp --scripts lacks %s\n%s\ngot:\n%s", part.head, part.body, scripts)
		}
	}
	if strings.Contains(scripts, "preinstall") {
		t.Errorf("unexpected %%pre:\n%s", scripts)
	}
}

// TestRPMScriptletCounts runs each scriptlet as rpm does, with $1 a count,
// against a recording systemctl and systemd-update-helper: on a first
// install the unit is preset, an upgrade restarts it (after the new files
// are in), only a removal disables and stops it.
func TestRPMScriptletCounts(t *testing.T) {
	rs, err := NewRPMScripts("myd")
	if err != nil {
		t.Fatal(err)
	}
	us, err := NewRPMUserScripts("myd")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		script string
		arg    string
		helper bool // systemd >= 249: systemd-update-helper exists
		want   string
	}{
		"post install":          {rs.Post, "1", true, "helper install-system-units myd.service"},
		"post upgrade":          {rs.Post, "2", true, ""},
		"preun remove":          {rs.Preun, "0", true, "helper remove-system-units myd.service"},
		"preun upgrade":         {rs.Preun, "1", true, ""},
		"postun upgrade":        {rs.Postun, "1", true, "helper mark-restart-system-units myd.service"},
		"postun remove":         {rs.Postun, "0", true, ""},
		"old post install":      {rs.Post, "1", false, "systemctl --no-reload preset myd.service"},
		"old post upgrade":      {rs.Post, "2", false, ""},
		"old preun remove":      {rs.Preun, "0", false, "systemctl --no-reload disable --now myd.service"},
		"old preun upgrade":     {rs.Preun, "1", false, ""},
		"old postun upgrade":    {rs.Postun, "1", false, "systemctl daemon-reload\nsystemctl try-restart myd.service"},
		"old postun remove":     {rs.Postun, "0", false, ""},
		"old postun 2 upgrades": {rs.Postun, "2", false, "systemctl daemon-reload\nsystemctl try-restart myd.service"},

		"user post install":      {us.Post, "1", true, "helper install-user-units myd.service"},
		"user post upgrade":      {us.Post, "2", true, ""},
		"user preun remove":      {us.Preun, "0", true, "helper remove-user-units myd.service"},
		"user preun upgrade":     {us.Preun, "1", true, ""},
		"user postun upgrade":    {us.Postun, "1", true, "helper mark-restart-user-units myd.service"},
		"user postun remove":     {us.Postun, "0", true, ""},
		"old user post install":  {us.Post, "1", false, "systemctl --global preset myd.service"},
		"old user preun remove":  {us.Preun, "0", false, "systemctl --global disable myd.service"},
		"old user postun update": {us.Postun, "1", false, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			stub := func(name, tag string) {
				body := fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >>%s\n", tag, log)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("systemctl", "systemctl")
			script := tt.script
			helper := filepath.Join(dir, "no-helper")
			if tt.helper {
				stub("helper", "helper")
				helper = filepath.Join(dir, "helper")
			}
			script = strings.ReplaceAll(script, "/usr/lib/systemd/systemd-update-helper", helper)
			script = strings.ReplaceAll(script, "/run/sole/", dir+"/run-sole-") // never the host's
			cmd := exec.Command("sh", "-e", "-c", script, "scriptlet", tt.arg)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			got, _ := os.ReadFile(log)
			if strings.TrimSpace(string(got)) != tt.want {
				t.Errorf("ran:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestReproducible builds each package twice from the same inputs, in
// different directories: the bytes are the same. SOURCE_DATE_EPOCH sets
// the time; another value gives another package (so the check can fail).
func TestReproducible(t *testing.T) {
	needTools(t, "dpkg-deb", "strip")
	linuxBins(t)
	for _, format := range []Format{Deb, RPM} {
		t.Run(string(format), func(t *testing.T) {
			build := func(epoch string) []byte {
				t.Setenv("SOURCE_DATE_EPOCH", epoch)
				s := baseSpec()
				s.Date = time.Time{}
				s.Binary, s.Sole = bins.stranger, bins.sole
				p, err := Build(t.Context(), s, format, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if format == Deb {
					_, hdrs := debFiles(t, p)
					for n, h := range hdrs {
						if h.ModTime.Unix() != 1700000000 && epoch == "1700000000" {
							t.Errorf("%s: time %v, want SOURCE_DATE_EPOCH", n, h.ModTime)
						}
					}
				}
				return b
			}
			a, b := build("1700000000"), build("1700000000")
			if !bytes.Equal(a, b) {
				t.Fatalf("two builds differ (%d and %d bytes)", len(a), len(b))
			}
			if c := build("1700000001"); bytes.Equal(a, c) {
				t.Fatal("SOURCE_DATE_EPOCH made no difference")
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	linuxBins(t)
	noGoBin(t)
	notExe := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(notExe, []byte("just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		spec  func(*Spec)
		field string
	}{
		"no name":               {func(s *Spec) { s.Name = "" }, "name"},
		"uppercase name":        {func(s *Spec) { s.Name = "Hellod" }, "name"},
		"slash in name":         {func(s *Spec) { s.Name = "a/b" }, "name"},
		"no version":            {func(s *Spec) { s.Version = "" }, "version"},
		"version with a space":  {func(s *Spec) { s.Version = "1.0 beta" }, "version"},
		"version not a number":  {func(s *Spec) { s.Version = "latest" }, "version"},
		"newline in version":    {func(s *Spec) { s.Version = "1.0\nDepends: evil" }, "version"},
		"no maintainer":         {func(s *Spec) { s.Maintainer = "" }, "maintainer"},
		"maintainer no mail":    {func(s *Spec) { s.Maintainer = "Just A Name" }, "maintainer"},
		"no license":            {func(s *Spec) { s.License = "" }, "license"},
		"description is name":   {func(s *Spec) { s.Description = "hellod server" }, "description"},
		"description one word":  {func(s *Spec) { s.Description = "server" }, "description"},
		"description blank":     {func(s *Spec) { s.Description = "  " }, "description"},
		"newline in desc":       {func(s *Spec) { s.Description = "one\ntwo" }, "description"},
		"no binary":             {func(s *Spec) { s.Binary = "" }, "binary"},
		"binary missing":        {func(s *Spec) { s.Binary = "/nonexistent/x" }, "binary"},
		"binary is text":        {func(s *Spec) { s.Binary = notExe }, "binary"},
		"binary is a dir":       {func(s *Spec) { s.Binary = t.TempDir() }, "binary"},
		"wrong arch":            {func(s *Spec) { s.Arch = "arm64" }, "arch"},
		"wrong arch, rpm name":  {func(s *Spec) { s.Arch = "aarch64" }, "arch"},
		"runtime with args":     {func(s *Spec) { s.Args = []string{"-v"} }, "args"},
		"runtime with health":   {func(s *Spec) { s.Health = "true"; s.Watchdog = time.Second }, "health"},
		"runtime mode stranger": {func(s *Spec) { s.Binary, s.Mode = bins.stranger, ModeRuntime }, "mode"},
		"wrap mode runtime":     {func(s *Spec) { s.Mode, s.Sole = ModeWrap, bins.sole }, "mode"},
		"wrap without sole":     {func(s *Spec) { s.Binary = bins.stranger }, "sole"},
		"sole not sole":         {func(s *Spec) { s.Binary, s.Sole = bins.stranger, bins.hellod }, "sole"},
		"watchdog no health":    {func(s *Spec) { s.Binary, s.Sole, s.Watchdog = bins.stranger, bins.sole, time.Second }, "watchdog"},
		"config outside etc":    {func(s *Spec) { s.Configs = []File{{conf, "/usr/share/x"}} }, "config[0]"},
		"config relative":       {func(s *Spec) { s.Configs = []File{{conf, "etc/x"}} }, "config[0]"},
		"config twice":          {func(s *Spec) { s.Configs = []File{{conf, "/etc/x"}, {conf, "/etc/x"}} }, "config[1]"},
		"config src missing":    {func(s *Spec) { s.Configs = []File{{"/nonexistent", "/etc/x"}} }, "config[0]"},
		"bad env":               {func(s *Spec) { s.Env = []string{"1X=y"} }, "env[0]"},
		"negative timeout":      {func(s *Spec) { s.StopTimeout = -time.Second }, "watchdog"},
		"bad release":           {func(s *Spec) { s.Release = "1 2" }, "release"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			tt.spec(&s)
			out := t.TempDir()
			_, err := Build(t.Context(), s, Deb, out)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *packaging.Error", err, err)
			}
			if se.Field != tt.field {
				t.Errorf("field %q, want %q: %v", se.Field, tt.field, err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "package: ") {
				t.Errorf("not one line: %q", err)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("a failed build left %v", ents)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	linuxBins(t)
	tests := map[string]struct {
		path      string
		main, mod bool
		format    string
	}{
		"runtime program": {bins.hellod, true, true, "elf"},
		"sole itself":     {bins.sole, false, true, "elf"},
		"stranger":        {bins.stranger, false, true, "elf"}, // in sole's module, without Main
		"script":          {bins.script, false, false, "script"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := inspect(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if b.main != tt.main || b.module != tt.mod || b.format != tt.format {
				t.Errorf("got %+v", b)
			}
			if tt.format == "elf" && (b.arch != "amd64" || !b.static || !b.symtab) {
				t.Errorf("got %+v", b)
			}
		})
	}
	// A program whose only trace of the marker is in its data is not
	// taken for a runtime program unless it is a Go program linking sole.
	fake := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(fake, append([]byte("#!/bin/sh\n# "), "sole runtime.Main v1: PROG run runs the service\n"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := inspect(fake); err != nil || b.main {
		t.Errorf("a script quoting the marker: %+v, %v", b, err)
	}
}

// TestVersions: versions are kept as given, but for a leading "v" and a
// prerelease "-" made "~", so that it sorts before the release in dpkg.
func TestVersions(t *testing.T) {
	needTools(t, "dpkg-deb", "dpkg", "strip")
	linuxBins(t)
	tests := map[string]string{
		"1.0":          "1.0-1",
		"v1.2.3":       "1.2.3-1",
		"1.2.3-rc1":    "1.2.3~rc1-1",
		"2.0.0+build5": "2.0.0+build5-1",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			s := baseSpec()
			s.Version = in
			deb, err := Build(t.Context(), s, Deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Version")); got != want {
				t.Fatalf("Version %q, want %q", got, want)
			}
			if filepath.Base(deb) != "hellod_"+want+"_amd64.deb" {
				t.Errorf("file name %s", filepath.Base(deb))
			}
		})
	}
	if err := exec.Command("dpkg", "--compare-versions", "1.2.3~rc1-1", "lt", "1.2.3-1").Run(); err != nil {
		t.Error("a prerelease does not sort before its release")
	}
}

// TestCrossArch packages an arm64 program on this (amd64) machine: the
// architecture comes from the ELF header, in each format's spelling. An
// arm64 binary with a symbol table needs a strip for arm64: without one
// the error says what to do.
func TestCrossArch(t *testing.T) {
	needTools(t, "dpkg-deb", "rpm")
	dir := t.TempDir()
	build := func(out string, ldflags string) string {
		p := filepath.Join(dir, out)
		cmd := exec.Command("go", "build", "-ldflags="+ldflags, "-o", p, "github.com/solehq/sole/cmd/hellod")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		return p
	}
	stripped := build("hellod", "-s -w")
	s := baseSpec()
	s.Binary = stripped
	deb, err := Build(t.Context(), s, Deb, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Architecture")); a != "arm64" || !strings.HasSuffix(deb, "_arm64.deb") {
		t.Errorf("deb: Architecture %q, file %s", a, filepath.Base(deb))
	}
	s.Arch = "aarch64" // rpm's spelling is taken too
	r, err := Build(t.Context(), s, RPM, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a := run(t, "rpm", "-qp", "--qf", "%{ARCH}", r); a != "aarch64" {
		t.Errorf("rpm: ARCH %q", a)
	}

	s = baseSpec()
	s.Binary = build("hellod-unstripped", "")
	_, err = Build(t.Context(), s, Deb, t.TempDir())
	if _, lerr := exec.LookPath("aarch64-linux-gnu-strip"); lerr == nil {
		if err != nil {
			t.Fatalf("with aarch64-linux-gnu-strip installed: %v", err)
		}
		return
	}
	if err == nil {
		t.Skip("this machine's strip handles arm64 (binutils-multiarch)")
	}
	if msg := err.Error(); !strings.Contains(msg, "--no-strip") || !strings.Contains(msg, `-ldflags="-s -w"`) || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming the ways out", msg)
	}
	s.NoStrip = true
	if _, err := Build(t.Context(), s, Deb, t.TempDir()); err != nil {
		t.Errorf("--no-strip: %v", err)
	}
}

// rpmPayload reads the files of the .rpm at path back, from the tar file
// that rpm2archive (of rpm) writes of its payload.
func rpmPayload(t *testing.T, path string) map[string][]byte {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command("rpm2archive", "-n")
	cmd.Stdin = in
	payload, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm2archive: %v", err)
	}
	files, _ := tarFiles(t, payload)
	return files
}
