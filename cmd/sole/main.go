// Command sole runs a program as exactly one instance.
//
//	sole run [--name NAME | --lock PATH] [--scope system|user] [--wait [--timeout DUR]]
//	         [--replace [--stop-timeout DUR]] [--no-inherit] [--quiet] [--conflict-exit-code N]
//	         -- COMMAND [ARGS...]
//	sole status [NAME | --name NAME | --lock PATH] [--scope system|user] [--json]
//	sole help [COMMAND]
//	sole --version | -V
//
// See docs/cli.md for every option and exit code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// Exit codes (docs/cli.md).
const (
	exitOK         = 0
	exitUsage      = 64  // EX_USAGE: bad command line
	exitCantLock   = 73  // EX_CANTCREAT: the lock file was refused or cannot be opened
	exitTempFail   = 75  // EX_TEMPFAIL: already running (or the wait timed out)
	exitTimeout    = 124 // --max-time ran out
	exitCantExec   = 126 // the command exists but cannot be run
	exitNotFound   = 127 // the command was not found
	exitSignalBase = 128
)

// version is set at link time with -ldflags "-X main.version=v1.2.3"; when
// empty the module version from the build information is used.
var version = ""

func main() {
	os.Exit(sole(os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	name  string
	usage string
	help  string
	short string               // the line in sole's usage; default the first line of help
	flags func() *flag.FlagSet // the command's options, for help; nil if none
	run   func(c *command, args []string, stdout, stderr io.Writer) int
}

var commands = []*command{runCmd, statusCmd, listCmd, installCmd, uninstallCmd, startCmd, stopCmd, restartCmd, packageCmd, helpCmd}

// helpCmd is run by sole itself (its run field stays nil), which keeps the
// command table free of an initialization cycle.
var helpCmd = &command{
	name:  "help",
	usage: "sole help [COMMAND]",
	help:  "Show help for sole or for one command.",
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		mainUsage(stdout)
		return exitOK
	case 1:
		if c := lookup(args[0]); c != nil {
			commandUsage(c, stdout)
			return exitOK
		}
		return usageError(stderr, fmt.Sprintf("unknown command %q", args[0]), "")
	}
	return usageError(stderr, "help takes at most one command", "help")
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// sole is the whole program: it returns the exit code.
func sole(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version", "-V", "version":
		fmt.Fprintf(stdout, "sole %s\n", soleVersion())
		return exitOK
	case "-h", "--help", "-help":
		mainUsage(stdout)
		return exitOK
	}
	if args[0] == "help" {
		return runHelp(args[1:], stdout, stderr)
	}
	c := lookup(args[0])
	if c == nil {
		return usageError(stderr, fmt.Sprintf("unknown command %q", args[0]), "")
	}
	return c.run(c, args[1:], stdout, stderr)
}

// moduleVersion is the module version from the build information.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

func soleVersion() string {
	v := version
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

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `sole runs a program as exactly one instance.

Usage:
  sole COMMAND [OPTIONS]

Commands:
`)
	for _, c := range commands {
		short := c.short
		if short == "" {
			short, _, _ = strings.Cut(c.help, "\n")
		}
		fmt.Fprintf(w, "  %-10s %s\n", c.name, short)
	}
	fmt.Fprint(w, `
Run "sole help COMMAND" for a command's options; "sole --version" (-V) prints the version.
Exit codes are listed in docs/cli.md.
`)
}

