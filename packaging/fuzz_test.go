package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSpec: no Spec makes validation panic, an error is one line, and a
// Spec that validates renders its unit and its control texts.
func FuzzSpec(f *testing.F) {
	linuxBins(f)
	dir := f.TempDir()
	script := filepath.Join(dir, "prog.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 1\n"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Add("myd", "1.2.3", "Jane Doe <jane@example.com>", "web server", "MIT", "https://example.com", "", "-v")
	f.Add("a.b+c-d", "v1.0-rc.1+meta", "X <x@y.z>", "d", "0BSD", "", "1", "")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("myd", "1\n2", "<@>", "myd daemon", "M", "h", "~", "a\x00b")
	f.Fuzz(func(t *testing.T, name, version, maint, desc, license, home, release, arg string) {
		s := Spec{Name: name, Version: version, Maintainer: maint, Description: desc, License: license,
			Homepage: home, Release: release, Binary: script, Arch: "amd64", Args: []string{arg},
			Sole: bins.sole}
		p, err := newPlan(s, "linux")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if _, err := p.unit(); err != nil {
			t.Fatalf("validated, but the unit does not render: %v", err)
		}
		for _, text := range []string{p.manPage(), p.copyright(), p.debChangelog(p.version()), p.longDescription()} {
			if strings.Contains(text, "\x00") {
				t.Fatalf("NUL in a generated text: %q", text)
			}
		}
	})
}
