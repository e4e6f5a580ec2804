//go:build windows

package svcmgr

// Windows tests of the service definition, also run under Wine
// (scripts/wine/exec.sh). The tests that install drive the real service
// control manager (Wine's services.exe under Wine, where they need no
// administrator; on Windows they skip without that right) and never start
// the services they install.
//
// What Wine 8's SCM does with what these tests set, as they found it:
//   - accounts: CreateService and ChangeServiceConfig take any account
//     name and store it as given, in the registry value ObjectName and in
//     QueryServiceConfig's ServiceStartName; every service still runs as
//     the Wine user.
//   - recovery actions: ChangeServiceConfig2(SERVICE_CONFIG_FAILURE_ACTIONS)
//     succeeds but stores nothing (no FailureActions value), and
//     QueryServiceConfig2 answers ERROR_INVALID_LEVEL for it;
//     SERVICE_CONFIG_FAILURE_ACTIONS_FLAG fails with ERROR_INVALID_LEVEL
//     both ways (no FailureActionsOnNonCrashFailures value).
//   - ACLs: SetNamedSecurityInfo on a directory succeeds, but the DACL read
//     back is the one Wine makes up from the Unix mode bits, without the
//     entry added.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/rmtree/rmtreetest"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/internal/wintest"
	"github.com/solehq/sole/platform"
)

const testExe = `C:\Program Files\sole test\sole.exe`

// wrapper is what `sole install --name NAME -- COMMAND ARGS...` describes.
func wrapper(name string, argv ...string) unit.Description {
	return unit.Description{Name: name, Exec: testExe, Args: unit.SoleRunArgs(name, false, true, "", argv)}
}

func TestWindowsAccounts(t *testing.T) {
	for name, tt := range map[string]struct {
		runAs, want string
	}{
		"default":                {"", ""},
		"LocalSystem":            {"LocalSystem", ""},
		"NT AUTHORITY\\SYSTEM":   {`NT AUTHORITY\SYSTEM`, ""},
		"LocalService":           {"LocalService", localService},
		"localservice":           {"localservice", localService},
		"NT AUTHORITY\\Local...": {`NT AUTHORITY\LocalService`, localService},
		"NetworkService":         {"NetworkService", networkService},
		"nt authority\\network":  {`nt authority\networkservice`, networkService},
		"virtual":                {`NT SERVICE\myd`, `NT SERVICE\myd`},
		"virtual, other case":    {`nt service\MYD`, `NT SERVICE\myd`},
	} {
		t.Run(name, func(t *testing.T) {
			d := wrapper("myd", `C:\svc\myd.exe`)
			d.RunAs = tt.runAs
			c, err := newConfig(d)
			if err != nil {
				t.Fatal(err)
			}
			if c.account != tt.want {
				t.Errorf("account %q, want %q", c.account, tt.want)
			}
			_, text, err := Definition(d)
			if err != nil {
				t.Fatal(err)
			}
			want := "account:        LocalSystem\n"
			if tt.want != "" {
				want = "account:        " + tt.want + " (no password)\n"
			}
			if !strings.Contains(string(text), want) {
				t.Errorf("definition lacks %q:\n%s", want, text)
			}
			if tt.want != "" && !strings.Contains(string(text), "; modify rights for "+tt.want+")") {
				t.Errorf("definition does not say the account gets modify rights on its directory:\n%s", text)
			}
		})
	}
}

