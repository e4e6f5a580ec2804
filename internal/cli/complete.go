package cli

import (
	"fmt"
	"io"
	"strings"
)

// Shell completion: Completion writes a bash, zsh or fish script from the
// command table; the scripts run the hidden command CompleteCommand
// returns to list the names that change (locks, installed services). The
// scripts are built with strings.Builder, not text/template, which would
// switch off the linker's dead-code elimination for every program that
// links this package.

// CompleteName is the name of the hidden command the completion scripts
// run: "PROG __complete lock" prints the lock names, one a line.
const CompleteName = "__complete"

// The kinds of names "PROG __complete KIND" lists.
const (
	NamesLock    = "lock"    // the lock names, for ArgLock operands
	NamesService = "service" // the installed services' names, for ArgService operands
)

// CompleteCommand returns the hidden command "__complete" that the
// completion scripts run to list names. names returns the names of kind
// NamesLock or NamesService (it is never called with another kind); each
// is printed on a line of its own, and names that are empty or hold a line
// break are left out. It should be cheap and change nothing: it runs at
// every press of Tab.
func CompleteCommand(names func(kind string) []string) *Command {
	return &Command{
		Name:   CompleteName,
		Usage:  CompleteName + " " + NamesLock + "|" + NamesService,
		Help:   "Print the lock names or the installed services' names, one a line, for the shell completion.",
		Args:   NamesLock + "|" + NamesService,
		Hidden: true,
		Run: func(c *Command, args []string, stdout, stderr io.Writer) int {
			if len(args) != 1 || (args[0] != NamesLock && args[0] != NamesService) {
				return c.UsageError(stderr, "want "+NamesLock+" or "+NamesService)
			}
			var b strings.Builder
			for _, n := range names(args[0]) {
				if n != "" && !strings.ContainsAny(n, "\n\r") {
					b.WriteString(n)
					b.WriteByte('\n')
				}
			}
			io.WriteString(stdout, b.String())
			return ExitOK
		},
	}
}

// Shells lists the shells Completion writes scripts for.
var Shells = []string{"bash", "zsh", "fish"}

