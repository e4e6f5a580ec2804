package kservice

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/runtime"
)

// program is a kardianos program that does nothing.
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// abs is an absolute path on this OS.
func abs(p string) string {
	if filepath.Separator == '\\' {
		return `C:` + filepath.FromSlash(p)
	}
	return p
}

func TestConfigMapping(t *testing.T) {
	wait := func() {}
	for name, tt := range map[string]struct {
		c    service.Config
		want runtime.Config
		env  []string
		user bool
	}{
		"name only": {
			c:    service.Config{Name: "myd"},
			want: runtime.Config{Name: "myd"},
		},
		"every field": {
			c: service.Config{
				Name:             "myd",
				DisplayName:      "My daemon",
				Description:      "my daemon, as a service",
				UserName:         "myd:daemons",
				WorkingDirectory: abs("/srv/myd"),
				EnvVars:          map[string]string{"Z": "last", "A_1": "first one", "M": "a=b\tc", "EMPTY": ""},
			},
			want: runtime.Config{Name: "myd", Description: "my daemon, as a service", RunAs: "myd:daemons", Workdir: abs("/srv/myd")},
			env:  []string{"A_1=first one", "EMPTY=", "M=a=b\tc", "Z=last"},
		},
		"display name as description": {
			c:    service.Config{Name: "myd", DisplayName: " My daemon "},
			want: runtime.Config{Name: "myd", Description: "My daemon"},
		},
		"windows account": {
			c:    service.Config{Name: "myd", UserName: `NT SERVICE\myd`},
			want: runtime.Config{Name: "myd", RunAs: `NT SERVICE\myd`},
		},
		"restart options": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"Restart": "always", "RestartSec": "5"}},
			want: runtime.Config{Name: "myd", Restart: "always", RestartDelay: 5 * time.Second},
		},
		"restart delay as a duration string": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"RestartSec": "1.5s"}},
			want: runtime.Config{Name: "myd", RestartDelay: 1500 * time.Millisecond},
		},
		"restart delay as int seconds": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"RestartSec": 2}},
			want: runtime.Config{Name: "myd", RestartDelay: 2 * time.Second},
		},
		"restart delay as time.Duration, twice alike": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"RestartSec": 3 * time.Second, "OnFailureDelayDuration": "3s"}},
			want: runtime.Config{Name: "myd", RestartDelay: 3 * time.Second},
		},
		"keep alive false": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"KeepAlive": false, "OnFailure": "noaction"}},
			want: runtime.Config{Name: "myd", Restart: "no"},
		},
		"user service": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"UserService": true}},
			want: runtime.Config{Name: "myd", Scope: pidlock.ScopeUser},
			user: true,
		},
		"log and pid file": {
			c:    service.Config{Name: "myd", Option: service.KeyValue{"LogOutput": true, "LogDirectory": abs("/var/log/myd"), "PIDFile": abs("/run/myd.pid")}},
			want: runtime.Config{Name: "myd", LogDir: abs("/var/log/myd"), LockPath: abs("/run/myd.pid")},
		},
		"defaults said out loud": {
			c: service.Config{Name: "myd", Option: service.KeyValue{
				"KeepAlive": true, "RunAtLoad": true, "SessionCreate": false, "DelayedAutoStart": false,
				"Interactive": false, "StartType": "automatic", "OnFailure": "restart", "ReloadSignal": "SIGHUP",
				"SuccessExitStatus": "", "LimitNOFILE": -1, "UserService": false, "LogOutput": false, "RunWait": wait,
			}},
			want: runtime.Config{Name: "myd"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := mapConfig(&tt.c)
			if err != nil {
				t.Fatalf("mapConfig: %v", err)
			}
			// Env, DisplayName and UserService are checked on their own.
			got := m.cfg
			got.Env, got.DisplayName, got.UserService = nil, "", false
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("runtime.Config\n got %+v\nwant %+v", got, tt.want)
			}
			if !slices.Equal(m.cfg.Env, tt.env) || m.cfg.UserService != m.userService || m.cfg.DisplayName != strings.TrimSpace(tt.c.DisplayName) {
				t.Errorf("Env %q, UserService %v, DisplayName %q", m.cfg.Env, m.cfg.UserService, m.cfg.DisplayName)
			}
			if !slices.Equal(m.env, tt.env) {
				t.Errorf("env %q, want %q", m.env, tt.env)
			}
			if m.userService != tt.user {
				t.Errorf("user service %v, want %v", m.userService, tt.user)
			}
			if _, ok := tt.c.Option["RunWait"]; ok != (m.runWait != nil) {
				t.Errorf("RunWait given %v, kept %v", ok, m.runWait != nil)
			}
		})
	}
}

