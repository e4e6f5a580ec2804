package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// The maintainer scripts of a fleet service start it without waiting for
// the start job (systemctl --no-block): it is ready only once it holds its
// lock across the fleet, on a node that stands by maybe never.

// stubSystemctl is a systemctl that logs its arguments to $LOG and answers
// what deb-systemd-invoke and the scripts ask: --version ($SYSTEMD), the
// user managers that run ($USERS, default user@0 and user@1000), is-enabled
// ($ENABLED_system, $ENABLED_0, ... by --machine, default disabled) and
// is-active ($ACTIVE_system, ... "yes" for active).
const stubSystemctl = `#!/bin/sh
echo "systemctl $*" >>"$LOG"
id=system prev=
for a in "$@"; do
	[ "$prev" = --machine ] && id=${a%@}
	prev=$a
done
eval "enabled=\${ENABLED_$id:-disabled} active=\${ACTIVE_$id:-no}"
case " $* " in
*" --version "*) echo "systemd ${SYSTEMD:-252} (${SYSTEMD:-252}.38-1~deb12u1)"; echo "+PAM +AUDIT"; exit 0 ;;
*" list-units "*) for u in ${USERS-0 1000}; do echo "user@$u.service loaded active running User Manager for UID $u"; done; exit 0 ;;
*" is-enabled "*) echo "$enabled"; [ "$enabled" = disabled ] && exit 1; exit 0 ;;
*" is-active "*) [ "$active" = yes ] && exit 0; exit 3 ;;
esac
exit 0
`

// stubs writes into dir a logging systemctl, deb-systemd-helper and
// policy-rc.d (dir/root/usr/sbin/policy-rc.d, exiting $POLICY; none when
// policy is "none").
func stubs(t *testing.T, dir, policy string) {
	t.Helper()
	write := func(path, body string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "bin", "systemctl"), stubSystemctl)
	write(filepath.Join(dir, "bin", "deb-systemd-helper"), "#!/bin/sh\necho \"deb-systemd-helper $*\" >>\"$LOG\"\n")
	write(filepath.Join(dir, "bin", "deb-systemd-invoke"), "#!/bin/sh\necho \"deb-systemd-invoke $*\" >>\"$LOG\"\n")
	if policy != "none" {
		write(filepath.Join(dir, "root", "usr", "sbin", "policy-rc.d"), "#!/bin/sh\necho \"policy-rc.d $*\" >>\"$LOG\"\nexit "+policy+"\n")
	}
	if err := os.MkdirAll(filepath.Join(dir, "run-systemd-system"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// runLogged runs argv with the stubs of dir first in PATH and env, and
// returns the log and the standard error.
func runLogged(t *testing.T, dir string, env []string, argv ...string) (log []string, stderr string) {
	t.Helper()
	logPath := filepath.Join(dir, "log")
	os.Remove(logPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"PATH=" + filepath.Join(dir, "bin") + ":" + os.Getenv("PATH"), "LOG=" + logPath}, env...)...)
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("%q: %v\n%s%s", argv, err, out, errBuf.String())
	}
	b, _ := os.ReadFile(logPath)
	return strings.Split(strings.TrimSpace(string(b)), "\n"), errBuf.String()
}

// jobs are the lines of log that ask policy-rc.d or queue a job (start,
// restart, try-restart, stop), with the options that do not change which
// job is queued where (--quiet, --system, --no-block) dropped, and
// whether each job was queued with --no-block.
func jobs(log []string) (got []string, noBlock []bool) {
	for _, line := range log {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "policy-rc.d" {
			got = append(got, line)
			continue
		}
		if f[0] != "systemctl" {
			continue
		}
		var kept []string
		nb, job := false, false
		for _, a := range f[1:] {
			switch a {
			case "--quiet", "--system":
				continue
			case "--no-block":
				nb = true
				continue
			case "start", "restart", "try-restart", "stop":
				job = true
			}
			kept = append(kept, a)
		}
		if job {
			got = append(got, "systemctl "+strings.Join(kept, " "))
			noBlock = append(noBlock, nb)
		}
	}
	return got, noBlock
}

