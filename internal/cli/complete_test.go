package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

// compEnv makes the test binary act as compProgram, for the scripts'
// "prog __complete lock" (see shellEnv).
const compEnv = "SOLE_CLI_TEST_PROG"

func init() {
	if os.Getenv(compEnv) == "1" {
		os.Exit(compProgram().Main(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// testLocks are the lock names compProgram lists: two would run commands
// if a script evaluated them.
var testLocks = []string{"alpha", "backup", "beta.1", "$(touch${IFS}pwned)", "`touch pwned2`"}

// compProgram is a program with every kind of option and operand.
func compProgram() *Program {
	var s string
	var b bool
	var d time.Duration
	runFlags := func() *flag.FlagSet {
		fs := NewFlagSet("run")
		fs.StringVar(&s, "name", "", "lock `NAME`")
		fs.StringVar(&s, "lock", "", "lock file `PATH` instead of a name")
		fs.StringVar(&s, "scope", "", "where: `system|user`")
		fs.StringVar(&s, "chdir", "", "run in `DIR`")
		fs.DurationVar(&d, "timeout", 0, "give up after `DUR`")
		fs.BoolVar(&b, "quiet", false, "say nothing: no line, no [brackets], no 'quotes' or \\")
		Alias(fs, "q", "quiet")
		return fs
	}
	statusFlags := func() *flag.FlagSet {
		fs := NewFlagSet("status")
		fs.StringVar(&s, "lock", "", "lock file `PATH`")
		fs.StringVar(&s, "scope", "", "where: `system|user`")
		fs.BoolVar(&b, "json", false, "print JSON")
		Alias(fs, "s", "scope")
		return fs
	}
	startFlags := func() *flag.FlagSet {
		fs := NewFlagSet("start")
		fs.BoolVar(&b, "user", false, "a per-user service")
		return fs
	}
	run := func(c *Command, args []string, stdout, stderr io.Writer) int { return ExitOK }
	p := &Program{
		Name:    "prog",
		Summary: "prog does things.",
		Version: func() string { return "v1.2.3" },
		Commands: []*Command{
			{Name: "run", Usage: "run [--name NAME | --lock PATH] [-q] -- COMMAND [ARGS...]", Help: "Run COMMAND.", Flags: runFlags, Args: ArgCommand, Run: run},
			{Name: "status", Usage: "status [NAME] [--json]", Help: "Show a lock's holder.", Flags: statusFlags, Args: ArgLock, Run: run},
			{Name: "start", Usage: "start [--user] NAME", Help: "Start a service.", Flags: startFlags, Args: ArgService, Run: run},
			{Name: "package", Usage: "package deb|rpm|msi [ARGS...]", Help: "Build a package.", Args: "deb|rpm|msi", Run: run},
			{Name: "completion", Usage: "completion bash|zsh|fish", Help: "Print a completion script.", Args: "bash|zsh|fish", Run: func(c *Command, args []string, stdout, stderr io.Writer) int {
				if err := c.Program().Completion(args[0], stdout); err != nil {
					return c.UsageError(stderr, err.Error())
				}
				return ExitOK
			}},
			{Name: "secret", Hidden: true, Help: "Hidden.", Run: run},
			CompleteCommand(func(kind string) []string {
				if kind == NamesLock {
					return testLocks
				}
				return []string{"web", "worker", "", "bad\nname"}
			}),
		},
	}
	return p
}

func TestCompleteCommand(t *testing.T) {
	for name, tc := range map[string]struct {
		args         []string
		code         int
		stdout, errs string
	}{
		"locks":    {[]string{"__complete", "lock"}, ExitOK, strings.Join(testLocks, "\n") + "\n", ""},
		"services": {[]string{"__complete", "service"}, ExitOK, "web\nworker\n", ""},
		"no kind":  {[]string{"__complete"}, ExitUsage, "", "prog: __complete: want lock or service\n"},
		"bad kind": {[]string{"__complete", "user"}, ExitUsage, "", "want lock or service"},
		"two":      {[]string{"__complete", "lock", "lock"}, ExitUsage, "", "want lock or service"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := compProgram().Main(tc.args, &stdout, &stderr)
			if code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.errs) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.errs)
			}
		})
	}
	var stdout bytes.Buffer
	compProgram().Main([]string{"help"}, &stdout, io.Discard)
	if strings.Contains(stdout.String(), CompleteName) {
		t.Errorf("help lists %s:\n%s", CompleteName, stdout.String())
	}
}

