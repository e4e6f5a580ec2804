//go:build windows

package svcmgr

// The configuration Install gives a service, from its description: the
// checks of what the SCM can hold, the command line, and the rendering
// that --print shows.

import (
	"fmt"
	"path/filepath"
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
}

// validate checks d as unit.Validate does, except for what differs on
// Windows: the program path is a Windows path, and the settings that the
// SCM has no place for are refused rather than dropped.
func validate(d unit.Description) error {
	if d.User {
		return fmt.Errorf("%s: %w", d.Name, errPerUser)
	}
	if d.RunAs != "" {
		return &unit.Error{Field: "run as", Reason: "a Windows service is installed to run as LocalSystem; another account needs its password, which sole does not handle"}
	}
	if d.WorkingDirectory != "" {
		return &unit.Error{Field: "working directory", Reason: `the Windows service control manager has no working directory setting (a service starts in %SystemRoot%\System32)`}
	}
	if err := checkExe(d.Exec); err != nil {
		return err
	}
	u := d
	u.Exec = "/exe" // checked above, as a Windows path
	u.LogDir = ""   // launchd only
	return u.Validate()
}

func checkExe(p string) error {
	const field = "exec"
	q := strconv.Quote(p)
	switch {
	case p == "":
		return &unit.Error{Field: field, Reason: "empty"}
	case !filepath.IsAbs(p):
		return &unit.Error{Field: field, Reason: q + ` is not an absolute Windows path (want C:\dir\prog.exe)`}
	case filepath.Clean(p) != p:
		return &unit.Error{Field: field, Reason: fmt.Sprintf("%s is not a clean path (want %s)", q, strconv.Quote(filepath.Clean(p)))}
	case strings.ContainsRune(p, '"'):
		return &unit.Error{Field: field, Reason: q + " contains a double quote, which a Windows command line cannot hold in a program path"}
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
	c := config{
		name:        d.Name,
		exec:        d.Exec,
		args:        d.Args,
		binaryPath:  commandLine(d.Exec, d.Args),
		displayName: strings.TrimSpace(d.DisplayName),
		description: strings.TrimSpace(d.Description),
		env:         d.Env,
		startTO:     d.StartTimeout,
		stopTO:      d.StopTimeout,
	}
	if c.displayName == "" {
		c.displayName = d.Name
	}
	c.actions, c.resetPeriod = RecoveryActions(d)
	return c, nil
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
	line("account", localSystem)
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
	line("on failure", describeActions(c.actions, c.resetPeriod))
	line("", "(a crash only: a stop with an error exit code, such as \"already running\", is not restarted)")
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
