package kservice

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/runtime"
)

// mapping is a service.Config as sole runs it.
type mapping struct {
	i    service.Interface
	opts options

	cfg         runtime.Config
	displayName string
	env         []string // Config.EnvVars: KEY=VALUE, sorted by KEY
	userService bool     // Option "UserService": a per-user service
	runWait     func()   // Option "RunWait"

	// Which Option key set Restart and RestartDelay, to name both in a
	// conflict.
	restartKey, delayKey string
}

// mapConfig maps c onto sole, or says in one line what sole cannot honour.
func mapConfig(c *service.Config) (*mapping, error) {
	if c == nil {
		return nil, errors.New("kservice: the service.Config is nil")
	}
	m := &mapping{}
	if err := checkName(c.Name); err != nil {
		return nil, err
	}
	m.cfg.Name = c.Name
	for _, f := range []struct{ field, v string }{{"DisplayName", c.DisplayName}, {"Description", c.Description}} {
		d := unit.Description{DisplayName: f.v}
		if err := unitCheck(d); err != nil {
			return nil, fmt.Errorf("kservice: %s: %w", f.field, err)
		}
	}
	m.displayName = strings.TrimSpace(c.DisplayName)
	m.cfg.DisplayName = m.displayName
	m.cfg.Description = strings.TrimSpace(c.Description)
	if m.cfg.Description == "" {
		// systemd's Description= falls back to the display name in the
		// same way.
		m.cfg.Description = m.displayName
	}
	if c.UserName != "" {
		if err := checkRunAs(c.Name, c.UserName); err != nil {
			return nil, fmt.Errorf("kservice: UserName: %w", err)
		}
		m.cfg.RunAs = c.UserName
	}
	if c.WorkingDirectory != "" {
		if err := checkPath(c.WorkingDirectory); err != nil {
			return nil, fmt.Errorf("kservice: WorkingDirectory: %w", err)
		}
		m.cfg.Workdir = c.WorkingDirectory
	}
	env, err := mapEnv(c.EnvVars)
	if err != nil {
		return nil, err
	}
	m.env = env
	m.cfg.Env = env
	if len(c.Arguments) > 0 {
		return nil, fmt.Errorf("kservice: Arguments: %s: sole installs the service as `%s run`, whose command line is sole's; give the program its settings through EnvVars, an environment file (WithConfig: EnvFile) or its own configuration file", show(c.Arguments[0]), c.Name)
	}
	if c.Executable != "" {
		if err := checkExecutable(c.Executable); err != nil {
			return nil, fmt.Errorf("kservice: Executable: %w", err)
		}
	}
	if len(c.Dependencies) > 0 {
		return nil, fmt.Errorf("kservice: Dependencies: %s: sole's service definition has no dependency lines (a system unit is ordered After=network.target); add a drop-in (/etc/systemd/system/%s.service.d/*.conf) instead", show(c.Dependencies[0]), c.Name)
	}
	if c.ChRoot != "" {
		return nil, fmt.Errorf("kservice: ChRoot: %s: sole does not run services in a chroot (WithConfig: Harden sandboxes the service instead)", show(c.ChRoot))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Option)) {
		opt, ok := optionKeys[k]
		if !ok {
			return nil, fmt.Errorf("kservice: Option[%q]: sole does not know this key (it knows %s); remove it", k, strings.Join(knownKeys(), ", "))
		}
		if err := opt(m, k, c.Option[k]); err != nil {
			return nil, fmt.Errorf("kservice: Option[%q]: %w", k, err)
		}
	}
	m.cfg.UserService = m.userService
	if m.userService && m.cfg.RunAs != "" {
		return nil, fmt.Errorf("kservice: UserName: %s: a per-user service (Option[\"UserService\"]) runs as its user", show(m.cfg.RunAs))
	}
	return m, nil
}

// checkName applies the rules of sole's service names and lock names.
func checkName(name string) error {
	if name == "" {
		return errors.New("kservice: Name: empty; a service needs a name")
	}
	if err := unitCheck(unit.Description{Name: name}); err != nil {
		return fmt.Errorf("kservice: Name: %w", err)
	}
	if err := pidlock.ValidName(name); err != nil {
		return fmt.Errorf("kservice: Name: %w", err)
	}
	return nil
}

// checkRunAs checks a UserName: a Windows service account (DOMAIN\name),
// or USER[:GROUP] with systemd's strict user name rules.
func checkRunAs(name, s string) error {
	d := unit.Description{Name: name, RunAs: s}
	if d.WindowsAccount() {
		_, err := d.WindowsServiceAccount()
		return unitReason(err)
	}
	var colon bool
	d.RunAs, d.Group, colon = strings.Cut(s, ":")
	if d.RunAs == "" || colon && d.Group == "" {
		return fmt.Errorf("%s: want USER or USER:GROUP", show(s))
	}
	return unitCheck(d)
}

