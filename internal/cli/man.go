package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ManInfo is what a man page says beyond the command table. Text fields
// are plain text: paragraphs are separated by blank lines, and lines
// indented with spaces (a command, a table) are shown as they are.
type ManInfo struct {
	Section     string     // the manual section; default "1"
	Date        string     // the date in the page's header, fixed so that the page is reproducible: "2026-12-01"
	Version     string     // the version in the page's footer, "v1.2.3"; "" for none
	Manual      string     // the manual's title in the header; default "User Commands"
	Purpose     string     // the NAME line after the dash; default the Summary without the program's name and final period
	Description string     // DESCRIPTION, after the Summary
	ExitStatus  string     // EXIT STATUS, after the tables of ExitCodes and StatusCodes
	Environment []ManEntry // ENVIRONMENT: the variables and what they do
	Files       []ManEntry // FILES: the paths and what they hold
	Examples    []ManEntry // EXAMPLES: Text says what the command lines in Name (one a line) do
	SeeAlso     []string   // SEE ALSO: "flock(1)", "systemd.service(5)"
}

// A ManEntry is a term and its text.
type ManEntry struct {
	Name string
	Text string
}

// Man writes the program's man page (man(7) macros): NAME, SYNOPSIS,
// DESCRIPTION, OPTIONS, COMMANDS (each visible command's usage, help and
// options), EXIT STATUS from ExitCodes and StatusCodes, and the sections
// m gives. Everything from the table and m is escaped for roff, so the
// page renders without a warning from groff -ww.
func (p *Program) Man(w io.Writer, m ManInfo) {
	var r roff
	section := m.Section
	if section == "" {
		section = "1"
	}
	manual := m.Manual
	if manual == "" {
		manual = "User Commands"
	}
	source := p.Name
	if m.Version != "" {
		source += " " + m.Version
	}
	purpose := m.Purpose
	if purpose == "" {
		purpose = strings.TrimSuffix(strings.TrimPrefix(oneLine(p.Summary), p.Name+" "), ".")
	}

	r.line(`.\" The man page of ` + r.esc(p.Name) + `, written from its command table; do not edit.`)
	// The header's words are names and dates, not options: their hyphens
	// stay hyphens.
	var th strings.Builder
	th.WriteString(".TH")
	for _, a := range []string{strings.ToUpper(p.Name), section, m.Date, source, manual} {
		th.WriteString(" " + strings.ReplaceAll(r.arg(a), `\-`, "-"))
	}
	r.line(th.String())
	r.macro("SH", "NAME")
	r.text(p.Name + " - " + purpose)

	r.macro("SH", "SYNOPSIS")
	var visible []*Command
	for _, c := range p.Commands {
		if !c.Hidden && c.Name != "help" {
			visible = append(visible, c)
		}
	}
	for i, c := range visible {
		if i > 0 {
			r.line(".br")
		}
		r.line(r.synopsis(p.Name, c.Usage))
	}
	if len(visible) > 0 {
		r.line(".br")
	}
	r.line(r.synopsis(p.Name, "help [COMMAND]"))
	if p.Version != nil {
		r.line(".br")
		r.line(r.synopsis(p.Name, "--version | -V"))
	}

	r.macro("SH", "DESCRIPTION")
	r.paragraphs(p.Summary, ".PP")
	r.paragraphs(m.Description, ".PP")

	r.macro("SH", "OPTIONS")
	r.paragraphs("These come before the command; each command's options, which come after it, are listed under COMMANDS.", ".PP")
	r.tag(Option{Name: "help", Aliases: []string{"h"}}, "Show the help of "+p.Name+" (\""+p.Name+" help COMMAND\" or \""+p.Name+" COMMAND --help\" shows a command's).")
	if p.Version != nil {
		r.tag(Option{Name: "version", Aliases: []string{"V"}}, "Print the version.")
	}

	r.macro("SH", "COMMANDS")
	for _, c := range visible {
		r.command(p.Name, c)
	}
	r.command(p.Name, &Command{Name: "help", Usage: "help [COMMAND]", Help: "Show help for " + p.Name + " or for one command: its usage, what it does and its options."})

	r.macro("SH", "EXIT STATUS")
	for _, e := range ExitCodes {
		r.exitCode(e)
	}
	r.paragraphs("The status commands exit with the LSB init-script status codes instead:", ".PP")
	for _, e := range StatusCodes {
		r.exitCode(e)
	}
	r.paragraphs(m.ExitStatus, ".PP")

	r.entries("ENVIRONMENT", `\fB`, m.Environment) // variables in bold
	r.entries("FILES", `\fI`, m.Files)             // paths in italics
	if len(m.Examples) > 0 {
		r.macro("SH", "EXAMPLES")
		for _, e := range m.Examples {
			r.paragraphs(e.Text, ".PP")
			r.line(".PP")
			r.line(".RS 4")
			r.line(".nf")
			for _, l := range strings.Split(e.Name, "\n") {
				r.textLine(`\fB` + r.esc(l) + `\fR`)
			}
			r.line(".fi")
			r.line(".RE")
		}
	}
	if len(m.SeeAlso) > 0 {
		r.macro("SH", "SEE ALSO")
		for i, s := range m.SeeAlso {
			end := ","
			if i == len(m.SeeAlso)-1 {
				end = ""
			}
			name, sec, ok := strings.Cut(strings.TrimSuffix(s, ")"), "(")
			if ok && strings.HasSuffix(s, ")") && name != "" && sec != "" {
				r.line(".BR " + r.arg(name) + " " + r.arg("("+sec+")"+end))
			} else {
				r.text(s + end)
			}
		}
	}
	io.WriteString(w, r.b.String())
}

