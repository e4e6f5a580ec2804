package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fsutil"
	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/packaging"
)

// soleBin and soleFleetBin are the sole and sole-fleet binaries built for
// the scripts (a wrapped program's package ships sole, and sole-fleet
// with --fleet).
var soleBin, soleFleetBin string

// TestMain makes the test binary double as sole-package for testscript.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sole-package": main})
}

func TestScripts(t *testing.T) {
	if soleBin == "" {
		soleBin = testenv.Build(t, "cmd/sole")
		soleFleetBin = testenv.Build(t, "cmd/sole-fleet")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SOLE_BIN", soleBin)
			env.Setenv("SOLE_FLEET_BIN", soleFleetBin)
			env.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			return nil
		},
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
				}
				want, _ := strconv.Atoi(args[0])
				err := ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
		},
	})
}

func TestParseConfig(t *testing.T) {
	tests := map[string]struct {
		in      string
		wantErr string
		check   func(config) error
	}{
		"full": {
			in: "name: myd\nversion: 1.0.0\nbinary: bin/myd\nargs: [-v, --port, \"80\"]\nwatchdog: 30s\nconfig:\n  - etc/a.yaml:/etc/myd/a.yaml\n  - {src: b, dest: /etc/myd/b}\nenv: [A=1]\nsign: {cert: c.pem, key: k.pem}\n",
			check: func(c config) error {
				if c.Name != "myd" || len(c.Args) != 3 || c.Watchdog != duration(30e9) || len(c.Configs) != 2 || c.Configs[1].Dest != "/etc/myd/b" || c.Sign.Key != "k.pem" {
					return fmt.Errorf("%+v", c)
				}
				return nil
			},
		},
		"unknown key":      {in: "name: a\nbinar: x\n", wantErr: "field binar not found"},
		"bad duration":     {in: "watchdog: soon\n", wantErr: `"soon" is not a duration`},
		"bad config":       {in: "config: [nocolon]\n", wantErr: "want SRC:DEST"},
		"config no dest":   {in: "config: [{src: a}]\n", wantErr: "want src and dest"},
		"two documents":    {in: "name: a\n---\nname: b\n", wantErr: "more than one YAML document"},
		"empty":            {in: "", wantErr: "empty"},
		"not a map":        {in: "- a\n- b\n", wantErr: "cannot unmarshal"},
		"tab indentation":  {in: "name: a\n\tversion: 1\n", wantErr: "tab character"},
		"duration as list": {in: "watchdog: [1s]\n", wantErr: "not a duration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := parseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

// FuzzParseConfig: no input makes the sole.yaml parser panic or return a
// multi-line error.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("name: myd\nversion: 1.0.0\nbinary: myd\nwatchdog: 10s\nconfig: [a:/etc/a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseConfig(data)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
	})
}

// TestServiceOptionsMerge: the service options are read from sole.yaml
// under their long names, and the command line overrides the file.
func TestServiceOptionsMerge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sole.yaml")
	yaml := "name: myd\nrun-as: svc:grp\nworkdir: /srv/myd\nenv-file: /etc/default/myd\nrestart: always\nrestart-delay: 5s\n" +
		"start-timeout: 1m\nstop-timeout: 10s\nharden: true\nlog-dir: 'C:\\logs'\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := specOf(t, "--file", file, "--run-as", "other", "--restart-delay", "2s", "--harden=false")
	want := packaging.Spec{Name: "myd", RunAs: "other", Workdir: "/srv/myd", EnvFile: "/etc/default/myd", Restart: "always",
		RestartDelay: 2 * time.Second, StartTimeout: time.Minute, StopTimeout: 10 * time.Second, Harden: false, LogDir: `C:\logs`}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("spec\n%+v\nwant\n%+v", s, want)
	}
	// Each option is the one unit.Options registers, help and all.
	fs := newFlags(&opts{})
	for _, name := range []string{"run-as", "workdir", "env-file", "restart", "restart-delay", "start-timeout", "stop-timeout", "harden", "log-dir"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
}