// TestConfigRefused: what sole cannot honour is one line, starting with
// "kservice: " and naming the field or key.
func TestConfigRefused(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(filepath.Dir(self), "not-this-program")
	name := func(n string) service.Config { return service.Config{Name: n} }
	opt := func(kv service.KeyValue) service.Config { return service.Config{Name: "myd", Option: kv} }
	env := func(kv map[string]string) service.Config { return service.Config{Name: "myd", EnvVars: kv} }
	for title, tt := range map[string]struct {
		c    service.Config
		want string
	}{
		"empty name":          {name(""), `kservice: Name: empty`},
		"name with space":     {name("my d"), `kservice: Name: "my d" has ' ' (U+0020) at byte 2`},
		"name with slash":     {name("../etc"), `kservice: Name: "../etc" starts with '.'`},
		"name with backslash": {name(`a\b`), `(U+005C) at byte 1; want letters, digits`},
		"name with newline":   {name("a\nb"), `kservice: Name: "a\nb" has '\n'`},
		"name too long":       {name(strings.Repeat("a", 201)), `more than 200`},
		"template name":       {name("myd@"), `ends in '@'`},
		"unicode name":        {name("démon"), `kservice: Name: "démon" has 'é'`},
		"display newline":     {service.Config{Name: "myd", DisplayName: "My\ndaemon"}, `kservice: DisplayName: "My\ndaemon" has control character U+000A`},
		"description backslash": {
			service.Config{Name: "myd", Description: `ends in \`}, `ends in a backslash, which systemd reads as a line continuation`,
		},
		"description bad utf-8": {service.Config{Name: "myd", Description: "\xff"}, `kservice: Description: "\xff" is not valid UTF-8`},
		"user with space":       {service.Config{Name: "myd", UserName: "my user"}, `kservice: UserName: "my user" has ' '`},
		"user digit first":      {service.Config{Name: "myd", UserName: "1user"}, `kservice: UserName: "1user" has '1'`},
		"group empty":           {service.Config{Name: "myd", UserName: "myd:"}, `kservice: UserName: "myd:": want USER or USER:GROUP`},
		"user empty":            {service.Config{Name: "myd", UserName: ":grp"}, `kservice: UserName: ":grp": want USER or USER:GROUP`},
		"domain user":           {service.Config{Name: "myd", UserName: `CORP\bob`}, `bob": a Windows service runs as LocalSystem`},
		"relative workdir":      {service.Config{Name: "myd", WorkingDirectory: "srv"}, `kservice: WorkingDirectory: "srv" is not an absolute path`},
		"unclean workdir":       {service.Config{Name: "myd", WorkingDirectory: abs("/srv/../etc")}, `kservice: WorkingDirectory: `},
		"workdir newline":       {service.Config{Name: "myd", WorkingDirectory: abs("/srv\n")}, `has a newline`},
		"env key with =":        {env(map[string]string{"A=B": "c"}), `kservice: EnvVars["A=B"]: the name has '='`},
		"env key digit":         {env(map[string]string{"1X": "c"}), `kservice: EnvVars["1X"]: "1X" is not a valid environment variable name`},
		"env key empty":         {env(map[string]string{"": "c"}), `kservice: EnvVars[""]: "" is not a valid environment variable name`},
		"env key space":         {env(map[string]string{"A B": "c"}), `kservice: EnvVars["A B"]: "A B" is not a valid`},
		"env value newline":     {env(map[string]string{"A": "x\ny"}), `kservice: EnvVars["A"]: "x\ny" has a newline at byte 1`},
		"env value NUL":         {env(map[string]string{"A": "x\x00"}), `kservice: EnvVars["A"]: "x\x00" has a NUL byte`},
		"env value bad utf-8":   {env(map[string]string{"A": "\xc3"}), `kservice: EnvVars["A"]: "\xc3" is not valid UTF-8`},
		"env value escape":      {env(map[string]string{"A": "\x1b[31m"}), `has control character U+001B`},
		"arguments":             {service.Config{Name: "myd", Arguments: []string{"-config", "x"}}, "kservice: Arguments: \"-config\": sole installs the service as `myd run`"},
		"executable":            {service.Config{Name: "myd", Executable: other}, `kservice: Executable: `},
		"dependencies":          {service.Config{Name: "myd", Dependencies: []string{"After=db.service"}}, `kservice: Dependencies: "After=db.service": sole's service definition has no dependency lines`},
		"chroot":                {service.Config{Name: "myd", ChRoot: "/jail"}, `kservice: ChRoot: "/jail"`},
		"unknown key":           {opt(service.KeyValue{"Frobnicate": true}), `kservice: Option["Frobnicate"]: sole does not know this key`},
		"misspelt key":          {opt(service.KeyValue{"restart": "always"}), `kservice: Option["restart"]: sole does not know this key (it knows `},
		"restart policy":        {opt(service.KeyValue{"Restart": "on-abnormal"}), `kservice: Option["Restart"]: "on-abnormal": sole's restart policies are on-failure, always and no`},
		"restart type":          {opt(service.KeyValue{"Restart": true}), `kservice: Option["Restart"]: want a string, got bool`},
		"restart delay bad":     {opt(service.KeyValue{"RestartSec": "soon"}), `kservice: Option["RestartSec"]: "soon": want a duration`},
		"restart delay neg":     {opt(service.KeyValue{"RestartSec": "-1s"}), `kservice: Option["RestartSec"]: -1s is negative`},
		"restart delay ns":      {opt(service.KeyValue{"RestartSec": time.Nanosecond}), `is not a whole number of microseconds`},
		"restart delay type":    {opt(service.KeyValue{"RestartSec": 1.5}), `want a duration, a number of seconds or a string, got float64`},
		"restart delay huge":    {opt(service.KeyValue{"RestartSec": 1 << 40}), `seconds is out of range`},
		"restart conflict":      {opt(service.KeyValue{"KeepAlive": false, "Restart": "always"}), `kservice: Option["Restart"]: means restart policy "always", but Option["KeepAlive"] says "no"`},
		"delay conflict":        {opt(service.KeyValue{"RestartSec": "2s", "OnFailureDelayDuration": "1s"}), `kservice: Option["RestartSec"]: 2s, but Option["OnFailureDelayDuration"] says 1s`},
		"success exit status":   {opt(service.KeyValue{"SuccessExitStatus": "3"}), `kservice: Option["SuccessExitStatus"]: "3": sole's units have no SuccessExitStatus=`},
		"systemd script":        {opt(service.KeyValue{"SystemdScript": "[Unit]"}), `kservice: Option["SystemdScript"]: sole writes the service definition itself`},
		"launchd config":        {opt(service.KeyValue{"LaunchdConfig": "<plist/>"}), `kservice: Option["LaunchdConfig"]: sole writes`},
		"reload signal":         {opt(service.KeyValue{"ReloadSignal": "USR1"}), `kservice: Option["ReloadSignal"]: "USR1": sole reloads with SIGHUP`},
		"limit nofile":          {opt(service.KeyValue{"LimitNOFILE": 4096}), `kservice: Option["LimitNOFILE"]: 4096: sole's units do not set LimitNOFILE=`},
		"run at load false":     {opt(service.KeyValue{"RunAtLoad": false}), `kservice: Option["RunAtLoad"]: false: sole's services start at boot`},
		"session create":        {opt(service.KeyValue{"SessionCreate": true}), `kservice: Option["SessionCreate"]: true: `},
		"delayed start":         {opt(service.KeyValue{"DelayedAutoStart": true}), `kservice: Option["DelayedAutoStart"]: true: `},
		"start type":            {opt(service.KeyValue{"StartType": "manual"}), `kservice: Option["StartType"]: "manual": sole's Windows services start automatically`},
		"on failure reboot":     {opt(service.KeyValue{"OnFailure": "reboot"}), `kservice: Option["OnFailure"]: "reboot"`},
		"password":              {opt(service.KeyValue{"Password": "hunter2"}), `kservice: Option["Password"]: sole's Windows services run as`},
		"run wait type":         {opt(service.KeyValue{"RunWait": "forever"}), `kservice: Option["RunWait"]: want a func(), got string`},
		"user service type":     {opt(service.KeyValue{"UserService": "yes"}), `kservice: Option["UserService"]: want a bool, got string`},
		"relative log dir":      {opt(service.KeyValue{"LogDirectory": "logs"}), `kservice: Option["LogDirectory"]: "logs" is not an absolute path`},
		"pid file relative":     {opt(service.KeyValue{"PIDFile": "myd.pid"}), `kservice: Option["PIDFile"]: "myd.pid" is not an absolute path`},
		"user service run as": {
			service.Config{Name: "myd", UserName: "myd", Option: service.KeyValue{"UserService": true}}, `kservice: UserName: "myd": a per-user service`,
		},
	} {
		t.Run(title, func(t *testing.T) {
			_, _, err := App(program{}, &tt.c)
			if err == nil {
				t.Fatalf("App accepted %+v", tt.c)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "kservice: ") || strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q\nwant one line starting \"kservice: \" containing %q", msg, tt.want)
			}
		})
	}
}