// roff builds a page.
type roff struct{ b strings.Builder }

// line writes one line of roff as it is.
func (r *roff) line(s string) {
	r.b.WriteString(s)
	r.b.WriteByte('\n')
}

// esc escapes s to stand in a text line or a macro argument: backslashes,
// hyphens (as \-, the minus sign, so that options can be copied), and
// every character but printable ASCII.
func (r *roff) esc(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\e`)
		case c == '-':
			b.WriteString(`\-`)
		case c == '\t':
			b.WriteByte(' ')
		case c < ' ' || c == 0x7f || c == utf8.RuneError:
		case c > 0x7f:
			fmt.Fprintf(&b, `\[u%04X]`, c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// textLine writes an escaped, formatted line of text, guarded so that it
// is never taken for a request.
func (r *roff) textLine(s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	r.line(s)
}

// text writes plain text s, one text line per line of s.
func (r *roff) text(s string) {
	for _, l := range strings.Split(s, "\n") {
		r.textLine(r.esc(strings.TrimSpace(l)))
	}
}

// arg quotes s as a macro argument.
func (r *roff) arg(s string) string {
	return `"` + strings.ReplaceAll(r.esc(s), `"`, `\(dq`) + `"`
}

// macro writes a macro call with its arguments quoted.
func (r *roff) macro(name string, args ...string) {
	var b strings.Builder
	b.WriteString("." + name)
	for _, a := range args {
		b.WriteString(" " + r.arg(a))
	}
	r.line(b.String())
}

// paragraphs writes text as paragraphs: the first starts with the macro
// first ("" to go on in the current one: after .TP), the others with .PP,
// or .IP inside a .TP. Indented lines are shown as they are, indented.
func (r *roff) paragraphs(text, first string) {
	next := ".PP"
	if first == "" {
		next = ".IP"
	}
	start := first
	lines := strings.Split(strings.Trim(strings.ReplaceAll(text, "\t", "        "), "\n"), "\n")
	for i := 0; i < len(lines); {
		l := lines[i]
		switch {
		case strings.TrimSpace(l) == "":
			start = next
			i++
		case l[0] == ' ':
			// A block of indented lines, shown as they are, less the
			// indentation they share.
			j := i
			indent := len(l)
			for j < len(lines) && (strings.TrimSpace(lines[j]) == "" || lines[j][0] == ' ') {
				if t := strings.TrimLeft(lines[j], " "); t != "" {
					indent = min(indent, len(lines[j])-len(t))
				}
				j++
			}
			for j > i && strings.TrimSpace(lines[j-1]) == "" {
				j--
			}
			if start != "" {
				r.line(start)
			}
			if first == "" {
				// In a .TP, whose body .RS alone takes the margin to.
				r.line(".RS")
			}
			r.line(".RS 4")
			r.line(".nf")
			for _, b := range lines[i:j] {
				if len(b) >= indent {
					b = b[indent:]
				}
				r.textLine(r.esc(strings.TrimRight(b, " ")))
			}
			r.line(".fi")
			r.line(".RE")
			if first == "" {
				r.line(".RE")
			}
			start = next
			i = j
		default:
			if start != "" {
				r.line(start)
				start = ""
			}
			r.textLine(r.esc(strings.TrimSpace(l)))
			i++
		}
	}
}

// synopsis formats a usage line: options and literal words in bold,
// operands (in capitals) in italics, the rest as it is. No word is
// hyphenated.
func (r *roff) synopsis(prog, usage string) string {
	words := []string{`\%\fB` + r.esc(prog) + `\fR`}
	for _, w := range strings.Fields(usage) {
		words = append(words, `\%`+r.synopsisWord(w))
	}
	return strings.Join(words, " ")
}

// synopsisWord formats a word of a usage line: "[--name", "NAME]",
// "system|user", "[ARGS...]".
func (r *roff) synopsisWord(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := 0
		for n < len(s) && isWordByte(s[n]) {
			n++
		}
		if n == 0 {
			_, size := utf8.DecodeRuneInString(s)
			b.WriteString(r.esc(s[:size]))
			s = s[size:]
			continue
		}
		word := s[:n]
		s = s[n:]
		dots := ""
		if t := strings.TrimRight(word, "."); t != "" && len(t) < len(word) && strings.HasSuffix(word, "...") {
			word, dots = t, word[len(t):]
		}
		b.WriteString(r.word(word) + r.esc(dots))
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_=.,/:@%+", c) >= 0
}

// word formats one word of a synopsis.
func (r *roff) word(w string) string {
	switch {
	case strings.HasPrefix(w, "-"):
		return `\fB` + r.esc(w) + `\fR`
	case strings.ToUpper(w) == w && strings.ToLower(w) != w:
		return `\fI` + r.esc(w) + `\fR`
	case strings.ToLower(w) != w || strings.ToUpper(w) != w:
		return `\fB` + r.esc(w) + `\fR`
	}
	return r.esc(w)
}

// tag writes an option's .TP entry.
func (r *roff) tag(o Option, usage string) {
	r.line(".TP")
	var b strings.Builder
	for _, a := range o.Aliases {
		b.WriteString(`\fB\-` + r.esc(a) + `\fR, `)
	}
	b.WriteString(`\fB\-\-` + r.esc(o.Name) + `\fR`)
	switch {
	case len(o.Choices) > 0:
		b.WriteByte(' ')
		for i, c := range o.Choices {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(`\fB` + r.esc(c) + `\fR`)
		}
	case o.Arg != "":
		b.WriteString(` \fI` + r.esc(o.Arg) + `\fR`)
	}
	r.textLine(b.String())
	r.paragraphs(usage, "")
}

// command writes a command's subsection: its usage, help and options.
func (r *roff) command(prog string, c *Command) {
	r.macro("SS", c.Name)
	r.line(r.synopsis(prog, c.Usage))
	r.paragraphs(c.Help, ".PP")
	if c.Flags == nil {
		return
	}
	for _, o := range Options(c.Flags()) {
		r.tag(o, o.Usage)
	}
}

// exitCode writes an exit code's .TP entry.
func (r *roff) exitCode(e ExitCode) {
	code := strconv.Itoa(e.Code)
	meaning := e.Meaning
	if e.Code == ExitSignal {
		code = "128+N"
		meaning = strings.TrimPrefix(meaning, "128+N: ")
	}
	r.line(".TP")
	r.line(`\fB` + r.esc(code) + `\fR`)
	r.paragraphs(meaning, "")
}

// entries writes the section title of tagged paragraphs, one for each
// entry, its name in font (\fB bold, \fI italics); nothing when there
// are none.
func (r *roff) entries(title, font string, es []ManEntry) {
	if len(es) == 0 {
		return
	}
	r.macro("SH", title)
	for _, e := range es {
		r.line(".TP")
		r.line(font + r.esc(e.Name) + `\fR`)
		r.paragraphs(e.Text, "")
	}
}
