// Package rotlog writes a log file that is rotated by size and count, and
// never cut inside a line. `sole run --service` on Windows copies COMMAND's
// standard output and error into two of them (NAME.out.log, NAME.err.log),
// as NSSM and WinSW do.
//
// A Writer appends to its file, PATH. When the next line would make PATH
// larger than MaxSize, PATH is renamed PATH.1 first (PATH.1 becomes PATH.2,
// and so on; PATH.Keep is removed) and a new, empty PATH is started. So PATH
// holds the newest lines, PATH.1 the ones before them, PATH.Keep the oldest:
// reading PATH.Keep, ..., PATH.1, PATH in that order gives every line kept,
// in the order written.
//
// Rotation happens only between lines:
//
//   - a line is never split across two files: the rest of a line whose start
//     is in PATH goes to PATH, whatever its size;
//   - a line longer than MaxSize is written whole, to a file of its own;
//   - so a file exceeds MaxSize only by the end of a line that started in it
//     (a writer that gets a line in pieces cannot know its length when it
//     starts), or when its one line is longer than MaxSize.
//
// Nothing is buffered: each Write reaches the file before it returns, so a
// Writer loses nothing if its process is killed. Write is safe for
// concurrent use, and one call's bytes are never interleaved with
// another's; lines written in pieces by several goroutines at once can be,
// as in any shared file.
package rotlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Defaults for the zero Options.
const (
	DefaultMaxSize = 10 << 20 // 10 MiB
	DefaultKeep    = 5
)

// Options are a Writer's rotation settings.
type Options struct {
	// MaxSize is the size in bytes a file may reach before the next line
	// goes to a new one (0: DefaultMaxSize).
	MaxSize int64
	// Keep is how many rotated files are kept, PATH.1 to PATH.Keep
	// (0: DefaultKeep).
	Keep int
	// OnError, if set, is told when a rotation fails (a reader holding
	// the file open on Windows, a full disk). The Writer then goes on
	// appending to PATH, so nothing is lost, and tries again once PATH has
	// grown by another MaxSize.
	OnError func(error)
}

// A Writer is an io.WriteCloser to a rotated log file.
type Writer struct {
	path    string
	maxSize int64
	keep    int
	onError func(error)

	mu     sync.Mutex
	f      *os.File // nil after Close, or if reopening after a failed rotation failed
	closed bool
	size   int64 // bytes in f
	inLine bool  // the last byte written to f was not a newline
	limit  int64 // size beyond which the next line rotates: maxSize, or more after a failed rotation
}

// Open opens (creating it if needed) the log file path for appending. A
// file left ending inside a line, by a writer that was killed, gets a
// newline first, so that what is written next starts a line of its own.
func Open(path string, o Options) (*Writer, error) {
	switch {
	case o.MaxSize < 0:
		return nil, fmt.Errorf("rotlog: %s: negative maximum size %d", path, o.MaxSize)
	case o.Keep < 0:
		return nil, fmt.Errorf("rotlog: %s: negative number of files to keep %d", path, o.Keep)
	}
	w := &Writer{path: path, maxSize: o.MaxSize, keep: o.Keep, onError: o.OnError}
	if w.maxSize == 0 {
		w.maxSize = DefaultMaxSize
	}
	if w.keep == 0 {
		w.keep = DefaultKeep
	}
	w.limit = w.maxSize
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// Path returns the file the Writer writes to.
func (w *Writer) Path() string { return w.path }

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("rotlog: %w", err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil && size > 0 {
		err = terminateLine(f, w.path, &size)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("rotlog: %s: %w", w.path, err)
	}
	w.f, w.size, w.inLine = f, size, false
	return nil
}

// terminateLine appends a newline to f if its last byte is not one.
func terminateLine(f *os.File, path string, size *int64) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, *size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	*size++
	return nil
}

// Write appends p, rotating the file first, at a line boundary, if the next
// line would not fit. It returns an error only if bytes of p could not be
// written.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("rotlog: %s: %w", w.path, os.ErrClosed)
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	written := 0
	for len(p) > 0 {
		// The next piece: the rest of the current line, or the next
		// line, up to and including its newline, or all of p.
		n := len(p)
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			n = i + 1
		}
		if !w.inLine && w.size > 0 && w.size+int64(n) > w.limit {
			if err := w.rotate(); err != nil {
				return written, err
			}
		}
		// Pieces that stay in this file go in one write.
		for !w.inLine && n < len(p) {
			m := len(p[n:])
			if i := bytes.IndexByte(p[n:], '\n'); i >= 0 {
				m = i + 1
			}
			if w.size+int64(n+m) > w.limit {
				break
			}
			n += m
		}
		k, err := w.f.Write(p[:n])
		w.size += int64(k)
		written += k
		if k > 0 {
			w.inLine = p[k-1] != '\n'
		}
		if err != nil {
			return written, fmt.Errorf("rotlog: %w", err)
		}
		p = p[n:]
	}
	return written, nil
}

// rotate shifts the files by one and starts a new, empty one. If that
// fails, writing goes on in the current file (reopened if need be), and
// rotate reports the failure to OnError; it returns an error only if no
// file could be opened to write to.
func (w *Writer) rotate() error {
	err := w.shift()
	if err == nil {
		w.limit = w.maxSize
		return nil
	}
	if w.f == nil {
		// Closed for the renames: reopen, whether they were done or not.
		if oerr := w.open(); oerr != nil {
			if w.onError != nil {
				w.onError(err)
			}
			return oerr
		}
	}
	// Try again once the file has grown by another maxSize.
	w.limit = w.size + w.maxSize
	if w.onError != nil {
		w.onError(err)
	}
	return nil
}

func (w *Writer) shift() error {
	if err := w.f.Close(); err != nil {
		w.f = nil
		return fmt.Errorf("rotlog: rotating %s: %w", w.path, err)
	}
	w.f = nil
	old := func(i int) string { return w.path + "." + strconv.Itoa(i) }
	// Only the files up to the first missing one need to move: PATH.1 to
	// PATH.(gap-1) become PATH.2 to PATH.gap; PATH.keep, if reached, goes.
	gap := 1
	for ; gap < w.keep; gap++ {
		if _, err := os.Lstat(old(gap)); err != nil {
			break
		}
	}
	if gap == w.keep {
		if err := os.Remove(old(gap)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotlog: rotating %s: %w", w.path, err)
		}
	}
	for i := gap - 1; i >= 1; i-- {
		if err := os.Rename(old(i), old(i+1)); err != nil {
			return fmt.Errorf("rotlog: rotating %s: %w", w.path, err)
		}
	}
	if err := os.Rename(w.path, old(1)); err != nil {
		return fmt.Errorf("rotlog: rotating %s: %w", w.path, err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("rotlog: rotating %s: %w", w.path, err)
	}
	w.f, w.size, w.inLine = f, 0, false
	return nil
}

// Close closes the file. Writes after Close fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("rotlog: %s: %w", w.path, os.ErrClosed)
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("rotlog: %w", err)
	}
	return nil
}

// Files returns the log file's rotated files that exist, oldest first,
// then the file itself if it exists: reading them in that order gives
// every line kept, in the order written.
func Files(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rotlog: %w", err)
	}
	var nums []int
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n > 0 && strconv.Itoa(n) == rest {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	slices.Reverse(nums) // the highest number is the oldest
	var files []string
	for _, n := range nums {
		files = append(files, path+"."+strconv.Itoa(n))
	}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	}
	return files, nil
}
