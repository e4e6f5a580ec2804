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

// journalHandler prefixes each text line with its syslog priority.
type journalHandler struct {
	inner slog.Handler
	buf   *bytes.Buffer
	mu    *sync.Mutex
	w     io.Writer
}

func newJournalHandler(w io.Writer) *journalHandler {
	buf := new(bytes.Buffer)
	inner := slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &journalHandler{inner: inner, buf: buf, mu: new(sync.Mutex), w: w}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	h.buf.WriteString("<" + strconv.Itoa(priority(r.Level)) + ">")
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	_, err := h.w.Write(h.buf.Bytes())
	return err
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), buf: h.buf, mu: h.mu, w: h.w}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), buf: h.buf, mu: h.mu, w: h.w}
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

// eventHandler writes each record as one event of its severity, as text
// without time (the event log keeps its own) or level.
type eventHandler struct {
	inner slog.Handler
	buf   *bytes.Buffer
	mu    *sync.Mutex
	w     eventWriter
}

func newEventHandler(w eventWriter) *eventHandler {
	buf := new(bytes.Buffer)
	inner := slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &eventHandler{inner: inner, buf: buf, mu: new(sync.Mutex), w: w}
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := string(bytes.TrimSuffix(h.buf.Bytes(), []byte("\n")))
	switch {
	case r.Level >= slog.LevelError:
		return h.w.Error(3, msg)
	case r.Level >= slog.LevelWarn:
		return h.w.Warning(2, msg)
	}
	return h.w.Info(1, msg)
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{inner: h.inner.WithAttrs(as), buf: h.buf, mu: h.mu, w: h.w}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{inner: h.inner.WithGroup(name), buf: h.buf, mu: h.mu, w: h.w}
}
