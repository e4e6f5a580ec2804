package cli

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// manProgram is compProgram with help texts that roff would take for
// requests or escapes if they were not escaped.
func manProgram() *Program {
	p := compProgram()
	p.Commands = append(p.Commands, &Command{
		Name:  "tricky",
		Usage: "tricky [--mode a|b] [--env K=V]... FILE...",
		Help: `Do tricky things: a line of help can start with a dot or a quote.
.TH or 'br are not requests here, \fB is no font and \- is no minus;
a -- or -x or --long-option is an option, "quoted" is fine — and Ünïcödé.

Indented lines are shown as they are:

  tricky --mode a ./file
      .hidden \n
  tricky 'b'

and the text goes on.`,
		Flags: func() *flag.FlagSet {
			fs := NewFlagSet("tricky")
			fs.String("mode", "a", "the `a|b` mode; .dot and 'quote\\")
			fs.Var(&stringsFlag{}, "env", "`K=V` for the environment (repeatable)")
			fs.Bool("dry-run", false, "say what would be done")
			Alias(fs, "n", "dry-run")
			return fs
		},
		Run: func(c *Command, args []string, stdout, stderr io.Writer) int { return 0 },
	})
	return p
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

var testManInfo = ManInfo{
	Date:        "2026-12-01",
	Version:     "v1.2.3",
	Description: "prog is a test.\n\nIt has two paragraphs; the second starts\n.with a dot.",
	ExitStatus:  "The test program also exits 5 when nothing is installed.",
	Environment: []ManEntry{{"PROG_DEBUG", "Say more.\n\nSecond paragraph."}},
	Files:       []ManEntry{{"/run/prog/NAME/NAME.pid", "The lock file of NAME."}, {"~/.config/prog", "Settings:\n\n  key=value\n\nin lines."}},
	Examples:    []ManEntry{{"prog run --name backup -- ./backup.sh\n.prog status backup", "Run a backup, once."}},
	SeeAlso:     []string{"flock(1)", "systemd.service(5)", "docs/cli.md"},
}

func manPage(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	manProgram().Man(&b, testManInfo)
	return b.String()
}

func TestMan(t *testing.T) {
	page := manPage(t)
	for name, want := range map[string]string{
		"comment":         `.\" The man page of prog, written from its command table; do not edit.` + "\n",
		"header":          `.TH "PROG" "1" "2026-12-01" "prog v1.2.3" "User Commands"` + "\n",
		"name":            ".SH \"NAME\"\nprog \\- does things\n",
		"synopsis":        `\%\fBprog\fR \%\fBrun\fR \%[\fB\-\-name\fR \%\fINAME\fR \%| \%\fB\-\-lock\fR \%\fIPATH\fR] \%[\fB\-q\fR] \%\fB\-\-\fR \%\fICOMMAND\fR \%[\fIARGS\fR...]` + "\n",
		"synopsis words":  `\%\fBprog\fR \%\fBtricky\fR \%[\fB\-\-mode\fR \%\fBa\fR|\fBb\fR] \%[\fB\-\-env\fR \%\fIK=V\fR]... \%\fIFILE\fR...` + "\n",
		"help synopsis":   ".br\n\\%\\fBprog\\fR \\%\\fBhelp\\fR \\%[\\fICOMMAND\\fR]\n.br\n\\%\\fBprog\\fR \\%\\fB\\-\\-version\\fR \\%| \\%\\fB\\-V\\fR\n",
		"description":     ".SH \"DESCRIPTION\"\n.PP\nprog does things.\n.PP\nprog is a test.\n.PP\nIt has two paragraphs; the second starts\n\\&.with a dot.\n",
		"top options":     ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n",
		"version":         ".TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\nPrint the version.\n",
		"command":         ".SS \"run\"\n\\%\\fBprog\\fR \\%\\fBrun\\fR",
		"alias":           ".TP\n\\fB\\-q\\fR, \\fB\\-\\-quiet\\fR\nsay nothing: no line, no [brackets], no 'quotes' or \\e\n",
		"choices":         ".TP\n\\fB\\-\\-mode\\fR \\fBa\\fR|\\fBb\\fR\nthe a|b mode; .dot and 'quote\\e (default a)\n",
		"operand":         ".TP\n\\fB\\-\\-timeout\\fR \\fIDUR\\fR\ngive up after DUR\n",
		"dot line":        "\n\\&.TH or 'br are not requests here, \\efB is no font and \\e\\- is no minus;\n",
		"hyphens":         "\na \\-\\- or \\-x or \\-\\-long\\-option is an option, \"quoted\" is fine \\[u2014] and \\[u00DC]n\\[u00EF]c\\[u00F6]d\\[u00E9].\n",
		"block":           ".PP\nIndented lines are shown as they are:\n.PP\n.RS 4\n.nf\ntricky \\-\\-mode a ./file\n    .hidden \\en\ntricky 'b'\n.fi\n.RE\n.PP\nand the text goes on.\n",
		"help command":    ".SS \"help\"\n\\%\\fBprog\\fR \\%\\fBhelp\\fR \\%[\\fICOMMAND\\fR]\n.PP\nShow help for prog or for one command",
		"exit status":     ".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nsuccess\n.TP\n\\fB1\\fR\nany other failure\n.TP\n\\fB64\\fR\n",
		"signal":          ".TP\n\\fB128+N\\fR\nthe command was ended by signal N\n",
		"timeout":         ".TP\n\\fB124\\fR\n\\-\\-max\\-time ran out, as timeout(1)\n",
		"status codes":    "status codes instead:\n.TP\n\\fB0\\fR\nrunning: an instance holds the lock\n",
		"exit text":       ".PP\nThe test program also exits 5 when nothing is installed.\n",
		"environment":     ".SH \"ENVIRONMENT\"\n.TP\n\\fBPROG_DEBUG\\fR\nSay more.\n.IP\nSecond paragraph.\n",
		"files":           ".SH \"FILES\"\n.TP\n\\fI/run/prog/NAME/NAME.pid\\fR\nThe lock file of NAME.\n",
		"block in tp":     "Settings:\n.IP\n.RS\n.RS 4\n.nf\nkey=value\n.fi\n.RE\n.RE\n.IP\nin lines.\n",
		"examples":        ".SH \"EXAMPLES\"\n.PP\nRun a backup, once.\n.PP\n.RS 4\n.nf\n\\fBprog run \\-\\-name backup \\-\\- ./backup.sh\\fR\n\\fB.prog status backup\\fR\n.fi\n.RE\n",
		"see also":        ".SH \"SEE ALSO\"\n.BR \"flock\" \"(1),\"\n.BR \"systemd.service\" \"(5),\"\ndocs/cli.md\n",
		"every exit code": "",
	} {
		t.Run(name, func(t *testing.T) {
			if name == "every exit code" {
				for _, e := range append(append([]ExitCode{}, ExitCodes...), StatusCodes...) {
					code := strconv.Itoa(e.Code)
					if e.Code == ExitSignal {
						code = "128+N"
					}
					if !strings.Contains(page, ".TP\n\\fB"+code+"\\fR\n") {
						t.Errorf("exit code %s (%s) not in the page", code, e.Name)
					}
				}
				return
			}
			if !strings.Contains(page, want) {
				t.Errorf("no %q in the page:\n%s", want, page)
			}
		})
	}
	for _, not := range []string{"secret", CompleteName, "\t"} {
		if strings.Contains(page, not) {
			t.Errorf("%q in the page", not)
		}
	}
	for i, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, "'") || strings.HasPrefix(l, ".") && !isRequest(l) {
			t.Errorf("line %d is taken for a request: %q", i+1, l)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %d ends in a space: %q", i+1, l)
		}
	}
	var again strings.Builder
	manProgram().Man(&again, testManInfo)
	if again.String() != page {
		t.Error("two pages differ")
	}
}

