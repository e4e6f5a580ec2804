package packaging

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/unit"
)

// noGoBin points GOPATH and GOBIN at an empty directory, so that no sole
// that `go install` put on this machine is found (findSole).
func noGoBin(t *testing.T) {
	t.Helper()
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("GOBIN", "")
}

// optionsSpec is hellod's Spec with every service option a .deb and an
// .rpm take.
func optionsSpec() Spec {
	s := baseSpec()
	s.RunAs, s.Workdir, s.EnvFile = "svcuser:svcgrp", "/var/lib/hellod", "/etc/default/hellod"
	s.Restart, s.RestartDelay, s.StartTimeout, s.StopTimeout = "always", 2*time.Second, 20*time.Second, 5*time.Second
	s.Harden = true
	return s
}

// wantOptionsUnit is the unit `sole install` renders for hellod with
// optionsSpec's options: the packages must ship exactly it.
func wantOptionsUnit(t *testing.T, s Spec) []byte {
	t.Helper()
	d := unit.Description{Name: s.Name, Description: s.Description, Documentation: []string{"man:hellod(8)"}, Exec: "/usr/sbin/hellod", Args: []string{"run"}}
	o := unit.Options{RunAs: s.RunAs, Workdir: s.Workdir, EnvFile: s.EnvFile, Restart: s.Restart, RestartDelay: s.RestartDelay,
		StartTimeout: s.StartTimeout, StopTimeout: s.StopTimeout, Harden: s.Harden}
	o.Apply(&d)
	b, err := unit.SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"User=svcuser", "Group=svcgrp", "WorkingDirectory=/var/lib/hellod", "EnvironmentFile=/etc/default/hellod",
		"Restart=always", "RestartSec=2s", "TimeoutStartSec=20s", "TimeoutStopSec=5s", "StateDirectory=hellod", "LogsDirectory=hellod", "ProtectSystem=strict"} {
		if !strings.Contains(string(b), "\n"+line+"\n") {
			t.Fatalf("the unit lacks %s:\n%s", line, b)
		}
	}
	return b
}

