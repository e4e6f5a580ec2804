package unit

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

type goldenCase struct {
	name string // file stem under testdata/
	d    Description
	home string // for the launchd plist
}

// nastyArgs and nastyEnv hold text that every quoting layer must get
// right.
var (
	nastyArgs = []string{
		"plain", "with space", `say "hi"`, "100%", "%t", "%%", "$HOME", "${HOME}", "$$", "$",
		`C:\dir\`, `\`, `\\`, `\"`, `"`, `'`, "''", "", " ", "  lead and trail  ", "tab\there",
		";", `\;`, "-", "@x", "!", "+", ":", "#", "=", "<&>", "]]>", "&amp;", "ünïcödé ☃ 🎉",
		"\u0085", "\u00a0", "\\x41", `\n`, "a b\tc",
	}
	nastyEnv = []string{
		"GREETING=hello world", `QUOTE=a "b" c`, "PCT=50% %t %%", `BS=back\slash\`, "DOLLAR=$HOME ${X} $$",
		"EMPTY=", "EQ=a=b=c", "TAB=x\ty", "SPACES=  two  ", "XML=<&>]]>", "UNI=ünï 🎉", "SEMI=;", "HASH=#x",
		"_U=underscore", "SQ='q'",
	}
)

func goldenCases() []goldenCase {
	return []goldenCase{
		{
			name: "minimal-system",
			d:    Description{Name: "myd", Exec: "/usr/local/bin/myd"},
		},
		{
			name: "user",
			d: Description{
				Name: "agent", DisplayName: "Alice's agent", User: true,
				Exec: "/Users/alice/bin/agent", Args: []string{"--verbose"},
			},
			home: "/Users/alice",
		},
		{
			name: "watchdog-env-args",
			d: Description{
				Name:        "tricky.svc",
				Description: `Tricky 100% "quoted" $HOME \ service`,
				Exec:        "/opt/my app/bin/tricky%d",
				Args: []string{"plain", "with space", `say "hi"`, "100%", "$HOME", "${HOME}", "$$",
					`C:\dir\`, "", "tab\there", ";", "'single'", "ünïcödé ☃ 🎉", "<&>"},
				Env: []string{"GREETING=hello world", `QUOTE=a "b" c`, "PCT=50%", `BS=back\slash\`,
					"DOLLAR=$HOME", "EMPTY=", "EQ=a=b", "TAB=x\ty"},
				Watchdog:           10 * time.Second,
				StopTimeout:        1500 * time.Millisecond,
				StartTimeout:       2 * time.Minute,
				RestartSec:         500 * time.Millisecond,
				StartLimitBurst:    3,
				StartLimitInterval: 10 * time.Minute,
				NotifyAccess:       "all",
			},
			home: "/Users/tricky",
		},
		{
			name: "runas-workdir",
			d: Description{
				Name: "worker@1", DisplayName: "Worker one", Description: "Queue worker",
				Documentation: []string{"man:worker(8)", "https://example.com/worker?q=100%"},
				Exec:          "/usr/bin/worker", Args: []string{"--queue", "jobs"},
				RunAs: "svc-worker", WorkingDirectory: "/var/lib/worker 1", LogDir: "/var/log/acme",
			},
		},
		{
			// The service options of issue 10, without --harden (systemd
			// only: see TestHarden).
			name: "service-options",
			d: Description{
				Name: "opts", Exec: "/usr/local/bin/sole",
				Args:  SoleRunArgs("opts", false, false, "", []string{"/srv/app/srv.sh", "--config", "conf.yaml"}),
				RunAs: "app", Group: "www-data", WorkingDirectory: "/srv/app", EnvFile: "/etc/app/env 100%",
				Restart: "always", RestartSec: 5 * time.Second, StartTimeout: 20 * time.Second, StopTimeout: 45 * time.Second,
			},
		},
		{
			// `sole install --name wrapped -- /usr/bin/legacy --port 80`.
			name: "wrapped",
			d: Description{
				Name: "wrapped", Exec: "/usr/local/bin/sole",
				Args: SoleRunArgs("wrapped", false, false, "", []string{"/usr/bin/legacy", "--port", "80"}),
			},
		},
		{
			// `sole install --name jobs --env-file /etc/default/jobs
			// --fleet etcd://10.0.0.1:2379,10.0.0.2:2379/jobs --fleet-ttl 20s
			// --fleet-cacert ... --fleet-cert ... --fleet-key ...
			// -- /usr/bin/jobs --once`: ordered after the network, waiting
			// for the lock.
			name: "fleet",
			d: Description{
				Name: "jobs", Exec: "/usr/local/bin/sole", EnvFile: "/etc/default/jobs",
				Args: SoleRun{Name: "jobs", Fleet: fleetOpts, Command: []string{"/usr/bin/jobs", "--once"}}.Args(),
			},
		},
	}
}

// fleetOpts are the fleet options of `sole install --fleet` with all of
// them given, as it renders them.
var fleetOpts = []string{"--fleet", "etcd://10.0.0.1:2379,10.0.0.2:2379/jobs", "--fleet-ttl", "20s",
	"--fleet-cacert", "/etc/jobs/ca.pem", "--fleet-cert", "/etc/jobs/client.pem", "--fleet-key", "/etc/jobs/client-key.pem"}

