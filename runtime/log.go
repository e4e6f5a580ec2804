package runtime

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
)

// NewLogger returns the logger the runtime uses when Config.Logger is nil,
// writing to w (os.Stderr when nil): under systemd with stderr connected to
// the journal (JOURNAL_STREAM names stderr), lines carry sd-daemon(3)
// priority prefixes (<3> error, <4> warning, <6> info, <7> debug) and no
// time stamp, which the journal adds; otherwise plain text with time stamps,
// for a person at a terminal.
func NewLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	if w == io.Writer(os.Stderr) && stderrIsJournal() {
		return slog.New(newJournalHandler(w))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// lineHandler formats each record as one line of text without time stamp
// or level (the journal and the event log keep their own) and hands it, with
// the record's level, to emit.
type lineHandler struct {
	inner slog.Handler
	buf   *bytes.Buffer
	mu    *sync.Mutex
	emit  func(slog.Level, []byte) error
}

func newLineHandler(emit func(slog.Level, []byte) error) *lineHandler {
	buf := new(bytes.Buffer)
	inner := slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &lineHandler{inner: inner, buf: buf, mu: new(sync.Mutex), emit: emit}
}

func (h *lineHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	return h.emit(r.Level, bytes.TrimSuffix(h.buf.Bytes(), []byte("\n")))
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lineHandler{inner: h.inner.WithAttrs(as), buf: h.buf, mu: h.mu, emit: h.emit}
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	return &lineHandler{inner: h.inner.WithGroup(name), buf: h.buf, mu: h.mu, emit: h.emit}
}

// newJournalHandler writes each line to w with its sd-daemon(3) priority
// prefix.
func newJournalHandler(w io.Writer) slog.Handler {
	return newLineHandler(func(l slog.Level, line []byte) error {
		_, err := w.Write(append(append([]byte("<"+strconv.Itoa(priority(l))+">"), line...), '\n'))
		return err
	})
}

// priority maps a slog level to a syslog priority.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// eventWriter is what an event log takes: one message per event, by
// severity (golang.org/x/sys/windows/svc/eventlog.Log has this shape).
type eventWriter interface {
	Info(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
}

// newEventHandler writes each line as one event of its severity.
func newEventHandler(w eventWriter) slog.Handler {
	return newLineHandler(func(l slog.Level, line []byte) error {
		switch {
		case l >= slog.LevelError:
			return w.Error(3, string(line))
		case l >= slog.LevelWarn:
			return w.Warning(2, string(line))
		}
		return w.Info(1, string(line))
	})
}
