//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/testenv"
)

// A fleet service (sole package deb --fleet) stands by on every node but
// the one that holds its lock across the fleet, and reports READY=1 only
// once it holds it, maybe never: nothing that starts it may wait for that.
// These tests install such .debs with dpkg in a real systemd: dpkg, sole
// start and sole restart return at once, the service left standing by.
// The guest has a network namespace of its own, with only loopback: the
// etcd is one the guest runs itself, or none (127.0.0.1:9).

// fleetLimit bounds each command that must not wait for the fleet lock: a
// hang fails the test instead of holding it.
const fleetLimit = 60 * time.Second

// bounded runs a command in the guest under timeout(1), killed after
// limit, and returns its output, exit code and how long it took; a
// command that had to be killed fails the test.
func (g guest) bounded(limit time.Duration, name string, args ...string) (string, int, time.Duration) {
	g.t.Helper()
	start := time.Now()
	out, code := g.run("timeout", append([]string{"-k", "5", strconv.Itoa(int(limit.Seconds())), name}, args...)...)
	took := time.Since(start)
	if code == 124 || code == 137 {
		g.t.Fatalf("%s %s still ran after %v, so it was killed (it waits for the fleet lock): %s", name, strings.Join(args, " "), limit, out)
	}
	return out, code, took
}

// fleetJob is a program that knows nothing of sole, for a fleet service.
func fleetJob(t *testing.T) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n# A job that must run on one node of the fleet at a time.\necho \"job runs: $*\"\nexec sleep infinity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// fleetDebs builds the .debs (one per version) of the fleet service job
// with the fleet URL url, and the sole and sole-fleet they ship.
func fleetDebs(t *testing.T, url string, extra []string, versions ...string) (debs []string, sole, soleFleet string) {
	t.Helper()
	packager := build(t, "cmd/sole-package")
	sole = build(t, "cmd/sole")
	soleFleet = build(t, "cmd/sole-fleet")
	job := fleetJob(t)
	for _, v := range versions {
		args := append([]string{"--name", "job", "--version", v, "--binary", job, "--sole", sole, "--sole-fleet", soleFleet,
			"--fleet", url, "--maintainer", "Sole Test <test@example.com>", "--license", "0BSD", "--description", "fleet job"}, extra...)
		debs = append(debs, buildDeb(t, packager, append(args, "--", "--every", "1s")...))
	}
	return debs, sole, soleFleet
}

// startings counts how often systemd has begun to start unit (its
// "Starting" lines: one that stands by is never "Started").
func (g guest) startings(unit string) int {
	g.t.Helper()
	g.run("journalctl", "--sync")
	out, _ := g.run("journalctl", "--no-pager", "-o", "cat", "-u", unit)
	return len(regexp.MustCompile(`(?m)^Starting `+regexp.QuoteMeta(unit)).FindAllString(out, -1))
}

// standingBy waits until the unit stands by, activating (its start job
// waits for READY=1) with a status line that begins with prefix, and
// returns that line.
func (g guest) standingBy(show func(prop string) string, prefix string) string {
	g.t.Helper()
	var st string
	waitFor(g.t, 20*time.Second, "job.service standing by ("+prefix+"...)", func() bool {
		st = show("StatusText")
		return show("ActiveState") == "activating" && show("SubState") == "start" && strings.HasPrefix(st, prefix)
	})
	return st
}

