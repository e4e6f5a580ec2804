package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// A Program is a command with subcommands: sole, sole-package, or a
// program built on runtime.Main.
type Program struct {
	Name     string        // how the program is called in messages: "sole"
	Summary  string        // one sentence for the top of the help: "sole runs a program as exactly one instance."
	Commands []*Command    // in the order help lists them; "help" is added by Main
	Default  string        // the command run with no arguments; "" prints the usage and exits 64
	Version  func() string // printed by -V and --version; nil when the program has none
	Footer   string        // printed at the end of the help, after the command list

	// CommandNoun is what the program calls its commands in messages
	// ("unknown format"); default "command".
	CommandNoun string
}

// A Command is one entry of a program's command table. The table is the
// one source of the help, the usage errors, the shell completion and the
// man page.
type Command struct {
	Name  string
	Usage string // the synopsis, without the program's name: "status [NAME] [--json]"
	Short string // the line in the command list; default the first line of Help
	Help  string // what the command does; its first line is a sentence

	// Flags returns a fresh set of the command's options, for the help,
	// the completion and the man page; nil when it takes none.
	Flags func() *flag.FlagSet

	// Args says what the command's operands are, for the completion:
	// one of the Arg constants, or words separated by "|" ("deb|rpm|msi").
	Args string

	// Hidden commands work but are not listed (the completion's helper).
	Hidden bool

	// Run runs the command with the arguments after its name and returns
	// the exit code.
	Run func(c *Command, args []string, stdout, stderr io.Writer) int

	prog *Program
}

// The kinds of operands a command takes (Command.Args).
const (
	ArgNone    = ""
	ArgLock    = "@lock"    // a lock name
	ArgService = "@service" // an installed service's name
	ArgCommand = "@command" // a command to run, after --
)

// Main runs the command args name and returns the exit code: the
// command's, 0 for help and version, ExitUsage for a bad command line.
func (p *Program) Main(args []string, stdout, stderr io.Writer) int {
	for _, c := range p.Commands {
		c.prog = p
	}
	if len(args) == 0 {
		if p.Default == "" {
			p.Usage(stderr)
			return ExitUsage
		}
		args = []string{p.Default}
	}
	switch args[0] {
	case "-h", "-help", "--help":
		p.Usage(stdout)
		return ExitOK
	case "-V", "-version", "--version":
		if p.Version != nil {
			fmt.Fprintf(stdout, "%s %s\n", p.Name, p.Version())
			return ExitOK
		}
	case "help":
		return p.help(args[1:], stdout, stderr)
	}
	c := p.Lookup(args[0])
	if c == nil {
		if strings.HasPrefix(args[0], "-") {
			return p.UsageError(stderr, "", fmt.Sprintf("unknown option %s: options come after the command", args[0]))
		}
		return p.UsageError(stderr, "", p.unknown(args[0]))
	}
	return c.Run(c, args[1:], stdout, stderr)
}

func (p *Program) help(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		p.Usage(stdout)
		return ExitOK
	case 1:
		if args[0] == "help" {
			fmt.Fprintf(stdout, "Usage: %s help [%s]\n\nShow help for %s or for one %s.\n", p.Name, strings.ToUpper(p.noun()), p.Name, p.noun())
			return ExitOK
		}
		if c := p.Lookup(args[0]); c != nil {
			c.PrintHelp(stdout)
			return ExitOK
		}
		return p.UsageError(stderr, "", p.unknown(args[0]))
	}
	return p.UsageError(stderr, "", "help takes at most one "+p.noun())
}

func (p *Program) noun() string {
	if p.CommandNoun != "" {
		return p.CommandNoun
	}
	return "command"
}

// unknown says that name is not a command, and names the commands when
// they are few enough for one line: `unknown format "zip": want deb, rpm
// or msi`.
func (p *Program) unknown(name string) string {
	var names []string
	for _, c := range p.Commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	msg := fmt.Sprintf("unknown %s %q", p.noun(), name)
	if len(names) < 2 || len(names) > 4 {
		return msg
	}
	return msg + ": want " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Lookup returns the command called name, or nil.
func (p *Program) Lookup(name string) *Command {
	for _, c := range p.Commands {
		if c.Name == name {
			c.prog = p
			return c
		}
	}
	return nil
}

// Usage prints the program's help: its summary and its commands.
func (p *Program) Usage(w io.Writer) {
	noun := strings.ToUpper(p.noun())
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s %s [OPTIONS]\n\n%ss:\n", p.Summary, p.Name, noun, noun[:1]+strings.ToLower(noun[1:]))
	for _, c := range p.Commands {
		if !c.Hidden {
			fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.ShortHelp())
		}
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "Show help for "+p.Name+" or for one "+p.noun()+".")
	fmt.Fprintf(w, "\nRun \"%s help %s\" or \"%s %s --help\" for its options", p.Name, noun, p.Name, noun)
	if p.Version != nil {
		fmt.Fprintf(w, "; \"%s --version\" (-V) prints the version", p.Name)
	}
	fmt.Fprint(w, ".\n")
	if p.Footer != "" {
		fmt.Fprint(w, p.Footer)
	}
}

// UsageError prints msg as one line, prefixed with the program's and the
// command's name, and a hint where the usage is, and returns ExitUsage.
// cmd may be "".
func (p *Program) UsageError(stderr io.Writer, cmd, msg string) int {
	prefix, hint := p.Name+": ", p.Name+" help"
	if cmd != "" {
		prefix += cmd + ": "
		hint += " " + cmd
	}
	fmt.Fprintf(stderr, "%s%s\nRun '%s' for usage.\n", prefix, msg, hint)
	return ExitUsage
}