// TestMSIFindsSole: `sole package msi` of a program not built on the
// runtime finds a Windows sole beside sole-package (as
// sole-windows-amd64.exe) or where `GOOS=windows GOARCH=amd64 go install`
// puts it; with none, its one-line error names --sole, sole.yaml's sole:
// and the build command.
func TestMSIFindsSole(t *testing.T) {
	testenv.NeedTool(t, "wixl", "wixl")
	testenv.NeedTool(t, "msiinfo", "msitools")
	bin := t.TempDir()
	packager := filepath.Join(bin, "sole-package")
	if err := testenv.BuildTo(packager, "cmd/sole-package"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	winSole := filepath.Join(work, "sole.exe")
	if err := testenv.BuildTo(winSole, "cmd/sole", "GOOS=windows", "GOARCH=amd64"); err != nil {
		t.Fatal(err)
	}
	worker := filepath.Join(work, "worker.exe") // any program that is not on the runtime
	if err := fsutil.CopyFile(worker, winSole, 0o755); err != nil {
		t.Fatal(err)
	}
	gopath := t.TempDir()
	pkg := func() (string, string, int) {
		cmd := exec.Command(packager, "msi", "--name", "worker", "--version", "1.0.0", "--binary", worker,
			"--maintainer", "A B <a@b.example>", "--license", "MIT", "--description", "background worker", "--output", t.TempDir())
		cmd.Env = append(os.Environ(), "GOPATH="+gopath, "GOBIN=", "HOME="+t.TempDir())
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	}

	stdout, stderr, code := pkg()
	first, _, _ := strings.Cut(stderr, "\n")
	if code != cli.ExitUsage || stdout != "" {
		t.Fatalf("no sole anywhere: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{"sole package: msi: sole: ", "no sole binary for windows/amd64 was found", "--sole PATH", "sole: PATH",
		"GOOS=windows GOARCH=amd64 go install github.com/solehq/sole/cmd/sole@"} {
		if !strings.Contains(first, want) {
			t.Errorf("error %q lacks %q", first, want)
		}
	}

	for what, place := range map[string]string{
		"beside sole-package": filepath.Join(bin, "sole-windows-amd64.exe"),
		"in GOPATH/bin":       filepath.Join(gopath, "bin", "windows_amd64", "sole.exe"),
	} {
		t.Run(what, func(t *testing.T) {
			if err := os.MkdirAll(filepath.Dir(place), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := fsutil.CopyFile(place, winSole, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(place)
			stdout, stderr, code := pkg()
			msi := strings.TrimSpace(stdout)
			if code != 0 || !strings.HasSuffix(msi, ".msi") {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			out, err := exec.Command("msiinfo", "export", msi, "File").Output()
			if err != nil || !strings.Contains(string(out), "\tsole.exe\t") {
				t.Errorf("the package's files (%v):\n%s", err, out)
			}
		})
	}
}

// TestFleetOptionsMerge: the fleet options are read from sole.yaml under
// their long names (sole-fleet, a file on this machine, relative to the
// file; the TLS files, on the target, as they are), and the command line
// overrides the file.
func TestFleetOptionsMerge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sole.yaml")
	yaml := "name: myd\nfleet: etcd://a:2379/p\nfleet-ttl: 30s\nfleet-cacert: /etc/myd/ca.pem\nfleet-cert: /etc/myd/c.pem\nfleet-key: /etc/myd/k.pem\nsole-fleet: bin/sole-fleet\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		want packaging.Spec
	}{
		"the file": {
			want: packaging.Spec{Name: "myd", Fleet: "etcd://a:2379/p", FleetTTL: 30 * time.Second, FleetCACert: "/etc/myd/ca.pem",
				FleetCert: "/etc/myd/c.pem", FleetKey: "/etc/myd/k.pem", SoleFleet: filepath.Join(dir, "bin/sole-fleet")},
		},
		"the command line over it": {
			args: []string{"--fleet", "etcd://b:2379", "--fleet-ttl", "15s", "--fleet-cacert", "", "--sole-fleet", "/opt/sole-fleet"},
			want: packaging.Spec{Name: "myd", Fleet: "etcd://b:2379", FleetTTL: 15 * time.Second,
				FleetCert: "/etc/myd/c.pem", FleetKey: "/etc/myd/k.pem", SoleFleet: "/opt/sole-fleet"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := specOf(t, append([]string{"--file", file}, c.args...)...)
			if !reflect.DeepEqual(s, c.want) {
				t.Errorf("spec\n%+v\nwant\n%+v", s, c.want)
			}
		})
	}
	// Each option is there, with the names sole run and sole install give
	// them.
	fs := newFlags(&opts{})
	for _, name := range []string{"fleet", "fleet-ttl", "fleet-cacert", "fleet-cert", "fleet-key", "sole-fleet"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
}

// specOf is the Spec that the command line args (and the sole.yaml it
// names) make, as sole-package reads them.
func specOf(t *testing.T, args ...string) packaging.Spec {
	t.Helper()
	o := &opts{}
	fs := newFlags(o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.set = cli.Given(fs)
	cfg, err := o.merge(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := cfg.spec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
