package packaging

import (
	"regexp"
	"testing"
)

func TestEscapeArg(t *testing.T) {
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
			got := escapeArg(tt.in)
			if got != tt.want {
				t.Errorf("escapeArg(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back := winArgv(got); len(back) != 1 || back[0] != tt.in {
				t.Errorf("%q reads back as %q", got, back)
			}
		})
	}
	if got := escapeFormatted(`[a]{b}\`); got != `[\[]a[\]][\{]b[\}]\` {
		t.Errorf("escapeFormatted: %q", got)
	}
}

func TestProductVersion(t *testing.T) {
	for in, want := range map[string]string{"1.2.3": "1.2.3", "v1.2.3": "1.2.3", "01.002.0003": "1.2.3", "255.255.65535.65535": "255.255.65535.65535", "0.0.0": "0.0.0"} {
		if got, err := productVersion(in); err != nil || got != want {
			t.Errorf("productVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "v", "1", "1.2", "1.2.3.4.5", "1.2.x", "1.-2.3", "1.+2.3", "1..3", "vv1.2.3", "1.256.0", "1.2.3.65536", "99999999999999999999.0.0", " 1.2.3"} {
		if _, err := productVersion(in); err == nil {
			t.Errorf("productVersion(%q) accepted", in)
		}
	}
}

func TestUUIDv5(t *testing.T) {
	// RFC 9562 appendix A.4's example: DNS namespace, "www.example.com".
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got := uuidV5(dns, "www.example.com"); got != "{2ED6657D-E927-568B-95E1-2665A8AEA6A2}" {
		t.Errorf("UUIDv5: %s", got)
	}
	if upgradeCode("hellod") != upgradeCode("HelloD") || upgradeCode("hellod") == upgradeCode("hellod2") {
		t.Error("the upgrade code is not per case-insensitive name")
	}
	// Fixed forever: packages already installed carry it.
	if got := upgradeCode("hellod"); got != upgradeCode("hellod") || !regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`).MatchString(got) {
		t.Errorf("upgrade code of hellod: %s", got)
	}
}
