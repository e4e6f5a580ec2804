package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// commands reduces a shell snippet to its commands: comments, blank lines
// and indentation dropped.
func commands(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// TestDebScriptsMatchDebhelper compares each part, command for command,
// with the autoscripts of the installed debhelper (Debian package
// debhelper): the scripts must do exactly what dh_installsystemd's do.
func TestDebScriptsMatchDebhelper(t *testing.T) {
	dir := "/usr/share/debhelper/autoscripts"
	_, err := os.Stat(dir)
	testenv.Need(t, err == nil, "debhelper's autoscripts are missing (Debian package debhelper): %v", err)
	const unit = "myd.service"
	tests := map[string]struct {
		ours    string
		file    string
		replace map[string]string
	}{
		"enable":  {debEnable, "postinst-systemd-enable", map[string]string{"#UNITFILE#": unit}},
		"restart": {debRestart, "postinst-systemd-restart", map[string]string{"#UNITFILES#": unit, "#RESTART_ACTION#": "restart"}},
		"stop":    {debStop, "prerm-systemd-restart", map[string]string{"#UNITFILES#": unit}},
		"reload":  {debReload, "postrm-systemd-reload-only", map[string]string{"#UNITFILES#": unit}},
		"purge":   {debPurge, "postrm-systemd", map[string]string{"#UNITFILES#": unit}},

		"user enable":  {debUserEnable, "postinst-systemd-user-enable", map[string]string{"#UNITFILE#": unit}},
		"user restart": {debUserRestart, "postinst-systemd-user-restart", map[string]string{"#UNITFILES#": unit}},
		"user stop":    {debUserStop, "prerm-systemd-user-stop", map[string]string{"#UNITFILES#": unit}},
		"user reload":  {debUserReload, "postrm-systemd-user-reload-only", map[string]string{"#UNITFILES#": unit}},
		"user purge":   {debUserPurge, "postrm-systemd-user", map[string]string{"#UNITFILES#": unit}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want := string(b)
			for k, v := range tt.replace {
				want = strings.ReplaceAll(want, k, v)
			}
			got := strings.ReplaceAll(tt.ours, "#UNIT#", unit)
			g, w := commands(got), commands(want)
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Fatalf("ours:\n%s\n\ndebhelper's %s:\n%s", strings.Join(g, "\n"), tt.file, strings.Join(w, "\n"))
			}
		})
	}
}

func TestNewDebScripts(t *testing.T) {
	s, err := NewDebScripts("myd")
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"postinst": s.Postinst, "prerm": s.Prerm, "postrm": s.Postrm} {
		if !strings.HasPrefix(script, "#!/bin/sh\nset -e\n") || !strings.Contains(script, "myd.service") || strings.Contains(script, "#UNIT#") {
			t.Errorf("%s:\n%s", name, script)
		}
		// The shell accepts it.
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v: %s", name, err, out)
		}
	}
	// Order: enable before (re)start; reload before purge.
	if strings.Index(s.Postinst, "was-enabled") > strings.Index(s.Postinst, "deb-systemd-invoke") {
		t.Error("postinst starts before it enables")
	}
	if _, err := NewDebScripts("a/b"); err == nil {
		t.Error("a bad name was accepted")
	}
}

// TestLockPath: the lock named in a package's texts is where pidlock.Named
// puts it on the target; a user service's is in the user's lock directory,
// never in $XDG_RUNTIME_DIR (which logind removes at the last logout).
func TestLockPath(t *testing.T) {
	tests := []struct {
		name string
		user bool
		want string
	}{
		{name: "system", want: "/run/sole/myd/myd.pid"},
		{name: "user", user: true, want: "/run/lock/sole-UID/myd/myd.pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan{s: Spec{Name: "myd", User: tt.user}}
			if got := p.lockPath(); got != tt.want {
				t.Errorf("lockPath() = %q, want %q", got, tt.want)
			}
		})
	}
	deb, err := NewDebUserScripts("myd")
	if err != nil {
		t.Fatal(err)
	}
	rpm, err := NewRPMUserScripts("myd")
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{
		"deb postinst": deb.Postinst, "deb prerm": deb.Prerm, "deb postrm": deb.Postrm,
		"rpm post": rpm.Post, "rpm preun": rpm.Preun, "rpm postun": rpm.Postun,
	} {
		if strings.Contains(script, "XDG_RUNTIME_DIR") || strings.Contains(script, "/run/user") {
			t.Errorf("the user service's %s refers to the session's runtime directory:\n%s", name, script)
		}
	}
}
