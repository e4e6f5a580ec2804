//go:build linux

package e2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/envfile"
)

// TestEnvFileAgreesWithSystemd: every environment file that envfile (so
// `sole run --env-file`, on launchd and Windows) accepts gives a program
// the variables that systemd's own EnvironmentFile= gives it, read by the
// real systemd; for each file envfile refuses, what systemd does with it
// is logged (it skips such lines with a warning, or reads them otherwise).
func TestEnvFileAgreesWithSystemd(t *testing.T) {
	g := boot(t)
	baseline := systemdEnv(g, "")
	for i, c := range envfile.Cases {
		t.Run(c.Name, func(t *testing.T) {
			file := fmt.Sprintf("/etc/envtest/%d.env", i)
			g.WriteFile(t, file, []byte(c.Text), 0o644)
			got := systemdEnv(g, file)
			for k, v := range baseline {
				if got[k] == v {
					delete(got, k)
				}
			}
			delete(got, "INVOCATION_ID")
			delete(got, "SYSTEMD_EXEC_PID")
			if c.Err != "" {
				t.Logf("envfile refuses it (%s); systemd gives %q", c.Err, got)
				return
			}
			want := map[string]string{}
			for _, kv := range c.Want {
				k, v, _ := strings.Cut(kv, "=")
				want[k] = v
			}
			if !maps.Equal(got, want) {
				t.Errorf("systemd reads %q as\n%q\nenvfile as\n%q", c.Text, got, want)
			}
		})
	}
}

// systemdEnv runs env in a transient service of the guest's systemd with
// EnvironmentFile=file ("" for none) and returns its environment.
func systemdEnv(g guest, file string) map[string]string {
	g.t.Helper()
	args := []string{"--wait", "--pipe", "--quiet", "--collect"}
	if file != "" {
		args = append(args, "-p", "EnvironmentFile="+file)
	}
	out, code := g.run("systemd-run", append(args, "/usr/bin/env", "-0")...)
	env := map[string]string{}
	if code != 0 {
		return map[string]string{"(systemd-run failed)": strings.TrimSpace(out)}
	}
	for _, kv := range strings.Split(out, "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
