package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// parseCases are shared with internal/e2e's TestEnvFileAgreesWithSystemd,
// which checks each accepted file against systemd 252's own reading.
func TestParse(t *testing.T) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Parse(c.Text)
			if c.Err != "" {
				if err == nil || err.Error() != c.Err {
					t.Fatalf("Parse: %v, want error %q", err, c.Err)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not an *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(got, c.Want) {
				t.Errorf("Parse\n%q\nwant\n%q", got, c.Want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.env")
	if err := os.WriteFile(good, []byte("A=1\nB = two words \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(good)
	if err != nil || !slices.Equal(got, []string{"A=1", "B=two words"}) {
		t.Errorf("ReadFile: %q, %v", got, err)
	}
	big := filepath.Join(dir, "big.env")
	if err := os.WriteFile(big, []byte("A="+strings.Repeat("x", MaxSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("A=1\n\nexport B=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, want string
		is               error
	}{
		{"missing", filepath.Join(dir, "none"), "open " + filepath.Join(dir, "none") + ": no such file or directory", fs.ErrNotExist},
		{"directory", dir, "read " + dir + ": not a regular file", nil},
		{"too big", big, "read " + big + ": larger than 1048576 bytes", nil},
		{"bad line", bad, "read " + bad + ": line 3: want KEY=VALUE", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFile(c.path)
			var pe *fs.PathError
			if err == nil || err.Error() != c.want || !errors.As(err, &pe) {
				t.Fatalf("ReadFile: %v, want *fs.PathError %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
		})
	}
}

// FuzzParse: no input makes Parse panic or hang; what it accepts is a list
// of valid assignments without NUL, and a file written back from them
// (double-quoted, escaped) reads the same.
func FuzzParse(f *testing.F) {
	for _, c := range Cases {
		f.Add(c.Text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		env, err := Parse(text)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		var b strings.Builder
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !validName(k) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("Parse(%q) gave %q", text, kv)
			}
			b.WriteString(k + "=\"")
			for _, r := range v {
				if strings.ContainsRune("\"\\`$", r) {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString("\"\n")
		}
		again, err := Parse(b.String())
		if err != nil || !slices.Equal(again, env) {
			t.Errorf("written back as %q, reads %q, %v; want %q", b.String(), again, err, env)
		}
	})
}
