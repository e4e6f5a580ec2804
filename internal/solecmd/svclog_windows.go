//go:build windows

package solecmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"

	"github.com/solehq/sole/internal/rotlog"
	"github.com/solehq/sole/platform"
)

// Where a service's lines go: COMMAND's standard output and error to
// rotated files, sole's own lines to the event log.

// serviceLogDir is where COMMAND's output goes: --log-dir, else
// %ProgramData%\sole\NAME, the directory of the lock's record.
func serviceLogDir(name, logDir string) (string, error) {
	if logDir != "" {
		return filepath.Abs(logDir)
	}
	d, err := platform.LockDir(platform.ScopeSystem)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name), nil
}

// Event ids of sole's events, by severity, as package runtime's.
const (
	eventInfo    = 1
	eventWarning = 2
	eventError   = 3
)

// A serviceLog takes sole's own lines under the service control manager:
// to the event log, source NAME (which sole install registers), one event
// per line; if the event log cannot be opened, to NAME.sole.log in the log
// directory; if that cannot be opened either, to stderr. Its Write (for
// what sole writes to stderr elsewhere) logs each line as an error.
type serviceLog struct {
	mu      sync.Mutex
	el      *eventlog.Log
	w       io.Writer // the fallback, when el is nil
	closer  io.Closer
	partial []byte // Write's unfinished line
}

func openServiceLog(name, dir string, stderr io.Writer) *serviceLog {
	el, err := eventlog.Open(name)
	if err == nil {
		return &serviceLog{el: el}
	}
	s := &serviceLog{w: stderr}
	why := fmt.Sprintf("event log source %s: %v", name, err)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if f, ferr := rotlog.Open(filepath.Join(dir, name+".sole.log"), rotlog.Options{}); ferr == nil {
			s.w, s.closer = f, f
		} else {
			why += "; " + ferr.Error()
		}
	}
	s.log(eventWarning, "sole: cannot write to the event log (%s): writing here instead", why)
	return s
}

func (s *serviceLog) log(event uint32, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line(event, msg)
}

// line logs msg; s.mu is held.
func (s *serviceLog) line(event uint32, msg string) {
	msg = strings.TrimRight(msg, "\r\n")
	if s.el == nil {
		level := map[uint32]string{eventInfo: "info", eventWarning: "warning", eventError: "error"}[event]
		fmt.Fprintf(s.w, "%s %s %s\n", time.Now().Format(time.RFC3339), level, msg)
		return
	}
	var err error
	switch event {
	case eventError:
		err = s.el.Error(event, msg)
	case eventWarning:
		err = s.el.Warning(event, msg)
	default:
		err = s.el.Info(event, msg)
	}
	_ = err // nowhere else to say it
}

func (s *serviceLog) info(format string, args ...any)  { s.log(eventInfo, format, args...) }
func (s *serviceLog) warn(format string, args ...any)  { s.log(eventWarning, format, args...) }
func (s *serviceLog) error(format string, args ...any) { s.log(eventError, format, args...) }

// Write logs each line of p as an error event.
func (s *serviceLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(eventError, string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

func (s *serviceLog) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(eventError, string(s.partial))
		s.partial = nil
	}
	if s.el != nil {
		s.el.Close()
	}
	if s.closer != nil {
		s.closer.Close()
	}
}

// commandOutput is where a service's COMMAND writes: the write ends of two
// pipes, whose read ends sole copies into NAME.out.log and NAME.err.log.
type commandOutput struct {
	stdoutW, stderrW windows.Handle // for COMMAND; closed by started
	files            [2]*rotlog.Writer
	done             sync.WaitGroup
}

// openOutput creates dir if need be, opens NAME.out.log and NAME.err.log
// in it and starts copying into them what COMMAND writes. log is told
// of a failed rotation or write.
func openOutput(dir, name string, log *serviceLog) (_ *commandOutput, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := new(commandOutput)
	defer func() {
		if err != nil {
			o.closeFiles()
		}
	}()
	for i, suffix := range []string{".out.log", ".err.log"} {
		f, err := rotlog.Open(filepath.Join(dir, name+suffix), rotlog.Options{
			OnError: func(err error) { log.warn("sole: %v (writing on in the same file)", err) },
		})
		if err != nil {
			return nil, err
		}
		o.files[i] = f
	}
	for i, w := range []*windows.Handle{&o.stdoutW, &o.stderrW} {
		var r windows.Handle
		if err := windows.CreatePipe(&r, w, nil, 0); err != nil {
			if i == 1 {
				windows.CloseHandle(o.stdoutW)
			}
			return nil, fmt.Errorf("CreatePipe: %w", err)
		}
		pipe := os.NewFile(uintptr(r), "COMMAND's output")
		o.done.Add(1)
		go o.copy(pipe, o.files[i], log)
	}
	return o, nil
}

// copy copies what COMMAND writes to its pipe into f until every write
// end is closed. It never stops reading before that: a COMMAND must not
// block on a full pipe because its log file cannot be written.
func (o *commandOutput) copy(pipe *os.File, f *rotlog.Writer, log *serviceLog) {
	defer o.done.Done()
	defer pipe.Close()
	buf := make([]byte, 64<<10)
	failed := false
	for {
		n, err := pipe.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil && !failed {
				failed = true
				log.error("sole: %v: COMMAND's output is lost until it can be written again", werr)
			} else if werr == nil {
				failed = false
			}
		}
		if err != nil {
			return
		}
	}
}

// started closes sole's copies of the pipes' write ends, once COMMAND
// has its own (or was not started): the copies end when the last process
// holding one exits.
func (o *commandOutput) started() {
	windows.CloseHandle(o.stdoutW)
	windows.CloseHandle(o.stderrW)
	o.stdoutW, o.stderrW = 0, 0
}

// wait waits until everything COMMAND's processes wrote is in the files,
// at most timeout, then closes them. It reports whether the copies ended.
func (o *commandOutput) wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		o.done.Wait()
		close(done)
	}()
	ok := true
	select {
	case <-done:
	case <-time.After(timeout):
		ok = false
	}
	o.closeFiles()
	return ok
}

func (o *commandOutput) closeFiles() {
	for _, f := range o.files {
		if f != nil {
			f.Close()
		}
	}
}
