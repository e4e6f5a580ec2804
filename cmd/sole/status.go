package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/pidlock"
)

var statusCmd = &command{
	name:  "status",
	usage: "sole status [NAME | --name NAME | --lock PATH] [--scope system|user] [--json]",
	help: `Show who holds a lock, without taking it.

Exit status (LSB): 0 running (the holder is printed), 1 not running but a
record is left (its holder died), 3 not running, 4 the status could not be
determined.`,
	flags: func() *flag.FlagSet { fs, _ := newStatusFlags(); return fs },
	run:   statusMain,
}

type statusOpts struct {
	lockFlags
	json bool
}

func newStatusFlags() (*flag.FlagSet, *statusOpts) {
	o := new(statusOpts)
	fs := newFlagSet("status")
	o.register(fs)
	fs.BoolVar(&o.json, "json", false, "print one JSON object: name, lock, state, running, pid, process, since")
	return fs, o
}

func statusMain(c *command, args []string, stdout, stderr io.Writer) int {
	fs, o := newStatusFlags()
	rest, code, ok := parseInterspersed(c, fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(rest) > 1:
		return usageError(stderr, "status: too many arguments", "status")
	case len(rest) == 1 && (o.nameSet || o.pathSet):
		return usageError(stderr, "status: give NAME or --name or --lock, not both", "status")
	case len(rest) == 1:
		o.name, o.nameSet = rest[0], true
	case !o.nameSet && !o.pathSet:
		return usageError(stderr, "status: missing NAME (or --name, --lock)", "status")
	}
	l, err := o.open("")
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			return usageError(stderr, "status: "+ue.Error(), "status")
		}
		fmt.Fprintf(stderr, "sole: %s\n", lockErrorLine(err))
		return statusUnknown
	}
	// A named lock may belong to an installed service: then its
	// manager's state is reported too.
	service := ""
	if o.path == "" {
		if state, err := svcmgr.Status(l.Name(), l.Scope() == pidlock.ScopeUser); err == nil && state != svcmgr.NotInstalled && state != svcmgr.Unknown {
			service = string(state)
		}
	}
	st, err := l.Query()
	if err != nil {
		if o.json {
			writeStatusJSON(stdout, l, st, service, err)
		}
		fmt.Fprintf(stderr, "sole: %s\n", lockErrorLine(err))
		return statusUnknown
	}
	suffix := ""
	if service != "" {
		suffix = "; service " + service
	}
	if o.json {
		writeStatusJSON(stdout, l, st, service, nil)
	} else {
		switch st.State {
		case pidlock.Running:
			fmt.Fprintf(stdout, "%s is running (%s)%s\n", l.Name(), describe(st.Holder), suffix)
		case pidlock.Starting:
			fmt.Fprintf(stdout, "%s is running (starting)%s\n", l.Name(), suffix)
		case pidlock.Stale:
			if st.Holder != nil {
				fmt.Fprintf(stdout, "%s is not running (stale record: %s)%s\n", l.Name(), describe(st.Holder), suffix)
			} else {
				fmt.Fprintf(stdout, "%s is not running (unreadable record left in %s)%s\n", l.Name(), l.Path(), suffix)
			}
		default:
			fmt.Fprintf(stdout, "%s is not running%s\n", l.Name(), suffix)
		}
	}
	return statusCode(st.State)
}

func statusCode(s pidlock.State) int {
	switch s {
	case pidlock.Running, pidlock.Starting:
		return statusRunning
	case pidlock.Stale:
		return statusDeadRecord
	}
	return statusNotRunning
}

// writeStatusJSON prints one JSON object on one line. It is written by hand
// to keep reflection-driven encoding out of sole's start-up.
func writeStatusJSON(w io.Writer, l *pidlock.Lock, st pidlock.Status, service string, qerr error) {
	b := []byte(`{"name":`)
	b = appendJSONString(b, l.Name())
	b = append(b, `,"lock":`...)
	b = appendJSONString(b, l.Path())
	b = append(b, `,"state":`...)
	if qerr != nil {
		b = append(b, `"unknown"`...)
	} else {
		b = appendJSONString(b, st.State.String())
	}
	b = append(b, `,"running":`...)
	b = strconv.AppendBool(b, qerr == nil && (st.State == pidlock.Running || st.State == pidlock.Starting))
	h := st.Holder
	if h != nil {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(h.PID), 10)
		b = append(b, `,"process":`...)
		b = appendJSONString(b, h.Process)
		b = append(b, `,"since":`...)
		b = appendJSONString(b, h.Since.Format(time.RFC3339Nano))
	} else {
		b = append(b, `,"pid":null,"process":null,"since":null`...)
	}
	b = append(b, `,"service":`...)
	if service != "" {
		b = appendJSONString(b, service)
	} else {
		b = append(b, "null"...)
	}
	if qerr != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, lockErrorLine(qerr))
	}
	b = append(b, "}\n"...)
	w.Write(b)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
