package packaging

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

// msiTools skips the test when wixl or msiinfo (or more) is missing, or
// fails it when CI is "true" (a test tier that cannot be set up must fail
// in CI).
func msiTools(t *testing.T, more ...string) {
	t.Helper()
	needTools(t, append([]string{"wixl", "msiinfo"}, more...)...)
}

// msiGoBuild builds a package of this module for Windows.
func msiGoBuild(pkg, goarch, out string) error {
	return testenv.BuildTo(out, pkg, "GOOS=windows", "GOARCH="+goarch)
}

// msiExport returns `msiinfo export MSI TABLE`.
func msiExport(t *testing.T, msi, table string) []byte {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s %s: %v", msi, table, err)
	}
	return out
}

func msiTable(t *testing.T, msi, table string) *idtTable {
	t.Helper()
	tb, err := parseIDT(msiExport(t, msi, table))
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	return tb
}

// winArgv splits a Windows command line's arguments as CommandLineToArgvW
// and Go's os.Args do for every argument but the first.
func winArgv(s string) []string {
	var args []string
	var cur strings.Builder
	inArg, inQuote := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == ' ' || c == '\t') && !inQuote:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuote = !inQuote
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			inQuote = !inQuote
			inArg = true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// msiDeformat evaluates what planMSI puts in a Formatted column: [\c]