// TestDebFleetStartsAsDebSystemdInvoke: the fleet postinst's start (first
// installation) and restart (upgrade) queue exactly the jobs that
// /usr/bin/deb-systemd-invoke (init-system-helpers) would, for every
// answer of policy-rc.d and every enabled and active state, in the system
// manager and in each user manager, but each with --no-block.
func TestDebFleetStartsAsDebSystemdInvoke(t *testing.T) {
	invoke, err := exec.LookPath("deb-systemd-invoke")
	testenv.Need(t, err == nil, "no deb-systemd-invoke (Debian package init-system-helpers): %v", err)
	testenv.NeedTool(t, "dpkg", "dpkg")
	sys, err := debScripts("myd", debExtra{fleet: true})
	if err != nil {
		t.Fatal(err)
	}
	user, err := debUserScripts("myd", true)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string][]string{
		"enabled":            {"ENABLED_system=enabled", "ENABLED_0=enabled", "ENABLED_1000=enabled"},
		"enabled-runtime":    {"ENABLED_system=enabled-runtime", "ENABLED_0=enabled-runtime", "ENABLED_1000=enabled-runtime"},
		"disabled":           {},
		"disabled, active":   {"ACTIVE_system=yes", "ACTIVE_0=yes", "ACTIVE_1000=yes"},
		"static, active":     {"ENABLED_system=static", "ACTIVE_system=yes", "ENABLED_0=static", "ACTIVE_0=yes"},
		"masked":             {"ENABLED_system=masked", "ENABLED_0=masked"},
		"mixed users":        {"ENABLED_0=enabled", "ACTIVE_1000=yes"},
		"users, old systemd": {"ENABLED_0=enabled", "SYSTEMD=247"},
	}
	for _, policy := range []string{"none", "0", "101", "104", "1"} {
		for sname, env := range states {
			for _, tt := range []struct {
				kind   string
				script string
				args   []string // postinst's
				invoke []string // deb-systemd-invoke's
			}{
				{"install", sys.Postinst, []string{"configure", ""}, []string{"start", "myd.service"}},
				{"upgrade", sys.Postinst, []string{"configure", "1.0-1"}, []string{"restart", "myd.service"}},
				{"user install", user.Postinst, []string{"configure", ""}, []string{"--user", "restart", "myd.service"}},
				{"user upgrade", user.Postinst, []string{"configure", "1.0-1"}, []string{"--user", "restart", "myd.service"}},
			} {
				t.Run(fmt.Sprintf("%s/policy %s/%s", tt.kind, policy, sname), func(t *testing.T) {
					dir := t.TempDir()
					stubs(t, dir, policy)
					root := filepath.Join(dir, "root")
					withRoot := append([]string{"DPKG_ROOT=" + root}, env...) // deb-systemd-invoke's
					script := strings.ReplaceAll(tt.script, "/run/systemd/system", filepath.Join(dir, "run-systemd-system"))
					var want []string
					var wantErr string
					runEnv := env // the postinst's
					if strings.Contains(tt.kind, "user") {
						// deb-systemd-invoke --user runs once per user
						// manager: it carries the units to restart over
						// from one manager to the next (init-system-helpers
						// 1.65), restarting in the second what only the
						// first had enabled, where the postinst decides
						// for each on its own.
						for i, uid := range []string{"0", "1000"} {
							log, stderr := runLogged(t, dir, append(withRoot, "USERS="+uid), append([]string{invoke}, tt.invoke...)...)
							j, _ := jobs(log)
							if i > 0 {
								j = slices.DeleteFunc(j, func(l string) bool { return strings.HasPrefix(l, "policy-rc.d") })
							}
							want, wantErr = append(want, j...), wantErr+stderr
						}
						// The user part runs only without DPKG_ROOT.
						script = strings.ReplaceAll(script, "${DPKG_ROOT:-}/usr/sbin/policy-rc.d", root+"/usr/sbin/policy-rc.d")
					} else {
						log, stderr := runLogged(t, dir, withRoot, append([]string{invoke}, tt.invoke...)...)
						want, _ = jobs(log)
						wantErr = stderr
						runEnv = withRoot
					}
					gotLog, gotErr := runLogged(t, dir, runEnv, append([]string{"sh", "-c", script, "postinst"}, tt.args...)...)
					got, noBlock := jobs(gotLog)
					if !slices.Equal(got, want) {
						t.Errorf("postinst %q:\n%s\n\ndeb-systemd-invoke %q:\n%s\n\npostinst ran:\n%s\nstderr: %s",
							tt.args, strings.Join(got, "\n"), tt.invoke, strings.Join(want, "\n"), strings.Join(gotLog, "\n"), gotErr)
					}
					if slices.Contains(noBlock, false) {
						t.Errorf("a job queued without --no-block:\n%s", strings.Join(gotLog, "\n"))
					}
					// It says why it starts nothing, as deb-systemd-invoke does.
					for _, why := range []string{"returned 101, not running", "not starting it", "does not support acting on user instance"} {
						if strings.Contains(wantErr, why) != strings.Contains(gotErr, why) {
							t.Errorf("%q: deb-systemd-invoke's stderr %q, the postinst's %q", why, wantErr, gotErr)
						}
					}
				})
			}
		}
	}
}