func TestCompletionErrors(t *testing.T) {
	noop := func(c *Command, args []string, stdout, stderr io.Writer) int { return 0 }
	for name, tc := range map[string]struct {
		prog *Program
		want string
	}{
		"unknown shell": {compProgram(), `unknown shell "tcsh": want bash, zsh or fish`},
		"no __complete": {&Program{Name: "p", Commands: []*Command{{Name: "status", Args: ArgLock, Run: noop}}}, "no __complete command"},
		"bad word":      {&Program{Name: "p", Commands: []*Command{{Name: "x", Args: "a|$(b)", Run: noop}}}, `operand "$(b)" is not a plain word`},
		"bad kind":      {&Program{Name: "p", Commands: []*Command{{Name: "x", Args: "@file", Run: noop}}}, `unknown kind of operand "@file"`},
		"bad name":      {&Program{Name: "p q", Commands: nil}, `program name "p q" is not a plain word`},
		"bad command":   {&Program{Name: "p", Commands: []*Command{{Name: "a;b", Run: noop}}}, `command name "a;b" is not a plain word`},
		"bad choice": {&Program{Name: "p", Commands: []*Command{{Name: "x", Run: noop, Flags: func() *flag.FlagSet {
			fs := NewFlagSet("x")
			fs.String("mode", "", "`a|b c`")
			return fs
		}}}}, `choice "b c" is not a plain word`},
	} {
		t.Run(name, func(t *testing.T) {
			shell := "bash"
			if name == "unknown shell" {
				shell = "tcsh"
			}
			var b strings.Builder
			err := tc.prog.Completion(shell, &b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one with %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %q on error", b.String())
			}
		})
	}
}

// TestCompletionScripts checks what the scripts hold; TestCompletion*Shell
// check what they do.
func TestCompletionScripts(t *testing.T) {
	for name, tc := range map[string]struct {
		shell    string
		want     []string
		not      []string
		function string
	}{
		"bash": {"bash", []string{"complete -F _prog prog\n", "opts=(--chdir --lock --name -q --quiet --scope --timeout --)", "-scope | --scope)\n\t\t\t__prog_add \"$3\" system user", "words=(deb rpm msi)", "words=(run status start package completion help)"}, []string{"secret", "eval ", "compgen -W"}, "_prog"},
		"zsh":  {"zsh", []string{"#compdef prog\n", "'--scope=[where\\: system|user]:system|user:(system user)'", "'(-q --quiet)-q[say nothing\\: no line, no \\[brackets\\], no '\\''quotes'\\'' or \\\\]'", "'*:lock name:__prog_names lock'", "'*:service name:__prog_names service'", "'(-)1:command:_command_names -e'", "'*::arguments:_normal'", "'1:argument:(deb rpm msi)'", "compdef _prog prog"}, []string{"secret", "eval ", "_call_program"}, "_prog"},
		"fish": {"fish", []string{"complete -c prog -f\n", "-l scope -x -a 'system user'", "-s q -l quiet", "-l lock -r -F", "-l chdir -x -a '(__fish_complete_directories", "-n '__prog_arg status' -x -a '(__prog_names lock)'", "-n '__prog_arg package 0' -x -a 'deb rpm msi'", "__fish_complete_subcommand", "no \\'quotes\\' or \\\\"}, []string{"secret", "eval "}, "__prog_state"},
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := compProgram().Completion(tc.shell, &b); err != nil {
				t.Fatal(err)
			}
			s := b.String()
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("no %q in the script:\n%s", w, s)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(s, w) {
					t.Errorf("%q in the script", w)
				}
			}
			var again strings.Builder
			compProgram().Completion(tc.shell, &again)
			if again.String() != s {
				t.Error("two scripts differ")
			}
		})
	}
}