// ShortHelp is the command's line in the command list.
func (c *Command) ShortHelp() string {
	if c.Short != "" {
		return c.Short
	}
	s, _, _ := strings.Cut(c.Help, "\n\n")
	s = strings.ReplaceAll(s, "\n", " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

// Program is the program the command belongs to.
func (c *Command) Program() *Program { return c.prog }

// UsageError is Program.UsageError for this command.
func (c *Command) UsageError(stderr io.Writer, msg string) int {
	return c.prog.UsageError(stderr, c.Name, msg)
}

// PrintHelp prints the command's usage, help and options.
func (c *Command) PrintHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", c.prog.Name, c.Usage, c.Help)
	if c.Flags == nil {
		return
	}
	opts := Options(c.Flags())
	if len(opts) == 0 {
		return
	}
	fmt.Fprintln(w, "\nOptions:")
	for _, o := range opts {
		fmt.Fprintf(w, "  %s\n        %s\n", o.Synopsis(), o.Usage)
	}
}

// NewFlagSet returns a flag set whose errors Parse reports.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// Parse parses args into fs. When parsing ends the command (help was
// asked, or the command line is wrong) it prints what it must and returns
// the exit code and false.
func (c *Command) Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	if err == nil {
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		c.PrintHelp(stdout)
		return ExitOK, false
	}
	return c.UsageError(stderr, optionError(err)), false
}

// optionError words the flag package's errors as sole does: options are
// spelled --name, the value given is quoted, and the words say what is
// wrong. (No regexp: its package initialization would cost every start.)
func optionError(err error) string {
	msg := strings.TrimSpace(err.Error())
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown option " + dashes(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return dashes(name) + " needs a value"
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if value, name, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ = strings.Cut(name, ":")
			return dashes(name) + "=" + value + ": want true or false (or no value)"
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "V" for flag -NAME: MSG; V may hold anything.
		if i := strings.LastIndex(rest, " for flag -"); i >= 0 {
			value, tail := rest[:i], rest[i+len(" for flag -"):]
			if name, why, ok := strings.Cut(tail, ": "); ok {
				return dashes(name) + " " + value + ": " + why
			}
		}
	}
	return msg
}

// dashes spells an option as it is typed: -q, --quiet.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// ParseInterspersed is Parse for a command whose operands are names, not
// a command to run: options may come before, between or after them
// (`sole status NAME --json`), and "--" ends the options. It returns the
// operands.
func (c *Command) ParseInterspersed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	var names []string
	for {
		if code, ok := c.Parse(fs, args, stdout, stderr); !ok {
			return nil, code, false
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(names, rest...), 0, true
		}
		if len(rest) == 0 {
			return names, 0, true
		}
		names = append(names, rest[0])
		args = rest[1:]
	}
}

// aliasUsage marks a flag registered by Alias.
const aliasUsage = "\x00alias of "

// Alias makes -short another name of the option --long, which must be
// registered already. Help, completion and the man page show them
// together ("-q, --quiet").
func Alias(fs *flag.FlagSet, short, long string) {
	f := fs.Lookup(long)
	if f == nil {
		panic("cli.Alias: no option --" + long) // a mistake in the command table, found by its tests
	}
	fs.Var(f.Value, short, aliasUsage+long)
}

// Given returns the options given on the command line parsed into fs, by
// their long names: an option given by an alias (-k) counts as its long
// name (kill-after), so that checks of which options go together cannot
// be dodged by spelling one short.
func Given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, aliasUsage); ok {
			set[long] = true
		} else {
			set[f.Name] = true
		}
	})
	return set
}

// An Option is one option of a command, with its aliases.
type Option struct {
	Name    string   // "quiet"
	Aliases []string // "q"
	Arg     string   // the operand's name in the help ("DUR"), "" for a boolean
	Usage   string   // what it does, with its default
	Choices []string // the values it takes, when the operand is "a|b|c"
}

// Synopsis is "-q, --quiet" or "--timeout DUR".
func (o Option) Synopsis() string {
	var b strings.Builder
	for _, a := range o.Aliases {
		b.WriteString("-" + a + ", ")
	}
	b.WriteString("--" + o.Name)
	if o.Arg != "" {
		b.WriteString(" " + o.Arg)
	}
	return b.String()
}

// Options lists the options of fs in name order, aliases folded into the
// option they name.
func Options(fs *flag.FlagSet) []Option {
	var opts []Option
	aliases := map[string][]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, aliasUsage); ok {
			aliases[long] = append(aliases[long], f.Name)
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			arg = ""
		} else if arg == "int" || arg == "uint" {
			arg = "N"
		} else if arg == "value" || arg == "string" || arg == "" {
			// No `NAME` in the usage: the option's own name says it.
			arg = strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && !strings.Contains(usage, "(default") {
			usage += " (default " + f.DefValue + ")"
		}
		o := Option{Name: f.Name, Arg: arg, Usage: usage}
		if strings.Contains(arg, "|") {
			o.Choices = strings.Split(arg, "|")
		}
		opts = append(opts, o)
	})
	for i := range opts {
		opts[i].Aliases = aliases[opts[i].Name]
		slices.Sort(opts[i].Aliases)
	}
	return opts
}

// BuildVersion is the main module's version from the build information
// ("(devel)" when built from a work tree) and the Go version, for
// Program.Version. A non-empty v, set at link time, is used instead of
// the module version.
func BuildVersion(v string) string {
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if ok {
		v += " " + bi.GoVersion
	}
	return v
}

// Since formats when a holder took its lock, for every line that names a
// holder: the time of day when it was today, the date and time otherwise.
func Since(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	y, m, d := t.Date()
	if y2, m2, d2 := time.Now().Date(); y == y2 && m == m2 && d == d2 {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}
