package unit

// Readers for what the renderers write, independent of the writers: a
// systemd unit file parser following systemd 252's config_parse(),
// extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE), cunescape_one()
// and the exec-time $VAR expansion; and a plist reader on encoding/xml.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

type unitEntry struct {
	Section, Key, Value string
	Line                int
}

type unitFile []unitEntry

// values returns the values of section.key in order.
func (u unitFile) values(section, key string) []string {
	var vs []string
	for _, e := range u {
		if e.Section == section && e.Key == key {
			vs = append(vs, e.Value)
		}
	}
	return vs
}

const systemdWhitespace = " \t\n\r"

// parseUnitFile reads a unit file as systemd's config_parse does: lines end
// at \n, \r\n, \r or NUL; a line whose backslashes leave the end escaped
// continues on the next (the backslash becoming a space); '#' and ';'
// start comments; "[Section]" headers; "Key=Value" with both sides
// stripped of whitespace.
func parseUnitFile(text []byte) (unitFile, error) {
	s := strings.ReplaceAll(string(text), "\r\n", "\n")
	lines := splitAny(s, "\n\r\x00")
	var (
		u            unitFile
		section      string
		continuation string
		inCont       bool
	)
	for n, raw := range lines {
		l := raw
		if inCont {
			l = continuation + l
		} else {
			trimmed := strings.TrimLeft(l, systemdWhitespace)
			if trimmed != "" && strings.ContainsRune("#;", rune(trimmed[0])) {
				continue
			}
		}
		escaped := false
		for i := 0; i < len(l); i++ {
			if escaped {
				escaped = false
			} else if l[i] == '\\' {
				escaped = true
			}
		}
		if escaped {
			continuation = l[:len(l)-1] + " "
			inCont = true
			continue
		}
		inCont = false
		l = strings.Trim(l, systemdWhitespace)
		if l == "" || strings.ContainsRune("#;", rune(l[0])) {
			continue
		}
		if l[0] == '[' {
			if l[len(l)-1] != ']' {
				return nil, fmt.Errorf("line %d: bad section header %q", n+1, l)
			}
			section = l[1 : len(l)-1]
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: missing '=': %q", n+1, l)
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: assignment outside a section", n+1)
		}
		u = append(u, unitEntry{section, strings.Trim(k, systemdWhitespace), strings.Trim(v, systemdWhitespace), n + 1})
	}
	if inCont {
		return nil, errors.New("file ends in a line continuation")
	}
	return u, nil
}

func splitAny(s, seps string) []string {
	var out []string
	for {
		i := strings.IndexAny(s, seps)
		if i < 0 {
			if s != "" {
				out = append(out, s)
			}
			return out
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// expandSpecifiers resolves %-specifiers: %% is '%', %t is runtimeDir, any
// other is an error (an unescaped '%' in our output).
func expandSpecifiers(s, runtimeDir string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("trailing %% in %q", s)
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 't':
			b.WriteString(runtimeDir)
		default:
			return "", fmt.Errorf("unexpected specifier %%%c in %q", s[i], s)
		}
	}
	return b.String(), nil
}

// splitWords splits s as repeated extract_first_word(EXTRACT_UNQUOTE|
// EXTRACT_CUNESCAPE) calls. With exec set it also does config_parse_exec's
// check for a lone ';' (a command separator, refused here) and "\;".
func splitWords(s string, exec bool) ([]string, error) {
	var words []string
	for {
		s = strings.TrimLeft(s, systemdWhitespace)
		if s == "" {
			return words, nil
		}
		if exec {
			if s[0] == ';' && (len(s) == 1 || strings.IndexByte(systemdWhitespace, s[1]) >= 0) {
				return nil, errors.New("command separator ';' in ExecStart=")
			}
			if strings.HasPrefix(s, `\;`) && (len(s) == 2 || strings.IndexByte(systemdWhitespace, s[2]) >= 0) {
				words = append(words, ";")
				s = s[2:]
				continue
			}
		}
		var (
			w     []byte
			quote byte
			i     int
		)
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case quote == 0 && strings.IndexByte(systemdWhitespace, c) >= 0:
				break word
			case c == '\\':
				dec, n, err := cunescapeOne(s[i+1:])
				if err != nil {
					return nil, fmt.Errorf("bad escape at %q: %v", s[i:], err)
				}
				w = append(w, dec...)
				i += 1 + n
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				i++
			case quote != 0 && c == quote:
				quote = 0
				i++
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated quote in %q", s)
		}
		words = append(words, string(w))
		s = s[i:]
	}
}

