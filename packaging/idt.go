package packaging

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// idtTable is a table as msiinfo export writes it: the text archive
// (.idt) format of MsiDatabaseExport. Three header lines, tab-separated:
// column names, column types ("s72": s/S string, l/L localizable string,
// i/I integer of 2 or 4 bytes, v/V binary (a stream file name); upper case
// nullable), then the table name (after a code page number when the data
// is not ASCII) and its primary key columns; then one line per row, each
// with a value per column. Lines end in CR LF. Within values, 0x11 0x19
// stands for a CR LF, 0x19 for a LF and 0x11 for a CR. _ForceCodepage has
// a form of its own: two empty lines, then "CODEPAGE\t_ForceCodepage".
type idtTable struct {
	Name     string
	Codepage int
	Columns  []string
	Types    []string
	Keys     []string
	Rows     [][]string
}

// parseIDT parses one table exported by msiinfo.
func parseIDT(data []byte) (*idtTable, error) {
	data = bytes.TrimRight(data, "\x00")
	if !utf8.Valid(data) {
		return nil, errors.New("idt: not UTF-8")
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("idt: no final line break")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("idt: %d lines, want at least 3 header lines", len(lines))
	}
	for i, l := range lines {
		if strings.ContainsRune(l, '\r') {
			return nil, fmt.Errorf("idt: line %d: a lone CR", i+1)
		}
	}
	if lines[0] == "" && lines[1] == "" && len(lines) == 3 {
		cp, name, ok := strings.Cut(lines[2], "\t")
		n, err := strconv.Atoi(cp)
		if !ok || name != "_ForceCodepage" || err != nil || n < 0 || strconv.Itoa(n) != cp {
			return nil, fmt.Errorf("idt: bad _ForceCodepage line %q", lines[2])
		}
		return &idtTable{Name: name, Codepage: n}, nil
	}
	t := &idtTable{Columns: strings.Split(lines[0], "\t"), Types: strings.Split(lines[1], "\t")}
	if len(t.Columns) != len(t.Types) {
		return nil, fmt.Errorf("idt: %d column names but %d types", len(t.Columns), len(t.Types))
	}
	seen := map[string]bool{}
	for i, c := range t.Columns {
		if !msiIdentifier(c) {
			return nil, fmt.Errorf("idt: column name %q", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("idt: column %s twice", c)
		}
		seen[c] = true
		if !idtType(t.Types[i]) {
			return nil, fmt.Errorf("idt: column %s: type %q", c, t.Types[i])
		}
	}
	labels := strings.Split(lines[2], "\t")
	if n, err := strconv.Atoi(labels[0]); err == nil && len(labels) > 1 {
		if n < 0 || strconv.Itoa(n) != labels[0] {
			return nil, fmt.Errorf("idt: code page %q", labels[0])
		}
		t.Codepage = n
		labels = labels[1:]
	}
	t.Name, t.Keys = labels[0], labels[1:]
	if !msiIdentifier(t.Name) {
		return nil, fmt.Errorf("idt: table name %q", t.Name)
	}
	if len(t.Keys) == 0 {
		return nil, fmt.Errorf("idt: table %s: no primary key", t.Name)
	}
	for _, k := range t.Keys {
		if !seen[k] {
			return nil, fmt.Errorf("idt: table %s: primary key %q is not a column", t.Name, k)
		}
	}
	for i, l := range lines[3:] {
		row := strings.Split(l, "\t")
		if len(row) != len(t.Columns) {
			return nil, fmt.Errorf("idt: table %s: row %d has %d values, want %d", t.Name, i+1, len(row), len(t.Columns))
		}
		for j, v := range row {
			v = strings.ReplaceAll(v, "\x11\x19", "\r\n")
			v = strings.ReplaceAll(v, "\x19", "\n")
			v = strings.ReplaceAll(v, "\x11", "\r")
			row[j] = v
			if typ := t.Types[j]; typ[0] == 'i' || typ[0] == 'I' {
				if v == "" {
					continue
				}
				bits := 32
				if typ[1:] == "2" || typ[1:] == "1" {
					bits = 16
				}
				if _, err := strconv.ParseInt(v, 10, bits); err != nil {
					return nil, fmt.Errorf("idt: table %s: row %d: column %s: %q is not an integer of %s", t.Name, i+1, t.Columns[j], v, typ)
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// format writes t back in the text archive format (the inverse of
// parseIDT).
func (t *idtTable) format() []byte {
	var b strings.Builder
	if t.Name == "_ForceCodepage" && len(t.Columns) == 0 {
		fmt.Fprintf(&b, "\r\n\r\n%d\t_ForceCodepage\r\n", t.Codepage)
		return []byte(b.String())
	}
	line := func(fields []string) {
		b.WriteString(strings.Join(fields, "\t"))
		b.WriteString("\r\n")
	}
	line(t.Columns)
	line(t.Types)
	labels := append([]string{t.Name}, t.Keys...)
	if t.Codepage != 0 {
		labels = append([]string{strconv.Itoa(t.Codepage)}, labels...)
	}
	line(labels)
	esc := strings.NewReplacer("\r\n", "\x11\x19", "\n", "\x19", "\r", "\x11")
	for _, r := range t.Rows {
		fields := make([]string, len(r))
		for i, v := range r {
			fields[i] = esc.Replace(v)
		}
		line(fields)
	}
	return []byte(b.String())
}

// col returns the index of a column, or -1.
func (t *idtTable) col(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// get returns a row's value of a column ("" if there is no such column).
func (t *idtTable) get(row int, col string) string {
	if i := t.col(col); i >= 0 && row >= 0 && row < len(t.Rows) {
		return t.Rows[row][i]
	}
	return ""
}

// find returns the first row whose column col is value, or -1.
func (t *idtTable) find(col, value string) int {
	i := t.col(col)
	if i < 0 {
		return -1
	}
	for r, row := range t.Rows {
		if row[i] == value {
			return r
		}
	}
	return -1
}

// msiIdentifier reports whether s is an MSI identifier: letters, digits,
// underscores and periods, not starting with a digit or period.
func msiIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case c == '.' || '0' <= c && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// idtType reports whether s is a column type of the text archive format.
func idtType(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("sSlLiIvV", rune(s[0])) {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != s[1:] {
		return false
	}
	if s[0] == 'i' || s[0] == 'I' {
		return n == 1 || n == 2 || n == 4
	}
	return true
}