func TestWindowsRefused(t *testing.T) {
	const takes = `a Windows service runs as LocalSystem, LocalService, NetworkService or its virtual account`
	for name, tt := range map[string]struct {
		change func(*unit.Description)
		want   string
	}{
		"unix user":          {func(d *unit.Description) { d.RunAs = "www-data" }, `unit: run as: "www-data": ` + takes},
		"domain user":        {func(d *unit.Description) { d.RunAs = `CORP\alice` }, takes},
		"other virtual":      {func(d *unit.Description) { d.RunAs = `NT SERVICE\other` }, takes},
		"group":              {func(d *unit.Description) { d.RunAs, d.Group = "LocalService", "users" }, "unit: group: a Windows service has no group of its own"},
		"harden":             {func(d *unit.Description) { d.Harden = true }, "unit: harden: the sandboxing options are systemd's"},
		"user":               {func(d *unit.Description) { d.User = true }, "per-user services are not supported on Windows"},
		"relative workdir":   {func(d *unit.Description) { d.WorkingDirectory = `svc` }, `unit: working directory: "svc" is not an absolute Windows path (want C:\dir)`},
		"unix workdir":       {func(d *unit.Description) { d.WorkingDirectory = "/srv" }, `unit: working directory: "/srv" is not an absolute Windows path`},
		"unclean env file":   {func(d *unit.Description) { d.EnvFile = `C:\svc\..\env` }, `unit: env file: "C:\\svc\\..\\env" is not a clean path`},
		"control in log dir": {func(d *unit.Description) { d.LogDir = "C:\\lo\x01g" }, "unit: log directory:"},
		"bad restart":        {func(d *unit.Description) { d.Restart = "sometimes" }, `unit: restart: "sometimes": want on-failure, always or no`},
		"workdir, not run": {func(d *unit.Description) { d.Args = []string{"serve"}; d.WorkingDirectory = `C:\svc` },
			"the program's arguments are not a `run` command line"},
	} {
		t.Run(name, func(t *testing.T) {
			d := wrapper("myd", `C:\svc\myd.exe`)
			tt.change(&d)
			_, _, err := Definition(d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Definition: %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			// Refused before the SCM is asked anything.
			if _, ierr := Install(d); ierr == nil || ierr.Error() != err.Error() {
				t.Errorf("Install: %v, want %v", ierr, err)
			}
		})
	}
}

func TestWindowsServiceArgs(t *testing.T) {
	tail := []string{"--name", "myd", "--scope", "system", "--service", "--", `C:\svc\myd.exe`, "-c", "conf.yaml"}
	run := func(extra ...string) []string { return slices.Concat([]string{"run"}, extra, tail) }
	for name, tt := range map[string]struct {
		change func(*unit.Description)
		want   []string
	}{
		"defaults": {func(*unit.Description) {}, run("--stop-timeout", "30s")},
		"all": {func(d *unit.Description) {
			d.WorkingDirectory, d.EnvFile, d.LogDir = `C:\srv\my app`, `C:\srv\my app\env`, `D:\logs\myd`
			d.StopTimeout = 90 * time.Second
		}, run("--stop-timeout", "1m30s", "--log-dir", `D:\logs\myd`, "--env-file", `C:\srv\my app\env`, "--workdir", `C:\srv\my app`)},
		"workdir": {func(d *unit.Description) { d.WorkingDirectory = `C:\srv` }, run("--stop-timeout", "30s", "--workdir", `C:\srv`)},
		"runtime program": {func(d *unit.Description) {
			d.Args = []string{"run"}
			d.WorkingDirectory, d.EnvFile, d.LogDir, d.StopTimeout = `C:\srv`, `C:\srv\env`, `C:\logs`, time.Minute
		}, []string{"run", "--env-file", `C:\srv\env`, "--workdir", `C:\srv`}},
		"other program": {func(d *unit.Description) { d.Args = []string{"serve", "--", "x"} }, []string{"serve", "--", "x"}},
		// Not the wrapper sole install writes: without --service, `sole
		// run` refuses --stop-timeout and --log-dir.
		"run without --service": {func(d *unit.Description) { d.Args = []string{"run", "--name", "myd", "--", "x"} }, []string{"run", "--name", "myd", "--", "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			d := wrapper("myd", `C:\svc\myd.exe`, "-c", "conf.yaml")
			tt.change(&d)
			c, err := newConfig(d)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.args, tt.want) {
				t.Errorf("args\n%q, want\n%q", c.args, tt.want)
			}
			// The command line reads back as the program and these.
			argv, err := windows.DecomposeCommandLine(c.binaryPath)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]string{d.Exec}, tt.want...); !slices.Equal(argv, want) {
				t.Errorf("binary path %s reads back as %q, want %q", c.binaryPath, argv, want)
			}
		})
	}
}

