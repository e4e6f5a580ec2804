package solecmd

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/internal/unit"
)

var update = flag.Bool("update", false, "rewrite docs/man/sole.1 from the command table")

// manPath is sole's man page, written by TestManPage -update.
const manPath = "../../docs/man/sole.1"

// soleManInfo is what sole(1) says beyond the command table. The date is
// fixed so that the page is the same wherever it is written; change it
// with the page.
var soleManInfo = cli.ManInfo{
	Date:    "2026-12-01",
	Purpose: "run a program as exactly one instance, and as a service",
	Description: `Put sole in front of any command, a cron job, a script or a daemon: a
second start while the first runs exits at once with status 75 (or waits
for it with --wait, or stops it with --replace), with one line saying who
holds the lock. The lock is an exclusive flock(2) held on the PID file for
the holder's whole life: the kernel frees it when the holder dies, so a
crash never leaves a stale lock, and a reused PID never makes a dead
holder look alive. sole install registers a command as a systemd or
launchd service (a Windows service) that runs with the same lock.

Options take one or two dashes (--wait, -wait) and --opt=value or --opt
value. -- ends the options of run and install, whose options come before
COMMAND; for status, list, uninstall, start, stop and restart, options may
also follow the name, up to a --. A duration (DUR) is a number with a
unit: 500ms, 30s, 5m, 1h30m. A named lock is NAME/NAME.pid in the lock
directory of its scope (see FILES); a name is 1 to 200 printable bytes
without /, \ or a leading dot.

docs/cli.md in sole's sources says the same at more length.`,
	ExitStatus: `sole run exits with COMMAND's status, or 128+N when COMMAND died of
signal N or a --wait was cancelled by it; --conflict-exit-code N replaces
the 75 of a lock that is taken. uninstall, start, stop and restart exit 1
when the service manager refused and 5 when no such service is installed
(LSB "not installed"); package exits 127 when sole-package is missing.`,
	Environment: []cli.ManEntry{
		{Name: "PATH", Text: "Where sole run finds COMMAND, unless it contains a /."},
		{Name: "NOTIFY_SOCKET", Text: "Set by systemd for a Type=notify unit: sole run sends READY=1 once COMMAND runs under the lock, RELOADING=1 on SIGHUP and STOPPING=1 when COMMAND ends. COMMAND does not see it."},
		{Name: "WATCHDOG_USEC, WATCHDOG_PID", Text: "Set by systemd for a unit with WatchdogSec=: with --health CMD, sole run feeds the watchdog only while CMD succeeds. COMMAND does not see them."},
	},
	Files: []cli.ManEntry{
		{Name: "/run/sole/NAME/NAME.pid", Text: "The lock of NAME in the system scope (on macOS in /var/run/sole): the holder's PID on the first line, its process name on the second."},
		{Name: "/run/lock/sole-UID/NAME/NAME.pid", Text: "The lock of NAME in the user scope, when /run/lock is root's and mode 1777; /tmp/sole-UID/NAME/NAME.pid otherwise (on macOS, /private/tmp)."},
		{Name: "/etc/systemd/system/NAME.service", Text: "The unit sole install writes; ~/.config/systemd/user/NAME.service with --user."},
	},
	Examples: []cli.ManEntry{
		{Name: "sole run --name nightly -- ./nightly.sh", Text: "Run a job unless it is still running (then exit 75):"},
		{Name: "sole run --name nightly --wait --timeout 10m -- ./nightly.sh", Text: "Queue behind the running one for up to ten minutes:"},
		{Name: "sole status nightly", Text: "Say who holds the lock, without taking it:"},
		{Name: "sudo sole install --name worker -- /usr/local/bin/worker --flag\nsudo sole start worker", Text: "Install a command as a system service, and start it:"},
	},
	SeeAlso: []string{"flock(1)", "flock(2)", "timeout(1)", "systemctl(1)", "systemd.service(5)", "sd_notify(3)", "launchd.plist(5)"},
}

// TestManPage checks docs/man/sole.1 against the command table, and that
// groff and man render it without a warning.
func TestManPage(t *testing.T) {
	var b strings.Builder
	soleProgram.Man(&b, soleManInfo)
	page := b.String()
	if *update {
		if err := os.MkdirAll(filepath.Dir(manPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(manPath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatalf("%v; write it with: go test ./internal/solecmd -run TestManPage -update", err)
	}
	if string(old) != page {
		t.Errorf("docs/man/sole.1 is not what the command table says; rewrite it with: go test ./internal/solecmd -run TestManPage -update")
	}
	out := testenv.ManPage(t, manPath)
	flat := strings.Join(strings.Fields(out), " ")
	for _, c := range soleProgram.Commands {
		if c.Hidden {
			if strings.Contains(page, c.Name) {
				t.Errorf("the hidden command %s is in the man page", c.Name)
			}
			continue
		}
		if !strings.Contains(flat, "sole "+c.Name) {
			t.Errorf("no \"sole %s\" in man's output", c.Name)
		}
	}
}

// TestCompletionNames checks the names `sole __complete` lists
// (completion.go): named locks are the directories of the lock
// directories, services the units whose first line is sole's.
func TestCompletionNames(t *testing.T) {
	dir := t.TempDir()
	mk := func(p, content string) {
		t.Helper()
		p = filepath.Join(dir, p)
		if content == "/" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("system/backup/backup.pid", "1\nbackup.sh\n")
	mk("system/hellod/", "/")
	mk("system/.hidden/", "/")
	mk("system/notes.pid", "")
	mk("user/backup/", "/")
	mk("user/job.1/", "/")
	if err := os.Symlink(filepath.Join(dir, "system", "backup"), filepath.Join(dir, "user", "link")); err != nil {
		t.Fatal(err)
	}
	d := unit.Description{Name: "web", Description: "web", Exec: "/bin/true"}.WithDefaults()
	text, err := unit.SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	mk("units/web.service", string(text))
	mk("units/other.service", "[Unit]\nDescription=not sole's\n")
	mk("units/renamed.service", string(text)) // sole's text, but for web
	mk("units/web.service.d/override.conf", "")
	mk("agents/sole.agent.plist", "")
	mk("agents/com.apple.x.plist", "")
	mk("agents/sole..plist", "")

	for name, tc := range map[string]struct {
		got, want []string
	}{
		"locks":    {lockNames([]string{filepath.Join(dir, "system"), filepath.Join(dir, "user"), filepath.Join(dir, "missing")}), []string{"backup", "hellod", "job.1"}},
		"systemd":  {serviceNames([]serviceDir{{filepath.Join(dir, "units"), systemdUnitName}, {filepath.Join(dir, "missing"), systemdUnitName}}), []string{"web"}},
		"launchd":  {serviceNames([]serviceDir{{filepath.Join(dir, "agents"), launchdPlistName}}), []string{"agent"}},
		"no dirs":  {lockNames(nil), nil},
		"no units": {serviceNames(nil), nil},
	} {
		t.Run(name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if kinds := completionNames("nope"); kinds != nil {
		t.Errorf("names of an unknown kind: %q", kinds)
	}
	for _, c := range []string{"completion", cli.CompleteName} {
		if soleProgram.Lookup(c) == nil {
			t.Errorf("sole has no command %s", c)
		}
	}
	for _, sh := range cli.Shells {
		var script strings.Builder
		if err := soleProgram.Completion(sh, &script); err != nil {
			t.Errorf("sole's %s completion: %v", sh, err)
		}
	}
}
