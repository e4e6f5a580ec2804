//go:build linux

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKserviceDemoUnderSystemd: cmd/kservicedemo, a kardianos/service
// program (Start and Stop) adopted through runtime/kservice, as a real
// systemd service: Start runs under the lock while the unit is still
// activating, READY=1 comes only once Start returned, it serves, a second
// instance exits 75 naming the holder without calling Start, and
// `systemctl stop` calls Stop and frees the lock.
func TestKserviceDemoUnderSystemd(t *testing.T) {
	g := boot(t)
	const (
		bin    = "/usr/local/bin/kservicedemo"
		events = "/var/tmp/kservicedemo-events"
		gate   = "/var/tmp/kservicedemo-gate"
	)
	g.CopyFile(t, build(t, "cmd/kservicedemo"), bin, 0o755)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	if out := g.must(bin, "install"); !strings.Contains(out, "installed") {
		t.Fatalf("install: %q", out)
	}
	unitText := g.must("cat", "/etc/systemd/system/kservicedemo.service")
	for _, line := range []string{"Type=notify", "ExecStart=" + bin + " run", "Description=sole example: a kardianos/service program on sole's runtime"} {
		if !strings.Contains(unitText, line+"\n") {
			t.Errorf("unit lacks %q:\n%s", line, unitText)
		}
	}
	if out, code := g.run("systemd-analyze", "verify", "/etc/systemd/system/kservicedemo.service"); code != 0 {
		t.Fatalf("systemd-analyze verify: %s", out)
	}
	// The test's settings, in a drop-in: they win over the program's
	// EnvVars default address.
	g.WriteFile(t, "/etc/systemd/system/kservicedemo.service.d/test.conf", []byte(
		"[Service]\nEnvironment=KSERVICEDEMO_ADDR="+addr+"\nEnvironment=KSERVICEDEMO_EVENTS="+events+"\nEnvironment=KSERVICEDEMO_START_GATE="+gate+"\n"), 0o644)
	g.must("systemctl", "daemon-reload")

	// Start is called once the lock is held, and holds the start back:
	// meanwhile the unit is activating (no READY=1 yet), the lock's
	// holder is the main process, and nothing serves.
	g.must("systemctl", "start", "--no-block", "kservicedemo")
	waitFor(t, 20*time.Second, "Start to be called", func() bool {
		out, _ := g.run("cat", events)
		return strings.HasPrefix(out, "start ")
	})
	if st := g.show("kservicedemo", "ActiveState"); st != "activating" {
		t.Fatalf("while Start runs the unit is %s, want activating (READY=1 before Start returned?)", st)
	}
	main := g.show("kservicedemo", "MainPID")
	if pid := g.holderPID("kservicedemo"); strconv.Itoa(pid) != main {
		t.Fatalf("while Start runs the lock's holder is %d, the main process %s", pid, main)
	}
	if ev := g.must("cat", events); ev != "start "+main+"\n" {
		t.Fatalf("events while Start runs: %q", ev)
	}
	if out, code := g.run("curl", "-sS", "-m", "5", "http://"+addr+"/"); code == 0 {
		t.Fatalf("serving before Start returned: %q", out)
	}

	// Start returns: now READY=1, and the unit is active.
	g.must("touch", gate)
	waitFor(t, 20*time.Second, "the unit to become active", func() bool {
		return g.show("kservicedemo", "ActiveState") == "active"
	})
	if ev := g.must("cat", events); ev != "start "+main+"\nstarted "+main+" "+addr+"\n" {
		t.Fatalf("events after the start: %q", ev)
	}
	if got := g.show("kservicedemo", "MainPID"); got != main {
		t.Fatalf("MainPID %s, was %s", got, main)
	}
	// The journal has Start's lines, then the runtime's "ready" (sent
	// with READY=1).
	j := g.Journal(t, "kservicedemo")
	iStart, iReturned, iReady := strings.Index(j, "Start: kservice demo on linux-systemd"), strings.Index(j, "Start returned: serving on "+addr), strings.Index(j, "msg=ready service=kservicedemo pid="+main+" ")
	if iStart < 0 || iReturned < iStart || iReady < iReturned {
		t.Fatalf("journal: want Start's lines (from service.Logger, with kardianos' platform) before the runtime's ready line:\n%s", j)
	}
	if st := g.show("kservicedemo", "StatusText"); st != "running" {
		t.Errorf("StatusText %q", st)
	}
	if out, code := g.run("curl", "-sS", "-m", "5", "http://"+addr+"/"); code != 0 || out != "hello from kservicedemo\n" {
		t.Fatalf("GET /: exit %d: %q", code, out)
	}
	if out, code := g.run(bin, "status"); code != 0 || !strings.Contains(out, "kservicedemo is running (pid "+main) || !strings.Contains(out, "; service active") {
		t.Fatalf("kservicedemo status: exit %d: %s", code, out)
	}

	// A second instance by hand: 75, naming the holder; Start is not
	// called in it, and the service is undisturbed.
	out, code := g.run("env", "KSERVICEDEMO_ADDR=127.0.0.1:1", "KSERVICEDEMO_EVENTS="+events, bin, "run")
	if code != 75 || !strings.Contains(out, "already running") || !strings.Contains(out, "pid "+main+" (kservicedemo)") {
		t.Fatalf("second instance: exit %d: %s", code, out)
	}
	if ev := g.must("cat", events); strings.Count(ev, "start ") != 1 {
		t.Fatalf("the second instance called Start: %q", ev)
	}
	if g.show("kservicedemo", "ActiveState") != "active" || g.show("kservicedemo", "MainPID") != main {
		t.Fatal("the first instance was disturbed")
	}

	// systemctl stop calls Stop; the lock is free after, with no record.
	g.must("systemctl", "stop", "kservicedemo")
	if ev := g.must("cat", events); !strings.HasSuffix(ev, "stop "+main+"\n") {
		t.Fatalf("events after stop: %q, want Stop called", ev)
	}
	if j := g.Journal(t, "kservicedemo"); !strings.Contains(j, "Stop: shutting down") || !strings.Contains(j, "stopped") {
		t.Errorf("journal lacks the stop:\n%s", j)
	}
	if st := g.show("kservicedemo", "Result"); st != "success" {
		t.Errorf("Result %s after stop, want success (Stop returned nil, exit 0)", st)
	}
	if out, code := g.run("/usr/local/bin/sole", "status", "kservicedemo"); code != 3 {
		t.Fatalf("after stop: exit %d: %s", code, out)
	}
	if rec := g.must("cat", "/run/sole/kservicedemo/kservicedemo.pid"); rec != "" {
		t.Fatalf("record left after stop: %q", rec)
	}

	g.must("rm", "-r", "/etc/systemd/system/kservicedemo.service.d")
	g.must(bin, "uninstall")
	if _, code := g.run("test", "-e", "/etc/systemd/system/kservicedemo.service"); code == 0 {
		t.Error("unit left after uninstall")
	}
}
