package rotlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/solehq/sole/internal/rmtree/rmtreetest"
)

// tempDir is t.TempDir, but removable under Wine 8 too (the wine tier runs
// these tests on Windows' file semantics).
func tempDir(t *testing.T) string { return rmtreetest.TempDir(t, "rotlog-test") }

// contents returns the contents of path's files, oldest first.
func contents(t *testing.T, path string) []string {
	t.Helper()
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func mustOpen(t *testing.T, path string, o Options) *Writer {
	t.Helper()
	w, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func write(t *testing.T, w *Writer, s string) {
	t.Helper()
	n, err := w.Write([]byte(s))
	if err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
	}
}

func TestRotation(t *testing.T) {
	for name, tt := range map[string]struct {
		max    int64
		keep   int
		writes []string
		want   []string // the files' contents, oldest first
	}{
		"fits exactly":             {10, 5, []string{"12345\n", "123\n"}, []string{"12345\n123\n"}},
		"one byte over":            {10, 5, []string{"12345\n", "1234\n"}, []string{"12345\n", "1234\n"}},
		"lines of one write":       {10, 5, []string{"aaaa\nbbbb\ncccc\n"}, []string{"aaaa\nbbbb\n", "cccc\n"}},
		"exact file then one":      {10, 5, []string{"aaaaaaaaa\n", "b\n"}, []string{"aaaaaaaaa\n", "b\n"}},
		"long line alone":          {10, 5, []string{"ab\n", "0123456789abcdef\n", "cd\n"}, []string{"ab\n", "0123456789abcdef\n", "cd\n"}},
		"long line first":          {5, 5, []string{"0123456789\n", "x\n"}, []string{"0123456789\n", "x\n"}},
		"long line mid write":      {6, 5, []string{"a\n0123456789\nb\n"}, []string{"a\n", "0123456789\n", "b\n"}},
		"line in pieces":           {10, 5, []string{"aaaaaaaa\n", "bbb", "bbb", "bbb\n", "c\n"}, []string{"aaaaaaaa\n", "bbbbbbbbb\n", "c\n"}},
		"start fits, end does not": {10, 5, []string{"aaaaa\n", "bb", "bbbbbb\n", "c\n"}, []string{"aaaaa\nbbbbbbbb\n", "c\n"}},
		"piece then newline":       {4, 5, []string{"aaa", "\n", "b", "\n"}, []string{"aaa\n", "b\n"}},
		"no final newline":         {10, 5, []string{"abc"}, []string{"abc"}},
		"empty lines":              {2, 5, []string{"\n\n\n\n\n"}, []string{"\n\n", "\n\n", "\n"}},
		"empty writes":             {4, 5, []string{"", "ab\n", "", "cd\n", ""}, []string{"ab\n", "cd\n"}},
		"keep honoured":            {4, 2, []string{"1\n", "2\n", "3\n", "4\n", "5\n", "6\n", "7\n", "8\n", "9\n"}, []string{"5\n6\n", "7\n8\n", "9\n"}},
		"keep one":                 {4, 1, []string{"1\n2\n3\n4\n5\n"}, []string{"3\n4\n", "5\n"}},
		"many lines, one write":    {6, 10, []string{"ab\ncd\nef\ngh\nij\n"}, []string{"ab\ncd\n", "ef\ngh\n", "ij\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(tempDir(t), "x.out.log")
			w := mustOpen(t, path, Options{MaxSize: tt.max, Keep: tt.keep})
			for _, s := range tt.writes {
				write(t, w, s)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := contents(t, path); !slices.Equal(got, tt.want) {
				t.Errorf("files %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	w := mustOpen(t, filepath.Join(tempDir(t), "x.log"), Options{})
	defer w.Close()
	if w.maxSize != DefaultMaxSize || w.keep != DefaultKeep || DefaultMaxSize != 10<<20 || DefaultKeep != 5 {
		t.Errorf("zero Options: max %d, keep %d; want 10 MiB and 5", w.maxSize, w.keep)
	}
}

func TestBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"negative size": {MaxSize: -1},
		"negative keep": {Keep: -1},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(tempDir(t), "x.log")
			if _, err := Open(path, o); err == nil || !strings.HasPrefix(err.Error(), "rotlog: "+path+": negative") {
				t.Errorf("Open: %v; want a negative-value error", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Open with bad options created the file: %v", err)
			}
		})
	}
	if _, err := Open(filepath.Join(tempDir(t), "no", "dir", "x.log"), Options{}); err == nil {
		t.Error("Open in a missing directory: no error")
	}
}

func TestReopen(t *testing.T) {
	for name, tt := range map[string]struct {
		before string // the file's contents before Open
		writes []string
		want   []string
	}{
		"appends":                {"aaaa\n", []string{"bbbb\n"}, []string{"aaaa\nbbbb\n"}},
		"counts the old size":    {"aaaa\n", []string{"bbbb\n", "cc\n"}, []string{"aaaa\nbbbb\n", "cc\n"}},
		"full file rotates":      {"aaaaaaaaa\n", []string{"b\n"}, []string{"aaaaaaaaa\n", "b\n"}},
		"ends inside a line":     {"aaaa", []string{"bbbb\n"}, []string{"aaaa\nbbbb\n"}},
		"inside a line, rotated": {"aaaaaaaa", []string{"bb\n"}, []string{"aaaaaaaa\n", "bb\n"}},
		"empty file":             {"", []string{"a\n"}, []string{"a\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(tempDir(t), "x.log")
			if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
				t.Fatal(err)
			}
			w := mustOpen(t, path, Options{MaxSize: 10})
			for _, s := range tt.writes {
				write(t, w, s)
			}
			w.Close()
			if got := contents(t, path); !slices.Equal(got, tt.want) {
				t.Errorf("files %q, want %q", got, tt.want)
			}
		})
	}
	// A second Writer on the same file after the first rotated: the
	// numbering goes on.
	path := filepath.Join(tempDir(t), "x.log")
	for _, s := range []string{"1111\n", "2222\n", "3333\n"} {
		w := mustOpen(t, path, Options{MaxSize: 6})
		write(t, w, s)
		w.Close()
	}
	if got, want := contents(t, path), []string{"1111\n", "2222\n", "3333\n"}; !slices.Equal(got, want) {
		t.Errorf("three Writers in turn: files %q, want %q", got, want)
	}
}

// randomLines returns n lines of 0 to maxLen-1 bytes (plus the newline),
// the same for the same seed.
func randomLines(seed uint64, n, maxLen int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	lines := make([]string, n)
	for i := range lines {
		b := make([]byte, r.IntN(maxLen))
		for j := range b {
			b[j] = 'a' + byte(r.IntN(26))
		}
		lines[i] = fmt.Sprintf("%d %s\n", i, b)
	}
	return lines
}

// checkFiles checks what every rotated log must be: each file ends with a
// newline and holds whole lines; a file is at most max bytes unless one
// line made it longer; and the files, oldest first, are the last lines
// written (all of them if nothing was dropped).
func checkFiles(t *testing.T, path string, maxSize int64, keep int, written []string, pieces bool) {
	t.Helper()
	files := contents(t, path)
	if len(files) > keep+1 {
		t.Errorf("%d files, want at most %d (Keep %d, and the file itself)", len(files), keep+1, keep)
	}
	all := strings.Join(written, "")
	got := strings.Join(files, "")
	if !strings.HasSuffix(all, got) {
		t.Fatalf("the files are not the end of what was written (%d bytes of %d)", len(got), len(all))
	}
	if len(got) < len(all) && !strings.HasPrefix(got, written[len(written)-strings.Count(got, "\n")]) {
		t.Errorf("the oldest file does not start with a whole line")
	}
	for i, f := range files {
		if !strings.HasSuffix(f, "\n") {
			t.Errorf("file %d of %d does not end with a newline: ...%q", i+1, len(files), f[max(0, len(f)-20):])
		}
		if int64(len(f)) <= maxSize {
			continue
		}
		// Too big: allowed only for the end of the file's last line.
		body := strings.TrimSuffix(f, "\n")
		last := body[strings.LastIndexByte(body, '\n')+1:] + "\n"
		before := len(f) - len(last)
		if !pieces && before > 0 || int64(before) > maxSize {
			t.Errorf("file %d of %d: %d bytes, %d before its last line (MaxSize %d)", i+1, len(files), len(f), before, maxSize)
		}
	}
}

func TestManyRotations(t *testing.T) {
	for name, tt := range map[string]struct {
		lines int
		max   int64
		keep  int
	}{
		"everything kept":  {5000, 8 << 10, 10000},
		"the last 3 files": {5000, 4096, 3},
		"the last file":    {5000, 4096, 1},
		"tiny files":       {60, 64, 10000},
		"one line a file":  {60, 1, 10000},
	} {
		t.Run(name, func(t *testing.T) {
			lines := randomLines(1, tt.lines, 200)
			path := filepath.Join(tempDir(t), "many.log")
			w := mustOpen(t, path, Options{MaxSize: tt.max, Keep: tt.keep})
			for _, l := range lines {
				write(t, w, l)
			}
			w.Close()
			checkFiles(t, path, tt.max, tt.keep, lines, false)
			files := contents(t, path)
			if len(files) <= tt.keep {
				if got := strings.Join(files, ""); got != strings.Join(lines, "") {
					t.Errorf("with every file kept, the files are not what was written")
				}
			} else if len(files) != tt.keep+1 {
				t.Errorf("%d files, want Keep %d and the file itself", len(files), tt.keep)
			}
			if tt.max == 1 && len(files) != len(lines) {
				t.Errorf("MaxSize 1: %d files, want one per line (%d)", len(files), len(lines))
			}
		})
	}
}

// TestPieces writes the same lines cut at random places, as a pipe
// delivers them: nothing is lost, no line is split across files.
func TestPieces(t *testing.T) {
	lines := randomLines(2, 1500, 300)
	all := []byte(strings.Join(lines, ""))
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			path := filepath.Join(tempDir(t), "pieces.log")
			w := mustOpen(t, path, Options{MaxSize: 3000, Keep: 100000})
			for rest := all; len(rest) > 0; {
				n := min(len(rest), 1+r.IntN(700))
				write(t, w, string(rest[:n]))
				rest = rest[n:]
			}
			w.Close()
			checkFiles(t, path, 3000, 100000, lines, true)
			if got := strings.Join(contents(t, path), ""); got != string(all) {
				t.Errorf("the files (%d bytes) are not what was written (%d bytes)", len(got), len(all))
			}
		})
	}
}