// escapes, and [#File] references (from files).
func msiDeformat(t *testing.T, s string, files map[string]string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			end := strings.IndexByte(s[i+1:], ']')
			if strings.HasPrefix(s[i:], `[\`) && i+3 < len(s) && s[i+3] == ']' {
				b.WriteByte(s[i+2])
				i += 3
				continue
			}
			if end < 0 {
				t.Fatalf("unbalanced [ in %q", s)
			}
			ref := s[i+1 : i+1+end]
			path, ok := files[ref]
			if !ok {
				t.Fatalf("unexpected reference [%s] in %q", ref, s)
			}
			b.WriteString(path)
			i += end + 1
		case ']', '{', '}':
			t.Fatalf("unescaped %c in %q", s[i], s)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// msiKeyPair writes a throwaway self-signed code-signing certificate and
// its key.
func msiKeyPair(t *testing.T, dir string) Signing {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "sole test code signing", Organization: []string{"sole tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := Signing{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(s.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func msiVerify(file, ca string) error {
	out, err := exec.Command("osslsigncode", "verify", "-CAfile", ca, "-in", file).CombinedOutput()
	if err != nil {
		return errors.New(oneLine(out))
	}
	return nil
}

// winBins are Windows programs built once per test binary: hellod.exe
// (built on runtime.Main), sole.exe, and worker.exe, a copy of sole.exe
// that stands for any program that knows nothing of sole (a wrapped
// program: the package ships sole.exe to run it).
var winBins struct {
	once                 sync.Once
	dir                  string
	hellod, sole, worker string
	err                  error
}

func windowsBins(t testing.TB) {
	t.Helper()
	winBins.once.Do(func() {
		if winBins.dir, winBins.err = os.MkdirTemp("", "sole-packaging-test-windows-"); winBins.err != nil {
			return
		}
		start := time.Now()
		winBins.hellod = filepath.Join(winBins.dir, "hellod.exe")
		winBins.sole = filepath.Join(winBins.dir, "sole.exe")
		winBins.worker = filepath.Join(winBins.dir, "worker.exe")
		if winBins.err = msiGoBuild("cmd/hellod", "amd64", winBins.hellod); winBins.err != nil {
			return
		}
		if winBins.err = msiGoBuild("cmd/sole", "amd64", winBins.sole); winBins.err != nil {
			return
		}
		b, err := os.ReadFile(winBins.sole)
		if err != nil {
			winBins.err = err
			return
		}
		winBins.err = os.WriteFile(winBins.worker, b, 0o755)
		t.Logf("hellod.exe and sole.exe built in %v", time.Since(start).Round(time.Millisecond))
	})
	if winBins.err != nil {
		t.Fatal(winBins.err)
	}
}

// msiSpec is the Spec of hellod's package (a runtime program, run as
// `hellod.exe run`).
func msiSpec() Spec {
	return Spec{
		Name:        "hellod",
		Description: "sole example daemon: a single-instance HTTP greeter",
		Version:     "v1.2.3",
		Maintainer:  "Sole Team <team@example.com>",
		License:     "MIT",
		Binary:      winBins.hellod,
		Date:        time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// wrappedSpec is the Spec of worker.exe's package, run by sole.exe.
func wrappedSpec() Spec {
	s := msiSpec()
	s.Name, s.Binary, s.Sole = "hello-worker", winBins.worker, winBins.sole
	return s
}

// TestMSI builds packages of hellod (a program on sole's runtime) and of
// a program run by sole.exe, and reads their tables back.
func TestMSI(t *testing.T) {
	msiTools(t)
	windowsBins(t)
	bin := t.TempDir()
	cfg := filepath.Join(bin, "greeting.txt")
	if err := os.WriteFile(cfg, []byte("hello\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Awkward arguments: spaces, quotes, backslashes (before quotes and at
	// the end), brackets and braces (MSI Formatted syntax), empty.
	awkward := []string{"--addr", "127.0.0.1:8080", "a b", `say "hi"`, `C:\dir with space\`, `back\\"slash`, `[ProductName]`, `{x}`, `[\[]`, "", `%PATH%`, `trail\`}

	tests := map[string]struct {
		spec    func() Spec
		argv    []string // the service's arguments, as the program reads them
		files   []string // File rows' FileName, in component order
		svcFile string   // the FileName the service runs
		account string   // StartName; "" for LocalSystem
	}{
		"runtime": {
			spec: func() Spec {
				s := msiSpec()
				s.Configs = []File{{Src: cfg, Dest: `config\greeting.txt`}, {Src: cfg, Dest: "top.txt"}, {Src: cfg, Dest: "config/sub/deep.txt"}}
				return s
			},
			argv:    []string{"run"},
			files:   []string{"hellod.exe", "greeting.txt", "top.txt", "deep.txt"},
			svcFile: "hellod.exe",
		},
		"runtime-display-name": {
			spec: func() Spec {
				s := msiSpec()
				s.DisplayName = "Hello [D] {daemon}"
				s.Description = `greets "you" [loudly]`
				return s
			},
			argv:    []string{"run"},
			files:   []string{"hellod.exe"},
			svcFile: "hellod.exe",
		},
		"wrapped": {
			spec: func() Spec {
				s := wrappedSpec()
				s.Args = awkward
				return s
			},
			argv:    append([]string{"run", "--name", "hello-worker", "--scope", "system", "--service", "--", `C:\Program Files\hello-worker\worker.exe`}, awkward...),
			files:   []string{"worker.exe", "sole.exe"},
			svcFile: "sole.exe",
		},
		// The service options: the account is the service's StartName;
		// the working directory and the environment file, which the SCM
		// has no place for, go to `run` (unit.Description.ManagerArgs).
		"runtime-options": {
			spec: func() Spec {
				s := msiSpec()
				s.RunAs, s.Workdir, s.EnvFile, s.Restart = "LocalService", `C:\ProgramData\hellod`, `C:\ProgramData\hellod\env [x].txt`, "on-failure"
				return s
			},
			argv:    []string{"run", "--env-file", `C:\ProgramData\hellod\env [x].txt`, "--workdir", `C:\ProgramData\hellod`},
			files:   []string{"hellod.exe"},
			svcFile: "hellod.exe",
			account: `NT AUTHORITY\LocalService`,
		},
		"wrapped-options": {
			spec: func() Spec {
				s := wrappedSpec()
				s.RunAs, s.LogDir, s.EnvFile, s.Args = `NT SERVICE\hello-worker`, `D:\logs\worker`, `C:\env`, []string{"-v"}
				return s
			},
			argv:    []string{"run", "--env-file", `C:\env`, "--name", "hello-worker", "--scope", "system", "--service", "--log-dir", `D:\logs\worker`, "--", `C:\Program Files\hello-worker\worker.exe`, "-v"},
			files:   []string{"worker.exe", "sole.exe"},
			svcFile: "sole.exe",
			account: `NT SERVICE\hello-worker`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := tt.spec()
			t0 := time.Now()
			path, err := Build(ctx, s, MSI, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("built %s in %v", filepath.Base(path), time.Since(t0).Round(time.Millisecond))
			if want := s.Name + "-1.2.3-x64.msi"; filepath.Base(path) != want {
				t.Errorf("file name %s, want %s", filepath.Base(path), want)
			}
			si := msiTable(t, path, "ServiceInstall")
			if len(si.Rows) != 1 {
				t.Fatalf("ServiceInstall: %d rows", len(si.Rows))
			}
			account := tt.account
			if account == "" {
				account = "LocalSystem"
			}
			for col, want := range map[string]string{"Name": escapeFormatted(s.Name), "ServiceType": "16", "StartType": "2", "ErrorControl": "1", "StartName": account} {
				if got := si.get(0, col); got != want {
					t.Errorf("ServiceInstall %s = %q, want %q", col, got, want)
				}
			}
			files := msiTable(t, path, "File")
			paths := map[string]string{}
			var names []string
			for i := range files.Rows {
				names = append(names, files.get(i, "FileName"))
				paths["#"+files.get(i, "File")] = `C:\Program Files\` + s.Name + `\` + files.get(i, "FileName")
			}
			sort.Strings(names)
			sort.Strings(tt.files)
			if !reflect.DeepEqual(names, tt.files) {
				t.Errorf("File rows %q, want %q", names, tt.files)
			}
			// The arguments, deformatted by MSI and split by Windows, are
			// the planned ones.
			argv := winArgv(msiDeformat(t, si.get(0, "Arguments"), paths))
			if !reflect.DeepEqual(argv, tt.argv) {
				t.Errorf("service arguments\n%q\nread back as\n%q\nwant\n%q", si.get(0, "Arguments"), argv, tt.argv)
			}
			if dn := msiDeformat(t, si.get(0, "DisplayName"), nil); s.DisplayName != "" && dn != s.DisplayName {
				t.Errorf("DisplayName %q, want %q", dn, s.DisplayName)
			}
			if d := msiDeformat(t, si.get(0, "Description"), nil); d != s.Description {
				t.Errorf("Description %q, want %q", d, s.Description)
			}
			// The service's component is the one of the file it runs.
			comp := si.get(0, "Component_")
			if i := files.find("Component_", comp); i < 0 || files.get(i, "FileName") != tt.svcFile {
				t.Errorf("the service's component %s is not the one of %s", comp, tt.svcFile)
			}
			sc := msiTable(t, path, "ServiceControl")
			if len(sc.Rows) != 1 || sc.get(0, "Event") != "163" || sc.get(0, "Wait") != "1" || sc.get(0, "Component_") != comp {
				t.Errorf("ServiceControl: %q", sc.Rows)
			}
			comps := msiTable(t, path, "Component")
			for i := range comps.Rows {
				if a := comps.get(i, "Attributes"); a != "256" {
					t.Errorf("component %s: attributes %s, want 256", comps.get(i, "Component"), a)
				}
			}
			dirs := msiTable(t, path, "Directory")
			if i := dirs.find("Directory", "INSTALLDIR"); dirs.get(i, "DefaultDir") != s.Name || dirs.get(i, "Directory_Parent") != "ProgramFiles64Folder" {
				t.Errorf("INSTALLDIR: %q", dirs.Rows)
			}
			props := msiTable(t, path, "Property")
			for k, want := range map[string]string{"ProductVersion": "1.2.3", "Manufacturer": "Sole Team", "ARPCONTACT": "team@example.com", "UpgradeCode": upgradeCode(s.Name)} {
				if got := props.get(props.find("Property", k), "Value"); got != want {
					t.Errorf("property %s = %q, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("x86", func(t *testing.T) {
		h386 := filepath.Join(bin, "hellod386.exe")
		if err := msiGoBuild("cmd/hellod", "386", h386); err != nil {
			t.Fatal(err)
		}
		s := msiSpec()
		s.Binary = h386
		path, err := Build(ctx, s, MSI, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != "hellod-1.2.3-x86.msi" {
			t.Errorf("file name %s", filepath.Base(path))
		}
		if c := msiTable(t, path, "Component"); c.get(0, "Attributes") != "0" {
			t.Errorf("x86 component attributes %s, want 0", c.get(0, "Attributes"))
		}
		if d := msiTable(t, path, "Directory"); d.get(d.find("Directory", "INSTALLDIR"), "Directory_Parent") != "ProgramFilesFolder" {
			t.Errorf("x86 INSTALLDIR: %q", d.Rows)
		}
	})

	t.Run("sign", func(t *testing.T) {
		msiTools(t, "osslsigncode")
		keys := msiKeyPair(t, t.TempDir())
		s := wrappedSpec()
		s.Sign = &keys
		// The signed copies of the programs, as packaged.
		signed := t.TempDir()
		stageHook = func(dir string) {
			for _, f := range []string{"f0", "f1"} {
				if err := os.Link(filepath.Join(dir, f), filepath.Join(signed, f+".exe")); err != nil {
					t.Error(err)
				}
			}
		}
		path, err := Build(ctx, s, MSI, t.TempDir())
		stageHook = nil
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{path, filepath.Join(signed, "f0.exe"), filepath.Join(signed, "f1.exe")} {
			if err := msiVerify(f, keys.Cert); err != nil {
				t.Errorf("osslsigncode verify %s: %v", filepath.Base(f), err)
			}
		}
		// The check can fail: the unsigned program, an unsigned package,
		// a tampered package, another CA.
		unsigned, err := Build(ctx, msiSpec(), MSI, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		// Flip a byte of the cabinet's header (its first file's name),
		// and one of the signed program's DOS stub.
		tamper := func(file, marker string, off int) string {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, []byte(marker))
			if i < 0 {
				t.Fatalf("no %q in %s", marker, file)
			}
			b[i+off] ^= 0x20
			out := filepath.Join(t.TempDir(), "tampered"+filepath.Ext(file))
			if err := os.WriteFile(out, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return out
		}
		tampered := tamper(path, "MSCF", 0x50)
		tamperedExe := tamper(filepath.Join(signed, "f0.exe"), "This program cannot be run in DOS mode", 5)
		other := msiKeyPair(t, t.TempDir())
		for name, f := range map[string]struct{ file, ca string }{
			"unsigned exe":   {winBins.hellod, keys.Cert},
			"unsigned msi":   {unsigned, keys.Cert},
			"tampered msi":   {tampered, keys.Cert},
			"tampered exe":   {tamperedExe, keys.Cert},
			"another CA msi": {path, other.Cert},
		} {
			if err := msiVerify(f.file, f.ca); err == nil {
				t.Errorf("%s: verification succeeded", name)
			}
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		s := wrappedSpec()
		s.Configs = []File{{Src: cfg, Dest: `config\greeting.txt`}}
		a, err := Build(ctx, s, MSI, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // another second in the summary's times
		b, err := Build(ctx, s, MSI, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("msiinfo", "tables", a).Output()
		if err != nil {
			t.Fatal(err)
		}
		tables := strings.Fields(string(out))
		if len(tables) < 10 {
			t.Fatalf("msiinfo tables: %q", tables)
		}
		productCode := regexp.MustCompile(`(?m)^ProductCode\t\{[0-9A-F-]{36}\}\r\n`)
		for _, table := range tables {
			if table == "_SummaryInformation" {
				continue
			}
			ea, eb := msiExport(t, a, table), msiExport(t, b, table)
			// The parser reads every table wixl writes.
			if _, err := parseIDT(ea); err != nil {
				t.Errorf("parseIDT(msiinfo export %s): %v", table, err)
			}
			if table == "Property" && !productCode.Match(ea) {
				t.Errorf("Property has no ProductCode:\n%s", ea)
			}
			if !bytes.Equal(ea, eb) {
				t.Errorf("table %s differs between two builds:\n%s\n%s", table, ea, eb)
			}
		}
		// The cabinet too: the files' times are Date.
		ca, err1 := exec.Command("msiinfo", "extract", a, "product.cab").Output()
		cb, err2 := exec.Command("msiinfo", "extract", b, "product.cab").Output()
		if err := errors.Join(err1, err2); err != nil || len(ca) == 0 || !bytes.Equal(ca, cb) {
			t.Errorf("the cabinets differ (%d and %d bytes; %v)", len(ca), len(cb), err)
		}
		// What differs: the summary's package code and times.
		sa, sb := msiTable(t, a, "_SummaryInformation"), msiTable(t, b, "_SummaryInformation")
		var differ []string
		for i := range sa.Rows {
			id := sa.get(i, "PropertyId")
			if sb.get(sb.find("PropertyId", id), "Value") != sa.get(i, "Value") {
				differ = append(differ, id)
			}
		}
		t.Logf("summary properties that differ: %v (9 package code, 12 created, 13 saved)", differ)
	})
}

// TestMSISpecErrors: a Spec that an .msi cannot hold is an *Error naming
// the field, in one line, before wixl runs (it need not be installed),
// and nothing is left in the output directory.
func TestMSISpecErrors(t *testing.T) {
	windowsBins(t)
	noGoBin(t)
	bin := t.TempDir()
	cfg := filepath.Join(bin, "greeting.txt")
	if err := os.WriteFile(cfg, []byte("hello\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notPE := filepath.Join(bin, "notpe.exe")
	if err := os.WriteFile(notPE, []byte("#!/bin/sh\necho not a PE\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// hellod.exe and sole.exe with their PE machine field changed: an
	// arm64 program, a 386 sole.
	machine := func(src, name string, lo, hi byte) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		off := int(b[0x3c]) | int(b[0x3d])<<8
		b[off+4], b[off+5] = lo, hi
		out := filepath.Join(bin, name)
		if err := os.WriteFile(out, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return out
	}
	armPE := machine(winBins.hellod, "arm64.exe", 0x64, 0xaa)
	sole386 := machine(winBins.sole, "sole386.exe", 0x4c, 0x01)
	tests := map[string]struct {
		wrapped bool // edit wrappedSpec, not msiSpec
		edit    func(*Spec)
		field   string
		want    string
	}{
		"empty name":          {edit: func(s *Spec) { s.Name = "" }, field: "name", want: "missing"},
		"slash name":          {edit: func(s *Spec) { s.Name = "a/b" }, field: "name", want: "contains '/'"},
		"colon name":          {edit: func(s *Spec) { s.Name = "a:b" }, field: "name", want: "lowercase letters"},
		"device name":         {edit: func(s *Spec) { s.Name = "nul" }, field: "name", want: "reserved device name"},
		"trailing dot":        {edit: func(s *Spec) { s.Name = "myd." }, field: "name", want: "ends in a space or dot"},
		"non-ascii name":      {edit: func(s *Spec) { s.Name = "héllo" }, field: "name", want: "lowercase letters"},
		"version 2 fields":    {edit: func(s *Spec) { s.Version = "1.2" }, field: "version", want: `"1.2": 2 fields`},
		"version prerelease":  {edit: func(s *Spec) { s.Version = "1.2.3-rc1" }, field: "version", want: "not a number"},
		"version major > 255": {edit: func(s *Spec) { s.Version = "256.0.0" }, field: "version", want: "above 255"},
		"version build big":   {edit: func(s *Spec) { s.Version = "1.2.65536" }, field: "version", want: "above 65535"},
		"version empty":       {edit: func(s *Spec) { s.Version = "" }, field: "version", want: "missing"},
		"no manufacturer":     {edit: func(s *Spec) { s.Maintainer = " <a@b>" }, field: "maintainer", want: "no name"},
		"manufacturer utf-8":  {edit: func(s *Spec) { s.Maintainer = "Jöhn <j@example.com>" }, field: "maintainer", want: "only ASCII"},
		"description 2 lines": {edit: func(s *Spec) { s.Description = "a\nb" }, field: "description", want: "control character"},
		"description unicode": {edit: func(s *Spec) { s.Description = "日本の サーバ" }, field: "description", want: "only ASCII"},
		"display name utf-8":  {edit: func(s *Spec) { s.DisplayName = "Héllo" }, field: "display-name", want: "only ASCII"},
		"arg newline":         {wrapped: true, edit: func(s *Spec) { s.Args = []string{"-v", "a\nb"} }, field: "args[1]", want: "control character"},
		"runtime with args":   {edit: func(s *Spec) { s.Args = []string{"-v"} }, field: "args", want: "takes no other arguments"},
		"wrap a runtime":      {edit: func(s *Spec) { s.Mode, s.Sole = ModeWrap, winBins.sole }, field: "mode", want: "takes its own lock"},
		"no program":          {edit: func(s *Spec) { s.Binary = "" }, field: "binary", want: "missing"},
		"missing program":     {edit: func(s *Spec) { s.Binary = filepath.Join(bin, "nope.exe") }, field: "binary", want: "no such file"},
		"program a script":    {edit: func(s *Spec) { s.Binary = notPE }, field: "binary", want: "an .msi needs a Windows program"},
		"program for linux":   {edit: func(s *Spec) { s.Binary = "/bin/sh" }, field: "binary", want: "not windows"},
		"program arm64":       {edit: func(s *Spec) { s.Binary = armPE }, field: "binary", want: "a PE for arm64"},
		"program is sole.exe": {wrapped: true, edit: func(s *Spec) { s.Binary = winBins.sole }, field: "binary", want: `"sole.exe" clashes`},
		"no sole":             {wrapped: true, edit: func(s *Spec) { s.Sole = "" }, field: "sole", want: "no sole binary for windows/amd64 was found"},
		"sole not PE":         {wrapped: true, edit: func(s *Spec) { s.Sole = notPE }, field: "sole", want: "not a sole binary"},
		"sole 386":            {wrapped: true, edit: func(s *Spec) { s.Sole = sole386 }, field: "sole", want: "built for windows/386"},
		"config absolute":     {edit: func(s *Spec) { s.Configs = []File{{cfg, `C:\x.txt`}} }, field: "config[0]", want: "absolute"},
		"config rooted":       {edit: func(s *Spec) { s.Configs = []File{{cfg, "/etc/x"}} }, field: "config[0]", want: "absolute"},
		"config dotdot":       {edit: func(s *Spec) { s.Configs = []File{{cfg, `config\..\..\x`}} }, field: "config[0]", want: `".." element`},
		"config empty":        {edit: func(s *Spec) { s.Configs = []File{{cfg, ""}} }, field: "config[0]", want: "want SRC:DEST"},
		"config empty elem":   {edit: func(s *Spec) { s.Configs = []File{{cfg, `a\\b`}} }, field: "config[0]", want: "empty path element"},
		"config bad name":     {edit: func(s *Spec) { s.Configs = []File{{cfg, `config\a?b`}} }, field: "config[0]", want: "forbids in file names"},
		"config clash":        {edit: func(s *Spec) { s.Configs = []File{{cfg, "HELLOD.EXE"}} }, field: "config[0]", want: "clashes with the program"},
		"config clash sole":   {wrapped: true, edit: func(s *Spec) { s.Configs = []File{{cfg, "Sole.exe"}} }, field: "config[0]", want: "clashes with sole"},
		"config twice":        {edit: func(s *Spec) { s.Configs = []File{{cfg, "a.txt"}, {cfg, "A.txt"}} }, field: "config[1]", want: "clashes with config[0]"},
		"config under file":   {edit: func(s *Spec) { s.Configs = []File{{cfg, "a.txt"}, {cfg, `a.txt\b`}} }, field: "config[1]", want: "under config[0]"},
		"config over dir":     {edit: func(s *Spec) { s.Configs = []File{{cfg, `a\b.txt`}, {cfg, "a"}} }, field: "config[1]", want: "is a directory of another file"},
		"config no source":    {edit: func(s *Spec) { s.Configs = []File{{"", "a.txt"}} }, field: "config[0]", want: "want SRC:DEST"},
		"config source dir":   {edit: func(s *Spec) { s.Configs = []File{{bin, "a.txt"}} }, field: "config[0]", want: "not a regular file"},
		"sign no key":         {edit: func(s *Spec) { s.Sign = &Signing{Cert: "c.pem"} }, field: "sign", want: "certificate and a key"},
		"env":                 {edit: func(s *Spec) { s.Env = []string{"A=1"} }, field: "env", want: "not supported in an .msi"},
		"user":                {edit: func(s *Spec) { s.User = true }, field: "user", want: "not supported in an .msi"},

		// The service options an .msi cannot honour.
		"run as unix user":     {edit: func(s *Spec) { s.RunAs = "svcuser" }, field: "run-as", want: "not supported in an .msi: \"svcuser\": a Windows service runs as LocalSystem"},
		"run as with group":    {edit: func(s *Spec) { s.RunAs = "LocalService:grp" }, field: "run-as", want: "no group"},
		"run as other virtual": {edit: func(s *Spec) { s.RunAs = `NT SERVICE\other` }, field: "run-as", want: "not supported in an .msi"},
		"harden":               {edit: func(s *Spec) { s.Harden = true }, field: "harden", want: "not supported in an .msi"},
		"restart always":       {edit: func(s *Spec) { s.Restart = "always" }, field: "restart", want: "recovery actions"},
		"restart delay":        {edit: func(s *Spec) { s.RestartDelay = 5 * time.Second }, field: "restart-delay", want: "not supported in an .msi"},
		"start timeout":        {edit: func(s *Spec) { s.StartTimeout = 5 * time.Second }, field: "start-timeout", want: "not supported in an .msi"},
		"log dir of runtime":   {edit: func(s *Spec) { s.LogDir = `C:\logs` }, field: "log-dir", want: "not supported for a program built on sole's runtime"},
		"workdir unix":         {edit: func(s *Spec) { s.Workdir = "/srv/x" }, field: "workdir", want: "not an absolute Windows path"},
		"env file relative":    {edit: func(s *Spec) { s.EnvFile = `env.txt` }, field: "env-file", want: "not an absolute Windows path"},
		"log dir bad char":     {wrapped: true, edit: func(s *Spec) { s.LogDir = `C:\a|b` }, field: "log-dir", want: "forbids"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := msiSpec()
			if tt.wrapped {
				s = wrappedSpec()
			}
			tt.edit(&s)
			out := t.TempDir()
			path, err := Build(t.Context(), s, MSI, out)
			if err == nil {
				t.Fatalf("built %s", path)
			}
			var se *Error
			if !errors.As(err, &se) || se.Field != tt.field {
				t.Fatalf("error %v (%T), want a *packaging.Error for %s", err, err, tt.field)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, tt.want)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("left in the output directory: %v", left)
			}
		})
	}
}
