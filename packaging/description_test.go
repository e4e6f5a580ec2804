package packaging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDescriptionsAgainstLintian holds sole's description check against
// lintian itself: a .deb is made for each description of a table (the
// control file of one .deb built by sole, with the description and the
// package name put in: the same text sole writes), lintian checks them all
// in one run, and sole must refuse exactly the descriptions for which
// lintian reports an error (E:) about the description, and accept the
// rest (whatever lintian warns of). %N in a description is the package
// name, %U the name in upper case, %F the name capitalised with a space
// for its dash, %S the name with a slash for it.
func TestDescriptionsAgainstLintian(t *testing.T) {
	t.Parallel()
	needTools(t, "dpkg-deb", "lintian", "strip")
	linuxBins(t)
	long := strings.Repeat("very ", 16) + "long summary" // 92 bytes
	descs := []string{
		"",    // sole's default
		"   ", // blank
		"%N",
		"%N server",
		"%U server",
		"%N-like server",
		"%N's server",
		"%N: a server",
		"%N.io server",
		"%N2 server",  // no word boundary after the name
		"%N_x server", // '_' is a word character
		"%Né server",
		"%N\u0301 server", // a combining accent after the name
		"%F",              // the name, fuzzily: "Desc 14"
		"%S",              // "desc/15"
		"%F server",
		"server", // one word
		"missing",
		"<insert up to 60 chars description>",
		"A program",
		"the greeting server",
		"an HTTP server",
		"example greeting server.",
		long,
		"tab\tseparated",
		" leading space server",
		"trailing spaces server   ",
		"serveur de salutations, été comme hiver",
		"日本語",
		"web\u00a0server", // no-break space
		"web\u3000server", // ideographic space
		"a,b server",
		"x y",
		"#DUP#", // the first line of the extended description
	}
	const base = "desc-00"
	work := t.TempDir()

	// The .deb whose control file the others get, with a description
	// sole accepts.
	s := baseSpec()
	s.Name, s.Description = base, "placeholder for the test"
	baseDeb, err := Build(t.Context(), s, Deb, work)
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(work, "tree")
	run(t, "dpkg-deb", "-R", baseDeb, tree)
	control, err := os.ReadFile(filepath.Join(tree, "DEBIAN/control"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(control, []byte("\nDescription: placeholder for the test\n")) {
		t.Fatalf("control:\n%s", control)
	}
	// mkDeb writes the .deb of package name with description d.
	mkDeb := func(name, d string) string {
		c := strings.ReplaceAll(string(control), base, name)
		c = strings.Replace(c, "\nDescription: placeholder for the test\n", "\nDescription: "+d+"\n", 1)
		if err := os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		deb := filepath.Join(work, name+".deb")
		run(t, "dpkg-deb", "-Znone", "--root-owner-group", "-b", tree, deb)
		return deb
	}
	// What sole writes is what mkDeb writes.
	s.Name, s.Description = "desc-99", "example greeting server"
	built, err := Build(t.Context(), s, Deb, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := run(t, "dpkg-deb", "-f", built), run(t, "dpkg-deb", "-f", mkDeb("desc-99", s.Description)); a != b {
		t.Fatalf("sole's control file:\n%s\nthe test's:\n%s", a, b)
	}

	// lintian's description check reads the control file only: the
	// program is left out of the packages it checks, which makes them
	// quick to write and unpack.
	if err := os.Remove(filepath.Join(tree, "usr/sbin/hellod")); err != nil {
		t.Fatal(err)
	}

	type result struct {
		desc   string
		refuse error
	}
	results := map[string]result{}
	var debs []string
	for i, d := range descs {
		name := fmt.Sprintf("desc-%02d", i+1)
		d = strings.NewReplacer("%N", name, "%U", strings.ToUpper(name),
			"%F", "D"+strings.ReplaceAll(name[1:], "-", " "), "%S", strings.ReplaceAll(name, "-", "/")).Replace(d)
		if d == "#DUP#" {
			p := &plan{s: Spec{Name: name}, exe: "hellod"}
			d, _, _ = strings.Cut(wrapText(p.longDescription(), 72), "\n")
		}
		s := baseSpec()
		s.Name, s.Description = name, d
		p, err := newPlan(s, "linux")
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Field != "description" || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: error %v, want a one-line *Error for the description", d, err)
			}
		}
		results[name] = result{d, err}
		if err == nil {
			d = p.s.Description // the default for ""
		}
		debs = append(debs, mkDeb(name, d))
	}

	// One lintian run, its description check only: "E: NAME: TAG ...".
	out, _ := exec.Command("lintian", append([]string{"--allow-root", "--tag-display-limit", "0", "-C", "fields/description"}, debs...)...).CombinedOutput()
	lintErrs := map[string][]string{}
	tagRe := regexp.MustCompile(`^([EWIPXO]): (desc-[0-9]+)(?: [a-z]+)?: (\S+)`)
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		m := tagRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		seen++
		if m[1] == "E" && (strings.Contains(m[3], "description") || strings.Contains(m[3], "synopsis")) {
			lintErrs[m[2]] = append(lintErrs[m[2]], m[3])
		}
	}
	if seen == 0 {
		t.Fatalf("lintian said nothing of %d packages:\n%s", len(debs), out)
	}
	refused := 0
	for name, r := range results {
		switch tags := lintErrs[name]; {
		case r.refuse == nil && len(tags) > 0:
			t.Errorf("%q: sole accepts it, lintian rejects it: %s", r.desc, strings.Join(tags, ", "))
		case r.refuse != nil && len(tags) == 0:
			t.Errorf("%q: sole refuses it (%v), lintian accepts it", r.desc, r.refuse)
		case r.refuse != nil:
			refused++
			t.Logf("%q: refused (lintian: %s)", r.desc, strings.Join(tags, ", "))
		}
	}
	t.Logf("%d descriptions, %d refused by both sole and lintian, %d accepted by both", len(results), refused, len(results)-refused)
}