// moreCases are checked like the golden ones but have no golden file.
func moreCases() []goldenCase {
	return []goldenCase{
		{
			name: "nasty-system",
			d: Description{
				Name: "n-a_s.t@y", DisplayName: "ignored", Description: "  %% $$ \\x ' \" ;# ünï  ",
				Exec: `/srv/a b/100%x/é🎉/prog,:+=@-`, Args: nastyArgs, Env: nastyEnv,
				WorkingDirectory: `/srv/%t/"w d"/x\y`, RunAs: "_svc-x_Y9",
				Watchdog: 1500003 * time.Microsecond, StopTimeout: 250 * time.Microsecond,
			},
		},
		{
			name: "nasty-user",
			d: Description{
				Name: "U", User: true, DisplayName: "Display %n name",
				Exec: "/home/u/bin/x", Args: nastyArgs, Env: nastyEnv, WorkingDirectory: "/home/u",
			},
			home: "/Users/u",
		},
		{
			name: "restart-no",
			d:    Description{Name: "once", Exec: "/bin/once", Args: []string{"run"}, Restart: "no", RestartSec: 1500 * time.Millisecond, EnvFile: "/etc/once.env"},
		},
		{
			name: "long-name",
			d:    Description{Name: strings.Repeat("n", MaxNameLen), Exec: "/bin/x"},
		},
		{
			// A user unit has no network targets to be ordered after.
			name: "fleet-user-health",
			d: Description{
				Name: "u.jobs", User: true, Exec: "/home/u/bin/sole", StartTimeout: 5 * time.Minute,
				Args: SoleRun{Name: "u.jobs", User: true, Health: "test -e /tmp/ok", Fleet: []string{"--fleet", "etcd://[::1]:2379/%t $HOME"},
					Command: []string{"/home/u/bin/jobs", "--", "a b"}}.Args(),
			},
			home: "/Users/u",
		},
		{
			name: "wrapped-user-health",
			d: Description{
				Name: "w.x-1", User: true, Exec: "/home/u/bin/sole",
				Args: SoleRunArgs("w.x-1", true, false, `curl -sf "http://localhost:80/$PATH%"`, []string{"/home/u/bin/prog", "--", "a b"}),
			},
			home: "/Users/u",
		},
	}
}

func allCases() []goldenCase { return append(goldenCases(), moreCases()...) }

func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			unit, err := SystemdUnit(c.d)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name+".service.golden", unit)
			plist, err := LaunchdPlist(c.d, c.home)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name+".plist.golden", plist)
		})
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/unit -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (review, then go test ./internal/unit -update):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// TestDecodeBack reads each rendered unit and plist back with the
// independent readers of parse_test.go.
func TestDecodeBack(t *testing.T) {
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			unit, err := SystemdUnit(c.d)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSystemdUnit(c.d, unit); err != nil {
				t.Errorf("%v\n%s", err, unit)
			}
			plist, err := LaunchdPlist(c.d, c.home)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPlist(c.d, c.home, plist); err != nil {
				t.Errorf("%v\n%s", err, plist)
			}
		})
	}
}

