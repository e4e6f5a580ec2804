//go:build windows

package svcmgr

// The configuration Install gives a service, from its description: the
// checks of what the SCM can hold, the command line, and the rendering
// that --print shows.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// config is everything Install sets for a description.
type config struct {
	name        string
	exec        string
	args        []string
	binaryPath  string // the command line the SCM runs
	displayName string
	description string
	env         []string
	startTO     time.Duration
	stopTO      time.Duration
	actions     []mgr.RecoveryAction
	resetPeriod uint32 // seconds
	restart     string // the policy, defaults filled in
	account     string // ServiceStartName; "" for LocalSystem
	dirs        []string
	logDir      string // for --print: where the output goes, "" when not a `sole run` wrapper
	unusedLog   string // for --print: a LogDir the program does not take
}

// validate checks d as unit.Validate does, except for what differs on
// Windows: the paths are Windows paths, RunAs names a Windows service
// account (unit.WindowsServiceAccount, which also refuses Group and
// Harden), and the settings that the SCM has no place for are refused
// rather than dropped.
func validate(d unit.Description) error {
	if d.User {
		return fmt.Errorf("%s: %w", d.Name, errPerUser)
	}
	if _, err := d.WindowsServiceAccount(); err != nil {
		return err
	}
	if err := checkExe(d.Exec); err != nil {
		return err
	}
	for _, p := range []struct{ field, p string }{
		{"working directory", d.WorkingDirectory},
		{"env file", d.EnvFile},
		{"log directory", d.LogDir},
	} {
		if p.p != "" {
			if err := checkWindowsPath(p.field, p.p); err != nil {
				return err
			}
		}
	}
	u := d
	// Checked above, as Windows paths and accounts.
	u.Exec, u.WorkingDirectory, u.EnvFile, u.LogDir = "/exe", "", "", ""
	u.RunAs, u.Group, u.Harden = "", "", false
	return u.Validate()
}

func checkExe(p string) error { return checkWindowsPath("exec", p) }

// checkWindowsPath checks an absolute Windows path: the program, the
// working directory, the environment file, the log directory.
func checkWindowsPath(field, p string) error {
	q := strconv.Quote(p)
	want := `C:\dir`
	if field == "exec" {
		want = `C:\dir\prog.exe`
	}
	switch {
	case p == "":
		return &unit.Error{Field: field, Reason: "empty"}
	case !filepath.IsAbs(p):
		return &unit.Error{Field: field, Reason: fmt.Sprintf("%s is not an absolute Windows path (want %s)", q, want)}
	case filepath.Clean(p) != p:
		return &unit.Error{Field: field, Reason: fmt.Sprintf("%s is not a clean path (want %s)", q, strconv.Quote(filepath.Clean(p)))}
	case strings.ContainsRune(p, '"'):
		return &unit.Error{Field: field, Reason: q + " contains a double quote, which a Windows path cannot hold"}
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return &unit.Error{Field: field, Reason: q + " contains a control character"}
	}
	return nil
}

// commandLine is the binary path the SCM runs: the program and its
// arguments, each quoted as CommandLineToArgvW (and Go's os.Args) reads
// them back; the same quoting as mgr.CreateService's.
func commandLine(exe string, args []string) string {
	s := syscall.EscapeArg(exe)
	for _, a := range args {
		s += " " + syscall.EscapeArg(a)
	}
	return s
}

func newConfig(d unit.Description) (config, error) {
	if err := validate(d); err != nil {
		return config{}, err
	}
	d = d.WithDefaults()
	account, _ := d.WindowsServiceAccount() // checked by validate
	args, err := serviceArgs(d)
	if err != nil {
		return config{}, err
	}
	lock, err := lockDir(d.Name)
	if err != nil {
		return config{}, fmt.Errorf("%s: %w", d.Name, err)
	}
	c := config{
		name:        d.Name,
		exec:        d.Exec,
		args:        args,
		binaryPath:  commandLine(d.Exec, args),
		displayName: strings.TrimSpace(d.DisplayName),
		description: strings.TrimSpace(d.Description),
		env:         d.Env,
		startTO:     d.StartTimeout,
		stopTO:      d.StopTimeout,
		restart:     d.Restart,
		account:     account,
		dirs:        []string{lock},
	}
	if c.displayName == "" {
		c.displayName = d.Name
	}
	switch {
	case !wrapsSoleRun(d.Args):
		c.unusedLog = d.LogDir
	case d.LogDir == "" || strings.EqualFold(d.LogDir, lock):
		c.logDir = lock
	default:
		c.logDir = d.LogDir
		c.dirs = append(c.dirs, d.LogDir)
	}
	c.actions, c.resetPeriod = RecoveryActions(d)
	return c, nil
}

