package unit

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// The templates are parsed once, on first use (not at package
// initialisation: the sole command links this package, and `sole run` must
// not pay for it), by the small engine in tmpl.go rather than text/template
// (see there why). A broken embedded template is a bug in this package that
// every test catches, not something user input can cause.
var templates = sync.OnceValue(func() map[string][]node {
	m := map[string][]node{}
	for _, name := range []string{"systemd.service.tmpl", "launchd.plist.tmpl"} {
		src, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			panic(err)
		}
		nodes, err := parseTemplate(string(src))
		if err != nil {
			panic(fmt.Sprintf("unit: templates/%s: %v", name, err))
		}
		m[name] = nodes
	}
	return m
})

// render renders the template name with data.
func render(name string, data any) (string, error) {
	var b strings.Builder
	if err := execute(&b, templates()[name], reflect.ValueOf(data)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// maxSystemdLine is systemd's LONG_LINE_MAX: a longer line in a unit file
// is an error.
const maxSystemdLine = 1 << 20

// systemdData is what templates/systemd.service.tmpl gets: every value
// already validated and escaped for its key.
type systemdData struct {
	User               bool
	Name               string // safe as is: letters, digits, ._@-
	Description        string
	Documentation      string // space-separated URIs, "" for none
	After, Wants       string // units, "" for none
	StartLimitInterval string
	StartLimitBurst    int
	NotifyAccess       string
	ExecStart          string
	RestartSec         string
	ExitAlreadyRunning int
	TimeoutStartSec    string
	TimeoutStopSec     string
	KillMode           string // "" for systemd's default (control-group)
	WatchdogSec        string // "" for none
	Environment        []string
	WorkingDirectory   string
	RunAs              string
	Group              string
	EnvironmentFile    string
	Restart            string
	Harden             []string // sandboxing lines, nil without Harden
}

// SystemdUnit renders d (after WithDefaults) as a systemd service unit, or
// returns an *Error if d is not valid. The package documentation says what
// the unit contains and why; testdata/*.service.golden show examples.
func SystemdUnit(d Description) ([]byte, error) {
	d = d.WithDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	desc := strings.Trim(d.Description, " ")
	if desc == "" {
		desc = strings.Trim(d.DisplayName, " ")
	}
	if desc == "" {
		desc = d.Name
	}
	data := systemdData{
		User:               d.User,
		Name:               d.Name,
		Description:        escapeSpecifiers(desc),
		Documentation:      escapeSpecifiers(strings.Join(d.Documentation, " ")),
		StartLimitBurst:    d.StartLimitBurst,
		NotifyAccess:       d.NotifyAccess,
		ExitAlreadyRunning: ExitAlreadyRunning,
		WorkingDirectory:   escapeSpecifiers(d.WorkingDirectory),
		RunAs:              d.RunAs,
		Group:              d.Group,
		EnvironmentFile:    escapeSpecifiers(d.EnvFile),
		Restart:            restartSetting(d.Restart),
	}
	if d.WindowsAccount() {
		return nil, fieldErr("run as", "%s is a Windows service account; systemd wants a user name", show(d.RunAs))
	}
	if d.Harden {
		data.Harden = hardenSettings
	}
	r, wrapper := d.soleRun()
	if wrapper {
		data.KillMode = "mixed"
	}
	if !d.User {
		// A user manager has neither target: its units cannot be ordered
		// after the system's.
		data.After = "network.target"
		if wrapper && len(r.Fleet) > 0 {
			// etcd is reached over the network: a fleet service starts
			// once it is up (where a wait-online service says so), which
			// spares the boot a round of "etcd cannot be reached".
			data.After, data.Wants = "network-online.target", "network-online.target"
		}
	}
	words := make([]string, 0, 1+len(d.Args))
	for _, w := range append([]string{d.Exec}, d.Args...) {
		words = append(words, quoteExecWord(w))
	}
	data.ExecStart = strings.Join(words, " ")
	for _, kv := range d.Env {
		data.Environment = append(data.Environment, quoteEnv(kv))
	}
	var err error
	for _, t := range []struct {
		dst   *string
		v     time.Duration
		field string
	}{
		{&data.StartLimitInterval, d.StartLimitInterval, "start limit interval"},
		{&data.RestartSec, d.RestartSec, "restart delay"},
		{&data.TimeoutStartSec, d.StartTimeout, "start timeout"},
		{&data.TimeoutStopSec, d.StopTimeout, "stop timeout"},
		{&data.WatchdogSec, d.Watchdog, "watchdog"},
	} {
		if t.v == 0 { // only the watchdog can still be 0: none
			continue
		}
		if *t.dst, err = systemdDuration(t.v); err != nil {
			return nil, &Error{Field: t.field, Reason: err.Error()}
		}
	}
	text, err := render("systemd.service.tmpl", data)
	if err != nil {
		return nil, fmt.Errorf("unit: rendering the systemd unit: %w", err)
	}
	b := bytes.NewBufferString(text)
	for line := range bytes.Lines(b.Bytes()) {
		if len(line) > maxSystemdLine {
			key, _, _ := bytes.Cut(line, []byte("="))
			return nil, &Error{Field: string(key), Reason: fmt.Sprintf("the line would be %d bytes, more than systemd's limit of %d", len(line), maxSystemdLine)}
		}
	}
	return b.Bytes(), nil
}

// SystemdUnitPath returns where the unit of d is installed:
// /etc/systemd/system/NAME.service for a system unit, and
// HOME/.config/systemd/user/NAME.service for a user unit. With home "" the
// user path is relative to the user's home directory
// (".config/systemd/user/NAME.service"). A caller honouring a
// $XDG_CONFIG_HOME other than HOME/.config installs the user unit in
// $XDG_CONFIG_HOME/systemd/user instead: systemd --user reads that
// directory in place of HOME/.config/systemd/user.
func SystemdUnitPath(d Description, home string) string {
	file := d.Name + ".service"
	if d.User {
		return path.Join(home, ".config/systemd/user", file)
	}
	return path.Join("/etc/systemd/system", file)
}

// escapeSpecifiers doubles '%': systemd expands %-specifiers in most
// values, %% being a literal '%'.
func escapeSpecifiers(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

// safeExecWord reports whether w can be written unquoted in ExecStart=.
func safeExecWord(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !isAlnum(c) && strings.IndexByte("/_.,:+=@-", c) < 0 {
			return false
		}
	}
	return true
}

// quoteExecWord writes one word of ExecStart=: unquoted when it is plain,
// otherwise in double quotes with '\' and '"' escaped and a tab as \t.
// Either way '%' is written %% (systemd expands specifiers in the whole
// line first) and '$' as $$ (systemd expands $VAR and ${VAR} in the
// arguments it passes). Validate has refused what cannot be written:
// newlines, other control characters, invalid UTF-8.
func quoteExecWord(w string) string {
	if safeExecWord(w) {
		return w
	}
	return quote(w, true)
}

// quoteEnv writes one assignment for Environment=: in double quotes, '\'
// and '"' escaped, a tab as \t, '%' as %%. Environment= does not expand
// $VAR, so '$' stays as it is.
func quoteEnv(kv string) string { return quote(kv, false) }

// quote writes s in double quotes for a unit file: '\' and '"' escaped, a
// tab as \t, '%' as %%, and with dollars, '$' as $$.
func quote(s string, dollars bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '%':
			b.WriteString("%%")
		case c == '$' && dollars:
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// systemdDuration writes d in systemd's time span syntax: whole seconds as
// "Ns", then any milliseconds and microseconds ("1s 500ms", "500ms",
// "250us"). systemd counts in microseconds, so a finer d is an error, as is
// a negative one.
func systemdDuration(d time.Duration) (string, error) {
	if d < 0 {
		return "", fmt.Errorf("%v is negative", d)
	}
	if d%time.Microsecond != 0 {
		return "", fmt.Errorf("%v is not a whole number of microseconds (systemd's resolution)", d)
	}
	if d == 0 {
		return "0", nil
	}
	var parts []string
	if s := d / time.Second; s > 0 {
		parts = append(parts, strconv.FormatInt(int64(s), 10)+"s")
	}
	if ms := d % time.Second / time.Millisecond; ms > 0 {
		parts = append(parts, strconv.FormatInt(int64(ms), 10)+"ms")
	}
	if us := d % time.Millisecond / time.Microsecond; us > 0 {
		parts = append(parts, strconv.FormatInt(int64(us), 10)+"us")
	}
	return strings.Join(parts, " "), nil
}
