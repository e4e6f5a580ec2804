package report

import (
	"strconv"
	"strings"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fleet"
)

// A Fleet is what etcd says of a fleet lock: `sole status --fleet` and
// `sole list --fleet` print it.
type Fleet struct {
	fleet.Status
	Err error // etcd could not be asked
}

// Running reports whether a node holds the lock.
func (r Fleet) Running() bool { return r.Err == nil && r.Holder != nil }

// State is "running", "not running" or "unknown".
func (r Fleet) State() string {
	switch {
	case r.Err != nil:
		return "unknown"
	case r.Holder != nil:
		return "running"
	}
	return "not running"
}

// Code is the LSB status code.
func (r Fleet) Code() int {
	switch {
	case r.Err != nil:
		return cli.StatusUnknown
	case r.Holder != nil:
		return cli.StatusRunning
	}
	return cli.StatusNotRunning
}

// Text is the report as lines, without a final newline:
//
//	job is running across the fleet (pid 42 on web1, since 10:42:07, token 118); 1 waiting
//	job: waiting: pid 77 on web2, since 10:43:00
//	job is not running across the fleet
//	job state unknown across the fleet (etcd at 10.0.0.1:2379 cannot be reached: ...)
func (r Fleet) Text() string {
	name := cli.Quote(r.Name)
	switch {
	case r.Err != nil:
		return name + " state unknown across the fleet (" + cli.OneLine(r.Err.Error()) + ")"
	case r.Holder == nil:
		return name + " is not running across the fleet"
	}
	var b strings.Builder
	b.WriteString(name + " is running across the fleet (" + DescribeFleet(*r.Holder) + ")")
	if len(r.Waiters) > 0 {
		b.WriteString("; " + strconv.Itoa(len(r.Waiters)) + " waiting")
	}
	for _, w := range r.Waiters {
		b.WriteString("\n" + name + ": waiting: " + DescribeFleet(w))
	}
	return b.String()
}

// DescribeFleet names a fleet contender as "pid 42 on web1, since
// 10:42:07, token 118".
func DescribeFleet(h fleet.Holder) string {
	s := h.String()
	if h.Token != 0 {
		s += ", token " + strconv.FormatInt(h.Token, 10)
	}
	return s
}

// AppendJSON appends the report as one JSON object on one line:
//
//	{"name":"job","state":"running","running":true,
//	 "holder":{"host":"web1","pid":42,"since":"2026-11-22T10:42:07.123Z","token":118},
//	 "waiters":[{"host":"web2","pid":77,"since":"...","token":120}]}
//
// holder is null when the lock is free; error is there only when the
// state is unknown.
func (r Fleet) AppendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"state":`...)
	b = appendString(b, r.State())
	b = append(b, `,"running":`...)
	b = strconv.AppendBool(b, r.Running())
	b = append(b, `,"holder":`...)
	if r.Holder != nil && r.Err == nil {
		b = appendHolder(b, *r.Holder)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"waiters":[`...)
	for i, w := range r.Waiters {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHolder(b, w)
	}
	b = append(b, ']')
	if r.Err != nil {
		b = append(b, `,"error":`...)
		b = appendString(b, cli.OneLine(r.Err.Error()))
	}
	return append(b, '}')
}

func appendHolder(b []byte, h fleet.Holder) []byte {
	b = append(b, `{"host":`...)
	b = appendString(b, h.Host)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(h.PID), 10)
	b = append(b, `,"since":`...)
	if h.Since.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendString(b, h.Since.Format(time.RFC3339Nano))
	}
	b = append(b, `,"token":`...)
	b = strconv.AppendInt(b, h.Token, 10)
	return append(b, '}')
}