// wrapsSoleRun reports whether args are a `sole run --service` command
// line that runs a command (the first is "run", and --service comes
// before the "--" that precedes the command), which takes --stop-timeout
// and --log-dir.
func wrapsSoleRun(args []string) bool {
	if len(args) == 0 || args[0] != "run" {
		return false
	}
	i := slices.Index(args, "--")
	return i > 0 && slices.Contains(args[1:i], "--service")
}

// serviceArgs are the arguments the SCM starts the program with: d.Args
// with what the SCM has no setting for passed to the program's `run`
// instead: --env-file and --workdir (unit.ManagerArgs), and, for a `sole
// run` wrapper, --stop-timeout (how long COMMAND has to exit after the
// stop request before its tree is terminated) and --log-dir. They go
// right after "run", where no option's value can be mistaken for them.
func serviceArgs(d unit.Description) ([]string, error) {
	args, err := d.ManagerArgs(true)
	if err != nil {
		return nil, err
	}
	if !wrapsSoleRun(args) {
		return args, nil
	}
	extra := []string{"--stop-timeout", d.StopTimeout.String()}
	if d.LogDir != "" {
		extra = append(extra, "--log-dir", d.LogDir)
	}
	return slices.Concat(args[:1], extra, args[1:]), nil
}

// render is the human-readable rendering of c that --print shows.
func (c config) render(watchdog time.Duration) []byte {
	var b strings.Builder
	line := func(k, v string) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(&b, "%-16s%s\n", k, v)
	}
	fmt.Fprintf(&b, "Windows service %s (HKLM\\%s)\n", c.name, serviceKey(c.name))
	line("display name", c.displayName)
	line("description", c.description)
	line("binary path", c.binaryPath)
	line("type", "own process")
	line("start type", "automatic")
	if c.account == "" {
		line("account", localSystem)
	} else {
		line("account", c.account+" (no password)")
	}
	if len(c.env) == 0 {
		line("environment", "(none)")
	}
	for i, kv := range c.env {
		if i == 0 {
			line("environment", kv)
		} else {
			line("", kv)
		}
	}
	for i, dir := range c.dirs {
		v := dir + " (created at install"
		if c.account != "" {
			v += "; modify rights for " + c.account
		}
		v += ")"
		if i == 0 {
			line("directories", v)
		} else {
			line("", v)
		}
	}
	if c.logDir != "" {
		line("output", `COMMAND's, to rotated files in `+c.logDir+` (sole run --log-dir)`)
	}
	if c.unusedLog != "" {
		line("log directory", "none ("+c.unusedLog+" is for `sole run` wrappers and launchd; the program writes its own logs)")
	}
	line("on failure", describeActions(c.actions, c.resetPeriod))
	switch c.restart {
	case "always":
		line("", "(a crash, or a stop with a non-zero exit code; Windows restarts nothing after exit code 0, so \"always\" acts as \"on-failure\")")
	case "no":
		line("", "(--restart no)")
	default:
		line("", "(a crash, or a stop with a non-zero exit code)")
	}
	line("start timeout", c.startTO.String()+" (how long start waits for SERVICE_RUNNING)")
	line("stop timeout", c.stopTO.String()+" (how long stop waits for SERVICE_STOPPED)")
	if watchdog > 0 {
		line("watchdog", "none (Windows has no service watchdog; "+watchdog.String()+" is for systemd)")
	}
	return []byte(b.String())
}

// millis is d in milliseconds as a REG_DWORD holds it.
func millis(d time.Duration) uint32 {
	ms := d.Milliseconds()
	if ms > 1<<32-1 {
		ms = 1<<32 - 1
	}
	return uint32(ms)
}
