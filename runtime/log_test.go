package runtime

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

type fakeEventLog struct{ events []string }

func (f *fakeEventLog) Info(eid uint32, msg string) error {
	f.events = append(f.events, fmt.Sprintf("info %d %s", eid, msg))
	return nil
}

func (f *fakeEventLog) Warning(eid uint32, msg string) error {
	f.events = append(f.events, fmt.Sprintf("warning %d %s", eid, msg))
	return nil
}

func (f *fakeEventLog) Error(eid uint32, msg string) error {
	f.events = append(f.events, fmt.Sprintf("error %d %s", eid, msg))
	return nil
}

// TestEventHandler: one event per record, of the record's severity, text
// without time or level; attributes and groups kept.
func TestEventHandler(t *testing.T) {
	f := new(fakeEventLog)
	log := slog.New(newEventHandler(f)).With("service", "myd")
	log.Info("ready", "pid", 42)
	log.Warn("slow")
	log.WithGroup("app").Error("boom", "err", "disk full")
	log.Debug("hidden")
	want := []string{
		"info 1 msg=ready service=myd pid=42",
		"warning 2 msg=slow service=myd",
		`error 3 msg=boom service=myd app.err="disk full"`,
	}
	if strings.Join(f.events, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(f.events, "\n"), strings.Join(want, "\n"))
	}
}

// TestJournalHandler: sd-daemon priority prefixes, no time stamp.
func TestJournalHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newJournalHandler(&b))
	log.Info("ready")
	log.Warn("slow", "n", 2)
	log.Error("boom")
	want := "<6>msg=ready\n<4>msg=slow n=2\n<3>msg=boom\n"
	if b.String() != want {
		t.Fatalf("journal lines %q, want %q", b.String(), want)
	}
}