// cunescapeOne decodes the escape after a backslash as systemd's
// cunescape_one does, returning the bytes and how many input bytes it used.
func cunescapeOne(p string) ([]byte, int, error) {
	if p == "" {
		return nil, 0, errors.New("backslash at end")
	}
	simple := map[byte]byte{'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11, '\\': '\\', '"': '"', '\'': '\'', 's': ' '}
	if c, ok := simple[p[0]]; ok {
		return []byte{c}, 1, nil
	}
	hex := func(s string, n int) (uint64, error) {
		if len(s) < n {
			return 0, errors.New("short hex escape")
		}
		return strconv.ParseUint(s[:n], 16, 32)
	}
	switch p[0] {
	case 'x':
		v, err := hex(p[1:], 2)
		if err != nil || v == 0 {
			return nil, 0, fmt.Errorf("bad \\x escape")
		}
		return []byte{byte(v)}, 3, nil
	case 'u', 'U':
		n := 4
		if p[0] == 'U' {
			n = 8
		}
		v, err := hex(p[1:], n)
		if err != nil || v == 0 || !utf8.ValidRune(rune(v)) {
			return nil, 0, fmt.Errorf("bad \\%c escape", p[0])
		}
		return utf8.AppendRune(nil, rune(v)), 1 + n, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		if len(p) < 3 {
			return nil, 0, errors.New("short octal escape")
		}
		v, err := strconv.ParseUint(p[:3], 8, 16)
		if err != nil || v == 0 || v > 255 {
			return nil, 0, errors.New("bad octal escape")
		}
		return []byte{byte(v)}, 3, nil
	}
	return nil, 0, fmt.Errorf("unknown escape \\%c", p[0])
}

// undollar undoes the exec-time expansion of an ExecStart= word: "$$" is
// '$'. Any other '$' would be a variable reference, which our output must
// never contain.
func undollar(w string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '$' {
			b.WriteByte(w[i])
			continue
		}
		if i+1 < len(w) && w[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		return "", fmt.Errorf("variable reference in %q", w)
	}
	return b.String(), nil
}

// decodeExecStart returns the argv systemd runs for an ExecStart= value.
func decodeExecStart(v, runtimeDir string) ([]string, error) {
	v, err := expandSpecifiers(v, runtimeDir)
	if err != nil {
		return nil, err
	}
	words, err := splitWords(v, true)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		if words[i], err = undollar(w); err != nil {
			return nil, err
		}
	}
	return words, nil
}

// decodeEnvironment returns the assignments of an Environment= value.
func decodeEnvironment(v, runtimeDir string) ([]string, error) {
	words, err := splitWords(v, false)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		if words[i], err = expandSpecifiers(w, runtimeDir); err != nil {
			return nil, err
		}
	}
	return words, nil
}

// decodePlist reads an XML property list into map[string]any, []any,
// string, int64 and bool, refusing anything else.
func decodePlist(b []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	var root any
	sawPlist := false
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && sawPlist {
				return root, nil
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.ProcInst, xml.Directive, xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("text outside <plist>: %q", t)
			}
		case xml.StartElement:
			if t.Name.Local != "plist" || sawPlist {
				return nil, fmt.Errorf("unexpected <%s>", t.Name.Local)
			}
			sawPlist = true
			v, end, err := plistValue(dec)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, errors.New("empty <plist>")
			}
			if _, isKey := v.(plistKey); isKey {
				return nil, errors.New("<key> outside a dict")
			}
			root = v
			if _, end, err := plistValue(dec); err != nil || !end {
				return nil, fmt.Errorf("more than one value in <plist> (%v)", err)
			}
		default:
			return nil, fmt.Errorf("unexpected token %T", tok)
		}
	}
}

type plistKey string

// plistValue reads the next value, or reports end at the parent's end tag.
func plistValue(dec *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, false, fmt.Errorf("stray text %q", t)
			}
		case xml.EndElement:
			return nil, true, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "string":
				s, err := plistText(dec)
				return s, false, err
			case "key":
				s, err := plistText(dec)
				return plistKey(s), false, err
			case "integer":
				s, err := plistText(dec)
				if err != nil {
					return nil, false, err
				}
				n, err := strconv.ParseInt(s, 10, 64)
				return n, false, err
			case "true", "false":
				if err := dec.Skip(); err != nil {
					return nil, false, err
				}
				return t.Name.Local == "true", false, nil
			case "array":
				a := []any{}
				for {
					v, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return a, false, nil
					}
					if _, isKey := v.(plistKey); isKey {
						return nil, false, errors.New("<key> in an array")
					}
					a = append(a, v)
				}
			case "dict":
				m := map[string]any{}
				for {
					k, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return m, false, nil
					}
					ks, ok := k.(plistKey)
					if !ok {
						return nil, false, fmt.Errorf("dict key %v is not a <key>", k)
					}
					if _, dup := m[string(ks)]; dup {
						return nil, false, fmt.Errorf("dict key %q twice", ks)
					}
					v, end, err := plistValue(dec)
					if err != nil || end {
						return nil, false, fmt.Errorf("dict key %q without value (%v)", ks, err)
					}
					if _, isKey := v.(plistKey); isKey {
						return nil, false, fmt.Errorf("dict key %q followed by another <key>", ks)
					}
					m[string(ks)] = v
				}
			default:
				return nil, false, fmt.Errorf("unexpected <%s>", t.Name.Local)
			}
		default:
			return nil, false, fmt.Errorf("unexpected token %T", tok)
		}
	}
}

// plistText reads the character data up to the end tag.
func plistText(dec *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.Comment:
		default:
			return "", fmt.Errorf("unexpected %T in text element", tok)
		}
	}
}