// TestFleetScripts: a fleet service's scripts differ from the others only
// in how the postinst (the .rpm's %postun) starts it; they are shell, and
// the non-fleet scripts are unchanged (NewDebScripts, NewRPMScripts).
func TestFleetScripts(t *testing.T) {
	plain, _ := NewDebScripts("myd")
	if got, _ := debScripts("myd", debExtra{}); got != plain {
		t.Errorf("debScripts without fleet differ from NewDebScripts:\n%+v\n%+v", got, plain)
	}
	if !strings.Contains(plain.Postinst, "deb-systemd-invoke $_dh_action myd.service") || strings.Contains(plain.Postinst, "--no-block") {
		t.Errorf("the non-fleet postinst changed:\n%s", plain.Postinst)
	}
	fleet, _ := debScripts("myd", debExtra{fleet: true})
	plainUser, _ := NewDebUserScripts("myd")
	fleetUser, _ := debUserScripts("myd", true)
	plainRPM, _ := NewRPMScripts("myd")
	fleetRPM, _ := rpmScripts("myd", true)
	plainUserRPM, _ := NewRPMUserScripts("myd")
	fleetUserRPM, _ := rpmUserScripts("myd", true)
	if s, _ := rpmScripts("myd", false); s != plainRPM {
		t.Error("rpmScripts without fleet differ from NewRPMScripts")
	}
	if s, _ := rpmUserScripts("myd", false); s != plainUserRPM {
		t.Error("rpmUserScripts without fleet differ from NewRPMUserScripts")
	}
	for _, tt := range []struct {
		name         string
		fleet, plain string
	}{
		{"postinst", fleet.Postinst, plain.Postinst},
		{"user postinst", fleetUser.Postinst, plainUser.Postinst},
		{"%postun", fleetRPM.Postun, plainRPM.Postun},
		{"user %postun", fleetUserRPM.Postun, plainUserRPM.Postun},
	} {
		if cmds := strings.Join(commands(tt.fleet), "\n"); !strings.Contains(cmds, "--no-block") || strings.Contains(cmds, "deb-systemd-invoke") || strings.Contains(cmds, "mark-restart") {
			t.Errorf("fleet %s:\n%s", tt.name, tt.fleet)
		}
		if strings.Contains(tt.plain, "--no-block") {
			t.Errorf("non-fleet %s has --no-block:\n%s", tt.name, tt.plain)
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(tt.fleet)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n fleet %s: %v: %s", tt.name, err, out)
		}
	}
	// The rest is the same.
	for _, tt := range []struct{ name, fleet, plain string }{
		{"prerm", fleet.Prerm, plain.Prerm},
		{"postrm", fleet.Postrm, plain.Postrm},
		{"user prerm", fleetUser.Prerm, plainUser.Prerm},
		{"user postrm", fleetUser.Postrm, plainUser.Postrm},
		{"%post", fleetRPM.Post, plainRPM.Post},
		{"%preun", fleetRPM.Preun, plainRPM.Preun},
		{"user %post", fleetUserRPM.Post, plainUserRPM.Post},
		{"user %preun", fleetUserRPM.Preun, plainUserRPM.Preun},
	} {
		if tt.fleet != tt.plain {
			t.Errorf("fleet %s differs:\n%s\nwant:\n%s", tt.name, tt.fleet, tt.plain)
		}
	}
	// The enabling and the sysusers part come first, as without fleet.
	x := debExtra{sysusers: "myd.conf", user: "myd", fleet: true}
	withUser, _ := debScripts("myd", x)
	if i, j := strings.Index(withUser.Postinst, "systemd-sysusers"), strings.Index(withUser.Postinst, "--no-block"); i < 0 || i > j ||
		strings.Index(withUser.Postinst, "was-enabled") > j {
		t.Errorf("fleet postinst with a system user, out of order:\n%s", withUser.Postinst)
	}
}

