// Package envfile reads environment files in the syntax of systemd's
// EnvironmentFile=, so that `sole run --env-file FILE` (launchd, Windows,
// a shell) gives COMMAND the variables systemd would give it from the
// same file.
//
// The syntax, as systemd reads it:
//
//   - one assignment per line, KEY=VALUE, with optional spaces around
//     KEY and before VALUE (no shell "export ": systemd ignores such a
//     line, so Parse refuses it);
//   - blank lines, and lines whose first non-blank character is '#' or
//     ';', are comments;
//   - VALUE is taken literally up to the end of the line, without its
//     trailing spaces, except that a backslash escapes the next
//     character, and a backslash at the end of a line joins the next;
//   - VALUE in single quotes is literal; in double quotes, a backslash
//     escapes '"', '\\', '`', '$' and a newline, and the value may span
//     lines.
//
// Where systemd only logs a warning and skips a line (a name that is not a
// valid variable name, a line without '='), Parse returns an error naming
// the line: a service must not start with a variable silently missing.
package envfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// MaxSize bounds an environment file; a bigger one is a mistake.
const MaxSize = 1 << 20

// Error is a line that cannot be read. Line counts from 1.
type Error struct {
	Line   int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ReadFile reads and parses the environment file at path. Its errors are
// *fs.PathError, wrapping an *Error for a line it cannot read.
func ReadFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	buf := make([]byte, MaxSize+1)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	if n > MaxSize {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", MaxSize)}
	}
	env, err := Parse(string(buf[:n]))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return env, nil
}

// Parse returns the assignments of an environment file as KEY=VALUE
// strings, in order (a later one for the same KEY wins when they are
// added to an environment). Its error is an *Error.
func Parse(text string) ([]string, error) {
	if !utf8.ValidString(text) {
		return nil, &Error{Line: 1 + strings.Count(text[:invalidAt(text)], "\n"), Reason: "not valid UTF-8"}
	}
	var env []string
	p := parser{s: text, line: 1}
	for {
		p.skipBlank()
		if p.eof() {
			return env, nil
		}
		start := p.line
		if c := p.s[p.i]; c == '#' || c == ';' {
			p.skipLine()
			continue
		}
		key := p.word()
		p.skipSpaces()
		if p.eof() || p.s[p.i] != '=' {
			return nil, &Error{Line: start, Reason: "want KEY=VALUE"}
		}
		if !validName(key) {
			return nil, &Error{Line: start, Reason: fmt.Sprintf("%q is not a valid variable name (want a letter or '_', then letters, digits or '_')", key)}
		}
		p.i++
		p.skipSpaces()
		val, err := p.value()
		if err != nil {
			return nil, &Error{Line: start, Reason: err.Error()}
		}
		if strings.IndexByte(val, 0) >= 0 {
			return nil, &Error{Line: start, Reason: "a value cannot hold a NUL byte"}
		}
		env = append(env, key+"="+val)
	}
}

type parser struct {
	s    string
	i    int
	line int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) skipBlank() {
	for !p.eof() {
		switch p.s[p.i] {
		case '\n':
			p.line++
		case ' ', '\t', '\r':
		default:
			return
		}
		p.i++
	}
}

func (p *parser) skipSpaces() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) skipLine() {
	for !p.eof() && p.s[p.i] != '\n' {
		p.i++
	}
}

func (p *parser) word() string {
	j := p.i
	for !p.eof() && !strings.ContainsRune("= \t\n\r", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[j:p.i]
}

// value reads VALUE up to the end of its (last) line.
func (p *parser) value() (string, error) {
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c == '\n' || c == '\r' && (p.i+1 == len(p.s) || p.s[p.i+1] == '\n'):
			return strings.TrimRight(b.String(), " \t"), nil
		case c == '\'' && b.Len() == 0:
			j := strings.IndexByte(p.s[p.i+1:], '\'')
			if j < 0 {
				return "", errors.New("a single quote is not closed")
			}
			v := p.s[p.i+1 : p.i+1+j]
			p.line += strings.Count(v, "\n")
			p.i += j + 2
			return v, p.rest()
		case c == '"' && b.Len() == 0:
			p.i++
			for {
				if p.eof() {
					return "", errors.New("a double quote is not closed")
				}
				c := p.s[p.i]
				p.i++
				switch {
				case c == '"':
					return b.String(), p.rest()
				case c == '\\' && !p.eof() && strings.IndexByte("\"\\`$\n", p.s[p.i]) >= 0:
					if p.s[p.i] == '\n' {
						p.line++
					} else {
						b.WriteByte(p.s[p.i])
					}
					p.i++
				default:
					if c == '\n' {
						p.line++
					}
					b.WriteByte(c)
				}
			}
		case c == '\\':
			p.i++
			if p.eof() {
				return strings.TrimRight(b.String(), " \t"), nil
			}
			if p.s[p.i] == '\n' {
				p.line++
			} else {
				b.WriteByte(p.s[p.i])
			}
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return strings.TrimRight(b.String(), " \t"), nil
}

// rest checks that only spaces follow a quoted value on its line.
func (p *parser) rest() error {
	p.skipSpaces()
	if p.i < len(p.s) && p.s[p.i] == '\r' {
		p.i++
	}
	if !p.eof() && p.s[p.i] != '\n' {
		return errors.New("text after a quoted value")
	}
	return nil
}

func validName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return i
			}
		}
	}
	return len(s)
}