func TestAppRefusesNil(t *testing.T) {
	if _, _, err := App(nil, &service.Config{Name: "myd"}); err == nil || err.Error() != "kservice: the service.Interface is nil" {
		t.Errorf("nil Interface: %v", err)
	}
	if _, _, err := App(program{}, nil); err == nil || err.Error() != "kservice: the service.Config is nil" {
		t.Errorf("nil Config: %v", err)
	}
}

func TestExecutableSelf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := App(program{}, &service.Config{Name: "myd", Executable: self}); err != nil {
		t.Errorf("Executable naming this program: %v", err)
	}
}

// TestWithConfig: WithConfig runs after the mapping and wins; options that
// are nil are ignored.
func TestWithConfig(t *testing.T) {
	cfg, _, err := App(program{}, &service.Config{Name: "myd", Option: service.KeyValue{"Restart": "always"}},
		nil,
		WithWaitForLock(),
		WithConfig(func(c *runtime.Config) { c.Restart, c.Harden, c.Watchdog = "no", true, 10*time.Second }))
	if err != nil {
		t.Fatal(err)
	}
	if want := (runtime.Config{Name: "myd", Restart: "no", Harden: true, Watchdog: 10 * time.Second, WaitForLock: true}); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
}

// TestHandle: what Start and Stop can do with their service.Service.
func TestHandle(t *testing.T) {
	h := &handle{name: "myd", display: "My daemon"}
	if h.String() != "My daemon" {
		t.Errorf("String %q, want the display name", h.String())
	}
	if (&handle{name: "myd"}).String() != "myd" {
		t.Error("String without a display name is not the name")
	}
	if h.Platform() != service.Platform() {
		t.Errorf("Platform %q, want kardianos' %q", h.Platform(), service.Platform())
	}
	for method, f := range map[string]func() error{"Run": h.Run, "Start": h.Start, "Stop": h.Stop, "Restart": h.Restart, "Install": h.Install, "Uninstall": h.Uninstall} {
		err := f()
		if !errors.Is(err, ErrManaged) || !strings.HasPrefix(err.Error(), "kservice: "+method+": sole manages the service") {
			t.Errorf("%s: %v, want ErrManaged", method, err)
		}
	}
	if err := h.Install(); !strings.Contains(err.Error(), "run `myd install`") {
		t.Errorf("Install: %v, want it to name the command", err)
	}
}