// TestRPMFleetScriptletCounts runs the fleet scriptlets as rpm does
// (TestRPMScriptletCounts): an upgrade queues the restart, with or
// without systemd-update-helper (whose marked restart would wait), in
// the system manager or in each user manager that runs.
func TestRPMFleetScriptletCounts(t *testing.T) {
	rs, _ := rpmScripts("myd", true)
	us, _ := rpmUserScripts("myd", true)
	restart := "systemctl daemon-reload\nsystemctl --no-block try-restart myd.service"
	userRestart := "systemctl --no-legend list-units user@*\n" +
		"systemctl --user --machine 0@ daemon-reload\nsystemctl --user --machine 0@ --no-block try-restart myd.service\n" +
		"systemctl --user --machine 1000@ daemon-reload\nsystemctl --user --machine 1000@ --no-block try-restart myd.service"
	tests := map[string]struct {
		script, arg string
		helper      bool
		want        string
	}{
		"postun upgrade":          {rs.Postun, "1", true, restart},
		"postun 2 upgrades":       {rs.Postun, "2", true, restart},
		"postun remove":           {rs.Postun, "0", true, ""},
		"old postun upgrade":      {rs.Postun, "1", false, restart},
		"old postun remove":       {rs.Postun, "0", false, ""},
		"user postun upgrade":     {us.Postun, "1", true, userRestart},
		"user postun remove":      {us.Postun, "0", true, ""},
		"old user postun upgrade": {us.Postun, "1", false, userRestart},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			stubs(t, dir, "none")
			if tt.helper {
				if err := os.WriteFile(filepath.Join(dir, "helper"), []byte("#!/bin/sh\necho \"helper $*\" >>\"$LOG\"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			script := strings.ReplaceAll(tt.script, "/usr/lib/systemd/systemd-update-helper", filepath.Join(dir, "helper"))
			script = strings.ReplaceAll(script, "/run/sole/", dir+"/run-sole-")
			script = strings.ReplaceAll(script, "/run/systemd/system", filepath.Join(dir, "run-systemd-system"))
			log, _ := runLogged(t, dir, nil, "sh", "-e", "-c", script, "scriptlet", tt.arg)
			if got := strings.Join(log, "\n"); got != tt.want {
				t.Errorf("ran:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestFleetPackageScripts: the .deb and the .rpm of a fleet service ship
// the fleet scripts, and the .deb the lintian override for the postinst's
// systemctl (TestDebFleet checks that lintian is satisfied).
func TestFleetPackageScripts(t *testing.T) {
	needTools(t, "dpkg-deb", "rpm", "strip")
	soleFleetBin(t)
	for _, userUnit := range []bool{false, true} {
		t.Run(fmt.Sprintf("user %v", userUnit), func(t *testing.T) {
			s := fleetSpec()
			if userUnit {
				s.User, s.FleetCACert, s.FleetCert, s.FleetKey, s.EnvFile = true, "", "", "", ""
			}
			deb, err := Build(t.Context(), s, Deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ds, _ := debScripts(s.Name, debExtra{fleet: true})
			rs, _ := rpmScripts(s.Name, true)
			if userUnit {
				ds, _ = debUserScripts(s.Name, true)
				rs, _ = rpmUserScripts(s.Name, true)
			}
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			for file, want := range map[string]string{"postinst": ds.Postinst, "prerm": ds.Prerm, "postrm": ds.Postrm} {
				if got, err := os.ReadFile(filepath.Join(ctl, file)); err != nil || string(got) != want {
					t.Errorf("%s (%v):\n%s\nwant:\n%s", file, err, got, want)
				}
			}
			files, _ := debFiles(t, deb)
			if o := string(files["/usr/share/lintian/overrides/"+s.Name]); !strings.Contains(o, "\n"+s.Name+": maintainer-script-calls-systemctl [postinst:*]\n") {
				t.Errorf("lintian overrides:\n%s", o)
			}
			r, err := Build(t.Context(), s, RPM, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if scripts := run(t, "rpm", "-qp", "--scripts", r); !strings.Contains(scripts, "postuninstall scriptlet (using /bin/sh):\n"+rs.Postun) {
				t.Errorf("rpm -qp --scripts lacks the fleet %%postun:\n%s\ngot:\n%s", rs.Postun, scripts)
			}
		})
	}
	// Without fleet, no override for systemctl.
	linuxBins(t)
	s := baseSpec()
	s.Binary, s.Sole = bins.stranger, bins.sole
	deb, err := Build(t.Context(), s, Deb, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files, _ := debFiles(t, deb)
	if o := string(files["/usr/share/lintian/overrides/"+s.Name]); strings.Contains(o, "systemctl") {
		t.Errorf("a non-fleet package overrides maintainer-script-calls-systemctl:\n%s", o)
	}
}

// TestDebFleetRestartDerived: the fleet postinst part is debhelper's with
// its one deb-systemd-invoke line replaced, and nothing else changed.
func TestDebFleetRestartDerived(t *testing.T) {
	if strings.Contains(debFleetRestart, debInvoke) || !strings.Contains(debRestart, debInvoke) {
		t.Fatalf("the invoke line was not replaced:\n%s", debFleetRestart)
	}
	head, _, _ := strings.Cut(debRestart, debInvoke)
	if !strings.HasPrefix(debFleetRestart, head) || !strings.Contains(debFleetRestart, "--no-block") {
		t.Fatalf("debFleetRestart:\n%s", debFleetRestart)
	}
	if strings.Contains(debUserFleetRestart, debUserInvoke) || !strings.Contains(debUserRestart, debUserInvoke) || !strings.Contains(debUserFleetRestart, "--no-block") {
		t.Fatalf("debUserFleetRestart:\n%s", debUserFleetRestart)
	}
}