// mapEnv validates EnvVars and returns them as sorted KEY=VALUE pairs.
func mapEnv(vars map[string]string) ([]string, error) {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := vars[k]
		if strings.Contains(k, "=") {
			return nil, fmt.Errorf("kservice: EnvVars[%q]: the name has '=', which ends a variable's name; want a letter or '_', then letters, digits or '_'", k)
		}
		if err := unitCheck(unit.Description{Env: []string{k + "=" + v}}); err != nil {
			return nil, fmt.Errorf("kservice: EnvVars[%q]: %w", k, err)
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

func splitEnv(kv string) (k, v string) {
	k, v, _ = strings.Cut(kv, "=")
	return k, v
}

// checkExecutable accepts the running program itself, which is what sole
// installs; any other program would not be the one holding the lock.
func checkExecutable(p string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: cannot tell whether it is this program: %w", show(p), err)
	}
	a, errA := os.Stat(p)
	b, errB := os.Stat(self)
	if errA == nil && errB == nil && os.SameFile(a, b) {
		return nil
	}
	return fmt.Errorf("%s: sole installs the program that runs `install` (%s); leave Executable empty", show(p), show(self))
}

// unitCheck validates the fields set in d with the rules of sole's service
// description (internal/unit), which `PROG install` applies, so that a
// Config that maps is one that installs. It returns the reason alone.
func unitCheck(d unit.Description) error {
	if d.Name == "" {
		d.Name = "kservice"
	}
	d.Exec = "/kservice"
	return unitReason(d.Validate())
}

func unitReason(err error) error {
	var ue *unit.Error
	if errors.As(err, &ue) {
		return errors.New(ue.Reason)
	}
	return err
}

// show quotes user input for an error message, cut short when long.
func show(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// optionKeys maps each kardianos Option key that sole knows to what it
// does with the value. A key is here either because sole gives it the
// meaning kardianos does, or to refuse it with the reason; docs/runtime.md
// has the table.
var optionKeys = map[string]func(m *mapping, key string, v any) error{
	// Restart policy (POSIX; kardianos' default is "always", sole's
	// "on-failure").
	"Restart": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		if !slices.Contains(unit.RestartPolicies, s) {
			return fmt.Errorf("%s: sole's restart policies are on-failure, always and no", show(s))
		}
		return m.setRestart(key, s)
	},
	"RestartSec": func(m *mapping, key string, v any) error {
		d, err := asDuration(v)
		if err != nil {
			return err
		}
		return m.setRestartDelay(key, d)
	},
	"UserService": func(m *mapping, key string, v any) error {
		b, err := asBool(v)
		if err != nil {
			return err
		}
		m.userService = b
		if b {
			m.cfg.Scope = pidlock.ScopeUser
		}
		return nil
	},
	"SuccessExitStatus": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil || strings.TrimSpace(s) == "" {
			return err
		}
		return fmt.Errorf("%s: sole's units have no SuccessExitStatus=: exit 0 is a clean stop, 75 is \"already running\" (not restarted), any other status a failure", show(s))
	},
	"LogDirectory": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		if err := checkPath(s); err != nil {
			return err
		}
		m.cfg.LogDir = s
		return nil
	},
	// LogOutput true asks for the output in files: sole writes them
	// (under LogDir) on launchd and Windows; under systemd it stays in
	// the journal.
	"LogOutput": func(m *mapping, key string, v any) error {
		_, err := asBool(v)
		return err
	},
	"RunWait": func(m *mapping, key string, v any) error {
		f, ok := v.(func())
		if !ok {
			return fmt.Errorf("want a func(), got %T", v)
		}
		m.runWait = f
		return nil
	},
	"ReloadSignal": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		switch strings.TrimPrefix(strings.ToUpper(s), "SIG") {
		case "HUP", "":
			return nil
		}
		return fmt.Errorf("%s: sole reloads with SIGHUP (ExecReload=/bin/kill -HUP $MAINPID), which runs the Reload hook (WithReload)", show(s))
	},
	// PIDFile: sole's lock is the service's PID file.
	"PIDFile": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		if err := checkPath(s); err != nil {
			return err
		}
		m.cfg.LockPath = s
		return nil
	},
	"LimitNOFILE": func(m *mapping, key string, v any) error {
		n, ok := v.(int)
		if !ok {
			return fmt.Errorf("want an int, got %T", v)
		}
		if n == -1 {
			return nil
		}
		return fmt.Errorf("%d: sole's units do not set LimitNOFILE=; add a drop-in (/etc/systemd/system/%s.service.d/*.conf) with it", n, m.cfg.Name)
	},
	// launchd.
	"KeepAlive": func(m *mapping, key string, v any) error {
		b, err := asBool(v)
		if err != nil || b {
			return err // true: sole keeps a service alive by its Restart policy
		}
		return m.setRestart(key, "no")
	},
	"RunAtLoad": func(m *mapping, key string, v any) error {
		b, err := asBool(v)
		if err != nil || b {
			return err
		}
		return errors.New("false: sole's services start at boot (RunAtLoad, WantedBy=, automatic start)")
	},
	"SessionCreate": refuseTrue("sole's LaunchDaemons do not create a login session"),
	// Windows.
	"DelayedAutoStart": refuseTrue("sole's Windows services start automatically, without delay"),
	"Interactive":      refuseTrue("sole's Windows services do not interact with the desktop"),
	"StartType": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil || s == "automatic" {
			return err
		}
		return fmt.Errorf("%s: sole's Windows services start automatically", show(s))
	},
	"OnFailure": func(m *mapping, key string, v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		switch s {
		case "restart":
			return nil // sole's default: restart on failure
		case "noaction":
			return m.setRestart(key, "no")
		}
		return fmt.Errorf("%s: sole restarts a failed service (restart) or not (noaction)", show(s))
	},
	"OnFailureDelayDuration": func(m *mapping, key string, v any) error {
		d, err := asDuration(v)
		if err != nil {
			return err
		}
		return m.setRestartDelay(key, d)
	},
	"OnFailureResetPeriod": func(m *mapping, key string, v any) error {
		return errors.New("sole counts failures over its start limit interval (60s); it has no setting for this")
	},
	"Password": func(m *mapping, key string, v any) error {
		return errors.New("sole's Windows services run as LocalSystem, LocalService, NetworkService or NT SERVICE\\NAME, none of which has a password")
	},
	// Custom service files and other init systems.
	"SystemdScript": customScript,
	"UpstartScript": customScript,
	"SysvScript":    customScript,
	"OpenRCScript":  customScript,
	"RCSScript":     customScript,
	"LaunchdConfig": customScript,
	"Prefix": func(m *mapping, key string, v any) error {
		return errors.New("a Solaris SMF setting; sole runs on systemd, launchd and Windows")
	},
}

