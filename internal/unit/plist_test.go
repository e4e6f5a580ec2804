package unit

// The rendered property lists read by real plist parsers: Python's
// plistlib (expat underneath) and libplist's plistutil (Debian package
// libplist-utils), converting to the binary format and back. Each must
// find exactly what expectedPlist says. The tests skip when the tool is
// missing, except with CI=true.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// plistCases are the golden and extra cases, plus one whose strings need
// every XML escape.
func plistCases() []goldenCase {
	xmlArgs := []string{"<", ">", "&", "&amp;", "&#9;", "]]>", "<![CDATA[x]]>", "<!-- c -->", `"`, "'",
		"\t", " lead", "trail ", "é", "☃", "🎉", "\u00a0", "\u0085", "\ufffd", "\U0010fffd", ""}
	return append(allCases(), goldenCase{
		name: "xml-escapes",
		d: Description{
			Name: "x", Exec: "/opt/<&>/bin/x", Args: xmlArgs,
			Env:              []string{"A=<&>", "B=\"'\t", "C=", "D=🎉 ]]>"},
			WorkingDirectory: "/srv/<&>", LogDir: "/var/log/a&b", User: true,
		},
		home: "/Users/x",
	})
}

func writePlist(t *testing.T, c goldenCase) (string, []byte) {
	t.Helper()
	text, err := LaunchdPlist(c.d, c.home)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), LaunchdLabel(c.d)+".plist")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, text
}

const plistlibScript = `
import json, plistlib, sys
with open(sys.argv[1], "rb") as f:
    d = plistlib.load(f, fmt=plistlib.FMT_XML)
json.dump(d, sys.stdout)
`

// pythonPlist reads a plist file with plistlib, returning it as JSON
// values with integers as int64.
func pythonPlist(t *testing.T, python, path string) (any, error) {
	t.Helper()
	out, err := exec.Command(python, "-c", plistlibScript, path).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, &testError{strings.TrimSpace(string(ee.Stderr))}
		}
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return jsonInts(v), nil
}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

func jsonInts(v any) any {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return v
		}
		return n
	case map[string]any:
		for k, x := range v {
			v[k] = jsonInts(x)
		}
	case []any:
		for i, x := range v {
			v[i] = jsonInts(x)
		}
	}
	return v
}

func TestLaunchdPlistPython(t *testing.T) {
	python := testenv.NeedTool(t, "python3", "python3")
	for _, c := range plistCases() {
		t.Run(c.name, func(t *testing.T) {
			path, text := writePlist(t, c)
			got, err := pythonPlist(t, python, path)
			if err != nil {
				t.Fatalf("plistlib: %v\n%s", err, text)
			}
			if want := expectedPlist(c.d, c.home); !reflect.DeepEqual(got, any(want)) {
				t.Errorf("plistlib reads\n%#v\nwant\n%#v", got, want)
			}
		})
	}
	// The reader can fail: an unescaped '&' is refused.
	bad := filepath.Join(t.TempDir(), "bad.plist")
	if err := os.WriteFile(bad, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>a</key><string>x & y</string></dict></plist>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := pythonPlist(t, python, bad); err == nil {
		t.Errorf("plistlib read a malformed plist as %v", v)
	}
}

// TestLaunchdPlistPlistutil converts each plist to the binary format and
// back with libplist, then reads the result.
func TestLaunchdPlistPlistutil(t *testing.T) {
	plistutil := testenv.NeedTool(t, "plistutil", "libplist-utils")
	// plistutil 2.2 exits 0 even when it cannot parse its input; it then
	// writes no output file and complains on stderr.
	convert := func(in, out, format string) error {
		cmd := exec.Command(plistutil, "-i", in, "-o", out, "-f", format)
		msg, err := cmd.CombinedOutput()
		if err == nil && len(msg) > 0 {
			err = &testError{strings.TrimSpace(string(msg))}
		}
		if err == nil {
			_, err = os.Stat(out)
		}
		return err
	}
	for _, c := range plistCases() {
		t.Run(c.name, func(t *testing.T) {
			path, text := writePlist(t, c)
			bin, back := path+".bin", path+".back.xml"
			if err := convert(path, bin, "bin"); err != nil {
				t.Fatalf("plistutil to binary: %v\n%s", err, text)
			}
			if err := convert(bin, back, "xml"); err != nil {
				t.Fatalf("plistutil to XML: %v", err)
			}
			backText, err := os.ReadFile(back)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodePlist(backText)
			if err != nil {
				t.Fatalf("reading plistutil's XML: %v\n%s", err, backText)
			}
			if want := expectedPlist(c.d, c.home); !reflect.DeepEqual(got, any(want)) {
				t.Errorf("after plistutil\n%#v\nwant\n%#v", got, want)
			}
		})
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.plist")
	if err := os.WriteFile(bad, []byte("<plist><dict><key>a</key><string>x & y</string></dict></plist>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := convert(bad, filepath.Join(dir, "bad.bin"), "bin"); err == nil {
		t.Error("plistutil converted a malformed plist")
	}
}