// A compCase is a command line completed at its end, and what it must
// offer. Results are compared without a trailing "/" and, for a word with
// an "=", without what comes up to it.
type compCase struct {
	line   string
	want   []string // offered, and with exact nothing else
	not    []string // not offered
	exact  bool
	source bool // zsh: source the script instead of autoloading it
}

func compCases() map[string]compCase {
	return map[string]compCase{
		"commands":         {line: "prog ", want: []string{"run", "status", "start", "package", "completion", "help"}, exact: true},
		"command prefix":   {line: "prog st", want: []string{"start", "status"}, exact: true},
		"hidden":           {line: "prog se", exact: true},
		"top options":      {line: "prog --", want: []string{"--help", "--version"}, exact: true},
		"long options":     {line: "prog run --", want: []string{"--name", "--lock", "--scope", "--chdir", "--timeout", "--quiet"}, not: []string{"--json", "--user", "--help"}},
		"short alias":      {line: "prog run -", want: []string{"-q", "--quiet"}, not: []string{"-json"}},
		"choices":          {line: "prog run --scope ", want: []string{"system", "user"}, exact: true},
		"choices =":        {line: "prog run --scope=", want: []string{"system", "user"}, exact: true},
		"choice prefix =":  {line: "prog run --scope=u", want: []string{"user"}, exact: true},
		"alias choices":    {line: "prog status -s s", want: []string{"system"}, exact: true},
		"one-dash choices": {line: "prog status -scope s", want: []string{"system"}, exact: true},
		"path":             {line: "prog run --lock ", want: []string{"a.pid", "b.txt", "sub"}, exact: true},
		"path prefix":      {line: "prog status --lock a", want: []string{"a.pid"}, exact: true},
		"dir":              {line: "prog run --chdir ", want: []string{"sub"}, exact: true},
		"duration":         {line: "prog run --timeout ", exact: true},
		"name":             {line: "prog run --name ", exact: true},
		"after --":         {line: "prog run -- ech", want: []string{"echo"}, not: []string{"--name"}},
		"command's args":   {line: "prog run -q -- ls --al", want: []string{"--all"}, not: []string{"--quiet"}},
		"without --":       {line: "prog run --quiet ech", want: []string{"echo"}},
		"value, command":   {line: "prog run --name x --scope=user ls --al", want: []string{"--all"}, not: []string{"--name"}},
		"locks":            {line: "prog status ", want: testLocks, exact: true},
		"lock prefix":      {line: "prog status b", want: []string{"backup", "beta.1"}, exact: true},
		"options after":    {line: "prog status backup --", want: []string{"--json", "--scope", "--lock"}, not: []string{"--name", "--quiet"}},
		"lock after value": {line: "prog status --scope user a", want: []string{"alpha"}, exact: true},
		"operand after --": {line: "prog status -- -", exact: true},
		"services":         {line: "prog start w", want: []string{"web", "worker"}, exact: true},
		"words":            {line: "prog package ", want: []string{"deb", "rpm", "msi"}, exact: true},
		"word prefix":      {line: "prog package r", want: []string{"rpm"}, exact: true},
		"second word":      {line: "prog package deb ", exact: true},
		"shells":           {line: "prog completion ", want: []string{"bash", "zsh", "fish"}, exact: true},
		"help":             {line: "prog help st", want: []string{"start", "status"}, exact: true},
		"unknown command":  {line: "prog nope ", exact: true},
	}
}

// check compares the completions got for tc, normalized, with tc.
func (tc compCase) check(t *testing.T, got []string) {
	t.Helper()
	words := strings.Split(tc.line, " ")
	last := words[len(words)-1]
	var norm []string
	for _, g := range got {
		if g == "" {
			continue
		}
		if i := strings.LastIndex(last, "="); i >= 0 {
			g = strings.TrimPrefix(g, last[:i+1])
		}
		if len(g) > 1 {
			g = strings.TrimSuffix(g, "/")
		}
		if !slices.Contains(norm, g) {
			norm = append(norm, g)
		}
	}
	slices.Sort(norm)
	for _, w := range tc.want {
		if !slices.Contains(norm, w) {
			t.Errorf("%q: %q not offered; got %q", tc.line, w, norm)
		}
	}
	for _, w := range tc.not {
		if slices.Contains(norm, w) {
			t.Errorf("%q: %q offered; got %q", tc.line, w, norm)
		}
	}
	if tc.exact {
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(norm, want) {
			t.Errorf("%q: got %q; want exactly %q", tc.line, norm, want)
		}
	}
}

