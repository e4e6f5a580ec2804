package unit

// The rendered units checked by systemd itself, with systemd-analyze:
//
//   - `systemd-analyze verify` at log level notice must say nothing about
//     our unit and exit 0. SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TARGET are set
//     explicitly: run as root outside a booted systemd (a container), its
//     default level hides even "Unknown key" warnings. Lines about other
//     units of the host (their files under /lib/systemd, /etc/systemd,
//     /run/systemd, or lines starting "OTHER.service: ") are logged and
//     ignored; every other line fails the test. TestSystemdAnalyzeControl
//     shows that this catches broken units.
//   - At log level debug, verify prints systemd's dump of the loaded unit;
//     its ExecStart command line, Environment, Description,
//     WorkingDirectory, User and time spans must be what the description
//     says. This is systemd's own reading of our quoting.
//
// User units are verified with --user, with XDG_RUNTIME_DIR and HOME
// pointing into the test's temporary directory (this works as root too).
// The tests skip when systemd-analyze is missing, except with CI=true.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

func needSystemdAnalyze(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("systemd-analyze is Linux only")
	}
	return testenv.NeedTool(t, "systemd-analyze", "systemd")
}

type analyzer struct {
	bin     string
	user    bool
	rt      string // XDG_RUNTIME_DIR for --user
	home    string
	unitDir string
}

