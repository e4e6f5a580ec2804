package report

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":     {"backup.sh", `"backup.sh"`},
		"quote":     {`a"b\c`, `"a\"b\\c"`},
		"controls":  {"a\nb\tc\r\x00\x1f\x7f", `"a\nb\tc\r\u0000\u001f\u007f"`},
		"unicode":   {"sauvegarde-é", `"sauvegarde-é"`},
		"invalid":   {"a\xffb", `"a\ufffdb"`},
		"separator": {"a\u2028b\u2029", `"a\u2028b\u2029"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := string(appendString(nil, tt.in)); got != tt.want {
				t.Fatalf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzJSONString checks that every string encodes to valid JSON that
// decodes back to it (invalid UTF-8 bytes each becoming U+FFFD).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "backup.sh", "a\"b\\c\n", "\xff\xfe", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("%q encodes to invalid JSON %s", s, b)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("%q -> %s -> %q, want %q", s, b, back, want)
		}
	})
}