// checkSystemdUnit parses a rendered unit and checks that it says what d
// says. The runtime directory %t is taken to be "/RT".
func checkSystemdUnit(d Description, out []byte) error {
	const rt = "/RT"
	u, err := parseUnitFile(out)
	if err != nil {
		return err
	}
	dd := d.WithDefaults()
	one := func(section, key string) (string, error) {
		vs := u.values(section, key)
		if len(vs) != 1 {
			return "", fmt.Errorf("[%s] %s= appears %d times, want once", section, key, len(vs))
		}
		return vs[0], nil
	}
	want := func(section, key, value string) error {
		v, err := one(section, key)
		if err != nil {
			return err
		}
		if v != value {
			return fmt.Errorf("[%s] %s=%q, want %q", section, key, v, value)
		}
		return nil
	}
	duration := func(section, key string, d time.Duration) error {
		v, err := one(section, key)
		if err != nil {
			return err
		}
		got, err := parseTimespan(v)
		if err != nil {
			return fmt.Errorf("[%s] %s=%q: %v", section, key, v, err)
		}
		if got != d {
			return fmt.Errorf("[%s] %s=%q is %v, want %v", section, key, v, got, d)
		}
		return nil
	}
	allowed := map[string]bool{
		"Unit.Description": true, "Unit.Documentation": true, "Unit.After": true, "Unit.Wants": true, "Unit.StartLimitIntervalSec": true, "Unit.StartLimitBurst": true,
		"Service.Type": true, "Service.NotifyAccess": true, "Service.ExecStart": true, "Service.ExecReload": true,
		"Service.Restart": true, "Service.RestartSec": true, "Service.RestartPreventExitStatus": true,
		"Service.TimeoutStartSec": true, "Service.TimeoutStopSec": true, "Service.KillMode": true, "Service.WatchdogSec": true,
		"Service.RuntimeDirectory": true, "Service.RuntimeDirectoryMode": true, "Service.RuntimeDirectoryPreserve": true, "Service.Environment": true,
		"Service.WorkingDirectory": true, "Service.User": true, "Install.WantedBy": true,
		"Service.Group": true, "Service.EnvironmentFile": true, "Service.SuccessExitStatus": true,
	}
	if d.Harden {
		allowed["Service.StateDirectory"], allowed["Service.LogsDirectory"] = true, true
		for _, line := range HardenSettings() {
			k, _, _ := strings.Cut(line, "=")
			allowed["Service."+k] = true
		}
	}
	for _, e := range u {
		if !allowed[e.Section+"."+e.Key] {
			return fmt.Errorf("line %d: unexpected [%s] %s=", e.Line, e.Section, e.Key)
		}
	}

	docs := u.values("Unit", "Documentation")
	switch {
	case len(d.Documentation) == 0 && len(docs) != 0:
		return fmt.Errorf("Documentation=%q, want none", docs)
	case len(d.Documentation) > 0:
		if len(docs) != 1 {
			return fmt.Errorf("Documentation= appears %d times, want once", len(docs))
		}
		v, err := expandSpecifiers(docs[0], rt)
		if err != nil {
			return fmt.Errorf("Documentation=: %v", err)
		}
		if got := strings.Fields(v); !slices.Equal(got, d.Documentation) {
			return fmt.Errorf("Documentation= reads %q, want %q", got, d.Documentation)
		}
	}
	desc, err := one("Unit", "Description")
	if err != nil {
		return err
	}
	if desc, err = expandSpecifiers(desc, rt); err != nil {
		return fmt.Errorf("Description=: %v", err)
	}
	wantDesc := strings.Trim(d.Description, " ")
	if wantDesc == "" {
		wantDesc = strings.Trim(d.DisplayName, " ")
	}
	if wantDesc == "" {
		wantDesc = d.Name
	}
	if desc != wantDesc {
		return fmt.Errorf("Description decodes to %q, want %q", desc, wantDesc)
	}
	// After the network: a system unit; online, with a fleet lock. A
	// user unit has neither.
	var wantAfter, wantWants []string
	if _, fleet := readSoleRun(d); !d.User && fleet {
		wantAfter, wantWants = []string{"network-online.target"}, []string{"network-online.target"}
	} else if !d.User {
		wantAfter = []string{"network.target"}
	}
	if after, wants := u.values("Unit", "After"), u.values("Unit", "Wants"); !slices.Equal(after, wantAfter) || !slices.Equal(wants, wantWants) {
		return fmt.Errorf("After=%q Wants=%q, want %q %q", after, wants, wantAfter, wantWants)
	}
	for _, err := range []error{
		duration("Unit", "StartLimitIntervalSec", dd.StartLimitInterval),
		want("Unit", "StartLimitBurst", strconv.Itoa(dd.StartLimitBurst)),
		want("Service", "Type", "notify"),
		want("Service", "NotifyAccess", dd.NotifyAccess),
		want("Service", "ExecReload", "/bin/kill -HUP $MAINPID"),
		want("Service", "Restart", dd.Restart),
		duration("Service", "RestartSec", dd.RestartSec),
		want("Service", "RestartPreventExitStatus", "75"),
		duration("Service", "TimeoutStartSec", dd.StartTimeout),
		duration("Service", "TimeoutStopSec", dd.StopTimeout),
	} {
		if err != nil {
			return err
		}
	}
	// A system unit declares the lock's directory, /run/sole/NAME; a user
	// unit none: %t/sole/NAME ($XDG_RUNTIME_DIR) is not where the lock
	// lives, and pidlock makes the per-user directory itself.
	if d.User {
		for _, k := range []string{"RuntimeDirectory", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve"} {
			if vs := u.values("Service", k); len(vs) != 0 {
				return fmt.Errorf("%s=%q in a user unit, want none", k, vs)
			}
		}
	} else {
		for _, err := range []error{
			want("Service", "RuntimeDirectory", "sole/"+d.Name),
			want("Service", "RuntimeDirectoryMode", "0755"),
			want("Service", "RuntimeDirectoryPreserve", "yes"),
		} {
			if err != nil {
				return err
			}
		}
	}
	if d.Watchdog > 0 {
		if err := duration("Service", "WatchdogSec", d.Watchdog); err != nil {
			return err
		}
	} else if ws := u.values("Service", "WatchdogSec"); len(ws) != 0 {
		return fmt.Errorf("WatchdogSec=%q without a watchdog", ws)
	}
	if km := u.values("Service", "KillMode"); wantsKillModeMixed(d) {
		if err := want("Service", "KillMode", "mixed"); err != nil {
			return err
		}
		if err := want("Service", "SuccessExitStatus", "129 130 141 143"); err != nil {
			return err
		}
	} else if len(km) != 0 {
		return fmt.Errorf("KillMode=%q for a unit that does not run `sole run`", km)
	}

	exec, err := one("Service", "ExecStart")
	if err != nil {
		return err
	}
	argv, err := decodeExecStart(exec, rt)
	if err != nil {
		return fmt.Errorf("ExecStart=%s: %v", exec, err)
	}
	if wantArgv := append([]string{d.Exec}, d.Args...); !reflect.DeepEqual(argv, wantArgv) {
		return fmt.Errorf("ExecStart=%s decodes to %q, want %q", exec, argv, wantArgv)
	}

	var env []string
	for _, v := range u.values("Service", "Environment") {
		words, err := decodeEnvironment(v, rt)
		if err != nil {
			return fmt.Errorf("Environment=%s: %v", v, err)
		}
		env = append(env, words...)
	}
	wantEnv := d.Env
	if !reflect.DeepEqual(env, wantEnv) && (len(env) != 0 || len(wantEnv) != 0) {
		return fmt.Errorf("Environment= decodes to %q, want %q", env, wantEnv)
	}

	if wd := u.values("Service", "WorkingDirectory"); d.WorkingDirectory == "" {
		if len(wd) != 0 {
			return fmt.Errorf("WorkingDirectory=%q, want none", wd)
		}
	} else {
		if len(wd) != 1 {
			return fmt.Errorf("WorkingDirectory=%q", wd)
		}
		if got, err := expandSpecifiers(wd[0], rt); err != nil || got != d.WorkingDirectory {
			return fmt.Errorf("WorkingDirectory=%s decodes to %q (%v), want %q", wd[0], got, err, d.WorkingDirectory)
		}
	}
	if user := u.values("Service", "User"); d.RunAs == "" && len(user) != 0 || d.RunAs != "" && (len(user) != 1 || user[0] != d.RunAs) {
		return fmt.Errorf("User=%q, want %q", user, d.RunAs)
	}
	if group := u.values("Service", "Group"); d.Group == "" && len(group) != 0 || d.Group != "" && (len(group) != 1 || group[0] != d.Group) {
		return fmt.Errorf("Group=%q, want %q", group, d.Group)
	}
	if ef := u.values("Service", "EnvironmentFile"); d.EnvFile == "" {
		if len(ef) != 0 {
			return fmt.Errorf("EnvironmentFile=%q, want none", ef)
		}
	} else if len(ef) != 1 {
		return fmt.Errorf("EnvironmentFile=%q", ef)
	} else if got, err := expandSpecifiers(ef[0], rt); err != nil || got != d.EnvFile {
		return fmt.Errorf("EnvironmentFile=%s decodes to %q (%v), want %q", ef[0], got, err, d.EnvFile)
	}
	wantedBy := "multi-user.target"
	if d.User {
		wantedBy = "default.target"
	}
	return want("Install", "WantedBy", wantedBy)
}

