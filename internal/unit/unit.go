// Package unit holds the service description of a program run by sole and
// renders it for each service manager: a systemd unit (SystemdUnit) and a
// launchd property list (LaunchdPlist). `sole install`, the Go runtime and
// the .deb/.rpm/.msi packagers all render from here; no other copy of the
// unit text may exist.
//
// The texts are the embedded templates templates/systemd.service.tmpl and
// templates/launchd.plist.tmpl, filled with values that this package has
// already validated and escaped for the target format. A description that
// cannot be written safely (a newline in an argument, a relative program
// path, a bad environment name, ...) is refused with an *Error, never
// rendered approximately, and no input makes rendering panic.
//
// What a rendered systemd unit means, and why:
//
//   - Type=notify: the program (built on sole's runtime) sends READY=1.
//   - Restart=on-failure with RestartPreventExitStatus=75: exit status 75
//     is sole's "already running"; restarting on it would loop.
//   - KillMode=mixed, only when ExecStart is a `sole run` wrapper (Args are
//     what SoleRunArgs returns for Name and User): on stop systemd sends
//     SIGTERM to sole alone, which forwards it to COMMAND once; the default
//     (control-group) would send it to every process of the cgroup, so
//     COMMAND would get it twice, from systemd and from sole, and many
//     programs take a second SIGTERM as "force quit now". SIGKILL after
//     TimeoutStopSec= still goes to the whole cgroup. A program built on
//     sole's runtime runs as the main process itself and keeps the
//     default.
//   - SuccessExitStatus=129 130 141 143, with KillMode=mixed: sole exits
//     128+N when COMMAND dies of signal N, so a COMMAND ended by the
//     SIGTERM of `systemctl stop` (or by SIGHUP, SIGINT or SIGPIPE) is a
//     clean end, as systemd counts the death of a main process by those
//     signals: the unit is not left "failed" after a stop, and
//     --restart on-failure treats it as the same end.
//   - After=network.target in a system unit; for a `sole run` wrapper
//     with a fleet lock (SoleRun.Fleet: `sole install --fleet`),
//     After= and Wants=network-online.target instead, since etcd is
//     reached over the network. A user unit has neither (a user manager
//     has no network targets); sole waits for etcd anyway. A fleet
//     service waits for its lock (--wait): on a node that does not hold
//     it, the unit stays "activating" and sole keeps extending the start
//     with EXTEND_TIMEOUT_USEC, so TimeoutStartSec= (StartTimeout, left
//     as given) does not end the wait, and `systemctl start` returns
//     only once the node holds the lock (with --no-block, at once).
//   - StartLimitIntervalSec= and StartLimitBurst= go under [Unit], where
//     systemd reads them (under [Service] they are an obsolete spelling).
//   - RuntimeDirectory=sole/NAME, in system units only: the
//     single-instance lock lives in a runtime directory of its own per
//     service (/run/sole/NAME/NAME.pid, where pidlock.Named puts it),
//     created for the service's user, so that services running as
//     different users never share a writable directory.
//     RuntimeDirectoryPreserve=yes: systemd does not remove it when the
//     service stops, because another process (a `sole run --name NAME` by
//     hand, a second instance) may hold the lock file inside it;
//     uninstalling removes it. A user unit declares no RuntimeDirectory=:
//     its %t is $XDG_RUNTIME_DIR, which is not where a user's lock lives
//     (logind removes it at the last logout, and cron or ssh do not see
//     it), and pidlock creates the lock's directory itself, in the
//     per-user directory of platform.LockDir (/run/lock/sole-UID/NAME on
//     Debian and Ubuntu).
//
// launchd has no equivalent of Type=notify, the watchdog, the start limits
// or RestartPreventExitStatus; see LaunchdPlist for what it gets instead.
package unit

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/solehq/sole/internal/cli"
)

