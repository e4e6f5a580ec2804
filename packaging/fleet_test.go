package packaging

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
	"github.com/solehq/sole/internal/unit"
)

// soleFleet is sole-fleet for linux/amd64, built once, beside bins.sole:
// where a package of a fleet service finds it by default.
var soleFleet struct {
	once sync.Once
	path string
	err  error
}

func soleFleetBin(t testing.TB) string {
	t.Helper()
	linuxBins(t)
	soleFleet.once.Do(func() {
		soleFleet.path = filepath.Join(filepath.Dir(bins.sole), "sole-fleet")
		soleFleet.err = testenv.BuildTo(soleFleet.path, "github.com/solehq/sole/cmd/sole-fleet", "GOOS=linux", "GOARCH=amd64")
	})
	if soleFleet.err != nil {
		t.Fatal(soleFleet.err)
	}
	return soleFleet.path
}

// fleetSpec is a wrapped program's Spec with every fleet option.
func fleetSpec() Spec {
	s := baseSpec()
	s.Name, s.Binary, s.Sole, s.Args, s.Description = "stranger", bins.stranger, bins.sole, []string{"-n", "3"}, "program that knows nothing of sole"
	s.EnvFile = "/etc/default/stranger" // SOLE_FLEET_USER, SOLE_FLEET_PASSWORD
	s.Fleet, s.FleetTTL = "etcd://10.0.0.1:2379,10.0.0.2:2379/jobs", 20*time.Second
	s.FleetCACert, s.FleetCert, s.FleetKey = "/etc/stranger/ca.pem", "/etc/stranger/client.pem", "/etc/stranger/client-key.pem"
	return s
}

// fleetArgv is the `sole run` command line of fleetSpec's unit, as `sole
// install --fleet` writes it.
var fleetArgv = []string{"run", "--fleet", "etcd://10.0.0.1:2379,10.0.0.2:2379/jobs", "--fleet-ttl", "20s",
	"--fleet-cacert", "/etc/stranger/ca.pem", "--fleet-cert", "/etc/stranger/client.pem", "--fleet-key", "/etc/stranger/client-key.pem",
	"--name", "stranger", "--scope", "system", "--wait", "--", "/usr/sbin/stranger", "-n", "3"}

// TestDebFleet: the .deb of a fleet service ships sole-fleet beside sole
// and the unit `sole install --fleet` writes: sole run with the fleet
// options and --wait, after network-online.target (a system unit);
// lintian finds nothing to say.
func TestDebFleet(t *testing.T) {
	needTools(t, "dpkg-deb", "lintian", "strip")
	soleFleetBin(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("CA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		spec    func(*Spec)
		argv    []string
		network bool // After= and Wants=network-online.target
	}{
		"every option": {
			spec:    func(*Spec) {},
			argv:    fleetArgv,
			network: true,
		},
		"the CA shipped as a conffile, the default TTL": {
			spec: func(s *Spec) {
				s.FleetTTL, s.FleetCert, s.FleetKey, s.EnvFile = 0, "", "", ""
				s.Configs = []File{{ca, "/etc/stranger/ca.pem"}}
			},
			argv:    []string{"run", "--fleet", "etcd://10.0.0.1:2379,10.0.0.2:2379/jobs", "--fleet-cacert", "/etc/stranger/ca.pem", "--name", "stranger", "--scope", "system", "--wait", "--", "/usr/sbin/stranger", "-n", "3"},
			network: true,
		},
		"a per-user service": {
			spec: func(s *Spec) {
				s.Name, s.Binary, s.Args, s.Description, s.User = "ticker", bins.script, nil, "ticking script", true
				s.FleetTTL, s.FleetCACert, s.FleetCert, s.FleetKey, s.EnvFile = 0, "", "", "", ""
			},
			argv: []string{"run", "--fleet", "etcd://10.0.0.1:2379,10.0.0.2:2379/jobs", "--name", "ticker", "--scope", "user", "--wait", "--", "/usr/sbin/ticker"},
		},
	}
	var debs []string
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := fleetSpec()
			tt.spec(&s)
			deb, err := Build(t.Context(), s, Deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			debs = append(debs, deb)
			files, hdrs := debFiles(t, deb)
			unitPath := "/lib/systemd/system/" + s.Name + ".service"
			if s.User {
				unitPath = "/usr/lib/systemd/user/" + s.Name + ".service"
			}
			exe := filepath.Base(tt.argv[len(tt.argv)-len(s.Args)-1])
			d := unit.Description{Name: s.Name, Description: s.Description, Documentation: []string{"man:" + exe + "(8)"}, User: s.User,
				Exec: "/usr/lib/" + s.Name + "/sole", Args: tt.argv, EnvFile: s.EnvFile}
			want, err := unit.SystemdUnit(d)
			if err != nil {
				t.Fatal(err)
			}
			got := files[unitPath]
			if !bytes.Equal(got, want) {
				t.Errorf("unit:\n%s\nwant:\n%s", got, want)
			}
			lines := strings.Split(string(got), "\n")
			for _, l := range []string{"After=network-online.target", "Wants=network-online.target"} {
				if slices.Contains(lines, l) != tt.network {
					t.Errorf("%s: %v, want %v:\n%s", l, !tt.network, tt.network, got)
				}
			}
			if !slices.Contains(lines, "KillMode=mixed") {
				t.Errorf("not read as a sole run wrapper (no KillMode=mixed):\n%s", got)
			}
			// sole-fleet beside sole, stripped, executable.
			sf := "/usr/lib/" + s.Name + "/sole-fleet"
			b, ok := files[sf]
			if !ok {
				t.Fatalf("no %s in the package", sf)
			}
			if ef, err := elf.NewFile(bytes.NewReader(b)); err != nil || ef.Section(".symtab") != nil || hdrs[sf].Mode&0o777 != 0o755 {
				t.Errorf("%s: %v, mode %o, not stripped or not an ELF binary", sf, err, hdrs[sf].Mode)
			}
			if c := string(files["/usr/share/doc/"+s.Name+"/copyright"]); !strings.Contains(c, "usr/lib/"+s.Name+"/sole-fleet is sole's") {
				t.Errorf("the copyright file does not name sole-fleet:\n%s", c)
			}
			if ctrl := run(t, "dpkg-deb", "-f", deb, "Depends"); strings.TrimSpace(ctrl) != "" {
				t.Errorf("static binaries need no dependency: %q", ctrl)
			}
		})
	}
	// lintian, once for all of them.
	if len(debs) == len(tests) {
		for _, line := range lintian(t, debs...) {
			t.Errorf("lintian: %s", line)
		}
	}
}