func TestWindowsDefinitionText(t *testing.T) {
	t.Setenv("ProgramData", `C:\ProgramData`)
	d := wrapper("myd", `C:\svc\myd.exe`)
	d.RunAs, d.LogDir, d.Restart, d.RestartSec = "LocalService", `D:\logs`, "always", 3*time.Second
	_, text, err := Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"binary path:    \"C:\\Program Files\\sole test\\sole.exe\" run --stop-timeout 30s --log-dir D:\\logs --name myd --scope system --service -- C:\\svc\\myd.exe\n",
		"account:        NT AUTHORITY\\LocalService (no password)\n",
		"directories:    C:\\ProgramData\\sole\\myd (created at install; modify rights for NT AUTHORITY\\LocalService)\n" +
			"                D:\\logs (created at install; modify rights for NT AUTHORITY\\LocalService)\n",
		"output:         COMMAND's, to rotated files in D:\\logs (sole run --log-dir)\n",
		"on failure:     restart after 3s, for 5 failures, then no action; the count resets after 60s without a failure\n" +
			"                (a crash, or a stop with a non-zero exit code; Windows restarts nothing after exit code 0, so \"always\" acts as \"on-failure\")\n",
	} {
		if !strings.Contains(string(text), s) {
			t.Errorf("definition lacks\n%s\nin:\n%s", s, text)
		}
	}
	d = unit.Description{Name: "myd", Exec: `C:\svc\myd.exe`, Args: []string{"run"}, Restart: "no", LogDir: `C:\logs`}
	_, text, err = Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"account:        LocalSystem\n",
		"directories:    C:\\ProgramData\\sole\\myd (created at install)\n",
		"log directory:  none (C:\\logs is for `sole run` wrappers and launchd; the program writes its own logs)\n",
		"on failure:     no action\n                (--restart no)\n",
	} {
		if !strings.Contains(string(text), s) {
			t.Errorf("definition lacks\n%s\nin:\n%s", s, text)
		}
	}
	if strings.Contains(string(text), "output:") {
		t.Errorf("a program's definition says where COMMAND's output goes:\n%s", text)
	}
}