// Description describes a service. The zero value of each optional field
// means "the default" (see WithDefaults); durations are refused when
// negative.
type Description struct {
	// Name is the service name: a letter or digit, then letters, digits,
	// '.', '_', '@' or '-'; at most 200 bytes, not ending in '@' (that
	// would make a systemd template unit, whose instances would share one
	// lock directory). It names the unit file (NAME.service), the runtime
	// directory of a system unit (sole/NAME) and the launchd label (see
	// LaunchdLabel).
	Name string
	// DisplayName is an optional human-readable name. systemd's
	// Description= uses it when Description is empty.
	DisplayName string
	// Description is one line of text: no newlines or other control
	// characters, and no trailing backslash (systemd would read it as a
	// line continuation). systemd's Description= is Description, else
	// DisplayName, else Name, without leading and trailing spaces (which
	// systemd would drop anyway). DisplayName follows the same rules.
	Description string
	// Documentation lists URIs of the program's documentation (systemd
	// Documentation=, shown by systemctl status and help): each starts
	// with http://, https://, file:, info: or man: and has no spaces,
	// quotes, backslashes or control characters. launchd has no
	// equivalent.
	Documentation []string
	// Exec is the absolute, clean path of the program to run (path.Clean
	// leaves it unchanged). Beyond what Args allows, it may not contain
	// tabs, quotes or backslashes (systemd refuses them in the program path:
	// "Executable name contains special characters") or '$' (systemd passes
	// the program path through unexpanded but expands variables in argv[0],
	// so no spelling makes both right).
	Exec string
	// Args are the program's arguments. Any text is allowed except invalid
	// UTF-8 and control characters other than tab (a newline or NUL, say).
	Args []string
	// User makes a per-user service (systemctl --user; a launchd
	// LaunchAgent) instead of a system one (a LaunchDaemon).
	User bool
	// Env holds "KEY=VALUE" pairs for the program's environment. KEY is a
	// letter or '_' followed by letters, digits or '_', given once. VALUE
	// follows the rules of Args.
	Env []string
	// WorkingDirectory is optional; when set, an absolute clean path
	// without tabs that does not end in a space or a backslash (systemd
	// takes the value unquoted, dropping trailing spaces and reading a
	// trailing backslash as a line continuation).
	WorkingDirectory string
	// RunAs optionally names the user a system service runs as (systemd
	// User=, launchd UserName), following systemd's strict rules for user
	// names: a letter or '_', then letters, digits, '_' or '-', at most 31
	// bytes. (systemd accepts more, such as "first.last", but logs that
	// the name "does not match strict user/group name rules".) Not allowed
	// with User.
	RunAs string
	// Group optionally names the group a system service runs as (systemd
	// Group=, launchd GroupName), with the rules of RunAs; it needs RunAs.
	// Empty means the user's primary group.
	Group string
	// EnvFile is optionally the absolute path of a file of KEY=VALUE lines
	// for the program's environment, read when the service starts:
	// systemd's EnvironmentFile=; on the other managers the program's
	// `run` reads it (ManagerArgs adds --env-file). A missing file fails
	// the start. Env's variables come first; the file's win.
	EnvFile string
	// Restart is the restart policy: "on-failure" (the default: restart
	// after a non-zero exit, a signal or a watchdog timeout, never after
	// exit status 75), "always" (also after a clean exit) or "no".
	Restart string
	// Harden runs the service under systemd's sandboxing options (see
	// HardenSettings), with a StateDirectory= and LogsDirectory= named
	// Name for what it writes. systemd only.
	Harden bool
	// Watchdog is systemd's WatchdogSec=; 0 means no watchdog.
	Watchdog time.Duration
	// StopTimeout is how long the program has to exit after SIGTERM
	// (systemd TimeoutStopSec=, launchd ExitTimeOut). Default 30s.
	StopTimeout time.Duration
	// StartTimeout is how long the program has to report ready (systemd
	// TimeoutStartSec=). Default 90s.
	StartTimeout time.Duration
	// RestartSec is the pause before a restart after a failure (systemd
	// RestartSec=). Default 1s.
	//lint:ignore ST1011 named after systemd's RestartSec=, which it sets.
	RestartSec time.Duration
	// More than StartLimitBurst starts within StartLimitInterval make
	// systemd stop restarting the service (StartLimitBurst= and
	// StartLimitIntervalSec=, under [Unit]). Defaults 5 and 60s.
	StartLimitBurst    int
	StartLimitInterval time.Duration
	// NotifyAccess is "main" (the default: only the program itself may
	// send READY=1 and watchdog pings) or "all".
	NotifyAccess string
	// LogDir is the launchd directory for StandardOutPath and
	// StandardErrorPath (an absolute clean path without tabs). Default:
	// see LaunchdLogDir.
	LogDir string
}