// parseTimespan parses systemd time spans as this package writes them
// (and the common units besides), independently of systemdDuration.
func parseTimespan(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		d      time.Duration
	}{{"min", time.Minute}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"s", time.Second}, {"h", time.Hour}}
	var total time.Duration
	for _, f := range strings.Fields(s) {
		i := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0, fmt.Errorf("bad time span %q", s)
		}
		n, err := strconv.ParseInt(f[:i], 10, 64)
		if err != nil {
			return 0, err
		}
		found := false
		for _, u := range units {
			if f[i:] == u.suffix {
				total += time.Duration(n) * u.d
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("bad unit in time span %q", s)
		}
	}
	return total, nil
}

// expectedPlist is what a plist reader should find in d's plist, worked
// out from the documentation rather than from the renderer.
func expectedPlist(d Description, home string) map[string]any {
	args := []any{d.Exec}
	for i, a := range d.Args {
		args = append(args, a)
		if i == 0 && d.EnvFile != "" {
			args = append(args, "--env-file", d.EnvFile)
		}
	}
	var keepAlive any = map[string]any{"SuccessfulExit": false}
	switch d.Restart {
	case "always":
		keepAlive = true
	case "no":
		keepAlive = false
	}
	throttle := int64(1)
	if d.RestartSec > time.Second {
		throttle = int64((d.RestartSec + time.Second - 1) / time.Second)
	}
	stop := d.StopTimeout
	if stop == 0 {
		stop = 30 * time.Second
	}
	logDir := d.LogDir
	switch {
	case logDir != "":
	case d.User:
		logDir = home + "/Library/Logs/" + d.Name
	default:
		logDir = "/var/log/" + d.Name
	}
	m := map[string]any{
		"Label":             "sole." + d.Name,
		"ProgramArguments":  args,
		"RunAtLoad":         true,
		"KeepAlive":         keepAlive,
		"ThrottleInterval":  throttle,
		"ExitTimeOut":       int64((stop + time.Second - 1) / time.Second),
		"StandardOutPath":   logDir + "/" + d.Name + ".out.log",
		"StandardErrorPath": logDir + "/" + d.Name + ".err.log",
	}
	if len(d.Env) > 0 {
		env := map[string]any{}
		for _, kv := range d.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		m["EnvironmentVariables"] = env
	}
	if d.WorkingDirectory != "" {
		m["WorkingDirectory"] = d.WorkingDirectory
	}
	if d.RunAs != "" && !d.User {
		m["UserName"] = d.RunAs
	}
	if d.Group != "" && !d.User {
		m["GroupName"] = d.Group
	}
	return m
}

func checkPlist(d Description, home string, out []byte) error {
	got, err := decodePlist(out)
	if err != nil {
		return err
	}
	if want := expectedPlist(d, home); !reflect.DeepEqual(got, any(want)) {
		return fmt.Errorf("plist reads back as\n%#v\nwant\n%#v", got, want)
	}
	return nil
}

