package envfile

// Case is an environment file and how it reads: Want, or the error Err.
// Cases is the table that the envfile tests and internal/e2e's comparison
// with systemd's own EnvironmentFile= reading share.
type Case struct {
	Name string
	Text string
	Want []string
	Err  string
}

// Cases are environment files, from the plain to the tricky; systemd
// reads each accepted one the same way (TestEnvFileAgreesWithSystemd).
var Cases = []Case{
	{Name: "empty", Text: "", Want: nil},
	{Name: "plain", Text: "A=1\nB=2\n", Want: []string{"A=1", "B=2"}},
	{Name: "no final newline", Text: "A=1", Want: []string{"A=1"}},
	{Name: "comments and blanks", Text: "# c\n; c\n\n   \n  # indented\nA=1\n", Want: []string{"A=1"}},
	{Name: "spaces around", Text: "  A  =  one two  \n", Want: []string{"A=one two"}},
	{Name: "empty value", Text: "A=\n", Want: []string{"A="}},
	{Name: "equals in value", Text: "A=b=c\n", Want: []string{"A=b=c"}},
	{Name: "double quotes", Text: `A="two  words"` + "\n", Want: []string{"A=two  words"}},
	{Name: "double-quote escapes", Text: `A="q\" b\\ d\$ t\` + "`" + `"` + "\n", Want: []string{"A=q\" b\\ d$ t`"}},
	{Name: "other backslash in double quotes", Text: `A="x\n"` + "\n", Want: []string{`A=x\n`}},
	{Name: "single quotes", Text: `A='$HOME \ "x"'` + "\n", Want: []string{`A=$HOME \ "x"`}},
	{Name: "multi-line double quotes", Text: "A=\"one\ntwo\"\nB=3\n", Want: []string{"A=one\ntwo", "B=3"}},
	{Name: "unquoted escape", Text: `A=a\ b\\c` + "\n", Want: []string{`A=a b\c`}},
	{Name: "continuation", Text: "A=one \\\ntwo\n", Want: []string{"A=one two"}},
	{Name: "dollar not expanded", Text: "A=$HOME ${B}\n", Want: []string{"A=$HOME ${B}"}},
	{Name: "later wins", Text: "A=1\nA=2\n", Want: []string{"A=1", "A=2"}},
	{Name: "crlf", Text: "A=1\r\nB=2\r\n", Want: []string{"A=1", "B=2"}},
	{Name: "unicode", Text: "A=ünï 🎉\n", Want: []string{"A=ünï 🎉"}},
	{Name: "hash in value", Text: "A=x#y\n", Want: []string{"A=x#y"}},
	{Name: "underscore name", Text: "_A1=x\n", Want: []string{"_A1=x"}},

	{Name: "export", Text: "export A=1\n", Err: "line 1: want KEY=VALUE"},
	{Name: "no equals", Text: "A=1\nJUSTTEXT\n", Err: "line 2: want KEY=VALUE"},
	{Name: "digit first", Text: "1A=x\n", Err: `line 1: "1A" is not a valid variable name (want a letter or '_', then letters, digits or '_')`},
	{Name: "dash in name", Text: "A-B=x\n", Err: `line 1: "A-B" is not a valid variable name (want a letter or '_', then letters, digits or '_')`},
	{Name: "empty name", Text: "=x\n", Err: `line 1: "" is not a valid variable name (want a letter or '_', then letters, digits or '_')`},
	{Name: "open double quote", Text: "A=\"x\n", Err: "line 1: a double quote is not closed"},
	{Name: "open single quote", Text: "A='x\n", Err: "line 1: a single quote is not closed"},
	{Name: "text after quotes", Text: `A="x" y` + "\n", Err: "line 1: text after a quoted value"},
	{Name: "invalid utf-8", Text: "A=1\nB=\xff\n", Err: "line 2: not valid UTF-8"},
	{Name: "nul", Text: "A=x\x00y\n", Err: "line 1: a value cannot hold a NUL byte"},
}