// Completion writes the completion script of the program for shell:
// "bash", "zsh" or "fish". The script completes the commands (not the
// hidden ones), each command's options (with their aliases) and their
// values (an option's Choices; file names for an operand called PATH,
// FILE or DIR; nothing for the others), and the operands by the command's
// Args: lock and service names (from "PROG __complete"), the literal
// words, or, for ArgCommand, the command line to run, completed as the
// shell completes it on its own.
func (p *Program) Completion(shell string, w io.Writer) error {
	cmds, err := p.completionTable()
	if err != nil {
		return err
	}
	var b strings.Builder
	switch shell {
	case "bash":
		p.bash(&b, cmds)
	case "zsh":
		p.zsh(&b, cmds)
	case "fish":
		p.fish(&b, cmds)
	default:
		return fmt.Errorf("unknown shell %q: want bash, zsh or fish", shell)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// The kinds of operands of a compCmd: the Arg constants, or argWords.
const argWords = "@words"

// The kinds of option values.
const (
	valNone    = iota // a boolean option
	valText           // a value the shell cannot know: a name, a duration
	valChoices        // one of the option's Choices
	valFile           // a file name
	valDir            // a directory name
)

type compOpt struct {
	aliases []string // without the dash: "q"
	name    string   // "quiet"
	arg     string   // "DUR", "" for a boolean
	value   int
	choices []string
	usage   string // on one line
}

// spellings are the option's names as completed: "-q", "--quiet".
func (o compOpt) spellings() []string {
	var s []string
	for _, a := range o.aliases {
		s = append(s, "-"+a)
	}
	return append(s, "--"+o.name)
}

// dashes are every way the option can be written: the flag package takes
// one dash or two for each name.
func (o compOpt) dashes() []string {
	var s []string
	for _, n := range append(append([]string{}, o.aliases...), o.name) {
		s = append(s, "-"+n, "--"+n)
	}
	return s
}

type compCmd struct {
	name  string
	short string
	opts  []compOpt
	args  string   // ArgNone, ArgLock, ArgService, ArgCommand or argWords
	words []string // the literal operands, for argWords
}

// needsNames reports whether the command's operands come from
// "PROG __complete".
func (c compCmd) needsNames() bool { return c.args == ArgLock || c.args == ArgService }

// completionTable is the command table as the scripts see it: the
// visible commands and "help", with every word checked to be one the
// scripts can hold without quoting.
func (p *Program) completionTable() ([]compCmd, error) {
	if !safeWord(p.Name) {
		return nil, fmt.Errorf("completion: program name %q is not a plain word", p.Name)
	}
	var cmds []compCmd
	var names []string
	for _, c := range p.Commands {
		if c.Hidden || c.Name == "help" {
			continue
		}
		cc, err := completionCommand(c)
		if err != nil {
			return nil, fmt.Errorf("completion: %s: %w", c.Name, err)
		}
		if cc.needsNames() && !hasCompleteCommand(p) {
			return nil, fmt.Errorf("completion: %s: its operands are %s names, but the program has no %s command (cli.CompleteCommand)", c.Name, strings.TrimPrefix(c.Args, "@"), CompleteName)
		}
		cmds = append(cmds, cc)
		names = append(names, c.Name)
	}
	names = append(names, "help")
	cmds = append(cmds, compCmd{
		name:  "help",
		short: "Show help for " + p.Name + " or for one command.",
		args:  argWords,
		words: names,
	})
	return cmds, nil
}

func hasCompleteCommand(p *Program) bool {
	for _, c := range p.Commands {
		if c.Name == CompleteName {
			return true
		}
	}
	return false
}

func completionCommand(c *Command) (compCmd, error) {
	cc := compCmd{name: c.Name, short: oneLine(c.ShortHelp()), args: c.Args}
	if !safeWord(c.Name) {
		return cc, fmt.Errorf("command name %q is not a plain word", c.Name)
	}
	switch c.Args {
	case ArgNone, ArgLock, ArgService, ArgCommand:
	default:
		if strings.HasPrefix(c.Args, "@") {
			return cc, fmt.Errorf("unknown kind of operand %q", c.Args)
		}
		cc.args = argWords
		cc.words = strings.Split(c.Args, "|")
		for _, w := range cc.words {
			if !safeWord(w) {
				return cc, fmt.Errorf("operand %q is not a plain word", w)
			}
		}
	}
	if c.Flags == nil {
		return cc, nil
	}
	for _, o := range Options(c.Flags()) {
		co := compOpt{aliases: o.Aliases, name: o.Name, arg: o.Arg, usage: oneLine(o.Usage)}
		for _, n := range append(append([]string{}, o.Aliases...), o.Name) {
			if !safeWord(n) {
				return cc, fmt.Errorf("option name %q is not a plain word", n)
			}
		}
		switch {
		case o.Arg == "":
			co.value = valNone
		case len(o.Choices) > 0:
			co.value = valChoices
			co.choices = o.Choices
			for _, w := range o.Choices {
				if !safeWord(w) {
					return cc, fmt.Errorf("--%s: choice %q is not a plain word", o.Name, w)
				}
			}
		case strings.HasSuffix(o.Arg, "DIR"):
			co.value = valDir
		case strings.HasSuffix(o.Arg, "PATH"), strings.HasSuffix(o.Arg, "FILE"):
			co.value = valFile
		default:
			co.value = valText
		}
		cc.opts = append(cc.opts, co)
	}
	return cc, nil
}

// safeWord reports whether s can stand unquoted in every script: letters,
// digits and ._+- , not starting with a dash.
func safeWord(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// oneLine joins the lines of s and collapses its runs of white space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ident is s as part of a shell function name.
func ident(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// --- bash ---

// bashLib is the fixed part of the bash script. @P@ is the program's name,
// @F@ the prefix of the helper functions.
const bashLib = `# @F@_add CUR WORD...: offers each WORD that starts with CUR.
@F@_add() {
	local cur=$1 w
	shift
	for w in "$@"; do
		if [[ $w == "$cur"* ]]; then
			COMPREPLY+=("$w")
		fi
	done
}

# @F@_names KIND CUR: offers the names of KIND (lock, service) that start
# with CUR, as "@P@ __complete KIND" lists them. Nothing is evaluated.
@F@_names() {
	local exe=${COMP_WORDS[0]-} w
	if [[ $exe != */* || ! -x $exe ]]; then
		exe=@P@
	fi
	while IFS= read -r w; do
		if [[ -n $w && $w == "$2"* ]]; then
			COMPREPLY+=("$w")
		fi
	done < <(command "$exe" __complete "$1" 2>/dev/null)
}

# @F@_files CUR [-d]: offers file names (directory names with -d).
@F@_files() {
	local cur=$1 w
	if declare -F _filedir >/dev/null; then
		if [[ ${2-} == -d ]]; then
			_filedir -d
		else
			_filedir
		fi
		return 0
	fi
	compopt -o filenames 2>/dev/null || true
	while IFS= read -r w; do
		COMPREPLY+=("$w")
	done < <(compgen "${2:--f}" -- "$cur")
}

# @F@_command I CUR: completes the command line that starts at word I as
# bash completes a command line.
@F@_command() {
	local w
	if declare -F _command_offset >/dev/null; then
		_command_offset "$1"
	elif [[ $1 == "$COMP_CWORD" ]]; then
		while IFS= read -r w; do
			COMPREPLY+=("$w")
		done < <(compgen -c -- "$2")
	else
		@F@_files "$2"
	fi
}
`

// bashMain is the completion function; @CASES@ sets, for the command in
// $cmd, its options (opts), the kind of its operands and its words.
const bashMain = `
_@I@() {
	local cur=${COMP_WORDS[COMP_CWORD]-} cword=${COMP_CWORD-0}
	local cmd=${COMP_WORDS[1]-} kind='' opt='' dashdash='' start='' nargs=0 i w
	local -a opts=() words=()
	COMPREPLY=()
	if [[ $cword -lt 2 ]]; then
		if [[ $cur == -* ]]; then
			@F@_add "$cur" @TOPOPTS@
		else
			@F@_add "$cur" @COMMANDS@
		fi
		return 0
	fi
	case $cmd in
@CASES@	*)
		return 0
		;;
	esac
	for ((i = 2; i < cword; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $dashdash && $w == = ]]; then
			# --opt=value, split at the "=" (COMP_WORDBREAKS): skip the value
			i=$((i + 1))
			continue
		fi
		if [[ -n $dashdash || $w != -* || $w == - ]]; then
			if [[ $kind == cmdline ]]; then
				start=$i
				break
			fi
			nargs=$((nargs + 1))
		elif [[ $w == -- ]]; then
			dashdash=1
		elif @F@_takes_value "$cmd" "$w"; then
			i=$((i + 1))
			if [[ $i -lt $cword && ${COMP_WORDS[i]-} == = ]]; then
				i=$((i + 1))
			fi
			if [[ $i -eq $cword ]]; then
				opt=$w
			fi
		fi
	done
	if [[ -n $opt ]]; then
		if [[ $cur == = ]]; then
			cur=
		fi
		@F@_value "$cmd" "$opt" "$cur"
		return 0
	fi
	if [[ $kind == cmdline ]]; then
		if [[ -n $start ]]; then
			@F@_command "$start" "$cur"
			return 0
		fi
		if [[ -n $dashdash || ( -n $cur && $cur != -* ) ]]; then
			@F@_command "$cword" "$cur"
			return 0
		fi
	fi
	if [[ -z $dashdash && $cur == -* ]]; then
		@F@_add "$cur" ${opts[@]+"${opts[@]}"}
		return 0
	fi
	case $kind in
	lock)
		@F@_names lock "$cur"
		;;
	service)
		@F@_names service "$cur"
		;;
	words)
		if [[ $nargs -eq 0 ]]; then
			@F@_add "$cur" ${words[@]+"${words[@]}"}
		fi
		;;
	esac
	if [[ ${#COMPREPLY[@]} -eq 0 && -z $cur && -z $dashdash ]]; then
		@F@_add "" ${opts[@]+"${opts[@]}"}
	fi
	return 0
}

complete -F _@I@ @P@
`

func (p *Program) topOptions() []string {
	s := []string{"-h", "--help"}
	if p.Version != nil {
		s = append(s, "-V", "--version")
	}
	return s
}

func (p *Program) bash(b *strings.Builder, cmds []compCmd) {
	id := ident(p.Name)
	f := "__" + id
	fmt.Fprintf(b, "# bash completion for %s, written from its command table; do not edit.\n", p.Name)
	fmt.Fprintf(b, "# Install it as /etc/bash_completion.d/%s, or run: source <(%s completion bash)\n\n", p.Name, p.Name)

	// A function per command table question: which options take a
	// value, and what the value can be.
	var takes, values, cases strings.Builder
	for _, c := range cmds {
		var tk, vl strings.Builder
		for _, o := range c.opts {
			if o.value == valNone {
				continue
			}
			pat := strings.Join(o.dashes(), " | ")
			if tk.Len() > 0 {
				tk.WriteString(" | ")
			}
			tk.WriteString(pat)
			switch o.value {
			case valChoices:
				fmt.Fprintf(&vl, "\t\t%s)\n\t\t\t%s_add \"$3\" %s\n\t\t\t;;\n", pat, f, strings.Join(o.choices, " "))
			case valFile:
				fmt.Fprintf(&vl, "\t\t%s)\n\t\t\t%s_files \"$3\"\n\t\t\t;;\n", pat, f)
			case valDir:
				fmt.Fprintf(&vl, "\t\t%s)\n\t\t\t%s_files \"$3\" -d\n\t\t\t;;\n", pat, f)
			}
		}
		if tk.Len() > 0 {
			fmt.Fprintf(&takes, "\t%s)\n\t\tcase $2 in\n\t\t%s)\n\t\t\treturn 0\n\t\t\t;;\n\t\tesac\n\t\t;;\n", c.name, tk.String())
		}
		if vl.Len() > 0 {
			fmt.Fprintf(&values, "\t%s)\n\t\tcase $2 in\n%s\t\tesac\n\t\t;;\n", c.name, vl.String())
		}

		var opts []string
		for _, o := range c.opts {
			opts = append(opts, o.spellings()...)
		}
		kind := ""
		switch c.args {
		case ArgLock:
			kind = "lock"
		case ArgService:
			kind = "service"
		case ArgCommand:
			kind = "cmdline"
			opts = append(opts, "--")
		case argWords:
			kind = "words"
		}
		fmt.Fprintf(&cases, "\t%s)\n", c.name)
		if len(opts) > 0 {
			fmt.Fprintf(&cases, "\t\topts=(%s)\n", strings.Join(opts, " "))
		}
		if len(c.words) > 0 {
			fmt.Fprintf(&cases, "\t\twords=(%s)\n", strings.Join(c.words, " "))
		}
		fmt.Fprintf(&cases, "\t\tkind=%s\n\t\t;;\n", kind)
	}

	r := strings.NewReplacer("@P@", p.Name, "@F@", f, "@I@", id)
	b.WriteString(r.Replace(bashLib))
	fmt.Fprintf(b, "\n# %s_takes_value CMD OPTION: whether OPTION of CMD takes a value.\n%s_takes_value() {\n\tcase $1 in\n%s\tesac\n\treturn 1\n}\n", f, f, takes.String())
	fmt.Fprintf(b, "\n# %s_value CMD OPTION CUR: offers the values of OPTION of CMD that start\n# with CUR.\n%s_value() {\n\tcase $1 in\n%s\tesac\n\treturn 0\n}\n", f, f, values.String())
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	b.WriteString(strings.NewReplacer(
		"@P@", p.Name, "@F@", f, "@I@", id,
		"@TOPOPTS@", strings.Join(p.topOptions(), " "),
		"@COMMANDS@", strings.Join(names, " "),
		"@CASES@", cases.String(),
	).Replace(bashMain))
}

// --- zsh ---

// zshQuote quotes s for the shell in single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zshDescr escapes s for the [explanation] of an _arguments spec and the
// description of _describe.
func zshDescr(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

func (p *Program) zsh(b *strings.Builder, cmds []compCmd) {
	id := ident(p.Name)
	f := "__" + id
	fmt.Fprintf(b, "#compdef %s\n", p.Name)
	fmt.Fprintf(b, "# zsh completion for %s, written from its command table; do not edit.\n", p.Name)
	fmt.Fprintf(b, "# Install it as _%s in a directory of $fpath, or run: source <(%s completion zsh)\n\n", p.Name, p.Name)

	fmt.Fprintf(b, `# %[1]s_names [COMPADD-OPTION...] KIND: offers the names of KIND (lock,
# service), as "%[2]s __complete KIND" lists them. Nothing is evaluated.
%[1]s_names() {
	local kind=${argv[-1]} exe=${%[1]s_exe-%[2]s}
	local -a names
	argv[-1]=()
	if [[ $exe != */* || ! -x $exe ]]; then
		exe=%[2]s
	fi
	names=(${(f)"$(command "$exe" __complete "$kind" 2>/dev/null)"})
	compadd "$@" -a names
}

_%[3]s() {
	local %[1]s_exe=$words[1]
	local curcontext=$curcontext state state_descr line ret=1
	typeset -A opt_args
	_arguments -C \
`, f, p.Name, id)
	for _, o := range []struct{ names, descr string }{{"-h --help", "Show help."}, {"-V --version", "Print the version."}} {
		if o.names == "-V --version" && p.Version == nil {
			continue
		}
		for _, n := range strings.Fields(o.names) {
			fmt.Fprintf(b, "\t\t%s \\\n", zshQuote("(- : *)"+n+"["+zshDescr(o.descr)+"]"))
		}
	}
	b.WriteString("\t\t': :->command' \\\n\t\t'*:: :->args' && ret=0\n")
	b.WriteString("\tcase $state in\n\tcommand)\n\t\tlocal -a cmds\n\t\tcmds=(\n")
	for _, c := range cmds {
		fmt.Fprintf(b, "\t\t\t%s\n", zshQuote(c.name+":"+c.short))
	}
	fmt.Fprintf(b, "\t\t)\n\t\t_describe -t commands %s cmds && ret=0\n\t\t;;\n", zshQuote(p.Name+" command"))
	fmt.Fprintf(b, "\targs)\n\t\tcurcontext=${curcontext%%:*:*}:%s-$words[1]:\n\t\tcase $words[1] in\n", p.Name)
	for _, c := range cmds {
		var specs []string
		for _, o := range c.opts {
			excl := ""
			sp := o.spellings()
			if len(sp) > 1 {
				excl = "(" + strings.Join(sp, " ") + ")"
			}
			for _, s := range sp {
				spec := excl + s
				if o.value != valNone {
					spec += "="
				}
				spec += "[" + zshDescr(o.usage) + "]"
				if o.value != valNone {
					spec += ":" + zshDescr(o.arg) + ":"
					switch o.value {
					case valChoices:
						spec += "(" + strings.Join(o.choices, " ") + ")"
					case valFile:
						spec += "_files"
					case valDir:
						spec += "_files -/"
					default:
						spec += " "
					}
				}
				specs = append(specs, zshQuote(spec))
			}
		}
		switch c.args {
		case ArgLock:
			specs = append(specs, zshQuote("*:lock name:"+f+"_names lock"))
		case ArgService:
			specs = append(specs, zshQuote("*:service name:"+f+"_names service"))
		case ArgCommand:
			specs = append(specs, zshQuote("(-)1:command:_command_names -e"), zshQuote("*::arguments:_normal"))
		case argWords:
			what := "argument"
			if c.name == "help" {
				what = "command"
			}
			specs = append(specs, zshQuote("1:"+what+":("+strings.Join(c.words, " ")+")"))
		}
		fmt.Fprintf(b, "\t\t%s)\n", c.name)
		if len(specs) == 0 {
			b.WriteString("\t\t\t_message 'no arguments'\n\t\t\t;;\n")
			continue
		}
		b.WriteString("\t\t\t_arguments -S : \\\n")
		for i, s := range specs {
			if i < len(specs)-1 {
				fmt.Fprintf(b, "\t\t\t\t%s \\\n", s)
			} else {
				fmt.Fprintf(b, "\t\t\t\t%s && ret=0\n", s)
			}
		}
		b.WriteString("\t\t\t;;\n")
	}
	b.WriteString("\t\tesac\n\t\t;;\n\tesac\n\treturn ret\n}\n\n")
	fmt.Fprintf(b, "if [[ $funcstack[1] == _%[1]s ]]; then\n\t_%[1]s \"$@\"\nelse\n\tcompdef _%[1]s %[2]s\nfi\n", id, p.Name)
}

// --- fish ---

// fishQuote quotes s for fish in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// fishLib is the fixed part of the fish script; @STATE@ sets, for the
// command in $toks[2], its options that take a value (vals) and whether
// its operands are a command line to run (exec).
const fishLib = `# @F@_state: where the cursor is on the command line: "command" (the
# command's name), "value" (an option's), "operand N" (after N
# operands), "rest N" (the same after --), "exec I" (in the command line
# to run, which starts at token I).
function @F@_state
	set -l toks (commandline -opc)
	if test (count $toks) -lt 2
		echo command
		return
	end
	set -l vals
	set -l exec 0
	switch $toks[2]
@STATE@	end
	set -l n 0
	set -l dd 0
	set -l i 3
	while test $i -le (count $toks)
		set -l w $toks[$i]
		if test $dd = 1; or not string match -q -- '-?*' $w
			if test $exec = 1
				echo exec $i
				return
			end
			set n (math $n + 1)
		else if test $w = --
			set dd 1
		else if contains -- $w $vals
			set i (math $i + 1)
			if test $i -gt (count $toks)
				echo value
				return
			end
		end
		set i (math $i + 1)
	end
	if test $exec = 1
		# The command line to run starts after --, or at a word that is
		# not an option.
		if test $dd = 1; or string match -qr -- '^[^-]' (commandline -ct)
			echo exec $i
			return
		end
	end
	if test $dd = 1
		echo rest $n
		return
	end
	echo operand $n
end

# @F@_at_command: the cursor is on the command's name.
function @F@_at_command
	test (count (commandline -opc)) -lt 2
end

# @F@_opts CMD: the cursor is on an option of CMD or its value.
function @F@_opts --argument-names cmd
	set -l toks (commandline -opc)
	test (count $toks) -ge 2; and test $toks[2] = $cmd; or return 1
	set -l st (string split ' ' -- (@F@_state))
	contains -- $st[1] operand value
end

# @F@_arg CMD [N]: the cursor is on an operand of CMD (the one after N
# others).
function @F@_arg --argument-names cmd n
	set -l toks (commandline -opc)
	test (count $toks) -ge 2; and test $toks[2] = $cmd; or return 1
	set -l st (string split ' ' -- (@F@_state))
	contains -- $st[1] operand rest; or return 1
	test -z "$n"; or test $st[2] = $n
end

# @F@_exec CMD: the cursor is in the command line CMD runs.
function @F@_exec --argument-names cmd
	set -l toks (commandline -opc)
	test (count $toks) -ge 2; and test $toks[2] = $cmd; or return 1
	set -l st (string split ' ' -- (@F@_state))
	test $st[1] = exec
end

# @F@_exec_complete: completes the command line to run as fish would.
function @F@_exec_complete
	set -l toks (commandline -opc)
	set -l st (string split ' ' -- (@F@_state))
	set -l sub
	if test $st[2] -le (count $toks)
		set sub $toks[$st[2]..-1]
	end
	__fish_complete_subcommand --commandline $sub (commandline -ct)
end

# @F@_names KIND: the names of KIND (lock, service), as "@P@ __complete
# KIND" lists them.
function @F@_names --argument-names kind
	set -l exe (commandline -opc)[1]
	if not string match -q -- '*/*' $exe; or not test -x $exe
		set exe @P@
	end
	command -q $exe; or return
	command $exe __complete $kind 2>/dev/null
end

complete -c @P@ -f
`

func (p *Program) fish(b *strings.Builder, cmds []compCmd) {
	f := "__" + ident(p.Name)
	fmt.Fprintf(b, "# fish completion for %s, written from its command table; do not edit.\n", p.Name)
	fmt.Fprintf(b, "# Install it as ~/.config/fish/completions/%s.fish, or run: %s completion fish | source\n\n", p.Name, p.Name)
	var state strings.Builder
	for _, c := range cmds {
		var vals []string
		for _, o := range c.opts {
			if o.value != valNone {
				vals = append(vals, o.dashes()...)
			}
		}
		if len(vals) == 0 && c.args != ArgCommand {
			continue
		}
		fmt.Fprintf(&state, "\t\tcase %s\n", c.name)
		if len(vals) > 0 {
			fmt.Fprintf(&state, "\t\t\tset vals %s\n", strings.Join(vals, " "))
		}
		if c.args == ArgCommand {
			state.WriteString("\t\t\tset exec 1\n")
		}
	}
	b.WriteString(strings.NewReplacer("@P@", p.Name, "@F@", f, "@STATE@", state.String()).Replace(fishLib))

	cpl := func(cond string, rest ...string) {
		fmt.Fprintf(b, "complete -c %s -n %s %s\n", p.Name, fishQuote(cond), strings.Join(rest, " "))
	}
	b.WriteString("\n# The commands.\n")
	for _, c := range cmds {
		cpl(f+"_at_command", "-a", c.name, "-d", fishQuote(c.short))
	}
	cpl(f+"_at_command", "-s h -l help", "-d", fishQuote("Show help."))
	if p.Version != nil {
		cpl(f+"_at_command", "-s V -l version", "-d", fishQuote("Print the version."))
	}
	for _, c := range cmds {
		fmt.Fprintf(b, "\n# %s %s\n", p.Name, c.name)
		for _, o := range c.opts {
			var names []string
			for _, a := range o.aliases {
				if len(a) == 1 {
					names = append(names, "-s "+a)
				} else {
					names = append(names, "-o "+a)
				}
			}
			names = append(names, "-l "+o.name)
			switch o.value {
			case valText:
				names = append(names, "-x")
			case valChoices:
				names = append(names, "-x -a", fishQuote(strings.Join(o.choices, " ")))
			case valFile:
				names = append(names, "-r -F")
			case valDir:
				names = append(names, "-x -a", fishQuote("(__fish_complete_directories (commandline -ct))"))
			}
			names = append(names, "-d", fishQuote(o.usage))
			cpl(f+"_opts "+c.name, names...)
		}
		switch c.args {
		case ArgLock:
			cpl(f+"_arg "+c.name, "-x -a", fishQuote("("+f+"_names lock)"))
		case ArgService:
			cpl(f+"_arg "+c.name, "-x -a", fishQuote("("+f+"_names service)"))
		case ArgCommand:
			cpl(f+"_exec "+c.name, "-x -a", fishQuote("("+f+"_exec_complete)"))
		case argWords:
			cpl(f+"_arg "+c.name+" 0", "-x -a", fishQuote(strings.Join(c.words, " ")))
		}
	}
}