func TestValidateRefuses(t *testing.T) {
	ok := Description{Name: "myd", Exec: "/usr/bin/myd"}
	for _, c := range []struct {
		name   string
		change func(*Description)
		want   string // in the error
	}{
		{"empty name", func(d *Description) { d.Name = "" }, "unit: name: empty"},
		{"slash in name", func(d *Description) { d.Name = "a/b" }, `unit: name: "a/b" has '/' (U+002F) at byte 1`},
		{"space in name", func(d *Description) { d.Name = "my d" }, `has ' ' (U+0020) at byte 2`},
		{"newline in name", func(d *Description) { d.Name = "a\nb" }, `"a\nb" has '\n' (U+000A) at byte 1`},
		{"name starts with dot", func(d *Description) { d.Name = ".x" }, `".x" starts with '.' (U+002E)`},
		{"name starts with dash", func(d *Description) { d.Name = "-x" }, `starts with '-'`},
		{"name starts with at", func(d *Description) { d.Name = "@x" }, `starts with '@'`},
		{"unicode name", func(d *Description) { d.Name = "caf\u00e9" }, `has 'é' (U+00E9) at byte 3`},
		{"invalid utf8 name", func(d *Description) { d.Name = "a\xffb" }, `has byte 0xff at byte 1`},
		{"percent in name", func(d *Description) { d.Name = "a%n" }, `'%'`},
		{"template name", func(d *Description) { d.Name = "worker@" }, "ends in '@'"},
		{"long name", func(d *Description) { d.Name = strings.Repeat("x", 201) }, "is 201 bytes long, more than 200"},
		{"newline in description", func(d *Description) { d.Description = "one\ntwo" }, `unit: description: "one\ntwo" has control character U+000A at byte 3`},
		{"tab in description", func(d *Description) { d.Description = "a\tb" }, "control character U+0009"},
		{"CR in display name", func(d *Description) { d.DisplayName = "a\rb" }, "unit: display name:"},
		{"C1 in description", func(d *Description) { d.Description = "a\u0085b" }, "control character U+0085"},
		{"trailing backslash", func(d *Description) { d.Description = `a\` }, "ends in a backslash"},
		{"trailing backslash and space", func(d *Description) { d.Description = `a\ ` }, "ends in a backslash"},
		{"FFFE in description", func(d *Description) { d.Description = "a\ufffe" }, "U+FFFE"},
		{"invalid utf8 description", func(d *Description) { d.Description = "\xc3" }, "not valid UTF-8"},
		{"documentation scheme", func(d *Description) { d.Documentation = []string{"ftp://x"} }, `unit: documentation[0]: "ftp://x": want a URI starting with`},
		{"documentation space", func(d *Description) { d.Documentation = []string{"man:a b"} }, `has ' ' (U+0020) at byte 5`},
		{"documentation bare", func(d *Description) { d.Documentation = []string{"man:"} }, "want a URI"},
		{"documentation quote", func(d *Description) { d.Documentation = []string{"ok:", `https://a"b`} }, "documentation[0]"},
		{"empty exec", func(d *Description) { d.Exec = "" }, "unit: exec: empty"},
		{"relative exec", func(d *Description) { d.Exec = "bin/myd" }, `unit: exec: "bin/myd" is not an absolute path`},
		{"bare exec", func(d *Description) { d.Exec = "myd" }, "not an absolute path"},
		{"unclean exec", func(d *Description) { d.Exec = "/usr//bin/../bin/myd" }, `is not a clean path (want "/usr/bin/myd")`},
		{"exec trailing slash", func(d *Description) { d.Exec = "/usr/bin/" }, "not a clean path"},
		{"root exec", func(d *Description) { d.Exec = "/" }, "is a directory"},
		{"dollar in exec", func(d *Description) { d.Exec = "/opt/$x/bin" }, "contains '$'"},
		{"newline in exec", func(d *Description) { d.Exec = "/a\nb" }, "newline"},
		{"tab in exec", func(d *Description) { d.Exec = "/a\tb" }, "has a tab"},
		{"quote in exec", func(d *Description) { d.Exec = `/a"b` }, `unit: exec: "/a\"b" has '"' (U+0022) at byte 2, which systemd refuses in a program path`},
		{"apostrophe in exec", func(d *Description) { d.Exec = "/o'brien/x" }, "has '\\'' (U+0027) at byte 2"},
		{"backslash in exec", func(d *Description) { d.Exec = `/a\b` }, "has '\\\\' (U+005C) at byte 2"},
		{"windows exec", func(d *Description) { d.Exec = `C:\x.exe` }, "not an absolute path"},
		{"newline in arg", func(d *Description) { d.Args = []string{"ok", "a\nb"} }, `unit: args[1]: "a\nb" has a newline at byte 1`},
		{"NUL in arg", func(d *Description) { d.Args = []string{"a\x00b"} }, "unit: args[0]: \"a\\x00b\" has a NUL byte at byte 1"},
		{"CR in arg", func(d *Description) { d.Args = []string{"a\rb"} }, "control character U+000D"},
		{"ESC in arg", func(d *Description) { d.Args = []string{"\x1b[0m"} }, "control character U+001B"},
		{"DEL in arg", func(d *Description) { d.Args = []string{"\x7f"} }, "control character U+007F"},
		{"FFFF in arg", func(d *Description) { d.Args = []string{"\uffff"} }, "U+FFFF"},
		{"invalid utf8 arg", func(d *Description) { d.Args = []string{"\xff"} }, `unit: args[0]: "\xff" is not valid UTF-8`},
		{"env without =", func(d *Description) { d.Env = []string{"FOO"} }, `unit: env[0]: "FOO" is not KEY=VALUE`},
		{"env empty key", func(d *Description) { d.Env = []string{"=x"} }, `"" is not a valid environment variable name`},
		{"env digit key", func(d *Description) { d.Env = []string{"1A=x"} }, `"1A" is not a valid environment variable name`},
		{"env dash key", func(d *Description) { d.Env = []string{"A-B=x"} }, "not a valid environment variable name"},
		{"env space key", func(d *Description) { d.Env = []string{"A B=x"} }, "not a valid environment variable name"},
		{"env newline value", func(d *Description) { d.Env = []string{"A=x", "B=1\n2"} }, `unit: env[1]: "1\n2" has a newline`},
		{"env NUL value", func(d *Description) { d.Env = []string{"B=\x00"} }, "NUL"},
		{"env duplicate", func(d *Description) { d.Env = []string{"A=1", "A=2"} }, "unit: env[1]: A is given twice"},
		{"relative working directory", func(d *Description) { d.WorkingDirectory = "srv" }, "unit: working directory:"},
		{"working directory trailing space", func(d *Description) { d.WorkingDirectory = "/srv " }, "ends in a space or a backslash"},
		{"working directory trailing backslash", func(d *Description) { d.WorkingDirectory = `/srv\` }, "ends in a space or a backslash"},
		{"relative log dir", func(d *Description) { d.LogDir = "logs" }, "unit: log directory:"},
		{"run as user unit", func(d *Description) { d.User = true; d.RunAs = "bob" }, "RunAs is for system services"},
		{"bad run as", func(d *Description) { d.RunAs = "bob smith" }, `unit: run as: "bob smith" has ' '`},
		{"run as starts with dash", func(d *Description) { d.RunAs = "-bob" }, "has '-'"},
		{"long run as", func(d *Description) { d.RunAs = strings.Repeat("b", 32) }, "is 32 bytes long, more than 31"},
		{"run as with dot", func(d *Description) { d.RunAs = "first.last" }, "has '.' (U+002E) at byte 5"},
		{"run as starts with digit", func(d *Description) { d.RunAs = "1000" }, "has '1' (U+0031) at byte 0"},
		{"negative stop timeout", func(d *Description) { d.StopTimeout = -time.Second }, "unit: stop timeout: -1s is negative"},
		{"negative watchdog", func(d *Description) { d.Watchdog = -1 }, "unit: watchdog:"},
		{"nanosecond restart", func(d *Description) { d.RestartSec = time.Second + 1 }, "not a whole number of microseconds"},
		{"negative burst", func(d *Description) { d.StartLimitBurst = -1 }, "unit: start limit burst: -1 is out of range"},
		{"bad notify access", func(d *Description) { d.NotifyAccess = "exec" }, `unit: notify access: "exec" is not "main" or "all"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := ok
			d.Args = append([]string(nil), ok.Args...)
			c.change(&d)
			before := fmt.Sprintf("%#v", d)
			err := d.Validate()
			if after := fmt.Sprintf("%#v", d); after != before {
				t.Errorf("Validate changed the description")
			}
			checkRefusal(t, err, c.want)
			_, uerr := SystemdUnit(d)
			checkRefusal(t, uerr, c.want)
			_, perr := LaunchdPlist(d, "/Users/x")
			checkRefusal(t, perr, c.want)
		})
	}
}

func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "unit: ") {
		t.Errorf("error %q is not one line starting with \"unit: \"", msg)
	}
	var ue *Error
	if !errors.As(err, &ue) {
		t.Errorf("error %q is a %T, not an *Error", msg, err)
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, d := range []Description{
		{Name: "a", Exec: "/a"},
		{Name: "0", Exec: "/a"},
		{Name: "A.b_c@d-e", Exec: "/a"},
		{Name: "a@b@c", Exec: "/a"},
		{Name: strings.Repeat("x", MaxNameLen), Exec: "/a"},
		{Name: "a", Exec: "/a b/c%d/é/;#", Args: []string{"", "\t", "é🎉", "\u0085"}},
		{Name: "a", Exec: "/a", Description: "100% ok $x \\ inside", DisplayName: "ünï"},
		{Name: "a", Exec: "/a", Env: []string{"_=", "a1=\t", "B=%$\\\""}},
		{Name: "a", Exec: "/a", RunAs: "_x-y_" + strings.Repeat("z", 26), WorkingDirectory: "/", LogDir: "/l"},
		{Name: "a", Exec: "/a", NotifyAccess: "all", Watchdog: time.Microsecond, StartLimitBurst: 1<<31 - 1},
		{Name: "a", Exec: "/a", User: true},
	} {
		if err := d.Validate(); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
		if _, err := SystemdUnit(d); err != nil {
			t.Errorf("SystemdUnit(%+v): %v", d, err)
		}
		if _, err := LaunchdPlist(d, "/Users/x"); err != nil {
			t.Errorf("LaunchdPlist(%+v): %v", d, err)
		}
	}
	var nilDesc *Description
	checkRefusal(t, nilDesc.Validate(), "unit: description: nil")
}

// wantsKillModeMixed is the tests' own reading of "ExecStart is a `sole
// run` wrapper" (see readSoleRun).
func wantsKillModeMixed(d Description) bool {
	wrapper, _ := readSoleRun(d)
	return wrapper
}

// readSoleRun is the tests' own reading of d's arguments: wrapper when
// they are run, [--fleet URL and more --fleet-* options with their
// values], --name NAME --scope SCOPE, [--service], [--health CMD],
// [--wait, with the fleet options and only then], -- COMMAND; fleet when
// the fleet options are there.
func readSoleRun(d Description) (wrapper, fleet bool) {
	scope := "system"
	if d.User {
		scope = "user"
	}
	a := d.Args
	if len(a) == 0 || a[0] != "run" {
		return false, false
	}
	a = a[1:]
	if len(a) > 0 && a[0] == "--fleet" {
		fleet = true
		for len(a) >= 2 && strings.HasPrefix(a[0], "--fleet") && slices.Contains([]string{"--fleet", "--fleet-ttl", "--fleet-cacert", "--fleet-cert", "--fleet-key"}, a[0]) {
			a = a[2:]
		}
	}
	if len(a) < 4 || !slices.Equal(a[:4], []string{"--name", d.Name, "--scope", scope}) {
		return false, false
	}
	i := 4
	for i < len(a) && a[i] != "--" {
		switch a[i] {
		case "--service":
			i++
		case "--health":
			i += 2
		case "--wait":
			if !fleet {
				return false, false
			}
			i++
		default:
			return false, false
		}
	}
	if fleet && (i == 0 || a[i-1] != "--wait") {
		return false, false
	}
	return i < len(a)-1, fleet && i < len(a)-1
}

// TestKillMode: KillMode=mixed for the units of `sole run`, whose COMMAND
// gets systemd's SIGTERM from sole alone, and systemd's default for every
// other unit.
func TestKillMode(t *testing.T) {
	const name = "svc"
	prog := []string{"/usr/bin/prog", "--flag"}
	for tc, c := range map[string]struct {
		user  bool
		args  []string
		mixed bool
	}{
		"sole install":           {args: SoleRunArgs(name, false, false, "", prog), mixed: true},
		"sole install --user":    {user: true, args: SoleRunArgs(name, true, false, "", prog), mixed: true},
		"health":                 {args: SoleRunArgs(name, false, false, "curl -sf localhost", prog), mixed: true},
		"health --":              {args: SoleRunArgs(name, false, false, "--", prog), mixed: true},
		"windows service":        {args: SoleRunArgs(name, false, true, "x", prog), mixed: true},
		"command with --":        {args: SoleRunArgs(name, false, false, "", []string{"/bin/sh", "--", "-c"}), mixed: true},
		"runtime program":        {args: []string{"run"}},
		"no arguments":           {},
		"another service's name": {args: SoleRunArgs("other", false, false, "", prog)},
		"user args, system unit": {args: SoleRunArgs(name, true, false, "", prog)},
		"system args, user unit": {user: true, args: SoleRunArgs(name, false, false, "", prog)},
		"no command":             {args: []string{"run", "--name", name, "--scope", "system", "--"}},
		"unknown option":         {args: []string{"run", "--name", name, "--scope", "system", "--verbose", "--", "/bin/p"}},
		"no --":                  {args: []string{"run", "--name", name, "--scope", "system", "/bin/p"}},
		"fleet":                  {args: SoleRun{Name: name, Fleet: []string{"--fleet", "etcd://h:2379"}, Command: prog}.Args(), mixed: true},
		"fleet, all options":     {args: SoleRun{Name: name, Health: "true", Fleet: fleetOpts, Command: prog}.Args(), mixed: true},
		"fleet --user":           {user: true, args: SoleRun{Name: name, User: true, Fleet: []string{"--fleet", "etcd://h:2379"}, Command: prog}.Args(), mixed: true},
		"fleet without --wait":   {args: []string{"run", "--fleet", "etcd://h:1", "--name", name, "--scope", "system", "--", "/bin/p"}},
		"--wait without fleet":   {args: []string{"run", "--name", name, "--scope", "system", "--wait", "--", "/bin/p"}},
		"fleet option, no URL":   {args: []string{"run", "--fleet-ttl", "5s", "--name", name, "--scope", "system", "--wait", "--", "/bin/p"}},
		"fleet after --name":     {args: []string{"run", "--name", name, "--scope", "system", "--fleet", "etcd://h:1", "--wait", "--", "/bin/p"}},
		"unknown fleet option":   {args: []string{"run", "--fleet", "etcd://h:1", "--fleet-bogus", "x", "--name", name, "--scope", "system", "--wait", "--", "/bin/p"}},
	} {
		t.Run(tc, func(t *testing.T) {
			d := Description{Name: name, User: c.user, Exec: "/usr/bin/sole", Args: c.args}
			text, err := SystemdUnit(d)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if c.mixed {
				want = 1
			}
			if got := bytes.Count(text, []byte("\nKillMode=mixed\n")); got != want || bytes.Count(text, []byte("KillMode")) != want {
				t.Errorf("KillMode=mixed %d times, want %d:\n%s", got, want, text)
			}
			if got := wantsKillModeMixed(d); got != c.mixed {
				t.Errorf("the tests' reading of the arguments says %v, want %v", got, c.mixed)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	d := Description{Name: "a", Exec: "/a", Args: []string{strings.Repeat("x", 1<<20)}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := SystemdUnit(d)
	checkRefusal(t, err, "unit: ExecStart: the line would be 1048590 bytes, more than systemd's limit of 1048576")
	if _, err := LaunchdPlist(d, "/Users/x"); err != nil {
		t.Errorf("LaunchdPlist: %v", err)
	}
}

func TestLaunchdHome(t *testing.T) {
	d := Description{Name: "a", Exec: "/a", User: true}
	_, err := LaunchdPlist(d, "")
	checkRefusal(t, err, "unit: home: needed for the default log directory of a LaunchAgent")
	_, err = LaunchdPlist(d, "Users/x")
	checkRefusal(t, err, `unit: home: "Users/x" is not an absolute path`)
	d.LogDir = "/logs"
	if _, err := LaunchdPlist(d, ""); err != nil {
		t.Errorf("with LogDir set, home is not needed: %v", err)
	}
	d.User = false
	d.LogDir = ""
	if _, err := LaunchdPlist(d, ""); err != nil {
		t.Errorf("a LaunchDaemon needs no home: %v", err)
	}
}

func TestWithDefaults(t *testing.T) {
	got := Description{Name: "a"}.WithDefaults()
	want := Description{Name: "a", StopTimeout: 30 * time.Second, StartTimeout: 90 * time.Second,
		RestartSec: time.Second, StartLimitBurst: 5, StartLimitInterval: 60 * time.Second, NotifyAccess: "main", Restart: "on-failure"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n%+v\nwant\n%+v", got, want)
	}
	set := Description{Name: "a", StopTimeout: 1, StartTimeout: 2, RestartSec: 3, StartLimitBurst: 4,
		StartLimitInterval: 5, NotifyAccess: "all", Watchdog: 6, Restart: "always"}
	if got := set.WithDefaults(); !reflect.DeepEqual(got, set) {
		t.Errorf("WithDefaults changed set fields: %+v", got)
	}
}

func TestSystemdDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{time.Microsecond, "1us"},
		{250 * time.Microsecond, "250us"},
		{500 * time.Millisecond, "500ms"},
		{time.Second, "1s"},
		{30 * time.Second, "30s"},
		{90 * time.Second, "90s"},
		{1500 * time.Millisecond, "1s 500ms"},
		{1500003 * time.Microsecond, "1s 500ms 3us"},
		{time.Second + 7*time.Microsecond, "1s 7us"},
		{24 * time.Hour, "86400s"},
	} {
		got, err := systemdDuration(c.d)
		if err != nil || got != c.want {
			t.Errorf("systemdDuration(%v) = %q, %v; want %q", c.d, got, err, c.want)
		}
		if back, err := parseTimespan(got); err != nil || back != c.d {
			t.Errorf("%q parses back as %v, %v", got, back, err)
		}
	}
	for _, d := range []time.Duration{-time.Second, time.Nanosecond, time.Second + 999} {
		if got, err := systemdDuration(d); err == nil {
			t.Errorf("systemdDuration(%v) = %q, want an error", d, got)
		}
	}
}

func TestPaths(t *testing.T) {
	sys := Description{Name: "myd"}
	user := Description{Name: "myd", User: true}
	for _, c := range []struct{ got, want string }{
		{SystemdUnitPath(sys, "/home/a"), "/etc/systemd/system/myd.service"},
		{SystemdUnitPath(user, "/home/a"), "/home/a/.config/systemd/user/myd.service"},
		{SystemdUnitPath(user, ""), ".config/systemd/user/myd.service"},
		{LaunchdLabel(sys), "sole.myd"},
		{LaunchdPlistPath(sys, "/Users/a"), "/Library/LaunchDaemons/sole.myd.plist"},
		{LaunchdPlistPath(user, "/Users/a"), "/Users/a/Library/LaunchAgents/sole.myd.plist"},
		{LaunchdPlistPath(user, ""), "Library/LaunchAgents/sole.myd.plist"},
		{LaunchdLogDir(sys, "/Users/a"), "/var/log/myd"},
		{LaunchdLogDir(user, "/Users/a"), "/Users/a/Library/Logs/myd"},
		{LaunchdLogDir(Description{Name: "myd", User: true, LogDir: "/l"}, "/Users/a"), "/l"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestCeilSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{{time.Microsecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}, {1 << 62, 1<<31 - 1}} {
		if got := ceilSeconds(c.d); got != c.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// TestReaders makes sure the test's own readers can fail.
func TestReaders(t *testing.T) {
	for _, bad := range []string{
		`"/a" "unterminated`, `/a \q`, `/a $HOME`, `/a ${X}`, `/a %n`, `/a ;`, `/a "$"`,
	} {
		if argv, err := decodeExecStart(bad, "/RT"); err == nil {
			t.Errorf("decodeExecStart(%q) = %q, want an error", bad, argv)
		}
	}
	argv, err := decodeExecStart(`/a "b c" d"\s"e "\x41\101\u00e9\t" '\'' \; "" $$ %%%t`, "/RT")
	if want := []string{"/a", "b c", "d e", "AAé\t", "'", ";", "", "$", "%/RT"}; err != nil || !reflect.DeepEqual(argv, want) {
		t.Errorf("decodeExecStart = %q, %v; want %q", argv, err, want)
	}
	u, err := parseUnitFile([]byte("[S]\nA=x\\\n y\n# c\nB = 2 \n"))
	if err != nil || !reflect.DeepEqual(u.values("S", "A"), []string{"x  y"}) || !reflect.DeepEqual(u.values("S", "B"), []string{"2"}) {
		t.Errorf("parseUnitFile = %+v, %v", u, err)
	}
	for _, bad := range []string{
		"<plist><string>a & b</string></plist>",
		"<plist><dict><string>x</string></dict></plist>",
		"<plist><string>\x01</string></plist>",
		"<plist><dict><key>a</key></dict></plist>",
	} {
		if v, err := decodePlist([]byte(bad)); err == nil {
			t.Errorf("decodePlist(%q) = %#v, want an error", bad, v)
		}
	}
}

// TestFleetUnit: a `sole run` wrapper with a fleet lock waits for it
// (--wait) and a system unit is ordered after network-online.target,
// which it wants; the start timeout stays as given; launchd gets the same
// command line.
func TestFleetUnit(t *testing.T) {
	const sole = "/usr/local/bin/sole"
	fleet := func(user bool, opts ...string) []string {
		return SoleRun{Name: "jobs", User: user, Fleet: append([]string{"--fleet", "etcd://e1:2379,e2:2379/p"}, opts...), Command: []string{"/usr/bin/jobs", "-v"}}.Args()
	}
	for name, c := range map[string]struct {
		d       Description
		want    []string // lines of the unit
		notWant []string // substrings it must not have
		plist   string   // in the plist
	}{
		"system": {
			d: Description{Name: "jobs", Exec: sole, Args: fleet(false)},
			want: []string{"After=network-online.target", "Wants=network-online.target",
				"ExecStart=" + sole + " run --fleet etcd://e1:2379,e2:2379/p --name jobs --scope system --wait -- /usr/bin/jobs -v",
				"KillMode=mixed", "TimeoutStartSec=90s", "RuntimeDirectory=sole/jobs", "WantedBy=multi-user.target"},
			notWant: []string{"After=network.target"},
			plist:   "<string>run</string>\n\t\t<string>--fleet</string>\n\t\t<string>etcd://e1:2379,e2:2379/p</string>\n\t\t<string>--name</string>",
		},
		"start timeout kept": {
			d:    Description{Name: "jobs", Exec: sole, Args: fleet(false, "--fleet-ttl", "30s"), StartTimeout: 20 * time.Second},
			want: []string{"TimeoutStartSec=20s", "ExecStart=" + sole + " run --fleet etcd://e1:2379,e2:2379/p --fleet-ttl 30s --name jobs --scope system --wait -- /usr/bin/jobs -v"},
		},
		"TLS files quoted": {
			d: Description{Name: "jobs", Exec: sole, Args: fleet(false, "--fleet-cacert", "/etc/my jobs/ca%.pem")},
			want: []string{"ExecStart=" + sole + ` run --fleet etcd://e1:2379,e2:2379/p --fleet-cacert "/etc/my jobs/ca%%.pem" --name jobs --scope system --wait -- /usr/bin/jobs -v`,
				"After=network-online.target"},
			plist: "<string>--fleet-cacert</string>\n\t\t<string>/etc/my jobs/ca%.pem</string>",
		},
		"user": {
			d:       Description{Name: "jobs", User: true, Exec: sole, Args: fleet(true)},
			want:    []string{"ExecStart=" + sole + " run --fleet etcd://e1:2379,e2:2379/p --name jobs --scope user --wait -- /usr/bin/jobs -v", "KillMode=mixed"},
			notWant: []string{"network", "Wants="},
		},
		"no fleet": {
			d:       Description{Name: "jobs", Exec: sole, Args: SoleRunArgs("jobs", false, false, "", []string{"/usr/bin/jobs"})},
			want:    []string{"After=network.target", "ExecStart=" + sole + " run --name jobs --scope system -- /usr/bin/jobs"},
			notWant: []string{"network-online", "Wants=", "--wait"},
		},
		"not a wrapper": {
			d:       Description{Name: "jobs", Exec: "/usr/bin/jobs", Args: []string{"run", "--fleet", "etcd://e1:2379"}},
			want:    []string{"After=network.target"},
			notWant: []string{"network-online", "KillMode"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			text, err := SystemdUnit(c.d)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(text), "\n")
			for _, w := range c.want {
				if !slices.Contains(lines, w) {
					t.Errorf("no line %q in\n%s", w, text)
				}
			}
			for _, nw := range c.notWant {
				if bytes.Contains(text, []byte(nw)) {
					t.Errorf("%q in\n%s", nw, text)
				}
			}
			if err := checkSystemdUnit(c.d, text); err != nil {
				t.Error(err)
			}
			plist, err := LaunchdPlist(c.d, "/Users/u")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(plist, []byte(c.plist)) {
				t.Errorf("no %q in\n%s", c.plist, plist)
			}
			if err := checkPlist(c.d, "/Users/u", plist); err != nil {
				t.Error(err)
			}
		})
	}
}