func commandUsage(c *command, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.usage, c.help)
	if c.flags != nil {
		fmt.Fprintln(w, "\nOptions:")
		c.flags().VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			fmt.Fprintf(w, "  --%s%s\n    \t%s", f.Name, arg, usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
}

// usageError prints one line (plus a hint) and returns exitUsage.
func usageError(stderr io.Writer, msg, cmd string) int {
	fmt.Fprintf(stderr, "sole: %s\n", msg)
	if cmd != "" {
		fmt.Fprintf(stderr, "Run 'sole help %s' for usage.\n", cmd)
	} else {
		fmt.Fprintf(stderr, "Run 'sole help' for usage.\n")
	}
	return exitUsage
}

// newFlagSet returns a flag set that reports errors through usageError.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args into fs; it returns the exit code to use when
// parsing ended the command (help asked, or a usage error).
func parseFlags(c *command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	if err == nil {
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(c, stdout)
		return exitOK, false
	}
	return usageError(stderr, c.name+": "+strings.TrimSpace(err.Error()), c.name), false
}

// parseInterspersed is parseFlags for a command whose arguments are names,
// not a COMMAND: options may come before or after them (`sole status NAME
// --json`), and "--" ends the options. It returns the names.
func parseInterspersed(c *command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	var names []string
	for {
		if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
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

// lockFlags are the options that select a lock.
type lockFlags struct {
	name, path       string
	nameSet, pathSet bool
	scope            string
}

func (lf *lockFlags) register(fs *flag.FlagSet) {
	fs.Var(&stringFlag{&lf.name, &lf.nameSet}, "name", "lock `NAME`, in the scope's directory (default: the command's base name)")
	fs.Var(&stringFlag{&lf.path, &lf.pathSet}, "lock", "lock file `PATH` instead of a name")
	fs.StringVar(&lf.scope, "scope", "", "where a named lock lives: `system|user` (default: system for root, user otherwise)")
}

// stringFlag is a string option that remembers it was given, so that an
// empty value (--lock "") is an error instead of the default.
type stringFlag struct {
	p   *string
	set *bool
}

func (f *stringFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *stringFlag) Set(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*f.p, *f.set = v, true
	return nil
}

// durationFlag is a duration option whose errors say what form is
// expected: a number with a unit, not negative.
type durationFlag struct{ p *time.Duration }

func (f durationFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			return fmt.Errorf("a duration needs a unit, e.g. %ss, %sms or %sm", v, v, v)
		}
		return errors.New("want a duration such as 30s, 1m30s or 500ms")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*f.p = d
	return nil
}

// open returns the lock the flags select; defaultName is used when neither
// --name nor --lock is given.
func (lf *lockFlags) open(defaultName string, opts ...pidlock.Option) (*pidlock.Lock, error) {
	if lf.nameSet && lf.pathSet {
		return nil, errUsage("--name and --lock cannot be used together")
	}
	if lf.scope != "" {
		s, err := platform.ParseScope(lf.scope)
		if err != nil {
			return nil, errUsage(err.Error())
		}
		opts = append(opts, pidlock.WithScope(s))
	}
	if lf.path != "" {
		return pidlock.New(lf.path, opts...)
	}
	name := lf.name
	if !lf.nameSet {
		name = defaultName
		if err := pidlock.ValidName(name); err != nil {
			return nil, errUsage(fmt.Sprintf("cannot name the lock after the command: %v; give --name NAME", err))
		}
	}
	if err := pidlock.ValidName(name); err != nil {
		return nil, errUsage(err.Error())
	}
	return pidlock.Named(name, opts...)
}

// usage errors found after flag parsing.
type usageErr string

func (e usageErr) Error() string { return string(e) }

func errUsage(msg string) error { return usageErr(msg) }

// since formats when a holder took its lock: the time of day when it was
// today, the date and time otherwise.
func since(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	now := time.Now()
	if y, m, d := t.Date(); func() bool { y2, m2, d2 := now.Date(); return y == y2 && m == m2 && d == d2 }() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// describe names a holder as "pid 1234, backup.sh, since 10:42:07".
func describe(h *pidlock.Holder) string {
	return fmt.Sprintf("pid %d, %s, since %s", h.PID, h.Process, since(h.Since))
}

// lockErrorLine words an error from opening or taking a lock, on one
// line: a path with control characters (a newline, say) is quoted.
func lockErrorLine(err error) string {
	var pe *pidlock.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s", quotePath(pe.Path), oneLine(pe.Err.Error()))
	}
	return oneLine(err.Error())
}

// quotePath returns p as it is, or quoted in Go syntax when it holds
// anything but printable characters, so that it stays on one line and
// says exactly which bytes it has.
func quotePath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(p)
		}
	}
	return p
}

// oneLine makes a message one line: control characters become their Go
// escapes.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
