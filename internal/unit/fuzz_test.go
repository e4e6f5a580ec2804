package unit

import (
	"errors"
	"strings"
	"testing"
)

// FuzzSystemdUnit renders descriptions made of arbitrary strings. It must
// never panic; SystemdUnit must fail exactly when Validate does (or when a
// line exceeds systemd's limit), with a one-line *Error; and when it
// succeeds, the unit read back by parse_test.go's systemd reader must give
// back exactly Exec+Args and every Env pair (checkSystemdUnit), as must
// the launchd plist read back by encoding/xml (checkPlist).
//
// The seed corpus is in testdata/fuzz/FuzzSystemdUnit.
func FuzzSystemdUnit(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, desc, exec, a1, a2, a3, e1, e2 string, user bool) {
		d := Description{Name: name, Description: desc, Exec: exec, Args: []string{a1, a2, a3}, User: user}
		for _, e := range []string{e1, e2} {
			if e != "" {
				d.Env = append(d.Env, e)
			}
		}
		verr := d.Validate()
		text, err := SystemdUnit(d)
		if err != nil {
			msg := err.Error()
			var ue *Error
			if !errors.As(err, &ue) || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "unit: ") {
				t.Fatalf("error %q (%T) is not a one-line *Error", msg, err)
			}
			if verr == nil && !strings.Contains(msg, "more than systemd's limit") {
				t.Fatalf("Validate accepted what SystemdUnit refuses: %v", err)
			}
			if _, perr := LaunchdPlist(d, "/Users/fuzz"); (perr == nil) != (verr == nil) {
				t.Fatalf("LaunchdPlist error %v, Validate error %v", perr, verr)
			}
			return
		}
		if verr != nil {
			t.Fatalf("SystemdUnit rendered what Validate refuses (%v):\n%s", verr, text)
		}
		if err := checkSystemdUnit(d, text); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		plist, err := LaunchdPlist(d, "/Users/fuzz")
		if err != nil {
			t.Fatalf("LaunchdPlist: %v", err)
		}
		if err := checkPlist(d, "/Users/fuzz", plist); err != nil {
			t.Fatalf("%v\n%s", err, plist)
		}
	})
}
