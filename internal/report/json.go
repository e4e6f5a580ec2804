package report

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the report as one JSON object on one line (no
// newline):
//
//	{"name":"backup","lock":"/run/sole/backup/backup.pid","state":"running","running":true,
//	 "pid":1234,"process":"backup.sh","since":"2026-11-22T10:42:07.123456789Z","service":"active"}
//
// state is one of State's words; pid, process and since (RFC 3339) are
// null when there is no record, service is null when Service is "", and
// error is there only when the state is unknown.
func (r Report) AppendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"lock":`...)
	b = appendString(b, r.Lock)
	b = append(b, `,"state":`...)
	b = appendString(b, r.State())
	b = append(b, `,"running":`...)
	b = strconv.AppendBool(b, r.Running())
	if h := r.Status.Holder; h != nil && r.Err == nil {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(h.PID), 10)
		b = append(b, `,"process":`...)
		b = appendString(b, h.Process)
		b = append(b, `,"since":`...)
		b = appendString(b, h.Since.Format(time.RFC3339Nano))
	} else {
		b = append(b, `,"pid":null,"process":null,"since":null`...)
	}
	b = append(b, `,"service":`...)
	if r.Service != "" {
		b = appendString(b, string(r.Service))
	} else {
		b = append(b, "null"...)
	}
	if r.Err != nil {
		b = append(b, `,"error":`...)
		b = appendString(b, ErrorLine(r.Err))
	}
	return append(b, '}')
}

// AppendJSONArray appends the reports as a JSON array, one object a line,
// and a newline: "[]\n" when there are none.
func AppendJSONArray(b []byte, rs []Report) []byte {
	if len(rs) == 0 {
		return append(b, "[]\n"...)
	}
	b = append(b, "[\n"...)
	for i, r := range rs {
		b = r.AppendJSON(b)
		if i < len(rs)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	return append(b, "]\n"...)
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped, for readers that take JSON for
// JavaScript.
func appendString(b []byte, s string) []byte {
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