// TestDebServiceOptions: a .deb with the service options ships the unit
// they render, the sysusers.d file of its user, a postinst that creates
// the user before it enables and starts the service, a postrm that
// removes the hardened service's directories on purge only; lintian
// finds nothing to say.
func TestDebServiceOptions(t *testing.T) {
	needTools(t, "dpkg-deb", "lintian", "strip")
	linuxBins(t)
	tests := map[string]struct {
		spec     func(*Spec)
		sysusers string // "" for none
		adduser  []string
		purge    bool
	}{
		"user and group, hardened": {
			spec:     func(*Spec) {},
			sysusers: "g svcgrp -\nu svcuser -:svcgrp \"hellod service\" /nonexistent\n",
			adduser:  []string{"addgroup --system --quiet svcgrp", "adduser --system --ingroup svcgrp --no-create-home --home /nonexistent --quiet svcuser"},
			purge:    true,
		},
		"user only": {
			spec:     func(s *Spec) { s.RunAs, s.Harden = "svcuser", false },
			sysusers: "u svcuser - \"hellod service\" /nonexistent\n",
			adduser:  []string{"adduser --system --group --no-create-home --home /nonexistent --quiet svcuser"},
		},
		"root: nobody to create": {
			spec: func(s *Spec) { s.RunAs, s.Harden = "root", false },
		},
	}
	var debs []string
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := optionsSpec()
			tt.spec(&s)
			deb, err := Build(t.Context(), s, Deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			debs = append(debs, deb)
			files, _ := debFiles(t, deb)
			if got, want := files["/lib/systemd/system/hellod.service"], wantOptionsUnit(t, optionsSpec()); tt.purge && string(got) != string(want) {
				t.Errorf("unit:\n%s\nwant:\n%s", got, want)
			}
			conf, ok := files["/usr/lib/sysusers.d/hellod.conf"]
			switch {
			case tt.sysusers == "" && ok:
				t.Errorf("a sysusers.d file for root:\n%s", conf)
			case tt.sysusers != "" && !strings.HasSuffix(string(conf), "\n"+tt.sysusers):
				t.Errorf("sysusers.d file:\n%s\nwant it to end with:\n%s", conf, tt.sysusers)
			}
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			read := func(f string) string {
				b, _ := os.ReadFile(filepath.Join(ctl, f))
				return string(b)
			}
			postinst, postrm := read("postinst"), read("postrm")
			for _, script := range []string{postinst, postrm} {
				cmd := exec.Command("sh", "-n")
				cmd.Stdin = strings.NewReader(script)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("sh -n: %v: %s\n%s", err, out, script)
				}
			}
			sysusersCmd := `systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} hellod.conf`
			if has := strings.Contains(postinst, sysusersCmd); has != (tt.sysusers != "") {
				t.Errorf("postinst runs %q: %v, want %v:\n%s", sysusersCmd, has, tt.sysusers != "", postinst)
			}
			if tt.sysusers != "" && strings.Index(postinst, sysusersCmd) > strings.Index(postinst, "deb-systemd-helper") {
				t.Errorf("postinst enables the service before it creates its user:\n%s", postinst)
			}
			for _, c := range tt.adduser {
				if !strings.Contains(postinst, c+"\n") {
					t.Errorf("postinst lacks %q:\n%s", c, postinst)
				}
			}
			// The user stays on remove and purge; the directories go on
			// purge only.
			for _, del := range []string{"deluser", "userdel", "delgroup"} {
				if strings.Contains(postrm, del) {
					t.Errorf("postrm removes the user (%s):\n%s", del, postrm)
				}
			}
			purge := "if [ \"$1\" = \"purge\" ]; then\n\trm -rf /var/lib/hellod /var/log/hellod\nfi\n"
			if strings.Contains(postrm, purge) != tt.purge {
				t.Errorf("postrm removes the state directories on purge: %v, want %v:\n%s", !tt.purge, tt.purge, postrm)
			}
			if ctrl := run(t, "dpkg-deb", "-f", deb, "Depends"); (tt.sysusers != "") != strings.Contains(ctrl, "adduser | systemd-sysusers") {
				t.Errorf("Depends: %q", ctrl)
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

// TestDebSysusersMatchDebhelper: the postinst creates the user with the
// very command of debhelper's dh_installsysusers.
func TestDebSysusersMatchDebhelper(t *testing.T) {
	b, err := os.ReadFile("/usr/share/debhelper/autoscripts/postinst-sysusers")
	if err != nil {
		needTools(t, "dh_installsysusers")
		t.Fatal(err)
	}
	want := commands(strings.ReplaceAll(string(b), "#CONFILE_BASENAME#", "myd.conf"))
	got := commands(strings.NewReplacer("#CONF#", "myd.conf", "#ADDUSER#", "").Replace(debSysusers))
	// debhelper's: the condition, systemd-sysusers, fi. Ours runs the
	// same where systemd-sysusers is, adduser elsewhere.
	if len(want) != 3 || got[0] != want[0] || got[2] != want[1] || got[len(got)-1] != want[2] {
		t.Fatalf("ours:\n%s\ndebhelper's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRPMServiceOptions: the .rpm ships the same unit and sysusers.d file,
// and its %pre creates the group and the user as Fedora's guidelines say.
func TestRPMServiceOptions(t *testing.T) {
	needTools(t, "rpm", "strip")
	linuxBins(t)
	r, err := Build(t.Context(), optionsSpec(), RPM, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Fields(run(t, "rpm", "-qpl", r))
	if !reflect.DeepEqual(files[:3], []string{"/usr/lib/systemd/system/hellod.service", "/usr/lib/sysusers.d/hellod.conf", "/usr/sbin/hellod"}) {
		t.Errorf("rpm -qpl: %q", files)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", r)
	pre := "preinstall scriptlet (using /bin/sh):\n" + rpmUserPre("hellod", "svcuser", "svcgrp")
	for _, want := range []string{pre,
		"getent group svcgrp >/dev/null || groupadd -r svcgrp || :\n",
		"getent passwd svcuser >/dev/null || useradd -r -g svcgrp -d / -s /sbin/nologin -M -c \"hellod service\" svcuser || :\n"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm -qp --scripts lacks\n%s\ngot:\n%s", want, scripts)
		}
	}
	for _, del := range []string{"userdel", "groupdel", "rm -rf /var/lib"} {
		if strings.Contains(scripts, del) {
			t.Errorf("a scriptlet runs %s:\n%s", del, scripts)
		}
	}
	// The payload, as rpm2archive (of rpm) writes it as a tar file.
	needTools(t, "rpm2archive")
	payloadFiles := rpmPayload(t, r)
	got := payloadFiles["/usr/lib/systemd/system/hellod.service"]
	if want := wantOptionsUnit(t, optionsSpec()); string(got) != string(want) {
		t.Errorf("unit:\n%s\nwant:\n%s", got, want)
	}
	conf := payloadFiles["/usr/lib/sysusers.d/hellod.conf"]
	if !strings.HasSuffix(string(conf), "\ng svcgrp -\nu svcuser -:svcgrp \"hellod service\" /nonexistent\n") {
		t.Errorf("sysusers.d file:\n%s", conf)
	}
}

// TestServiceOptionsRefused: a setting a format cannot honour is refused
// with an *Error for the option, wrapping ErrUnsupported, not dropped.
func TestServiceOptionsRefused(t *testing.T) {
	linuxBins(t)
	tests := map[string]struct {
		format Format
		spec   func(*Spec)
		field  string
	}{
		"windows account in a .deb":  {Deb, func(s *Spec) { s.RunAs = `NT AUTHORITY\LocalService` }, "run-as"},
		"windows account in an .rpm": {RPM, func(s *Spec) { s.RunAs = `NT SERVICE\hellod` }, "run-as"},
		"log dir in a .deb":          {Deb, func(s *Spec) { s.LogDir = "/var/log/hellod" }, "log-dir"},
		"log dir in an .rpm":         {RPM, func(s *Spec) { s.LogDir = "/var/log/hellod" }, "log-dir"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			tt.spec(&s)
			_, err := Build(t.Context(), s, tt.format, t.TempDir())
			var se *Error
			if !errors.As(err, &se) || se.Field != tt.field || !errors.Is(err, ErrUnsupported) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want a one-line *Error for %s wrapping ErrUnsupported", err, tt.field)
			}
		})
	}
	// What the description cannot hold is the description's error.
	for name, edit := range map[string]func(*Spec){
		"bad restart":      func(s *Spec) { s.Restart = "sometimes" },
		"relative workdir": func(s *Spec) { s.Workdir = "srv" },
		"bad user":         func(s *Spec) { s.RunAs = "9lives" },
		"group only":       func(s *Spec) { s.RunAs = ":grp" },
		"harden per user":  func(s *Spec) { s.User, s.Harden, s.Binary, s.Sole = true, true, bins.script, bins.sole },
		"harden home":      func(s *Spec) { s.Harden, s.Workdir = true, "/home/x" },
	} {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			edit(&s)
			_, err := Build(t.Context(), s, Deb, t.TempDir())
			var se *Error
			if !errors.As(err, &se) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want a one-line *Error", err)
			}
		})
	}
}

// TestFindSole: with no --sole, the packager of a wrapped program finds a
// sole built for the target where `GOOS=... go install` puts it, and
// otherwise says how to give or build one.
func TestFindSole(t *testing.T) {
	needTools(t, "strip")
	linuxBins(t)
	s := baseSpec()
	s.Name, s.Binary, s.Description = "stranger", bins.stranger, "program that knows nothing of sole"

	gopath := t.TempDir()
	t.Setenv("GOPATH", gopath)
	t.Setenv("GOBIN", "")
	_, err := Build(t.Context(), s, Deb, t.TempDir())
	var se *Error
	if !errors.As(err, &se) || se.Field != "sole" {
		t.Fatalf("no sole anywhere: %v", err)
	}
	for _, want := range []string{"--sole PATH", "sole: PATH", "GOOS=linux GOARCH=amd64 go install github.com/solehq/sole/cmd/sole@"} {
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q, want one line with %q", err, want)
		}
	}
	t.Setenv("GOBIN", "/somewhere")
	if _, err := Build(t.Context(), s, Deb, t.TempDir()); err == nil || !strings.Contains(err.Error(), "GOBIN= GOOS=linux") {
		t.Errorf("with GOBIN set (go install refuses to cross-compile into it): %v", err)
	}
	t.Setenv("GOBIN", "")

	// A sole for another target is passed over; the right one is found.
	dir := filepath.Join(gopath, "bin", "linux_amd64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{bins.hellod: filepath.Join(gopath, "bin", "sole"), bins.sole: filepath.Join(dir, "sole")} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := findSole("linux", "amd64"); got != filepath.Join(dir, "sole") {
		t.Errorf("findSole = %q, want %q", got, filepath.Join(dir, "sole"))
	}
	if got := findSole("linux", "arm64"); got != "" {
		t.Errorf("findSole for arm64 = %q, want none", got)
	}
	if _, err := Build(t.Context(), s, Deb, t.TempDir()); err != nil {
		t.Errorf("with a sole in GOPATH/bin/linux_amd64: %v", err)
	}
}
