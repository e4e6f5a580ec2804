package cli

import (
	"bytes"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func testProgram() *Program {
	var quiet bool
	var dur string
	flags := func() *flag.FlagSet {
		fs := NewFlagSet("go")
		fs.BoolVar(&quiet, "quiet", false, "say nothing")
		fs.StringVar(&dur, "scope", "", "where: `system|user`")
		Alias(fs, "q", "quiet")
		return fs
	}
	run := func(c *Command, args []string, stdout, stderr io.Writer) int {
		fs := flags()
		names, code, ok := c.ParseInterspersed(fs, args, stdout, stderr)
		if !ok {
			return code
		}
		if len(names) > 1 {
			return c.UsageError(stderr, "too many arguments")
		}
		io.WriteString(stdout, strings.Join(names, ",")+" quiet="+map[bool]string{true: "y", false: "n"}[quiet]+"\n")
		return ExitOK
	}
	return &Program{
		Name:    "prog",
		Summary: "prog does things.",
		Version: func() string { return "v1.2.3" },
		Commands: []*Command{
			{Name: "go", Usage: "go [NAME] [-q]", Help: "Go somewhere.\n\nMore words.", Flags: flags, Args: ArgLock, Run: run},
			{Name: "secret", Hidden: true, Help: "Hidden.", Run: run},
		},
	}
}

func TestMain(t *testing.T) {
	for name, tc := range map[string]struct {
		args         []string
		code         int
		stdout, errs string
	}{
		"no args":          {nil, ExitUsage, "", "Commands:"},
		"help":             {[]string{"help"}, ExitOK, "  go         Go somewhere.\n", ""},
		"--help":           {[]string{"--help"}, ExitOK, "Commands:", ""},
		"hidden not shown": {[]string{"help"}, ExitOK, "help       Show help for prog", ""},
		"help cmd":         {[]string{"help", "go"}, ExitOK, "  -q, --quiet\n        say nothing\n", ""},
		"cmd --help":       {[]string{"go", "--help"}, ExitOK, "Usage: prog go [NAME] [-q]", ""},
		"cmd -h":           {[]string{"go", "x", "-h"}, ExitOK, "Usage: prog go", ""},
		"help unknown":     {[]string{"help", "nope"}, ExitUsage, "", "prog: unknown command \"nope\"\nRun 'prog help' for usage.\n"},
		"help two":         {[]string{"help", "a", "b"}, ExitUsage, "", "help takes at most one command"},
		"help help":        {[]string{"help", "help"}, ExitOK, "Usage: prog help [COMMAND]", ""},
		"version":          {[]string{"-V"}, ExitOK, "prog v1.2.3\n", ""},
		"--version":        {[]string{"--version"}, ExitOK, "prog v1.2.3\n", ""},
		"unknown":          {[]string{"nope"}, ExitUsage, "", "prog: unknown command \"nope\"\n"},
		"unknown option":   {[]string{"--json"}, ExitUsage, "", "prog: unknown option --json: options come after the command\n"},
		"interspersed":     {[]string{"go", "a", "-q"}, ExitOK, "a quiet=y\n", ""},
		"long alias":       {[]string{"go", "--quiet", "a"}, ExitOK, "a quiet=y\n", ""},
		"after --":         {[]string{"go", "--", "-q"}, ExitOK, "-q quiet=n\n", ""},
		"bad option":       {[]string{"go", "--nope"}, ExitUsage, "", "prog: go: unknown option --nope\nRun 'prog help go' for usage.\n"},
		"usage error":      {[]string{"go", "a", "b"}, ExitUsage, "", "prog: go: too many arguments\nRun 'prog help go' for usage.\n"},
		"hidden runs":      {[]string{"secret", "z"}, ExitOK, "z quiet=n\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := testProgram().Main(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.errs) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.errs)
			}
			if strings.Contains(stdout.String(), "secret") {
				t.Errorf("hidden command listed: %q", stdout.String())
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"unknown long":      {[]string{"--nope"}, "unknown option --nope"},
		"unknown one dash":  {[]string{"-nope"}, "unknown option --nope"},
		"unknown short":     {[]string{"-w", "5"}, "unknown option -w"},
		"no value":          {[]string{"--dur"}, "--dur needs a value"},
		"bad duration":      {[]string{"--dur", "10"}, `--dur "10": a duration needs a unit, e.g. 10s, 10ms or 10m`},
		"negative duration": {[]string{"--dur=-1s"}, `--dur "-1s": must not be negative`},
		"garbage duration":  {[]string{"--dur", "soon"}, `--dur "soon": want a duration such as 30s, 1m30s or 500ms`},
		"value with for":    {[]string{"--dur", "x for flag -y: z"}, `--dur "x for flag -y: z": want a duration`},
		"newline in value":  {[]string{"--dur", "1\n2"}, `--dur "1\n2": want a duration`},
		"bool with value":   {[]string{"--quiet=maybe"}, `--quiet="maybe": want true or false (or no value)`},
		"short bool value":  {[]string{"-q=2"}, `-q="2": want true or false (or no value)`},
		"bad syntax":        {[]string{"---x"}, "bad flag syntax: ---x"},
	} {
		t.Run(name, func(t *testing.T) {
			var d time.Duration
			var q bool
			fs := NewFlagSet("x")
			fs.Var(Duration(&d), "dur", "a `DUR`")
			fs.BoolVar(&q, "quiet", false, "quiet")
			Alias(fs, "q", "quiet")
			p := &Program{Name: "prog", Commands: []*Command{{Name: "x", Run: func(c *Command, args []string, stdout, stderr io.Writer) int {
				code, _ := c.Parse(fs, args, stdout, stderr)
				return code
			}}}}
			var stderr bytes.Buffer
			code := p.Main(append([]string{"x"}, c.args...), io.Discard, &stderr)
			line, _, _ := strings.Cut(stderr.String(), "\n")
			if code != ExitUsage || !strings.HasPrefix(line, "prog: x: "+c.want) {
				t.Errorf("exit %d, line %q; want %d and %q", code, line, ExitUsage, "prog: x: "+c.want)
			}
			if strings.Count(stderr.String(), "\n") != 2 {
				t.Errorf("not one line and a hint: %q", stderr.String())
			}
		})
	}
}

func TestGiven(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"none":  {nil, ""},
		"long":  {[]string{"--quiet"}, "quiet"},
		"alias": {[]string{"-q"}, "quiet"},
		"both":  {[]string{"-q", "--scope", "user"}, "quiet scope"},
	} {
		t.Run(name, func(t *testing.T) {
			fs := testProgram().Commands[0].Flags()
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := range Given(fs) {
				got = append(got, n)
			}
			slices.Sort(got)
			if strings.Join(got, " ") != c.want {
				t.Errorf("Given = %v, want %q", got, c.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	opts := Options(testProgram().Commands[0].Flags())
	if len(opts) != 2 {
		t.Fatalf("options %+v", opts)
	}
	q, s := opts[0], opts[1]
	if q.Synopsis() != "-q, --quiet" || q.Arg != "" {
		t.Errorf("quiet: %+v %q", q, q.Synopsis())
	}
	if s.Synopsis() != "--scope system|user" || strings.Join(s.Choices, ",") != "system,user" {
		t.Errorf("scope: %+v %q", s, s.Synopsis())
	}
}

func TestSince(t *testing.T) {
	now := time.Now()
	tests := map[string]struct {
		t    time.Time
		want string
	}{
		"today":   {now, now.Format("15:04:05")},
		"earlier": {time.Date(2020, 2, 29, 23, 59, 58, 0, time.Local), "2020-02-29 23:59:58"},
		"zero":    {time.Time{}, "unknown time"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Since(tt.t); got != tt.want {
				t.Fatalf("Since = %q, want %q", got, tt.want)
			}
		})
	}
}