// Defaults filled in by WithDefaults.
const (
	DefaultStopTimeout        = 30 * time.Second
	DefaultStartTimeout       = 90 * time.Second
	DefaultRestartDelay       = 1 * time.Second
	DefaultStartLimitBurst    = 5
	DefaultStartLimitInterval = 60 * time.Second
	DefaultNotifyAccess       = "main"
	DefaultRestart            = "on-failure"
)

// Restart policies (Description.Restart).
var RestartPolicies = []string{"on-failure", "always", "no"}

// MaxNameLen is the longest Name allowed, in bytes.
const MaxNameLen = 200

// ExitAlreadyRunning is the exit status of a program that finds another
// instance running; the systemd unit does not restart on it.
const ExitAlreadyRunning = cli.ExitAlreadyRunning

// WithDefaults returns d with each zero optional field replaced by its
// default: StopTimeout, StartTimeout, RestartSec, StartLimitBurst,
// StartLimitInterval, NotifyAccess and Restart. It does not validate, and does not
// touch LogDir, whose default depends on a home directory (LaunchdLogDir).
// The renderers call it themselves.
func (d Description) WithDefaults() Description {
	if d.StopTimeout == 0 {
		d.StopTimeout = DefaultStopTimeout
	}
	if d.StartTimeout == 0 {
		d.StartTimeout = DefaultStartTimeout
	}
	if d.RestartSec == 0 {
		d.RestartSec = DefaultRestartDelay
	}
	if d.StartLimitBurst == 0 {
		d.StartLimitBurst = DefaultStartLimitBurst
	}
	if d.StartLimitInterval == 0 {
		d.StartLimitInterval = DefaultStartLimitInterval
	}
	if d.NotifyAccess == "" {
		d.NotifyAccess = DefaultNotifyAccess
	}
	if d.Restart == "" {
		d.Restart = DefaultRestart
	}
	return d
}

// Error is a description that cannot be rendered. Its message is one line:
// user input in it is quoted (and cut short when long).
type Error struct {
	Field  string // "name", "args[2]", "env[0]", "exec", ...
	Reason string
}

func (e *Error) Error() string { return "unit: " + e.Field + ": " + e.Reason }