// TestFleetDebStandsBy: a fleet service whose etcd cannot be reached.
// dpkg -i returns at once, the service enabled and standing by ("standing
// by: etcd at 127.0.0.1:9 cannot be reached: ...; retrying"); sole start
// and sole restart return at once with that line and exit 0; an upgrade
// restarts it once without waiting; dpkg -r stops it and frees its lock;
// purge leaves nothing; with policy-rc.d's 101 (an image build), dpkg -i
// starts nothing.
func TestFleetDebStandsBy(t *testing.T) {
	debs, _, _ := fleetDebs(t, "etcd://127.0.0.1:9", nil, "1.0", "1.1")
	g := bootForDeb(t)
	g.CopyFile(t, debs[0], "/root/v1.deb", 0o644)
	g.CopyFile(t, debs[1], "/root/v2.deb", 0o644)
	show := func(prop string) string { return g.show("job.service", prop) }
	const unreachable = "standing by: etcd at 127.0.0.1:9 cannot be reached: "
	before := g.snapshot()

	out, code, took := g.bounded(fleetLimit, "dpkg", "-i", "/root/v1.deb")
	t.Logf("dpkg -i took %v", took)
	if code != 0 {
		t.Fatalf("dpkg -i: exit %d: %s", code, out)
	}
	if s := show("UnitFileState"); s != "enabled" {
		t.Fatalf("after dpkg -i: UnitFileState %q, want enabled", s)
	}
	st := g.standingBy(show, unreachable)
	if !strings.HasSuffix(st, "; retrying") {
		t.Errorf("StatusText %q", st)
	}
	pid1 := g.mainPID("job.service")
	// Its local lock is held meanwhile.
	if out, code := g.run("/usr/lib/job/sole", "status", "job"); code != 0 || !strings.Contains(out, "job is running (starting); service activating") {
		t.Errorf("sole status job while standing by: exit %d: %s", code, out)
	}

	// sole start: the service stands by already; start says so at once.
	out, code, took = g.bounded(fleetLimit, "/usr/lib/job/sole", "start", "job")
	t.Logf("sole start took %v: %s", took, strings.TrimSpace(out))
	if code != 0 || !strings.HasPrefix(out, "job: "+unreachable) || strings.Count(out, "\n") != 1 {
		t.Fatalf("sole start job: exit %d: %q, want \"job: %s...\"", code, out, unreachable)
	}
	if took > 10*time.Second {
		t.Errorf("sole start took %v", took)
	}
	if p := g.mainPID("job.service"); p != pid1 {
		t.Errorf("sole start of a service standing by replaced it: main pid %d, was %d", p, pid1)
	}

	// sole restart: a new process, which stands by in turn.
	out, code, took = g.bounded(fleetLimit, "/usr/lib/job/sole", "restart", "job")
	t.Logf("sole restart took %v: %s", took, strings.TrimSpace(out))
	if code != 0 || !strings.HasPrefix(out, "job: "+unreachable) {
		t.Fatalf("sole restart job: exit %d: %q", code, out)
	}
	pid2 := g.mainPID("job.service")
	if pid2 == pid1 || pid2 == 0 || show("ActiveState") != "activating" {
		t.Fatalf("after sole restart: main pid %d (was %d), %s", pid2, pid1, show("ActiveState"))
	}

	// sole stop, then sole start from inactive.
	if out, code, _ := g.bounded(fleetLimit, "/usr/lib/job/sole", "stop", "job"); code != 0 {
		t.Fatalf("sole stop job: exit %d: %s", code, out)
	}
	if s := show("ActiveState"); s != "inactive" {
		t.Fatalf("after sole stop: %s\n%s", s, g.Journal(t, "job.service"))
	}
	out, code, took = g.bounded(fleetLimit, "/usr/lib/job/sole", "start", "job")
	t.Logf("sole start from inactive took %v", took)
	if code != 0 || !strings.HasPrefix(out, "job: "+unreachable) {
		t.Fatalf("sole start job from inactive: exit %d: %q", code, out)
	}
	pid3 := g.mainPID("job.service")

	// Upgrade: restarted exactly once, dpkg not waiting for it.
	startsBefore := g.startings("job.service")
	out, code, took = g.bounded(fleetLimit, "dpkg", "-i", "/root/v2.deb")
	t.Logf("dpkg -i (upgrade) took %v", took)
	if code != 0 {
		t.Fatalf("upgrade: exit %d: %s", code, out)
	}
	g.standingBy(show, unreachable)
	if p := g.mainPID("job.service"); p == pid3 || p == 0 {
		t.Fatalf("the upgrade did not restart the service: main pid %d, was %d", p, pid3)
	}
	if n := g.startings("job.service") - startsBefore; n != 1 {
		t.Fatalf("the upgrade started job.service %d times, want exactly 1\n%s", n, g.Journal(t, "job.service"))
	}
	if v := strings.TrimSpace(g.must("dpkg-query", "-W", "-f=${Version}", "job")); v != "1.1-1" {
		t.Fatalf("installed version %q", v)
	}

	// Remove: stopped cleanly (not failed), lock directory gone.
	out, code, took = g.bounded(fleetLimit, "dpkg", "-r", "job")
	t.Logf("dpkg -r took %v", took)
	if code != 0 {
		t.Fatalf("dpkg -r: exit %d: %s", code, out)
	}
	if s := show("ActiveState"); s != "inactive" {
		t.Fatalf("after dpkg -r: ActiveState %q, want inactive\n%s", s, g.Journal(t, "job.service"))
	}
	if _, code := g.run("test", "-e", "/run/sole/job"); code == 0 {
		t.Error("dpkg -r left the lock directory /run/sole/job")
	}
	if out, code, _ := g.bounded(fleetLimit, "dpkg", "-P", "job"); code != 0 {
		t.Fatalf("dpkg -P: exit %d: %s", code, out)
	}
	g.leftNothing(before, "dpkg -P")

	// An image build: policy-rc.d forbids starting services. The unit is
	// enabled, nothing runs.
	g.WriteFile(t, "/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755)
	out, code, _ = g.bounded(fleetLimit, "dpkg", "-i", "/root/v1.deb")
	if code != 0 || !strings.Contains(out, "policy-rc.d returned 101, not running 'start job.service'") {
		t.Fatalf("dpkg -i with policy-rc.d's 101: exit %d: %s", code, out)
	}
	time.Sleep(time.Second) // (a job queued anyway would have run by now)
	if a, u := show("ActiveState"), show("UnitFileState"); a != "inactive" || u != "enabled" {
		t.Fatalf("dpkg -i with policy-rc.d's 101: %s, %s; want inactive, enabled", a, u)
	}
	g.must("rm", "/usr/sbin/policy-rc.d")
	g.must("dpkg", "-P", "job")
	g.leftNothing(before, "dpkg -P")
}

// TestFleetDebTakesOver: a fleet service whose lock another node holds, on
// a real etcd (run in the guest). dpkg -i returns at once with the service
// standing by ("standing by: job is held by pid P on HOST, since T");
// sole start says so; when the other node stops, the service takes the
// lock over, becomes active, and runs the job.
func TestFleetDebTakesOver(t *testing.T) {
	etcd := testenv.NeedTool(t, "etcd", "etcd-server")
	debs, sole, soleFleet := fleetDebs(t, "etcd://127.0.0.1:2379/sole-test", []string{"--fleet-ttl", "2s"}, "1.0")
	g := bootForDeb(t)
	g.CopyFile(t, debs[0], "/root/job.deb", 0o644)
	g.CopyFile(t, sole, "/root/other/sole", 0o755)
	g.CopyFile(t, soleFleet, "/root/other/sole-fleet", 0o755)
	show := func(prop string) string { return g.show("job.service", prop) }

	// etcd, on the guest's own loopback.
	g.must("systemd-run", "--unit=etcd-test", "--collect", etcd, "--name", "m1", "--data-dir", "/tmp/etcd-test",
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "m1=http://127.0.0.1:2380")
	waitFor(t, 30*time.Second, "etcd in the guest", func() bool {
		out, _ := g.run("curl", "-sS", "-m", "2", "http://127.0.0.1:2379/health")
		return strings.Contains(out, `"health":"true"`)
	})
	// The other node: sole run with its own local lock, holding the fleet
	// lock job.
	g.must("systemd-run", "--unit=other-node", "--collect", "/root/other/sole", "run", "--fleet", "etcd://127.0.0.1:2379/sole-test",
		"--fleet-ttl", "2s", "--name", "job", "--lock", "/tmp/other-node.lock", "--", "sh", "-c", "touch /tmp/other-node-holds; exec sleep infinity")
	waitFor(t, 20*time.Second, "the other node holding the fleet lock", func() bool {
		_, code := g.run("test", "-e", "/tmp/other-node-holds")
		return code == 0
	})
	other := g.mainPID("other-node.service")

	out, code, took := g.bounded(fleetLimit, "dpkg", "-i", "/root/job.deb")
	t.Logf("dpkg -i took %v", took)
	if code != 0 {
		t.Fatalf("dpkg -i: exit %d: %s", code, out)
	}
	held := g.standingBy(show, "standing by: job is held by pid ")
	if m := regexp.MustCompile(`^standing by: job is held by pid ([0-9]+) on \S+, since `).FindStringSubmatch(held); m == nil || m[1] != strconv.Itoa(other) {
		t.Errorf("StatusText %q, want the other node's sole run, pid %d", held, other)
	}
	t.Logf("StatusText: %s", held)
	out, code, took = g.bounded(fleetLimit, "/usr/lib/job/sole", "start", "job")
	t.Logf("sole start took %v: %s", took, strings.TrimSpace(out))
	if code != 0 || out != "job: "+held+"\n" {
		t.Fatalf("sole start job: exit %d: %q, want %q", code, out, "job: "+held+"\n")
	}
	if j := g.Journal(t, "job.service"); strings.Contains(j, "job runs") {
		t.Fatalf("the job ran while the other node held the lock:\n%s", j)
	}

	// The other node goes: the service takes over.
	g.must("systemctl", "stop", "other-node.service")
	stopped := time.Now()
	waitFor(t, 30*time.Second, "job.service active", func() bool { return show("ActiveState") == "active" })
	t.Logf("active %v after the other node stopped", time.Since(stopped))
	waitFor(t, 10*time.Second, "the job's output", func() bool {
		return strings.Contains(g.Journal(t, "job.service"), "job runs: --every 1s")
	})
	// Active now: sole start returns at once, saying nothing.
	out, code, _ = g.bounded(fleetLimit, "/usr/lib/job/sole", "start", "job")
	if code != 0 || out != "" {
		t.Fatalf("sole start of the active job: exit %d: %q", code, out)
	}
	if out, code, _ := g.bounded(fleetLimit, "dpkg", "-P", "job"); code != 0 {
		t.Fatalf("dpkg -P: exit %d: %s", code, out)
	}
	if s := show("ActiveState"); s != "inactive" {
		t.Fatalf("after dpkg -P: %s", s)
	}
}

// TestFleetDebUserStandsBy: a per-user fleet service, started by dpkg -i
// in root's user manager, stands by there without dpkg waiting for it;
// sole start --user says so at once.
func TestFleetDebUserStandsBy(t *testing.T) {
	debs, _, _ := fleetDebs(t, "etcd://127.0.0.1:9", []string{"--user"}, "1.0")
	g := bootForDeb(t)
	urun := g.startUserManager()
	g.CopyFile(t, debs[0], "/root/job.deb", 0o644)
	before := g.snapshot()
	ushow := func(prop string) string {
		out, _ := urun("systemctl", "--user", "show", "-p", prop, "--value", "job.service")
		return strings.TrimSpace(out)
	}
	const unreachable = "standing by: etcd at 127.0.0.1:9 cannot be reached: "

	out, code, took := g.bounded(fleetLimit, "dpkg", "-i", "/root/job.deb")
	t.Logf("dpkg -i took %v", took)
	if code != 0 {
		t.Fatalf("dpkg -i: exit %d: %s", code, out)
	}
	g.standingBy(ushow, unreachable)
	start := time.Now()
	out, code = urun("timeout", "-k", "5", "60", "/usr/lib/job/sole", "start", "--user", "job")
	t.Logf("sole start --user took %v: %s", time.Since(start), strings.TrimSpace(out))
	if code != 0 || !strings.HasPrefix(out, "job: "+unreachable) {
		t.Fatalf("sole start --user job: exit %d: %q", code, out)
	}
	if out, code, _ := g.bounded(fleetLimit, "dpkg", "-r", "job"); code != 0 {
		t.Fatalf("dpkg -r: exit %d: %s", code, out)
	}
	if s := ushow("ActiveState"); s == "activating" || s == "active" {
		t.Fatalf("dpkg -r left the user service %s", s)
	}
	g.must("dpkg", "-P", "job")
	g.leftNothing(before, "dpkg -P")
}

// TestFleetRPMUpgrade: an .rpm of a fleet service, with Debian's rpm (the
// scriptlets' branch for systemd before 249, as TestRPMUnderSystemd's):
// upgrading it while it stands by restarts it exactly once and rpm -U
// does not wait for the fleet lock; rpm -e stops it.
func TestFleetRPMUpgrade(t *testing.T) {
	testenv.NeedTool(t, "rpm", "rpm")
	packager := build(t, "cmd/sole-package")
	sole, soleFleet, job := build(t, "cmd/sole"), build(t, "cmd/sole-fleet"), fleetJob(t)
	var rpms []string
	for _, v := range []string{"1.0", "1.1"} {
		out := t.TempDir()
		cmd := exec.Command(packager, "rpm", "--output", out, "--name", "job", "--version", v, "--binary", job,
			"--sole", sole, "--sole-fleet", soleFleet, "--fleet", "etcd://127.0.0.1:9",
			"--maintainer", "Sole Test <test@example.com>", "--license", "0BSD", "--description", "fleet job")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sole package rpm: %v: %s", err, b)
		}
		rpms = append(rpms, strings.TrimSpace(string(b)))
	}
	g := bootForDeb(t)
	g.CopyFile(t, rpms[0], "/root/v1.rpm", 0o644)
	g.CopyFile(t, rpms[1], "/root/v2.rpm", 0o644)
	show := func(prop string) string { return g.show("job.service", prop) }
	rpm := func(args ...string) (string, time.Duration) {
		t.Helper()
		out, code, took := g.bounded(fleetLimit, "rpm", append([]string{"--nodeps", "--force-debian"}, args...)...)
		if code != 0 {
			t.Fatalf("rpm %q: exit %d: %s", args, code, out)
		}
		return out, took
	}
	const unreachable = "standing by: etcd at 127.0.0.1:9 cannot be reached: "

	rpm("-i", "/root/v1.rpm")
	if out, code, _ := g.bounded(fleetLimit, "/usr/lib/job/sole", "start", "job"); code != 0 || !strings.HasPrefix(out, "job: "+unreachable) {
		t.Fatalf("sole start job: exit %d: %q", code, out)
	}
	pid1 := g.mainPID("job.service")
	starts := g.startings("job.service")
	_, took := rpm("-U", "/root/v2.rpm")
	t.Logf("rpm -U took %v", took)
	g.standingBy(show, unreachable)
	if p := g.mainPID("job.service"); p == pid1 || p == 0 {
		t.Fatalf("the upgrade did not restart the service: main pid %d, was %d", p, pid1)
	}
	if n := g.startings("job.service") - starts; n != 1 {
		t.Fatalf("the upgrade started job.service %d times, want exactly 1\n%s", n, g.Journal(t, "job.service"))
	}
	_, took = rpm("-e", "job")
	t.Logf("rpm -e took %v", took)
	if s := show("ActiveState"); s != "inactive" {
		t.Fatalf("after rpm -e: ActiveState %q", s)
	}
}