// needShell returns the path of shell (the Debian package of that name):
// it skips the test when it is not installed, and fails it then under
// CI=true.
func needShell(t *testing.T, shell string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the completion scripts are for Unix shells")
	}
	return testenv.NeedTool(t, shell, shell)
}

// shellEnv sets up a directory for a shell to complete in: dir holds the
// files a.pid, b.txt and sub/, bin/prog is this test binary acting as
// compProgram, and the environment keeps the user's configuration out.
func shellEnv(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"a.pid", "b.txt", "sub/c"} {
		p := filepath.Join(dir, "work", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(bin, "prog")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"TERM=dumb",
		"LC_ALL=C.UTF-8",
		compEnv + "=1",
	}
	return filepath.Join(dir, "work"), env
}

// writeScript writes compProgram's script for shell to dir/name.
func writeScript(t *testing.T, shell, dir, name string) string {
	t.Helper()
	var b strings.Builder
	if err := compProgram().Completion(shell, &b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runShell runs a shell command in dir and returns its output; it fails
// the test on a non-zero exit or any output on stderr.
func runShell(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// testdataPath is the absolute path of testdata/name.
func testdataPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noPwned checks that no script ran a command of a lock's name.
func noPwned(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists: a script evaluated a name", f)
		}
	}
}

// bashWords splits a command line as bash does for COMP_WORDS with the
// default COMP_WORDBREAKS: at blanks, and "=" a word of its own.
func bashWords(line string) []string {
	var words []string
	for _, f := range strings.Split(line, " ") {
		for {
			i := strings.Index(f, "=")
			if i < 0 {
				break
			}
			if i > 0 {
				words = append(words, f[:i])
			}
			words = append(words, "=")
			f = f[i+1:]
		}
		if f != "" || len(words) == 0 || words[len(words)-1] != "=" {
			words = append(words, f)
		}
	}
	return words
}

func TestBashWords(t *testing.T) {
	for line, want := range map[string][]string{
		"prog ":               {"prog", ""},
		"prog run --scope=":   {"prog", "run", "--scope", "="},
		"prog run --scope=u":  {"prog", "run", "--scope", "=", "u"},
		"prog run a=b c":      {"prog", "run", "a", "=", "b", "c"},
		"prog run --x=y --z=": {"prog", "run", "--x", "=", "y", "--z", "="},
	} {
		if got := bashWords(line); !slices.Equal(got, want) {
			t.Errorf("%q: %q; want %q", line, got, want)
		}
	}
}

// TestCompletionBash runs bash on the script, with bash-completion's
// library (which the script uses for file names and the command line of
// ArgCommand) and without it (the script's own fallbacks), calling the
// completion function as readline would (testdata/complete-bash.sh).
func TestCompletionBash(t *testing.T) {
	needShell(t, "bash")
	driver := testdataPath(t, "complete-bash.sh")
	for _, lib := range []string{"yes", "no"} {
		t.Run("bash-completion-"+lib, func(t *testing.T) {
			if lib == "yes" {
				_, err := os.Stat("/usr/share/bash-completion/bash_completion")
				testenv.Need(t, err == nil, "bash-completion's library not found (Debian package bash-completion): %v", err)
			}
			dir, env := shellEnv(t)
			script := writeScript(t, "bash", t.TempDir(), "prog.bash")
			env = append(env, "SCRIPT="+script, "BASH_COMPLETION="+lib)
			cases := compCases()
			cases["typed path"] = compCase{line: filepath.Join(filepath.Dir(dir), "bin", "prog") + " status b", want: []string{"backup", "beta.1"}, exact: true}
			if lib == "no" {
				// No command completion to hand the command's own
				// arguments to: they are file names.
				cases["command's args"] = compCase{line: "prog run -q -- ls a", want: []string{"a.pid"}, exact: true}
				cases["value, command"] = compCase{line: "prog run --name x --scope=user ls ", want: []string{"a.pid", "b.txt", "sub"}, exact: true}
			}
			if lib == "yes" {
				t.Run("shellcheck", func(t *testing.T) {
					if _, err := exec.LookPath("shellcheck"); err != nil {
						t.Skip("shellcheck is not installed")
					}
					runShell(t, dir, env, "shellcheck", "--shell=bash", script, driver)
				})
			}
			for name, tc := range cases {
				t.Run(name, func(t *testing.T) {
					e := append(slices.Clone(env), "LINE="+tc.line)
					out := runShell(t, dir, e, "bash", append([]string{"--norc", "--noprofile", driver}, bashWords(tc.line)...)...)
					tc.check(t, strings.Split(out, "\n"))
				})
			}
			noPwned(t, dir)
		})
	}
}

// TestCompletionZsh drives a real interactive zsh: compinit, the script
// autoloaded from $fpath, and Tab (testdata/complete-zsh.zsh).
func TestCompletionZsh(t *testing.T) {
	needShell(t, "zsh")
	driver := testdataPath(t, "complete-zsh.zsh")
	dir, env := shellEnv(t)
	fpathDir := t.TempDir()
	script := writeScript(t, "zsh", fpathDir, "_prog")
	cases := compCases()
	// _arguments knows the options by the names the help gives them.
	delete(cases, "one-dash choices")
	// The script sourced rather than autoloaded (source <(prog completion
	// zsh)) registers itself with compdef.
	for _, name := range []string{"commands", "locks", "choices =", "after --"} {
		tc := cases[name]
		tc.source = true
		cases[name+", sourced"] = tc
	}
	// compinit's dump files, written once: without one, compinit takes
	// half a second.
	dumps := t.TempDir()
	srcDir := t.TempDir()
	for _, d := range []string{fpathDir, srcDir} {
		runShell(t, dir, append(slices.Clone(env), "FPATH_DIR="+d, "ZDUMP="+filepath.Join(dumps, filepath.Base(d))), "zsh", "-f", "-c", `fpath=($FPATH_DIR $fpath); autoload -Uz compinit && compinit -u -d $ZDUMP`)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			e := append(slices.Clone(env), "LINE="+tc.line, "OUT="+filepath.Join(tmp, "out"), "SETUP="+filepath.Join(tmp, "setup.zsh"))
			fp, source := fpathDir, ""
			if tc.source {
				fp, source = srcDir, script
			}
			e = append(e, "FPATH_DIR="+fp, "SOURCE="+source, "ZDUMP="+filepath.Join(dumps, filepath.Base(fp)))
			out := runShell(t, work, e, "zsh", "-f", driver)
			got, term, _ := strings.Cut(out, "--- terminal\n")
			if strings.Contains(term, "_arguments:") || strings.Contains(term, "_prog:") || strings.Contains(term, "__prog_names:") || strings.Contains(term, "command not found") || strings.Contains(term, "parse error") {
				t.Errorf("zsh printed an error:\n%s", term)
			}
			tc.check(t, strings.Split(got, "\n"))
			noPwned(t, work)
		})
	}
}

// TestCompletionFish runs fish's own "complete -C" on each line, with the
// script sourced.
func TestCompletionFish(t *testing.T) {
	needShell(t, "fish")
	dir, env := shellEnv(t)
	script := writeScript(t, "fish", t.TempDir(), "prog.fish")
	cases := compCases()
	// fish knows the options by the names the help gives them.
	delete(cases, "one-dash choices")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := append(slices.Clone(env), "LINE="+tc.line, "SCRIPT="+script)
			out := runShell(t, dir, e, "fish", "-c", `source $SCRIPT; complete -C"$LINE"`)
			var got []string
			for _, l := range strings.Split(out, "\n") {
				w, _, _ := strings.Cut(l, "\t")
				got = append(got, w)
			}
			tc.check(t, got)
		})
	}
	noPwned(t, dir)
}