// isRequest reports whether l is one of the requests and macros Man
// writes.
func isRequest(l string) bool {
	name, _, _ := strings.Cut(l[1:], " ")
	switch name {
	case `\"`, "TH", "SH", "SS", "PP", "IP", "TP", "RS", "RE", "nf", "fi", "br", "BR":
		return true
	}
	return false
}

func TestExitCodes(t *testing.T) {
	consts := map[string]int{
		"ExitOK": ExitOK, "ExitFailure": ExitFailure, "ExitUsage": ExitUsage, "ExitCantLock": ExitCantLock,
		"ExitTempFail": ExitTempFail, "ExitTimeout": ExitTimeout, "ExitUnavailable": ExitUnavailable, "ExitLockLost": ExitLockLost, "ExitCantExec": ExitCantExec,
		"ExitNotFound": ExitNotFound, "ExitSignal": ExitSignal, "ExitNotInstalled": ExitNotInstalled,
		"StatusRunning": StatusRunning, "StatusDeadRecord": StatusDeadRecord,
		"StatusNotRunning": StatusNotRunning, "StatusUnknown": StatusUnknown,
	}
	seen := map[string]bool{}
	for _, e := range append(append([]ExitCode{}, ExitCodes...), StatusCodes...) {
		if c, ok := consts[e.Name]; !ok || c != e.Code {
			t.Errorf("%+v: the constant %s is %d", e, e.Name, c)
		}
		if e.Meaning == "" || seen[e.Name] {
			t.Errorf("%+v: no meaning, or twice", e)
		}
		seen[e.Name] = true
	}
	for n := range consts {
		if !seen[n] {
			t.Errorf("%s is in no table", n)
		}
	}
}

// TestManRenders renders the page with groff and man, which must print
// no warning.
func TestManRenders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog.1")
	if err := os.WriteFile(path, []byte(manPage(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := testenv.ManPage(t, path)
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"NAME prog - does things SYNOPSIS prog run [--name NAME | --lock PATH] [-q] -- COMMAND [ARGS...] prog status",
		"-q, --quiet say nothing: no line, no [brackets], no 'quotes' or \\ --scope system|user",
		"a quote. .TH or 'br are not requests here, \\fB is no font and \\- is no minus; a -- or -x or --long-option is an option, \"quoted\" is fine — and Ünïcödé.",
		"tricky --mode a ./file .hidden \\n tricky 'b' and the text goes on.",
		"EXIT STATUS 0 success 1 any other failure",
		"128+N the command was ended by signal N",
		"SEE ALSO flock(1), systemd.service(5), docs/cli.md",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("no %q in man's output:\n%s", want, out)
		}
	}
	// The blocks keep their lines and their indentation, and are
	// indented from the text around them.
	for _, tc := range []struct{ text, block, line string }{
		{"Indented lines are shown", "tricky --mode a ./file", ".hidden \\n"},
		{"Settings:", "key=value", "key=value"},
	} {
		text, block, line := indentOf(out, tc.text), indentOf(out, tc.block), indentOf(out, tc.line)
		if text < 0 || block != text+4 || line < block || (tc.line != tc.block && line != block+4) {
			t.Errorf("%q is indented %d, the block %q after it %d and %q %d:\n%s", tc.text, text, tc.block, block, tc.line, line, out)
		}
	}
}

// indentOf returns how far the first line of out that starts with text
// is indented, or -1.
func indentOf(out, text string) int {
	for _, l := range strings.Split(out, "\n") {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, text) {
			return len(l) - len(t)
		}
	}
	return -1
}