// TestConcurrent: goroutines writing whole lines at once lose none, and
// split none.
func TestConcurrent(t *testing.T) {
	const writers, each = 8, 2000
	path := filepath.Join(tempDir(t), "concurrent.log")
	w := mustOpen(t, path, Options{MaxSize: 8 << 10, Keep: 100000})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("writer %d line %04d %s\n", g, i, strings.Repeat("x", i%50))
				if _, err := w.Write([]byte(line)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	w.Close()
	files := contents(t, path)
	next := make([]int, writers)
	for i, f := range files {
		if !strings.HasSuffix(f, "\n") || len(f) > 8<<10 {
			t.Errorf("file %d: %d bytes, ends with %q", i, len(f), f[len(f)-1:])
		}
		for _, line := range strings.SplitAfter(strings.TrimSuffix(f, "\n"), "\n") {
			var g, n int
			if _, err := fmt.Sscanf(line, "writer %d line %d", &g, &n); err != nil || g < 0 || g >= writers {
				t.Fatalf("file %d: a line that was not written: %q", i, line)
			}
			if want := fmt.Sprintf("writer %d line %04d %s", g, n, strings.Repeat("x", n%50)); strings.TrimSuffix(line, "\n") != want {
				t.Fatalf("file %d: line %q, want %q", i, line, want)
			}
			if n != next[g] {
				t.Fatalf("writer %d: line %d after %d", g, n, next[g]-1)
			}
			next[g]++
		}
	}
	for g, n := range next {
		if n != each {
			t.Errorf("writer %d: %d lines in the files, want %d", g, n, each)
		}
	}
}

// TestRotationFails: a rotation that cannot be done loses nothing, is
// reported, and is tried again once the file has grown by another MaxSize.
func TestRotationFails(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "x.log")
	// PATH.1, a directory with an entry, can be neither removed nor
	// replaced by a file.
	if err := os.MkdirAll(filepath.Join(path+".1", "in the way"), 0o755); err != nil {
		t.Fatal(err)
	}
	var errs []error
	w := mustOpen(t, path, Options{MaxSize: 10, Keep: 1, OnError: func(err error) { errs = append(errs, err) }})
	write(t, w, "aaaaaaaa\n") // 9 bytes
	write(t, w, "bbbb\n")     // 14 > 10: the rotation fails, the next try is past 9+10
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "rotlog: rotating "+path+": ") {
		t.Fatalf("OnError got %v; want one rotation error", errs)
	}
	write(t, w, "cccc\n") // 19: not tried again
	if len(errs) != 1 {
		t.Fatalf("rotation tried again before the file grew by MaxSize: %v", errs)
	}
	write(t, w, "dd\n") // 21 > 19: tried again, fails again; the next try is past 29
	if len(errs) != 2 {
		t.Fatalf("rotation not tried again after MaxSize more: %v", errs)
	}
	// Out of the way: the next try succeeds.
	if err := os.Remove(filepath.Join(path+".1", "in the way")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	write(t, w, strings.Repeat("f", 40)+"\n")
	if b, err := os.ReadFile(path + ".1"); err != nil || string(b) != "aaaaaaaa\nbbbb\ncccc\ndd\n" {
		t.Errorf("after the rotation that worked, %s.1 is %q, %v; want every line written before", path, b, err)
	}
	write(t, w, "g\n")
	w.Close()
	// The failed rotations lost nothing: the first file held it all
	// until Keep 1 dropped it at the last rotation.
	if b, err := os.ReadFile(path + ".1"); err != nil || string(b) != strings.Repeat("f", 40)+"\n" {
		t.Errorf("%s.1: %q, %v", path, b, err)
	}
	if got, want := contents(t, path), []string{strings.Repeat("f", 40) + "\n", "g\n"}; !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if len(errs) != 2 {
		t.Errorf("errors %v, want the two", errs)
	}
}

func TestClosed(t *testing.T) {
	path := filepath.Join(tempDir(t), "x.log")
	w := mustOpen(t, path, Options{})
	write(t, w, "a\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("b\n")); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %d, %v; want 0, os.ErrClosed", n, err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v, want os.ErrClosed", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, []byte("a\n")) {
		t.Errorf("file %q, want %q", b, "a\n")
	}
	if w.Path() != path {
		t.Errorf("Path() = %q, want %q", w.Path(), path)
	}
}

func TestFiles(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "n.out.log")
	for _, name := range []string{"n.out.log", "n.out.log.1", "n.out.log.10", "n.out.log.2", "n.out.log.02", "n.out.log.x", "n.out.log.0", "n.err.log.1", "other"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{path + ".10", path + ".2", path + ".1", path}
	if !slices.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
}
