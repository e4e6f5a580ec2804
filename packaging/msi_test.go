package packaging

import (
	"bytes"
	"context"
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
	"testing"
	"time"
)

// msiTools skips the test when wixl or msiinfo (or more) is missing, or
// fails it when CI is "true" (a test tier that cannot be set up must fail
// in CI).
func msiTools(t *testing.T, more ...string) {
	t.Helper()
	needTools(t, append([]string{"wixl", "msiinfo"}, more...)...)
}

// msiGoBuild builds a package of this module for Windows.
func msiGoBuild(t *testing.T, pkg, goarch, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/solehq/sole/"+pkg)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+goarch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows GOARCH=%s go build %s: %v\n%s", goarch, pkg, err, b)
	}
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

// msiDeformat evaluates what BuildMSI puts in a Formatted column: [\c]
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
		return errors.New(msiOneLine(out))
	}
	return nil
}

// TestMSI builds packages of hellod (a program on sole's runtime) and,
// wrapped, of hellod run by sole, both built for Windows once here, and
// reads their tables back.
func TestMSI(t *testing.T) {
	msiTools(t)
	bin := t.TempDir()
	start := time.Now()
	hellod, sole := filepath.Join(bin, "hellod.exe"), filepath.Join(bin, "sole.exe")
	msiGoBuild(t, "cmd/hellod", "amd64", hellod)
	msiGoBuild(t, "cmd/sole", "amd64", sole)
	t.Logf("hellod.exe and sole.exe built in %v", time.Since(start).Round(time.Millisecond))
	cfg := filepath.Join(bin, "greeting.txt")
	if err := os.WriteFile(cfg, []byte("hello\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	base := MSI{
		Name:         "hellod",
		Description:  "sole example daemon: a single-instance HTTP greeter",
		Version:      "v1.2.3",
		Manufacturer: "Sole Team <team@example.com>",
		Program:      hellod,
		Date:         date,
	}
	ctx := context.Background()

	// Awkward arguments: spaces, quotes, backslashes (before quotes and at
	// the end), brackets and braces (MSI Formatted syntax), empty.
	awkward := []string{"--addr", "127.0.0.1:8080", "a b", `say "hi"`, `C:\dir with space\`, `back\\"slash`, `[ProductName]`, `{x}`, `[\[]`, "", `%PATH%`, `trail\`}

	tests := map[string]struct {
		m        func() MSI
		argv     []string // the service's arguments, as the program reads them
		files    []string // File rows' FileName, in component order
		svcFile  string   // the FileName the service runs
		dirs     map[string]string
		wantArch string
	}{
		"runtime": {
			m: func() MSI {
				m := base
				m.Configs = []MSIFile{{Src: cfg, Dest: `config\greeting.txt`}, {Src: cfg, Dest: "top.txt"}, {Src: cfg, Dest: "config/sub/deep.txt"}}
				return m
			},
			argv:    []string{"run"},
			files:   []string{"hellod.exe", "greeting.txt", "top.txt", "deep.txt"},
			svcFile: "hellod.exe",
		},
		"runtime-args": {
			m: func() MSI {
				m := base
				m.DisplayName = "Hello [D] {daemon}"
				m.Description = `greets "you" [loudly]`
				m.Args = awkward
				return m
			},
			argv:    append([]string{"run"}, awkward...),
			files:   []string{"hellod.exe"},
			svcFile: "hellod.exe",
		},
		"wrapped": {
			m: func() MSI {
				m := base
				m.Name = "hello worker"
				m.Sole = sole
				m.Args = awkward
				return m
			},
			argv:    append([]string{"run", "--name", "hello worker", "--scope", "system", "--service", "--", `C:\Program Files\hello worker\hellod.exe`}, awkward...),
			files:   []string{"hellod.exe", "sole.exe"},
			svcFile: "sole.exe",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m := tt.m()
			t0 := time.Now()
			path, err := BuildMSI(ctx, m, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("built %s in %v", filepath.Base(path), time.Since(t0).Round(time.Millisecond))
			if want := m.Name + "-1.2.3-x64.msi"; filepath.Base(path) != want {
				t.Errorf("file name %s, want %s", filepath.Base(path), want)
			}
			si := msiTable(t, path, "ServiceInstall")
			if len(si.Rows) != 1 {
				t.Fatalf("ServiceInstall: %d rows", len(si.Rows))
			}
			for col, want := range map[string]string{"Name": msiFormatEscape(m.Name), "ServiceType": "16", "StartType": "2", "ErrorControl": "1", "StartName": "LocalSystem"} {
				if got := si.get(0, col); got != want {
					t.Errorf("ServiceInstall %s = %q, want %q", col, got, want)
				}
			}
			files := msiTable(t, path, "File")
			paths := map[string]string{}
			var names []string
			for i := range files.Rows {
				names = append(names, files.get(i, "FileName"))
				paths["#"+files.get(i, "File")] = `C:\Program Files\` + m.Name + `\` + files.get(i, "FileName")
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
			if dn := msiDeformat(t, si.get(0, "DisplayName"), nil); m.DisplayName != "" && dn != m.DisplayName {
				t.Errorf("DisplayName %q, want %q", dn, m.DisplayName)
			}
			if d := msiDeformat(t, si.get(0, "Description"), nil); d != m.Description {
				t.Errorf("Description %q, want %q", d, m.Description)
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
			if i := dirs.find("Directory", "INSTALLDIR"); dirs.get(i, "DefaultDir") != m.Name || dirs.get(i, "Directory_Parent") != "ProgramFiles64Folder" {
				t.Errorf("INSTALLDIR: %q", dirs.Rows)
			}
			props := msiTable(t, path, "Property")
			for k, want := range map[string]string{"ProductVersion": "1.2.3", "Manufacturer": "Sole Team", "ARPCONTACT": "team@example.com", "UpgradeCode": msiUpgradeCode(m.Name)} {
				if got := props.get(props.find("Property", k), "Value"); got != want {
					t.Errorf("property %s = %q, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("x86", func(t *testing.T) {
		h386 := filepath.Join(bin, "hellod386.exe")
		msiGoBuild(t, "cmd/hellod", "386", h386)
		m := base
		m.Program = h386
		path, err := BuildMSI(ctx, m, t.TempDir())
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
		// A 386 sole in a x64 package is refused.
		m = base
		m.Sole = h386
		if _, err := BuildMSI(ctx, m, t.TempDir()); err == nil || !strings.Contains(err.Error(), "must match") {
			t.Errorf("386 sole.exe with an amd64 program: %v", err)
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		notPE := filepath.Join(bin, "notpe.exe")
		if err := os.WriteFile(notPE, []byte("#!/bin/sh\necho not a PE\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		// An arm64 PE: hellod.exe with its machine field changed.
		b, err := os.ReadFile(hellod)
		if err != nil {
			t.Fatal(err)
		}
		off := int(b[0x3c]) | int(b[0x3d])<<8
		arm := bytes.Clone(b)
		arm[off+4], arm[off+5] = 0x64, 0xaa
		armPE := filepath.Join(bin, "arm64.exe")
		if err := os.WriteFile(armPE, arm, 0o755); err != nil {
			t.Fatal(err)
		}
		cases := map[string]struct {
			edit func(*MSI)
			want string
		}{
			"empty name":          {func(m *MSI) { m.Name = "" }, "name"},
			"slash name":          {func(m *MSI) { m.Name = "a/b" }, "contains '/'"},
			"colon name":          {func(m *MSI) { m.Name = "a:b" }, "forbids in file names"},
			"device name":         {func(m *MSI) { m.Name = "NUL" }, "reserved device name"},
			"non-ascii name":      {func(m *MSI) { m.Name = "héllo" }, "only ASCII"},
			"version 2 fields":    {func(m *MSI) { m.Version = "1.2" }, `version "1.2": 2 fields`},
			"version prerelease":  {func(m *MSI) { m.Version = "1.2.3-rc1" }, "not a number"},
			"version major > 255": {func(m *MSI) { m.Version = "256.0.0" }, "above 255"},
			"version build big":   {func(m *MSI) { m.Version = "1.2.65536" }, "above 65535"},
			"version empty":       {func(m *MSI) { m.Version = "" }, "version"},
			"no manufacturer":     {func(m *MSI) { m.Manufacturer = " <a@b> " }, "manufacturer"},
			"description 2 lines": {func(m *MSI) { m.Description = "a\nb" }, "control character"},
			"description unicode": {func(m *MSI) { m.Description = "日本" }, "only ASCII"},
			"arg newline":         {func(m *MSI) { m.Args = []string{"a\nb"} }, "argument 1"},
			"no program":          {func(m *MSI) { m.Program = "" }, "no program"},
			"missing program":     {func(m *MSI) { m.Program = filepath.Join(bin, "nope.exe") }, "no such file"},
			"program not PE":      {func(m *MSI) { m.Program = notPE }, "not a Windows executable"},
			"program arm64":       {func(m *MSI) { m.Program = armPE }, "a PE for arm64"},
			"sole not PE":         {func(m *MSI) { m.Sole = notPE }, "sole"},
			"config absolute":     {func(m *MSI) { m.Configs = []MSIFile{{cfg, `C:\x.txt`}} }, "absolute"},
			"config rooted":       {func(m *MSI) { m.Configs = []MSIFile{{cfg, "/etc/x"}} }, "absolute"},
			"config dotdot":       {func(m *MSI) { m.Configs = []MSIFile{{cfg, `config\..\..\x`}} }, `".." element`},
			"config empty":        {func(m *MSI) { m.Configs = []MSIFile{{cfg, ""}} }, "empty destination"},
			"config empty elem":   {func(m *MSI) { m.Configs = []MSIFile{{cfg, `a\\b`}} }, "empty path element"},
			"config clash":        {func(m *MSI) { m.Configs = []MSIFile{{cfg, "HELLOD.EXE"}} }, "clashes with the program"},
			"config twice":        {func(m *MSI) { m.Configs = []MSIFile{{cfg, "a.txt"}, {cfg, "A.txt"}} }, "clashes with config 1"},
			"config under file":   {func(m *MSI) { m.Configs = []MSIFile{{cfg, "a.txt"}, {cfg, `a.txt\b`}} }, "under config 1"},
			"config no source":    {func(m *MSI) { m.Configs = []MSIFile{{"", "a.txt"}} }, "no source"},
			"config source dir":   {func(m *MSI) { m.Configs = []MSIFile{{bin, "a.txt"}} }, "not a regular file"},
			"sign no key":         {func(m *MSI) { m.Sign = &Signing{Cert: "c.pem"} }, "certificate and a key"},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				m := base
				c.edit(&m)
				out := t.TempDir()
				path, err := BuildMSI(ctx, m, out)
				if err == nil {
					t.Fatalf("built %s", path)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "packaging: msi: ") {
					t.Errorf("error %q, want one line with %q", msg, c.want)
				}
				if left, _ := os.ReadDir(out); len(left) != 0 {
					t.Errorf("left in the output directory: %v", left)
				}
			})
		}
	})

	t.Run("no-wixl", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := BuildMSI(ctx, base, t.TempDir())
		if !errors.Is(err, ErrNoWixl) || !strings.Contains(err.Error(), "install the Debian package wixl (and msitools for msiinfo)") {
			t.Fatalf("without wixl: %v", err)
		}
	})

	t.Run("sign", func(t *testing.T) {
		msiTools(t, "osslsigncode")
		keys := msiKeyPair(t, t.TempDir())
		m := base
		m.Sole = sole
		m.Sign = &keys
		// The signed copies of the programs, as packaged.
		signed := t.TempDir()
		msiStageHook = func(dir string) {
			for _, f := range []string{"f0", "f1"} {
				if err := os.Link(filepath.Join(dir, f), filepath.Join(signed, f+".exe")); err != nil {
					t.Error(err)
				}
			}
		}
		path, err := BuildMSI(ctx, m, t.TempDir())
		msiStageHook = nil
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
		unsigned, err := BuildMSI(ctx, base, t.TempDir())
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
			"unsigned exe":   {hellod, keys.Cert},
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
		m := base
		m.Sole = sole
		m.Configs = []MSIFile{{Src: cfg, Dest: `config\greeting.txt`}}
		a, err := BuildMSI(ctx, m, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // another second in the summary's times
		b, err := BuildMSI(ctx, m, t.TempDir())
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

func TestMSIEscapeArg(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":            {"abc", "abc"},
		"empty":            {"", `""`},
		"space":            {"a b", `"a b"`},
		"tab":              {"a\tb", "\"a\tb\""},
		"quote":            {`a"b`, `a\"b`},
		"backslash":        {`a\b`, `a\b`},
		"backslash quote":  {`a\"b`, `a\\\"b`},
		"trailing slash":   {`a b\`, `"a b\\"`},
		"trailing slashes": {`a\\`, `a\\`},
		"path with space":  {`C:\Program Files\x\`, `"C:\Program Files\x\\"`},
		"quote space":      {`say "hi"`, `"say \"hi\""`},
		"only quote":       {`"`, `\"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := msiEscapeArg(tt.in)
			if got != tt.want {
				t.Errorf("msiEscapeArg(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back := winArgv(got); len(back) != 1 || back[0] != tt.in {
				t.Errorf("%q reads back as %q", got, back)
			}
		})
	}
	if got := msiFormatEscape(`[a]{b}\`); got != `[\[]a[\]][\{]b[\}]\` {
		t.Errorf("msiFormatEscape: %q", got)
	}
}

func TestMSIVersion(t *testing.T) {
	for in, want := range map[string]string{"1.2.3": "1.2.3", "v1.2.3": "1.2.3", "01.002.0003": "1.2.3", "255.255.65535.65535": "255.255.65535.65535", "0.0.0": "0.0.0"} {
		if got, err := msiVersion(in); err != nil || got != want {
			t.Errorf("msiVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "v", "1", "1.2", "1.2.3.4.5", "1.2.x", "1.-2.3", "1.+2.3", "1..3", "vv1.2.3", "1.256.0", "1.2.3.65536", "99999999999999999999.0.0", " 1.2.3"} {
		if _, err := msiVersion(in); err == nil {
			t.Errorf("msiVersion(%q) accepted", in)
		}
	}
}

func TestMSIUUIDv5(t *testing.T) {
	// RFC 9562 appendix A.4's example: DNS namespace, "www.example.com".
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got := msiUUIDv5(dns, "www.example.com"); got != "{2ED6657D-E927-568B-95E1-2665A8AEA6A2}" {
		t.Errorf("UUIDv5: %s", got)
	}
	if msiUpgradeCode("hellod") != msiUpgradeCode("HelloD") || msiUpgradeCode("hellod") == msiUpgradeCode("hellod2") {
		t.Error("the upgrade code is not per case-insensitive name")
	}
	// Fixed forever: packages already installed carry it.
	if got := msiUpgradeCode("hellod"); got != msiUpgradeCode("hellod") || !regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`).MatchString(got) {
		t.Errorf("upgrade code of hellod: %s", got)
	}
}

// A good export of each checked table for a plan, built by hand, and
// what the check says of broken ones (the check can fail).
func TestMSICheckTables(t *testing.T) {
	p := &msiPlan{
		Name: "myd", DisplayName: "myd", Version: "1.2.3", Manufacturer: "Acme", Arch: "x64", Win64: true,
		ProgramFilesFolder: "ProgramFiles64Folder", UpgradeCode: msiUpgradeCode("myd"),
	}
	c := &msiComponent{ID: "ProgramComponent", GUID: "{11111111-1111-5111-8111-111111111111}", FileID: "Program", FileName: "myd.exe", Dir: "INSTALLDIR", size: 42, Win64: true}
	p.Root = &msiDir{ID: "INSTALLDIR", Name: "myd", Components: []*msiComponent{c}}
	p.Components = []*msiComponent{c}
	p.Service = &msiService{Component: c.ID, Name: "myd", DisplayName: "myd", Arguments: "run"}
	c.Service = p.Service
	good := map[string]string{
		"ServiceInstall": "ServiceInstall\tName\tDisplayName\tServiceType\tStartType\tErrorControl\tLoadOrderGroup\tDependencies\tStartName\tPassword\tArguments\tComponent_\tDescription\r\n" +
			"s72\ts255\tL255\ti4\ti4\ti4\tS255\tS255\tS255\tS255\tS255\ts72\tL255\r\nServiceInstall\tServiceInstall\r\n" +
			"ServiceInstall\tmyd\tmyd\t16\t2\t1\t\t\tLocalSystem\t\trun\tProgramComponent\t\r\n",
		"ServiceControl": "ServiceControl\tName\tEvent\tArguments\tWait\tComponent_\r\ns72\tl255\ti2\tL255\tI2\ts72\r\nServiceControl\tServiceControl\r\n" +
			"ServiceControl\tmyd\t163\t\t1\tProgramComponent\r\n",
		"Component": "Component\tComponentId\tDirectory_\tAttributes\tCondition\tKeyPath\r\ns72\tS38\ts72\ti2\tS255\tS72\r\nComponent\tComponent\r\n" +
			"ProgramComponent\t{11111111-1111-5111-8111-111111111111}\tINSTALLDIR\t256\t\tProgram\r\n",
		"File": "File\tComponent_\tFileName\tFileSize\tVersion\tLanguage\tAttributes\tSequence\r\ns72\ts72\tl255\ti4\tS72\tS20\tI2\ti4\r\nFile\tFile\r\n" +
			"Program\tProgramComponent\tmyd.exe\t42\t\t\t512\t1\r\n",
		"Directory": "Directory\tDirectory_Parent\tDefaultDir\r\ns72\tS72\tl255\r\nDirectory\tDirectory\r\n" +
			"INSTALLDIR\tProgramFiles64Folder\tmyd\r\nProgramFiles64Folder\tTARGETDIR\t.\r\nTARGETDIR\t\tSourceDir\r\n",
		"Property": "Property\tValue\r\ns72\tl0\r\nProperty\tProperty\r\nALLUSERS\t1\r\nManufacturer\tAcme\r\nProductCode\t{3C75572E-FC55-462B-B7A4-4F4E1663BBC6}\r\n" +
			"ProductName\tmyd\r\nProductVersion\t1.2.3\r\nARPNOMODIFY\t1\r\nUpgradeCode\t" + p.UpgradeCode + "\r\n",
		"Upgrade": "UpgradeCode\tVersionMin\tVersionMax\tLanguage\tAttributes\tRemove\tActionProperty\r\ns38\tS20\tS20\tS255\ti4\tS255\ts72\r\nUpgrade\tUpgradeCode\tVersionMin\tVersionMax\tLanguage\tAttributes\r\n" +
			p.UpgradeCode + "\t\t1.2.3\t\t1\t\tWIX_UPGRADE_DETECTED\r\n" + p.UpgradeCode + "\t1.2.3\t\t\t2\t\tWIX_DOWNGRADE_DETECTED\r\n",
		"LaunchCondition":     "Condition\tDescription\r\ns255\tl255\r\nLaunchCondition\tCondition\r\nNOT WIX_DOWNGRADE_DETECTED\t" + msiDowngradeMessage + "\r\n",
		"_SummaryInformation": "PropertyId\tValue\r\ni2\tl255\r\n_SummaryInformation\tPropertyId\r\n7\tx64;1033\r\n9\t{1F2440AA-370C-48E2-AC74-16778C3BD7C7}\r\n",
	}
	parse := func(m map[string]string) map[string]*idtTable {
		tables := map[string]*idtTable{}
		for name, s := range m {
			tb, err := parseIDT([]byte(s))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tables[name] = tb
		}
		return tables
	}
	if err := checkMSITables(p, parse(good)); err != nil {
		t.Fatalf("good tables: %v", err)
	}
	header := func(table string) string {
		lines := strings.SplitAfter(good[table], "\r\n")
		return strings.Join(lines[:3], "")
	}
	tests := map[string]struct {
		table, export string
		want          string
	}{
		"empty ServiceControl": {"ServiceControl", header("ServiceControl"), "ServiceControl table: 0 rows, want 1 (wixl writes none for a ServiceControl without Id)"},
		"wrong events":         {"ServiceControl", strings.Replace(good["ServiceControl"], "\t163\t", "\t161\t", 1), `Event is "161", want "163"`},
		"no wait":              {"ServiceControl", strings.Replace(good["ServiceControl"], "\t1\tProgram", "\t0\tProgram", 1), `Wait is "0"`},
		"32-bit component":     {"Component", strings.Replace(good["Component"], "\t256\t", "\t0\t", 1), "component ProgramComponent lacks msidbComponentAttributes64bit (256)"},
		"no ServiceInstall":    {"ServiceInstall", header("ServiceInstall"), "ServiceInstall table: 0 rows, want 1"},
		"two ServiceInstalls":  {"ServiceInstall", good["ServiceInstall"] + strings.Replace(strings.SplitAfter(good["ServiceInstall"], "\r\n")[3], "ServiceInstall\t", "Other\t", 1), "2 rows"},
		"demand start":         {"ServiceInstall", strings.Replace(good["ServiceInstall"], "\t16\t2\t", "\t16\t3\t", 1), `StartType is "3", want "2"`},
		"other arguments":      {"ServiceInstall", strings.Replace(good["ServiceInstall"], "\trun\t", "\trun x\t", 1), `Arguments is "run x", want "run"`},
		"dropped name":         {"ServiceInstall", strings.Replace(good["ServiceInstall"], "ServiceInstall\tmyd\t", "ServiceInstall\t\t", 1), `Name is "", want "myd"`},
		"file size":            {"File", strings.Replace(good["File"], "\t42\t", "\t41\t", 1), `FileSize is "41", want "42"`},
		"missing file":         {"File", header("File"), "File table: 0 rows, want 1"},
		"x86 folder":           {"Directory", strings.Replace(good["Directory"], "INSTALLDIR\tProgramFiles64Folder", "INSTALLDIR\tProgramFilesFolder", 1), `INSTALLDIR is under "ProgramFilesFolder"`},
		"dropped product name": {"Property", strings.Replace(good["Property"], "ProductName\tmyd", "ProductName\t", 1), `ProductName is ""`},
		"no major upgrade":     {"Upgrade", header("Upgrade"), "no MajorUpgrade rows"},
		"no downgrade error":   {"LaunchCondition", header("LaunchCondition"), "no downgrade error"},
		"x86 summary":          {"_SummaryInformation", strings.Replace(good["_SummaryInformation"], "x64;1033", "Intel;1033", 1), `template (platform) is not "x64;1033"`},
		"table missing":        {"File", "", "File table: not in the package"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			delete(m, tt.table)
			tables := parse(m)
			if tt.export != "" {
				tb, err := parseIDT([]byte(tt.export))
				if err != nil {
					t.Fatal(err)
				}
				tables[tt.table] = tb
			}
			err := checkMSITables(p, tables)
			var te *MSITableError
			if !errors.As(err, &te) || te.Table != tt.table || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want a one-line *MSITableError for %s with %q", err, tt.table, tt.want)
			}
		})
	}
	// x86: a 64-bit component is wrong too.
	p.Win64, c.Win64 = false, false
	m := map[string]string{}
	for k, v := range good {
		m[k] = v
	}
	m["_SummaryInformation"] = strings.Replace(good["_SummaryInformation"], "x64;1033", "Intel;1033", 1)
	m["Directory"] = strings.Replace(good["Directory"], "ProgramFiles64Folder", "ProgramFilesFolder", -1)
	p.ProgramFilesFolder = "ProgramFilesFolder"
	if err := checkMSITables(p, parse(m)); err == nil || !strings.Contains(err.Error(), "64-bit in a x86 package") {
		t.Errorf("a 64-bit component in a x86 package: %v", err)
	}
}

func TestParseIDT(t *testing.T) {
	good := map[string]struct {
		in   string
		want *idtTable
	}{
		"rows": {
			"A\tB\r\ns72\tI2\r\nT\tA\r\nx\t1\r\ny\t\r\n",
			&idtTable{Name: "T", Columns: []string{"A", "B"}, Types: []string{"s72", "I2"}, Keys: []string{"A"}, Rows: [][]string{{"x", "1"}, {"y", ""}}},
		},
		"no rows": {"A\r\ns72\r\nT\tA\r\n", &idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s72"}, Keys: []string{"A"}}},
		"codepage": {
			"A\r\nl0\r\n1252\tT\tA\r\nh\xc3\xa9\r\n",
			&idtTable{Name: "T", Codepage: 1252, Columns: []string{"A"}, Types: []string{"l0"}, Keys: []string{"A"}, Rows: [][]string{{"hé"}}},
		},
		"line breaks in values": {
			"A\r\ns0\r\nT\tA\r\na\x11\x19b\x19c\x11d\r\n",
			&idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s0"}, Keys: []string{"A"}, Rows: [][]string{{"a\r\nb\nc\rd"}}},
		},
		"force codepage": {"\r\n\r\n1252\t_ForceCodepage\r\n\x00", &idtTable{Name: "_ForceCodepage", Codepage: 1252}},
		"LF only":        {"A\ns72\nT\tA\nx\n", &idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s72"}, Keys: []string{"A"}, Rows: [][]string{{"x"}}}},
	}
	for name, tt := range good {
		t.Run(name, func(t *testing.T) {
			got, err := parseIDT([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	bad := map[string]string{
		"empty":            "",
		"two lines":        "A\r\ns72\r\n",
		"no final newline": "A\r\ns72\r\nT\tA",
		"type count":       "A\tB\r\ns72\r\nT\tA\r\n",
		"bad type":         "A\r\nx72\r\nT\tA\r\n",
		"int width":        "A\r\ni3\r\nT\tA\r\n",
		"short row":        "A\tB\r\ns72\ts72\r\nT\tA\r\nx\r\n",
		"long row":         "A\r\ns72\r\nT\tA\r\nx\ty\r\n",
		"bad int":          "A\r\ni2\r\nT\tA\r\nx\r\n",
		"int range":        "A\r\ni2\r\nT\tA\r\n40000\r\n",
		"unknown key":      "A\r\ns72\r\nT\tB\r\n",
		"no key":           "A\r\ns72\r\nT\r\n",
		"bad table name":   "A\r\ns72\r\n1T\tA\tB\r\n",
		"duplicate column": "A\tA\r\ns72\ts72\r\nT\tA\r\n",
		"lone CR":          "A\r\ns72\r\nT\tA\r\nx\ry\r\n",
		"not UTF-8":        "A\r\ns72\r\nT\tA\r\n\xff\r\n",
		"bad codepage":     "\r\n\r\nx\t_ForceCodepage\r\n",
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if tb, err := parseIDT([]byte(in)); err == nil {
				t.Fatalf("parsed: %+v", tb)
			} else if !strings.HasPrefix(err.Error(), "idt: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q", err)
			}
		})
	}
}

// FuzzParseIDT: parseIDT never panics, and what it parses it writes back
// (format) to text it parses to the same table.
func FuzzParseIDT(f *testing.F) {
	f.Add([]byte("ServiceControl\tName\tEvent\tArguments\tWait\tComponent_\r\ns72\tl255\ti2\tL255\tI2\ts72\r\nServiceControl\tServiceControl\r\nServiceControl\tmyd\t163\t\t1\tProgramComponent\r\n"))
	f.Add([]byte("\r\n\r\n0\t_ForceCodepage\r\n\x00"))
	f.Add([]byte("A\r\nl0\r\n1252\tT\tA\r\na\x11\x19b\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := parseIDT(data)
		if err != nil {
			if tb != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q with a table", err)
			}
			return
		}
		again, err := parseIDT(tb.format())
		if err != nil {
			t.Fatalf("parse(format(%+v)): %v\n%q", tb, err, tb.format())
		}
		if !reflect.DeepEqual(again, tb) {
			t.Fatalf("round trip:\n%+v\n%+v", tb, again)
		}
	})
}