func newAnalyzer(t *testing.T, user bool) *analyzer {
	dir := t.TempDir()
	a := &analyzer{
		bin:     needSystemdAnalyze(t),
		user:    user,
		rt:      filepath.Join(dir, "xdg-runtime"),
		home:    filepath.Join(dir, "home"),
		unitDir: filepath.Join(dir, "units"),
	}
	for _, d := range []string{a.rt, a.home, a.unitDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// run runs systemd-analyze ARGS at a log level; it returns stdout and
// stderr apart (the dump goes to stdout, the log to stderr).
func (a *analyzer) run(level string, args ...string) (stdout, stderr string, err error) {
	if a.user {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.Command(a.bin, args...)
	cmd.Env = append(os.Environ(),
		"SYSTEMD_LOG_LEVEL="+level,
		"SYSTEMD_LOG_TARGET=console",
		"SYSTEMD_LOG_COLOR=0",
		"SYSTEMD_PAGER=",
		"XDG_RUNTIME_DIR="+a.rt,
		"HOME="+a.home,
	)
	var out, errb strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

var otherUnitLine = regexp.MustCompile(`^(?:(?:/usr)?/lib/systemd/|/etc/systemd/|/run/systemd/)|^([^\s/:]+\.(?:service|socket|target|mount|automount|swap|path|timer|slice|scope|device)): `)

// verify returns systemd-analyze verify's complaints about the unit file
// at path (named NAME.service), logging and ignoring those about other
// units of the host.
func (a *analyzer) verify(t *testing.T, path string) []string {
	t.Helper()
	// --man=no: the test units' manual pages (Documentation=man:...) are
	// not on this machine; the packaging tests verify an installed unit
	// with its page.
	out, errOut, err := a.run("notice", "verify", "--man=no", path)
	name := filepath.Base(path)
	var problems []string
	for _, line := range strings.Split(out+errOut, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if m := otherUnitLine.FindStringSubmatch(line); m != nil && m[1] != name && !strings.Contains(line, path) {
			t.Logf("ignored, about another unit: %s", line)
			continue
		}
		problems = append(problems, line)
	}
	if err != nil {
		problems = append(problems, fmt.Sprintf("systemd-analyze verify: %v", err))
	}
	return problems
}

// writeVerified renders d's unit into the analyzer's unit directory, as
// NAME.service, and reports what `systemd-analyze verify` says of it.
func (a *analyzer) writeVerified(t *testing.T, d Description) (path string, text []byte) {
	t.Helper()
	text, err := SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(a.unitDir, d.Name+".service")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if problems := a.verify(t, path); len(problems) > 0 {
		t.Errorf("systemd-analyze verify:\n%s\nunit:\n%s", strings.Join(problems, "\n"), text)
	}
	return path, text
}

// dump returns systemd's dump of the unit at path: "Key: value" lines of
// the unit block, and the command line of each "-> ExecX:" section.
func (a *analyzer) dump(t *testing.T, path string) (fields map[string][]string, commands map[string]string) {
	t.Helper()
	out, errOut, err := a.run("debug", "verify", "--man=no", path)
	if err != nil {
		t.Fatalf("systemd-analyze verify (debug): %v\n%s", err, lastLines(errOut, 20))
	}
	fields = map[string][]string{}
	commands = map[string]string{}
	header := "-> Unit " + filepath.Base(path) + ":"
	in := false
	exec := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == header {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "\t\t") {
			break
		}
		body := line[2:]
		switch {
		case strings.HasPrefix(body, "-> "):
			exec = strings.TrimSuffix(strings.TrimPrefix(body, "-> "), ":")
		case strings.HasPrefix(body, "\tCommand Line: ") && exec != "":
			commands[exec] = strings.TrimPrefix(body, "\tCommand Line: ")
		case !strings.HasPrefix(body, "\t"):
			exec = ""
			k, v, ok := strings.Cut(body, ": ")
			if !ok {
				k, v = strings.TrimSuffix(body, ":"), ""
			}
			fields[k] = append(fields[k], v)
		}
	}
	if !in {
		t.Fatalf("no %q in systemd-analyze's dump; its format may have changed:\n%s", header, lastLines(out, 40))
	}
	return fields, commands
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// timespan asks systemd how many microseconds a time span is.
func (a *analyzer) timespan(t *testing.T, span string) time.Duration {
	t.Helper()
	out, errOut, err := a.run("notice", "timespan", span)
	if err != nil {
		t.Fatalf("systemd-analyze timespan %q: %v %s", span, err, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "μs: "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return time.Duration(us) * time.Microsecond
		}
	}
	t.Fatalf("no μs line in systemd-analyze timespan %q:\n%s", span, out)
	return 0
}

// decodeDumpCommandLine splits a command line as systemd's dump writes it
// (quote_command_line): words apart by spaces; a word bare or in double
// quotes, with \" \\ \` \$ for those characters and C escapes (\t, \001)
// for control characters.
func decodeDumpCommandLine(s string) ([]string, error) {
	var words []string
	for s != "" {
		var (
			w      []byte
			quoted bool
			i      int
		)
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == ' ' && !quoted:
				break word
			case c == '"':
				quoted = !quoted
				i++
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\`$", s[i+1]) >= 0:
				w = append(w, s[i+1])
				i += 2
			case c == '\\':
				dec, n, err := cunescapeOne(s[i+1:])
				if err != nil {
					return nil, fmt.Errorf("%q: %v", s, err)
				}
				w = append(w, dec...)
				i += 1 + n
			default:
				w = append(w, c)
				i++
			}
		}
		if quoted {
			return nil, fmt.Errorf("unterminated quote in %q", s)
		}
		words = append(words, string(w))
		s = strings.TrimPrefix(s[i:], " ")
	}
	return words, nil
}

// withExecutable returns d running an executable created in a directory
// whose name needs quoting and escaping (verify checks that ExecStart's
// program exists and is executable; quotes and backslashes are refused by
// Validate, as systemd refuses them in a program path).
func withExecutable(t *testing.T, d Description) Description {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin 100%d é;#", "x y")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "prog%n")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.Exec = prog
	return d
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	needSystemdAnalyze(t)
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			d := withExecutable(t, c.d)
			a := newAnalyzer(t, d.User)
			path, _ := a.writeVerified(t, d)

			fields, commands := a.dump(t, path)
			// The dump shows argv before the $VAR expansion done when the
			// command runs; undollar does that step ($$ is $).
			argv, err := decodeDumpCommandLine(commands["ExecStart"])
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range argv {
				if argv[i], err = undollar(w); err != nil {
					t.Error(err)
				}
			}
			if want := append([]string{d.Exec}, d.Args...); !reflect.DeepEqual(argv, want) {
				t.Errorf("systemd reads ExecStart as\n%q\nwant\n%q\n(dump: %s)", argv, want, commands["ExecStart"])
			}
			if got := commands["ExecReload"]; got != `/bin/kill -HUP "\$MAINPID"` {
				t.Errorf("ExecReload reads as %s", got)
			}
			wantEnv := d.Env
			if got := fields["Environment"]; !reflect.DeepEqual(got, wantEnv) && (len(got) != 0 || len(wantEnv) != 0) {
				t.Errorf("systemd reads Environment as\n%q\nwant\n%q", got, wantEnv)
			}
			wantDesc := strings.Trim(d.Description, " ")
			if wantDesc == "" {
				wantDesc = strings.Trim(d.DisplayName, " ")
			}
			if wantDesc == "" {
				wantDesc = d.Name
			}
			dd := d.WithDefaults()
			want := map[string]string{
				"Description":  wantDesc,
				"Type":         "notify",
				"Restart":      dd.Restart,
				"NotifyAccess": dd.NotifyAccess,
			}
			if !d.User {
				want["RuntimeDirectory"] = "sole/" + d.Name
				want["RuntimeDirectoryMode"] = "0755"
			} else if got := fields["RuntimeDirectory"]; len(got) != 0 {
				t.Errorf("systemd reads RuntimeDirectory of a user unit as %q, want none", got)
			}
			if d.WorkingDirectory != "" {
				want["WorkingDirectory"] = d.WorkingDirectory
			}
			if d.RunAs != "" {
				want["User"] = d.RunAs
			}
			if d.Group != "" {
				want["Group"] = d.Group
			}
			if d.EnvFile != "" {
				want["EnvironmentFile"] = d.EnvFile
			}
			// The ordering after the network, as systemd reads it (the
			// dump says where each dependency comes from).
			_, fleet := readSoleRun(d)
			for _, dep := range []struct {
				key, unit string
				want      bool
			}{
				{"After", "network.target", !d.User && !fleet},
				{"After", "network-online.target", !d.User && fleet},
				{"Wants", "network-online.target", !d.User && fleet},
			} {
				if got := slices.Contains(fields[dep.key], dep.unit+" (origin-file)"); got != dep.want {
					t.Errorf("systemd reads %s=%s from the file: %v, want %v (%s: %q)", dep.key, dep.unit, got, dep.want, dep.key, fields[dep.key])
				}
			}
			want["KillMode"] = "control-group"
			if wantsKillModeMixed(d) {
				want["KillMode"] = "mixed"
			}
			for k, v := range want {
				if got := fields[k]; len(got) != 1 || got[0] != v {
					t.Errorf("systemd reads %s as %q, want %q", k, got, v)
				}
			}
			for k, v := range map[string]time.Duration{
				"TimeoutStartSec": dd.StartTimeout,
				"TimeoutStopSec":  dd.StopTimeout,
				"RestartSec":      dd.RestartSec,
				"WatchdogSec":     dd.Watchdog,
			} {
				got := fields[k]
				if len(got) != 1 {
					t.Errorf("dump has %s %q", k, got)
					continue
				}
				// The dump writes time spans to the second (1.5s as "1s");
				// TestSystemdDurationAgrees checks them exactly.
				if us := a.timespan(t, got[0]); us > v || v-us >= time.Second {
					t.Errorf("systemd reads %s as %s = %v, want %v", k, got[0], us, v)
				}
			}
		})
	}
}

// TestSystemdAnalyzeControl shows that the verify harness reports a broken
// unit: an unknown key, an unknown specifier, a missing program.
func TestSystemdAnalyzeControl(t *testing.T) {
	a := newAnalyzer(t, false)
	for name, text := range map[string]string{
		"bogus-key":  "[Service]\nType=notify\nExecStart=/bin/true\nBogusKey=1\n",
		"specifier":  "[Service]\nExecStart=/bin/true\nEnvironment=\"A=%z\"\n",
		"no-program": "[Service]\nExecStart=/nonexistent/prog\n",
		"bad-quote":  "[Service]\nExecStart=/bin/true \"unterminated\n",
	} {
		path := filepath.Join(a.unitDir, name+".service")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		problems := a.verify(t, path)
		if len(problems) == 0 {
			t.Errorf("%s: systemd-analyze verify reported nothing for\n%s", name, text)
		} else {
			t.Logf("%s: %s", name, strings.Join(problems, " | "))
		}
	}
}

// TestSystemdDurationAgrees checks systemdDuration against systemd's own
// parser.
func TestSystemdDurationAgrees(t *testing.T) {
	a := newAnalyzer(t, false)
	for _, d := range []time.Duration{
		time.Microsecond, 999 * time.Microsecond, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond,
		1500003 * time.Microsecond, 90 * time.Second, 10 * time.Minute, 36*time.Hour + 7*time.Microsecond,
	} {
		s, err := systemdDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.timespan(t, s); got != d {
			t.Errorf("systemd reads %q (for %v) as %v", s, d, got)
		}
	}
}

// exposure is `systemd-analyze security --offline=true`'s overall
// exposure level of the unit file at path (0 safest, 10 least safe).
func (a *analyzer) exposure(t *testing.T, path string) float64 {
	t.Helper()
	out, errOut, err := a.run("notice", "security", "--offline=true", "--no-pager", path)
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s%s", err, lastLines(out, 20), errOut)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security's output:\n%s", lastLines(out, 20))
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHarden: a hardened unit passes `systemd-analyze verify` and rates
// at most 2.0 in `systemd-analyze security` (the target; 9.6
// "UNSAFE" without --harden), as root and as another user, wrapped and
// built on the runtime. The service actually running under it is
// internal/e2e's TestSystemdServiceOptions.
func TestHarden(t *testing.T) {
	needSystemdAnalyze(t)
	base := func(args []string) Description {
		return Description{Name: "hard", Exec: "/usr/bin/true", Args: args, WorkingDirectory: "/srv"}
	}
	wrapped := SoleRunArgs("hard", false, false, "", []string{"/usr/bin/srv", "--port", "8080"})
	for _, c := range []struct {
		name   string
		d      Description
		harden bool
		max    float64
		min    float64
	}{
		{name: "plain", d: base(wrapped), min: 9},
		{name: "root-wrapped", d: base(wrapped), harden: true, max: 2},
		{name: "runas-wrapped", d: func() Description { d := base(wrapped); d.RunAs, d.Group = "svc-hard", "svc-hard"; return d }(), harden: true, max: 2},
		{name: "runas-runtime", d: func() Description { d := base([]string{"run"}); d.RunAs = "svc-hard"; return d }(), harden: true, max: 2},
		{name: "fleet-wrapped", d: base(SoleRun{Name: "hard", Fleet: fleetOpts, Command: []string{"/usr/bin/srv"}}.Args()), harden: true, max: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.d
			d.Harden = c.harden
			a := newAnalyzer(t, false)
			path, text := a.writeVerified(t, d)
			e := a.exposure(t, path)
			t.Logf("systemd-analyze security: exposure %.1f", e)
			if c.harden && e > c.max {
				t.Errorf("exposure %.1f, want at most %.1f\n%s", e, c.max, text)
			}
			if !c.harden && e < c.min {
				t.Errorf("exposure %.1f without --harden: the baseline moved (want at least %.1f)", e, c.min)
			}
			fields, _ := a.dump(t, path)
			if c.harden {
				for k, v := range map[string]string{"StateDirectory": "hard", "LogsDirectory": "hard"} {
					if got := fields[k]; len(got) != 1 || got[0] != v {
						t.Errorf("systemd reads %s as %q, want %q", k, got, v)
					}
				}
			}
		})
	}
	// What cannot be hardened is refused, not rendered.
	for _, c := range []struct {
		name string
		d    Description
		want string
	}{
		{"user", Description{Name: "h", Exec: "/bin/x", User: true, Harden: true}, "unit: harden: the sandboxing options are for system services"},
		{"home-exec", Description{Name: "h", Exec: "/home/u/x", Harden: true}, `unit: exec: "/home/u/x" is under /home, which a hardened service cannot see`},
		{"root-workdir", Description{Name: "h", Exec: "/bin/x", WorkingDirectory: "/root", Harden: true}, `unit: working directory: "/root" is under /root`},
		{"wrapped-home", Description{Name: "h", Exec: "/bin/sole", Args: SoleRunArgs("h", false, false, "", []string{"/run/user/0/x"}), Harden: true}, `unit: command: "/run/user/0/x" is under /run/user`},
		// sole reads the fleet's TLS files inside the sandbox.
		{"fleet-key-home", Description{Name: "h", Exec: "/bin/sole", Harden: true,
			Args: SoleRun{Name: "h", Fleet: []string{"--fleet", "etcd://e:2379", "--fleet-cert", "/etc/c.pem", "--fleet-key", "/root/k.pem"}, Command: []string{"/bin/x"}}.Args()},
			`unit: fleet-key: "/root/k.pem" is under /root`},
	} {
		t.Run("refused/"+c.name, func(t *testing.T) {
			_, err := SystemdUnit(c.d)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got %v, want %q...", err, c.want)
			}
		})
	}
}