func TestWindowsRecoveryPolicy(t *testing.T) {
	restart := func(d time.Duration) mgr.RecoveryAction {
		return mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	five := func(d time.Duration) []mgr.RecoveryAction {
		return []mgr.RecoveryAction{restart(d), restart(d), restart(d), restart(d), restart(d), {Type: mgr.NoAction}}
	}
	for name, tt := range map[string]struct {
		d     unit.Description
		want  []mgr.RecoveryAction
		reset uint32
	}{
		"defaults":   {unit.Description{}, five(time.Second), 60},
		"on-failure": {unit.Description{Restart: "on-failure", RestartSec: 2500 * time.Millisecond}, five(2500 * time.Millisecond), 60},
		"always":     {unit.Description{Restart: "always", RestartSec: 10 * time.Second}, five(10 * time.Second), 60},
		"no":         {unit.Description{Restart: "no", RestartSec: 10 * time.Second}, []mgr.RecoveryAction{{Type: mgr.NoAction}}, 60},
		"burst 1":    {unit.Description{StartLimitBurst: 1, StartLimitInterval: 1500 * time.Millisecond}, []mgr.RecoveryAction{restart(time.Second), {Type: mgr.NoAction}}, 2},
		"burst 1000": {unit.Description{StartLimitBurst: 1000}, []mgr.RecoveryAction{restart(time.Second)}, 60},
	} {
		t.Run(name, func(t *testing.T) {
			acts, reset := RecoveryActions(tt.d)
			if !slices.Equal(acts, tt.want) || reset != tt.reset {
				t.Errorf("%v, reset %d; want %v, reset %d", acts, reset, tt.want, tt.reset)
			}
		})
	}
}

// TestServiceSID checks the virtual account's SID against what `sc
// showsid` prints on Windows.
func TestServiceSID(t *testing.T) {
	for name, want := range map[string]string{
		"TrustedInstaller": "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
		"trustedinstaller": "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
	} {
		if got := serviceSID(name); got != want {
			t.Errorf("serviceSID(%q) = %s, want %s", name, got, want)
		}
	}
	sid, err := accountSID(`NT SERVICE\TrustedInstaller`, "TrustedInstaller")
	if err != nil || sid.String() != "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464" {
		t.Errorf("accountSID: %v, %v", sid, err)
	}
	for account, want := range map[string]string{localService: "S-1-5-19", networkService: "S-1-5-20"} {
		if sid, err := accountSID(account, "x"); err != nil || sid.String() != want {
			t.Errorf("accountSID(%s) = %v, %v; want %s", account, sid, err, want)
		}
	}
}

// TestWithModify builds the DACL that Install sets on the service's
// directories with the real Windows (or Wine) ACL functions.
func TestWithModify(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString("D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)")
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	for _, account := range []string{localService, networkService, `NT SERVICE\myd`} {
		t.Run(account, func(t *testing.T) {
			sid, err := accountSID(account, "myd")
			if err != nil {
				t.Fatal(err)
			}
			if hasModify(dacl, sid) {
				t.Fatal("the DACL grants it already")
			}
			nd, add, err := withModify(dacl, sid)
			if err != nil || !add {
				t.Fatalf("withModify: %v, %v", add, err)
			}
			if !hasModify(nd, sid) {
				t.Error("the new DACL does not grant modify")
			}
			got := sddl(t, nd)
			entry := fmt.Sprintf("(A;OICI;0x%x;;;%s)", modifyAccess, sid)
			short := map[string]string{localService: "LS", networkService: "NS"}[account]
			if !strings.Contains(got, entry) && (short == "" || !strings.Contains(got, fmt.Sprintf("(A;OICI;0x%x;;;%s)", modifyAccess, short))) {
				t.Errorf("DACL %s has no entry %s", got, entry)
			}
			for _, keep := range []string{"(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)", "(A;OICI;0x1200a9;;;BU)"} {
				if !strings.Contains(got, keep) {
					t.Errorf("DACL %s lost %s", got, keep)
				}
			}
			if again, add, err := withModify(nd, sid); err != nil || add || again != nd {
				t.Errorf("withModify of a DACL that grants it: %v, %v; want it unchanged", add, err)
			}
		})
	}
}

func sddl(t *testing.T, dacl *windows.ACL) string {
	t.Helper()
	sd, err := windows.NewSecurityDescriptor()
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.SetDACL(dacl, true, false); err != nil {
		t.Fatal(err)
	}
	return sd.String()
}

const testPrefix = "sole-svcmgr-"

// testName is the name of a service this test binary installs; those of
// an earlier, killed run are removed first.
func testName(t *testing.T, m *mgr.Mgr, what string) string {
	t.Helper()
	names, err := m.ListServices()
	if err != nil {
		t.Fatalf("listing services: %v", err)
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, testPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if pn, err := platform.ProcessName(pid); err == nil && strings.HasSuffix(strings.ToLower(pn), ".test.exe") {
			continue // another test binary's
		}
		if err := Uninstall(n, false); err != nil && !errors.Is(err, ErrNotInstalled) {
			t.Logf("removing leftover service %s: %v", n, err)
		}
	}
	name := fmt.Sprintf("%s%d-%s", testPrefix, os.Getpid(), what)
	t.Cleanup(func() {
		if err := Uninstall(name, false); err != nil && !errors.Is(err, ErrNotInstalled) {
			t.Errorf("cleanup: uninstall: %v", err)
		}
	})
	return name
}

type installed struct {
	account, objectName, imagePath string
	values                         []string
}

func readInstalled(t *testing.T, m *mgr.Mgr, name string) installed {
	t.Helper()
	s, err := open(m, name, windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cur, err := queryConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(name), registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	on, _, err1 := k.GetStringValue("ObjectName")
	image, _, err2 := k.GetStringValue("ImagePath")
	values, err3 := k.ReadValueNames(-1)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	slices.Sort(values)
	return installed{account: cur.account, objectName: on, imagePath: image, values: values}
}

// TestWindowsInstallAccount installs a `sole run` wrapper with each
// account in turn and reads back what the SCM and the registry hold:
// installing again with another account updates it, with the same one
// changes nothing.
func TestWindowsInstallAccount(t *testing.T) {
	m := wintest.ConnectAdmin(t)
	name := testName(t, m, "account")
	logs := filepath.Join(rmtreetest.TempDir(t, "sole-svcmgr-test"), "my logs")
	d := wrapper(name, `C:\svc\myd.exe`, "-c", "conf.yaml")
	d.LogDir = logs
	d.WorkingDirectory, d.EnvFile = `C:\srv\my app`, `C:\srv\my app\env`
	for i, tt := range []struct{ runAs, want string }{
		{"", "LocalSystem"},
		{"LocalService", localService},
		{"networkservice", networkService},
		{`NT SERVICE\` + name, `NT SERVICE\` + name},
		{"LocalSystem", "LocalSystem"},
	} {
		d.RunAs = tt.runAs
		wintest.MustInstall(t, Install, d, true)
		wintest.MustInstall(t, Install, d, false)
		got := readInstalled(t, m, name)
		if got.account != tt.want || got.objectName != tt.want {
			t.Errorf("%d: run as %q: ServiceStartName %q, ObjectName %q; want %q", i, tt.runAs, got.account, got.objectName, tt.want)
		}
		c, err := newConfig(d)
		if err != nil {
			t.Fatal(err)
		}
		if got.imagePath != c.binaryPath {
			t.Errorf("ImagePath %s, want %s", got.imagePath, c.binaryPath)
		}
		for _, dir := range []string{c.dirs[0], logs} {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				t.Errorf("directory %s: %v", dir, err)
				continue
			}
			if c.account == "" {
				continue
			}
			sid, err := accountSID(c.account, name)
			if err != nil {
				t.Fatal(err)
			}
			dacl, err := namedDACL(dir)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case hasModify(dacl, sid):
			case wintest.UnderWine():
				t.Logf("Wine 8: %s: the DACL reads back without the entry for %s (%s)", dir, c.account, sddl(t, dacl))
			default:
				t.Errorf("%s: %s has no modify rights: %s", dir, c.account, sddl(t, dacl))
			}
		}
	}
	argv, err := windows.DecomposeCommandLine(readInstalled(t, m, name).imagePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range [][]string{
		{"--stop-timeout", "30s"}, {"--log-dir", logs},
		{"--env-file", `C:\srv\my app\env`}, {"--workdir", `C:\srv\my app`},
	} {
		if i := slices.Index(argv, opt[0]); i < 0 || i+1 >= len(argv) || argv[i+1] != opt[1] || i > slices.Index(argv, "--") {
			t.Errorf("ImagePath %q lacks %s %s before --", argv, opt[0], opt[1])
		}
	}
	// Uninstall removes the lock directory it made.
	lock := mustLockDir(t, name)
	if err := Uninstall(name, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock directory %s after Uninstall: %v", lock, err)
	}
}

func mustLockDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := lockDir(name)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// failureActions decodes the registry value FailureActions: a
// SERVICE_FAILURE_ACTIONS with 32-bit fields (reset period, reboot
// message, command, action count, actions offset), then the actions
// (type, delay in ms).
func failureActions(b []byte) (reset uint32, actions []mgr.RecoveryAction, err error) {
	if len(b) < 20 {
		return 0, nil, fmt.Errorf("%d bytes, want at least 20", len(b))
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	n, off := int(u(12)), int(u(16))
	if off < 20 || off+8*n > len(b) {
		return 0, nil, fmt.Errorf("%d actions at %d do not fit in %d bytes", n, off, len(b))
	}
	for i := range n {
		actions = append(actions, mgr.RecoveryAction{
			Type:  int(u(off + 8*i)),
			Delay: time.Duration(u(off+8*i+4)) * time.Millisecond,
		})
	}
	return u(0), actions, nil
}

// TestWindowsInstallRecovery checks the recovery settings of each restart
// policy as the registry holds them (FailureActions and
// FailureActionsOnNonCrashFailures under the service's key) and as the SCM
// reports them. Wine 8 keeps neither; there the test checks that Install
// sets them without failing, and what the SCM then answers.
func TestWindowsInstallRecovery(t *testing.T) {
	m := wintest.ConnectAdmin(t)
	name := testName(t, m, "recovery")
	for _, tt := range []struct {
		restart string
		delay   time.Duration
	}{{"", 0}, {"always", 2500 * time.Millisecond}, {"no", 0}, {"on-failure", 10 * time.Second}} {
		t.Run("restart "+tt.restart, func(t *testing.T) {
			d := wrapper(name, `C:\svc\myd.exe`)
			d.Restart, d.RestartSec = tt.restart, tt.delay
			if _, err := Install(d); err != nil {
				t.Fatal(err)
			}
			wantActs, wantReset := RecoveryActions(d)
			k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(name), registry.QUERY_VALUE)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			raw, _, rawErr := k.GetBinaryValue("FailureActions")
			flag, _, flagErr := k.GetIntegerValue("FailureActionsOnNonCrashFailures")
			s, err := open(m, name, windows.SERVICE_QUERY_CONFIG)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			acts, qErr := s.RecoveryActions()
			qflag, qflagErr := s.RecoveryActionsOnNonCrashFailures()
			if wintest.UnderWine() && errors.Is(rawErr, registry.ErrNotExist) {
				if !errors.Is(flagErr, registry.ErrNotExist) || !errors.Is(qErr, windows.ERROR_INVALID_LEVEL) || !errors.Is(qflagErr, windows.ERROR_INVALID_LEVEL) {
					t.Errorf("Wine: FailureActionsOnNonCrashFailures %v, query of the actions %v, of the flag %v; want none stored, ERROR_INVALID_LEVEL twice (what docs/windows.md says)", flagErr, qErr, qflagErr)
				}
				t.Logf("Wine 8 keeps no recovery settings: FailureActions %v, FailureActionsOnNonCrashFailures %v; QueryServiceConfig2: %v, %v", rawErr, flagErr, qErr, qflagErr)
				return
			}
			if rawErr != nil || flagErr != nil {
				t.Fatalf("FailureActions: %v; FailureActionsOnNonCrashFailures: %v", rawErr, flagErr)
			}
			reset, regActs, err := failureActions(raw)
			if err != nil {
				t.Fatalf("FailureActions %x: %v", raw, err)
			}
			if !slices.Equal(regActs, wantActs) || reset != wantReset || flag != 1 {
				t.Errorf("registry: %v, reset %d, non-crash %d; want %v, reset %d, non-crash 1", regActs, reset, flag, wantActs, wantReset)
			}
			if qErr != nil || qflagErr != nil || !slices.Equal(acts, wantActs) || !qflag {
				t.Errorf("SCM: %v (%v), non-crash %v (%v); want %v, true", acts, qErr, qflag, qflagErr, wantActs)
			}
			// Installing again changes nothing.
			wintest.MustInstall(t, Install, d, false)
		})
	}
}
