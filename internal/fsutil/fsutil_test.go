package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("payload\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		dst, src string
		before   string // written to dst first, if not ""
		want     error  // matched with errors.Is; nil for success
	}{
		"new file":        {dst: "a", src: src},
		"dst exists":      {dst: "b", src: src, before: "keep\n", want: fs.ErrExist},
		"src missing":     {dst: "c", src: filepath.Join(dir, "none"), want: fs.ErrNotExist},
		"dst dir missing": {dst: "no/such/d", src: src, want: fs.ErrNotExist},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(dir, tt.dst)
			if tt.before != "" {
				if err := os.WriteFile(dst, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := CopyFile(dst, tt.src, 0o755)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CopyFile = %v, want %v", err, tt.want)
			}
			b, _ := os.ReadFile(dst)
			switch {
			case tt.before != "" && string(b) != tt.before:
				t.Fatalf("an existing dst was changed: %q", b)
			case tt.want == nil && string(b) != "payload\n":
				t.Fatalf("dst holds %q", b)
			}
			if tt.want == nil {
				fi, err := os.Stat(dst)
				if err != nil || fi.Mode().Perm()&0o100 == 0 {
					t.Fatalf("dst mode %v, %v: want perm's execute bit", fi.Mode(), err)
				}
			}
		})
	}
}