// TestRPMFleet: the .rpm of a fleet service ships the same unit, in the
// .rpm's place, and sole-fleet beside sole.
func TestRPMFleet(t *testing.T) {
	needTools(t, "rpm", "rpm2archive", "strip")
	soleFleetBin(t)
	r, err := Build(t.Context(), fleetSpec(), RPM, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Fields(run(t, "rpm", "-qpl", r))
	for _, f := range []string{"/usr/lib/stranger/sole", "/usr/lib/stranger/sole-fleet", "/usr/lib/systemd/system/stranger.service"} {
		if !slices.Contains(list, f) {
			t.Errorf("rpm -qpl lacks %s: %q", f, list)
		}
	}
	files := rpmPayload(t, r)
	d := unit.Description{Name: "stranger", Description: "program that knows nothing of sole", Documentation: []string{"man:stranger(8)"},
		Exec: "/usr/lib/stranger/sole", Args: fleetArgv, EnvFile: "/etc/default/stranger"}
	want, err := unit.SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := files["/usr/lib/systemd/system/stranger.service"]; !bytes.Equal(got, want) {
		t.Errorf("unit:\n%s\nwant:\n%s", got, want)
	}
}

// TestFleetRefused: fleet options that `sole run` would refuse, or that
// the format or the program cannot have, are a one-line *Error for the
// option, and nothing is built.
func TestFleetRefused(t *testing.T) {
	soleFleetBin(t)
	alone := filepath.Join(t.TempDir(), "sole") // a sole with no sole-fleet beside it
	b, err := os.ReadFile(bins.sole)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		format Format
		spec   func(*Spec)
		field  string
		want   string
	}{
		"not an etcd URL":          {Deb, func(s *Spec) { s.Fleet = "http://10.0.0.1:2379" }, "fleet", `"http://10.0.0.1:2379": want etcd://HOST:PORT`},
		"newline in the URL":       {Deb, func(s *Spec) { s.Fleet = "etcd://h:1\nX=1" }, "fleet", "control character"},
		"TTL under a second":       {RPM, func(s *Spec) { s.FleetTTL = 500 * time.Millisecond }, "fleet-ttl", "at least 1s"},
		"TTL without fleet":        {Deb, func(s *Spec) { s.Fleet = "" }, "fleet-ttl", "needs --fleet"},
		"CA without fleet":         {Deb, func(s *Spec) { s.Fleet, s.FleetTTL = "", 0 }, "fleet-cacert", "needs --fleet"},
		"sole-fleet without fleet": {Deb, func(s *Spec) { *s = baseSpec(); s.SoleFleet = soleFleet.path }, "sole-fleet", "needs --fleet"},
		"relative CA":              {Deb, func(s *Spec) { s.FleetCACert = "ca.pem" }, "fleet-cacert", "clean absolute path on the target"},
		"unclean key":              {Deb, func(s *Spec) { s.FleetKey = "/etc/x/../k.pem" }, "fleet-key", "clean absolute path"},
		"cert without key":         {Deb, func(s *Spec) { s.FleetKey = "" }, "fleet-key", "missing: --fleet-cert and --fleet-key go together"},
		"key without cert":         {RPM, func(s *Spec) { s.FleetCert = "" }, "fleet-cert", "missing"},
		"runtime program": {Deb, func(s *Spec) {
			s.Name, s.Binary, s.Args, s.Description = "hellod", bins.hellod, nil, "example greeting server"
		}, "fleet", "runtime.Config"},
		"sole-fleet is not one":     {Deb, func(s *Spec) { s.SoleFleet = bins.sole }, "sole-fleet", "is not a sole-fleet binary"},
		"no sole-fleet beside sole": {Deb, func(s *Spec) { s.Sole = alone }, "sole-fleet", "give one with --sole-fleet PATH (in sole.yaml, sole-fleet: PATH)"},
		"hardened, key under /root": {Deb, func(s *Spec) { s.Harden, s.FleetKey = true, "/root/k.pem" }, "fleet-key", "hardened service cannot see"},
		"in an .msi":                {MSI, func(*Spec) {}, "fleet", "not supported in an .msi"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := fleetSpec()
			tt.spec(&s)
			out := t.TempDir()
			_, err := Build(t.Context(), s, tt.format, out)
			var se *Error
			if !errors.As(err, &se) || se.Field != tt.field || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want a one-line *Error for %s with %q", err, tt.field, tt.want)
			}
			if tt.format == MSI && !errors.Is(err, ErrUnsupported) {
				t.Errorf("error %v does not wrap ErrUnsupported", err)
			}
			if left, _ := os.ReadDir(out); len(left) > 0 {
				t.Errorf("left in the output directory: %v", left)
			}
		})
	}
}