func fieldErr(field, format string, a ...any) error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Validate reports the first problem that keeps d from being rendered, or
// nil. It changes nothing; zero optional fields are valid (they mean the
// default).
func (d *Description) Validate() error {
	if d == nil {
		return &Error{Field: "description", Reason: "nil"}
	}
	if err := checkName(d.Name); err != nil {
		return err
	}
	if err := checkLine("display name", d.DisplayName); err != nil {
		return err
	}
	if err := checkLine("description", d.Description); err != nil {
		return err
	}
	for i, u := range d.Documentation {
		if err := checkDocURI(fmt.Sprintf("documentation[%d]", i), u); err != nil {
			return err
		}
	}
	if err := checkPath("exec", d.Exec); err != nil {
		return err
	}
	if d.Exec == "/" {
		return fieldErr("exec", "%s is a directory", show(d.Exec))
	}
	if i := strings.IndexAny(d.Exec, `"'\`); i >= 0 {
		return fieldErr("exec", "%s has %s at byte %d, which systemd refuses in a program path", show(d.Exec), showRune(d.Exec, i), i)
	}
	if strings.Contains(d.Exec, "$") {
		return fieldErr("exec", "%s contains '$', which systemd cannot pass through unchanged in a program path", show(d.Exec))
	}
	for i, a := range d.Args {
		if err := checkText(fmt.Sprintf("args[%d]", i), a); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(d.Env))
	for i, kv := range d.Env {
		field := fmt.Sprintf("env[%d]", i)
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fieldErr(field, "%s is not KEY=VALUE", show(kv))
		}
		if !validEnvName(k) {
			return fieldErr(field, "%s is not a valid environment variable name (want a letter or '_', then letters, digits or '_')", show(k))
		}
		if seen[k] {
			return fieldErr(field, "%s is given twice", k)
		}
		seen[k] = true
		if err := checkText(field, v); err != nil {
			return err
		}
	}
	if d.WorkingDirectory != "" {
		if err := checkPath("working directory", d.WorkingDirectory); err != nil {
			return err
		}
		if strings.HasSuffix(d.WorkingDirectory, " ") || strings.HasSuffix(d.WorkingDirectory, `\`) {
			return fieldErr("working directory", "%s ends in a space or a backslash, which systemd's WorkingDirectory= cannot hold", show(d.WorkingDirectory))
		}
	}
	if d.RunAs != "" {
		if d.User {
			return fieldErr("run as", "a per-user service runs as its user; RunAs is for system services")
		}
		if !d.WindowsAccount() {
			if err := checkUserName("run as", d.RunAs); err != nil {
				return err
			}
		}
		if d.RunAs == "nobody" || d.Group == "nogroup" || d.Group == "nobody" {
			return fieldErr("run as", "nobody and nogroup are shared by unrelated programs, which systemd calls \"not safe\"; give the service a user of its own (a package creates it)")
		}
	}
	if d.Group != "" {
		if d.RunAs == "" {
			return fieldErr("group", "a group needs a user to run as (USER:GROUP)")
		}
		if err := checkUserName("group", d.Group); err != nil {
			return err
		}
	}
	if d.EnvFile != "" {
		if err := checkPath("env file", d.EnvFile); err != nil {
			return err
		}
		if strings.HasSuffix(d.EnvFile, " ") || strings.HasSuffix(d.EnvFile, `\`) {
			return fieldErr("env file", "%s ends in a space or a backslash, which systemd's EnvironmentFile= cannot hold", show(d.EnvFile))
		}
	}
	switch d.Restart {
	case "", "on-failure", "always", "no":
	default:
		return fieldErr("restart", "%s: want on-failure, always or no", show(d.Restart))
	}
	if d.Harden {
		if d.User {
			return fieldErr("harden", "the sandboxing options are for system services; a per-user service cannot drop privileges it does not have")
		}
		paths := []struct{ field, p string }{{"exec", d.Exec}, {"working directory", d.WorkingDirectory}}
		if r, ok := d.soleRun(); ok {
			paths = append(paths, struct{ field, p string }{"command", r.Command[0]})
			// sole reads the fleet's TLS files inside the sandbox.
			for _, f := range r.fleetFiles() {
				paths = append(paths, struct{ field, p string }{strings.TrimPrefix(f[0], "--"), f[1]})
			}
		}
		for _, p := range paths {
			if err := checkHardenPath(p.field, p.p); err != nil {
				return err
			}
		}
	}
	if d.LogDir != "" {
		if err := checkPath("log directory", d.LogDir); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		field string
		v     time.Duration
	}{
		{"watchdog", d.Watchdog},
		{"stop timeout", d.StopTimeout},
		{"start timeout", d.StartTimeout},
		{"restart delay", d.RestartSec},
		{"start limit interval", d.StartLimitInterval},
	} {
		if t.v < 0 {
			return fieldErr(t.field, "%v is negative", t.v)
		}
		if t.v%time.Microsecond != 0 {
			return fieldErr(t.field, "%v is not a whole number of microseconds (systemd's resolution)", t.v)
		}
	}
	if d.StartLimitBurst < 0 || int64(d.StartLimitBurst) > 1<<31-1 {
		return fieldErr("start limit burst", "%d is out of range (0 to 2147483647)", d.StartLimitBurst)
	}
	switch d.NotifyAccess {
	case "", "main", "all":
	default:
		return fieldErr("notify access", "%s is not \"main\" or \"all\"", show(d.NotifyAccess))
	}
	return nil
}

func checkName(name string) error {
	const field = "name"
	if name == "" {
		return fieldErr(field, "empty")
	}
	if len(name) > MaxNameLen {
		return fieldErr(field, "%s is %d bytes long, more than %d", show(name), len(name), MaxNameLen)
	}
	for i, r := range name {
		ok := r < utf8.RuneSelf && (isAlnum(byte(r)) || i > 0 && strings.IndexByte("._@-", byte(r)) >= 0)
		if !ok {
			if i == 0 {
				return fieldErr(field, "%s starts with %s; want a letter or digit", show(name), showRune(name, i))
			}
			return fieldErr(field, "%s has %s at byte %d; want letters, digits, '.', '_', '@' or '-'", show(name), showRune(name, i), i)
		}
	}
	if strings.HasSuffix(name, "@") {
		return fieldErr(field, "%s ends in '@', which would make a systemd template unit", show(name))
	}
	return nil
}

// checkDocURI checks a Documentation= URI: systemd takes the schemes
// below and splits the value at whitespace.
func checkDocURI(field, u string) error {
	ok := false
	for _, scheme := range []string{"http://", "https://", "file:", "info:", "man:"} {
		if strings.HasPrefix(u, scheme) && len(u) > len(scheme) {
			ok = true
		}
	}
	if !ok {
		return fieldErr(field, "%s: want a URI starting with http://, https://, file:, info: or man:", show(u))
	}
	if i := strings.IndexFunc(u, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '"' || r == '\'' || r == '\\' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r)
	}); i >= 0 {
		return fieldErr(field, "%s has %s at byte %d, which a Documentation= URI cannot hold", show(u), showRune(u, i), i)
	}
	return nil
}

// checkLine checks one line of free text (DisplayName, Description).
func checkLine(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "%s is not valid UTF-8", show(s))
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(field, "%s has control character %U at byte %d; want one line of text", show(s), r, i)
		}
		if r == 0xFFFE || r == 0xFFFF {
			return fieldErr(field, "%s has %U at byte %d, which XML cannot hold", show(s), r, i)
		}
	}
	if strings.HasSuffix(strings.TrimRight(s, " "), `\`) {
		return fieldErr(field, "%s ends in a backslash, which systemd reads as a line continuation", show(s))
	}
	return nil
}

// checkText checks an argument or an environment value: anything but
// invalid UTF-8, control characters other than tab (which neither systemd's
// Environment= nor XML 1.0 can hold), U+FFFE and U+FFFF (not XML).
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "%s is not valid UTF-8", show(s))
	}
	for i, r := range s {
		switch {
		case r == '\n':
			return fieldErr(field, "%s has a newline at byte %d", show(s), i)
		case r == 0:
			return fieldErr(field, "%s has a NUL byte at byte %d", show(s), i)
		case r < 0x20 && r != '\t', r == 0x7f:
			return fieldErr(field, "%s has control character %U at byte %d", show(s), r, i)
		case r == 0xFFFE || r == 0xFFFF:
			return fieldErr(field, "%s has %U at byte %d, which XML cannot hold", show(s), r, i)
		}
	}
	return nil
}

// checkPath checks an absolute path in Unix form (path, not filepath: the
// units are for Unix service managers whatever GOOS renders them).
func checkPath(field, p string) error {
	if p == "" {
		return fieldErr(field, "empty")
	}
	if err := checkText(field, p); err != nil {
		return err
	}
	if strings.ContainsRune(p, '\t') {
		return fieldErr(field, "%s has a tab", show(p))
	}
	if !path.IsAbs(p) {
		return fieldErr(field, "%s is not an absolute path", show(p))
	}
	if c := path.Clean(p); c != p {
		return fieldErr(field, "%s is not a clean path (want %s)", show(p), show(c))
	}
	return nil
}

// checkUserName applies systemd's strict user name rules
// (valid_user_group_name without VALID_USER_RELAX).
func checkUserName(field, s string) error {
	if s == "" {
		return fieldErr(field, "empty")
	}
	if len(s) > 31 {
		return fieldErr(field, "%s is %d bytes long, more than 31", show(s), len(s))
	}
	for i, r := range s {
		ok := r < utf8.RuneSelf && (isAlnum(byte(r)) || r == '_' || r == '-') && !(i == 0 && (r == '-' || r >= '0' && r <= '9'))
		if !ok {
			return fieldErr(field, "%s has %s at byte %d; want a user name (a letter or '_', then letters, digits, '_' or '-')", show(s), showRune(s, i), i)
		}
	}
	return nil
}

func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isAlnum(k[i]) && k[i] != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// show quotes user input for an error message: one line, at most about 64
// bytes of it.
func show(s string) string {
	const max = 64
	tail := ""
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, tail = s[:cut], "..."
	}
	// Text that needs no escape but its backslashes is shown as typed:
	// "NT SERVICE\x" would be a name nobody wrote.
	if strings.ContainsRune(s, '\\') && !strings.ContainsRune(s, '"') && strconv.Quote(strings.ReplaceAll(s, `\`, "")) == `"`+strings.ReplaceAll(s, `\`, "")+`"` {
		return `"` + s + `"` + tail
	}
	return strconv.Quote(s) + tail
}

// showRune describes the character at byte i of s.
func showRune(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte %#02x", s[i])
	}
	return fmt.Sprintf("%q (%U)", r, r)
}

// SoleRunArgs returns the arguments that make a sole binary run argv
// (argv[0] an absolute path) as the service name, with `sole run`
// semantics: the single-instance lock of name in the system or user scope,
// readiness reported only once argv runs under it. health, when not
// empty, is the shell command whose success feeds the watchdog.
// windowsService adds --service, which makes sole speak to the Windows
// service control manager. It is SoleRun's Args without a fleet lock.
func SoleRunArgs(name string, user, windowsService bool, health string, argv []string) []string {
	return SoleRun{Name: name, User: user, WindowsService: windowsService, Health: health, Command: argv}.Args()
}

// SoleRun is the `sole run` command line of a service that a sole binary
// runs for a command. `sole install` and the packagers build their service
// definitions with it (Args); SystemdUnit recognises the result (with the
// description's Name and User) and adds KillMode=mixed, and for a fleet
// lock the ordering after the network.
type SoleRun struct {
	Name           string // the service's name, which names the lock
	User           bool   // the user scope (a per-user service)
	WindowsService bool   // --service: sole speaks to the Windows service control manager
	Health         string // --health CMD, "" for none
	// Fleet are the options of the fleet lock, as `sole run` takes them
	// and `sole install` renders them from its own: "--fleet", URL, then
	// any of --fleet-ttl, --fleet-cacert, --fleet-cert and --fleet-key,
	// each followed by its value; nil for none. A fleet service waits for
	// its lock (--wait, for ever): on every node but the one that holds
	// it, it stands by instead of exiting 75, and takes over when the
	// holder goes. Credentials never go here: sole reads them from its
	// environment (SOLE_FLEET_USER, SOLE_FLEET_PASSWORD).
	Fleet []string
	// Command is the program and its arguments (Command[0] an absolute
	// path).
	Command []string
}

// fleetOptions are the options of `sole run` that SoleRun.Fleet may hold,
// each followed by its value.
var fleetOptions = map[string]bool{"--fleet": true, "--fleet-ttl": true, "--fleet-cacert": true, "--fleet-cert": true, "--fleet-key": true}

// fleetFiles are the fleet options that name a file that sole reads.
var fleetFiles = []string{"--fleet-cacert", "--fleet-cert", "--fleet-key"}

// Args returns the arguments of the sole binary: run, the fleet options
// (if any), --name NAME --scope SCOPE, --service, --health CMD, --wait
// with a fleet lock, then -- and the command.
func (r SoleRun) Args() []string {
	scope := "system"
	if r.User {
		scope = "user"
	}
	args := append([]string{"run"}, r.Fleet...)
	args = append(args, "--name", r.Name, "--scope", scope)
	if r.WindowsService {
		args = append(args, "--service")
	}
	if r.Health != "" {
		args = append(args, "--health", r.Health)
	}
	if len(r.Fleet) > 0 {
		args = append(args, "--wait")
	}
	args = append(args, "--")
	return append(args, r.Command...)
}

// fleetFiles returns the fleet options that name files, with their values.
func (r SoleRun) fleetFiles() [][2]string {
	var files [][2]string
	for i := 0; i+1 < len(r.Fleet); i += 2 {
		if slices.Contains(fleetFiles, r.Fleet[i]) {
			files = append(files, [2]string{r.Fleet[i], r.Fleet[i+1]})
		}
	}
	return files
}

// soleRun reads d's arguments back as the SoleRun whose Args they are,
// for d.Name and d.User, with a command; ok is false when they are not.
func (d *Description) soleRun() (r SoleRun, ok bool) {
	a := d.Args
	if len(a) == 0 || a[0] != "run" {
		return r, false
	}
	i := 1
	if i < len(a) && a[i] == "--fleet" {
		for i+1 < len(a) && fleetOptions[a[i]] {
			r.Fleet = append(r.Fleet, a[i], a[i+1])
			i += 2
		}
	}
	i += 4 // --name NAME --scope SCOPE
	if i < len(a) && a[i] == "--service" {
		r.WindowsService = true
		i++
	}
	if i+1 < len(a) && a[i] == "--health" {
		r.Health = a[i+1]
		i += 2
	}
	if len(r.Fleet) > 0 && i < len(a) && a[i] == "--wait" {
		i++
	}
	if i+1 >= len(a) || a[i] != "--" {
		return SoleRun{}, false
	}
	r.Name, r.User, r.Command = d.Name, d.User, a[i+1:]
	if !slices.Equal(a, r.Args()) {
		return SoleRun{}, false
	}
	return r, true
}