func customScript(m *mapping, key string, v any) error {
	return errors.New("sole writes the service definition itself, from its description (`PROG install --print` shows it); a custom template cannot keep its guarantees")
}

func refuseTrue(why string) func(*mapping, string, any) error {
	return func(m *mapping, key string, v any) error {
		b, err := asBool(v)
		if err != nil || !b {
			return err
		}
		return errors.New("true: " + why)
	}
}

func knownKeys() []string { return slices.Sorted(maps.Keys(optionKeys)) }

func (m *mapping) setRestart(key, policy string) error {
	if m.restartKey != "" && m.cfg.Restart != policy {
		return fmt.Errorf("means restart policy %q, but Option[%q] says %q", policy, m.restartKey, m.cfg.Restart)
	}
	m.cfg.Restart, m.restartKey = policy, key
	return nil
}

func (m *mapping) setRestartDelay(key string, d time.Duration) error {
	if err := unitCheck(unit.Description{RestartSec: d}); err != nil {
		return err
	}
	if m.delayKey != "" && m.cfg.RestartDelay != d {
		return fmt.Errorf("%v, but Option[%q] says %v", d, m.delayKey, m.cfg.RestartDelay)
	}
	m.cfg.RestartDelay, m.delayKey = d, key
	return nil
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want a bool, got %T", v)
	}
	return b, nil
}

// asDuration takes a time.Duration, a number of seconds (an int, as
// systemd's RestartSec=5) or a string: a Go duration ("1.5s") or a
// number of seconds.
func asDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case int:
		if x < 0 || x > 1<<31 {
			return 0, fmt.Errorf("%d seconds is out of range", x)
		}
		d = time.Duration(x) * time.Second
	case string:
		if n, err := strconv.ParseUint(x, 10, 31); err == nil {
			d = time.Duration(n) * time.Second
			break
		}
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			return 0, fmt.Errorf("%s: want a duration (\"1.5s\") or a number of seconds", show(x))
		}
	default:
		return 0, fmt.Errorf("want a duration, a number of seconds or a string, got %T", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%v is negative", d)
	}
	return d, nil
}
