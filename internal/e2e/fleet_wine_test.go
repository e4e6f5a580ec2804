//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/etcdtest"
	"github.com/solehq/sole/internal/testenv"
)

// TestFleetRuntimeUnderWine: a Windows program built on package runtime
// with runtime/fleet (the test binary of runtime/fleet, whose TestMain is
// then its demo service) holds a fleet lock on a real etcd on loopback,
// under Wine, as a console program (`run`):
//
//   - a second instance stands by, naming the holder, and a Linux
//     `sole status --fleet` and `sole run --fleet` see the same lock;
//   - cut off from etcd (a frozen link), the holder cancels its app with
//     ErrFleetLost and exits 76, and the one standing by takes over only
//     after that, with a higher fencing token;
//   - on Ctrl-C the holder stops, revokes its lease, and the one standing
//     by takes over at once, long before the TTL.
func TestFleetRuntimeUnderWine(t *testing.T) {
	c := etcdtest.Start(t, 1)
	w := setupWine(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "fleetdemo.exe")
	t0 := time.Now()
	if err := testenv.BuildTestTo(exe, "runtime/fleet", "GOOS=windows", "GOARCH=amd64"); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"cmd/sole", "cmd/sole-fleet"} {
		if err := testenv.BuildTo(filepath.Join(dir, filepath.Base(cmd)), cmd); err != nil {
			t.Fatal(err)
		}
	}
	sole := filepath.Join(dir, "sole")
	t.Logf("built in %v", time.Since(t0).Round(time.Millisecond))

	const name = "wfleet"
	proxy := etcdtest.StartProxy(t, c.Members[0].ClientAddr)
	direct := c.URL("")
	a := startWineNode(t, w, "A", exe, "etcd://"+proxy.Addr(), name)
	aReady := a.waitLog(t, readyRe, 60*time.Second)
	aPID, aToken := atoi(t, aReady[2]), atoi(t, aReady[3])
	b := startWineNode(t, w, "B", exe, direct, name)
	b.waitLog(t, regexp.MustCompile(`msg="standing by: `+name+` is held by pid `+strconv.Itoa(aPID)+` on `), 60*time.Second)
	if b.has(readyRe) {
		t.Fatalf("B ready while A holds the fleet lock:\n%s", b.log())
	}

	// Linux sees the same lock: status names A (its Windows pid) and B
	// waiting, and a sole run on the same name is refused naming A.
	out, err := exec.Command(sole, "status", "--fleet", direct, name).CombinedOutput()
	if err != nil || !regexp.MustCompile(`^`+name+` is running across the fleet \(pid `+strconv.Itoa(aPID)+` on [^,]+, since [0-9:]+, token `+strconv.Itoa(aToken)+`\); 1 waiting\n`).Match(out) {
		t.Errorf("sole status --fleet while A holds and B stands by: %v\n%s", err, out)
	}
	cmd := exec.Command(sole, "run", "--fleet", direct, "--name", name, "--", "true")
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 75 || !strings.Contains(string(out), fmt.Sprintf("across the fleet (pid %d on ", aPID)) {
		t.Errorf("sole run --fleet on A's lock: %v: %s", err, out)
	}

	// The link from A to etcd freezes: A stops its app and exits 76
	// before the lease can expire; B takes over after A exited.
	frozen := time.Now()
	proxy.Freeze()
	if !a.p.Wait(fleetWineTTL + 30*time.Second) {
		t.Fatalf("A still running %v after its link froze:\n%s", fleetWineTTL+30*time.Second, a.log())
	}
	aExit := time.Now()
	if code := a.p.Cmd.ProcessState.ExitCode(); code != 76 {
		t.Errorf("A exited %d after its link froze, want 76 (lock lost):\n%s", code, a.log())
	}
	if got := a.stdout(); !strings.HasPrefix(got, "cancelled lost=true cause=") {
		t.Errorf("A's app, on the loss: %q, want its context cancelled with ErrFleetLost as the cause", got)
	}
	bReady := b.waitLog(t, readyRe, fleetWineTTL+30*time.Second)
	bAt, bToken := logTime(t, bReady[1]), atoi(t, bReady[3])
	t.Logf("link frozen at 0: A exited 76 at %v, B ready at %v (token %d, A's %d)",
		aExit.Sub(frozen).Round(time.Millisecond), bAt.Sub(frozen).Round(time.Millisecond), bToken, aToken)
	if !aExit.Before(bAt) {
		t.Errorf("B was ready at %v, before A exited at %v: two holders at once", bAt.Format(logTimeLayout), aExit.Format(logTimeLayout))
	}
	if bToken <= aToken {
		t.Errorf("B's fencing token %d, not above A's %d", bToken, aToken)
	}
	proxy.Thaw()

	// Ctrl-C to B, the holder (Wine turns SIGINT into a console control
	// event): B stops and revokes its lease; C, standing by, takes over
	// at once.
	cn := startWineNode(t, w, "C", exe, direct, name)
	cn.waitLog(t, regexp.MustCompile(`msg="standing by: `+name+` is held by pid `+bReady[2]+` on `), 60*time.Second)
	stop := time.Now()
	b.p.Signal(syscall.SIGINT)
	if !b.p.Wait(30 * time.Second) {
		t.Fatalf("B still running 30 s after Ctrl-C:\n%s", b.log())
	}
	if code := b.p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("B exited %d after Ctrl-C, want 0:\n%s", code, b.log())
	}
	if got := b.stdout(); !strings.HasPrefix(got, "cancelled lost=false cause=") {
		t.Errorf("B's app, on Ctrl-C: %q, want its context cancelled by the stop", got)
	}
	cReady := cn.waitLog(t, readyRe, 30*time.Second)
	cAt := logTime(t, cReady[1])
	took := cAt.Sub(stop)
	t.Logf("Ctrl-C to B at 0: C ready at %v (token %d)", took.Round(time.Millisecond), atoi(t, cReady[3]))
	if took > fleetWineTTL {
		t.Errorf("C took over %v after B's Ctrl-C, not before the TTL (%v): B did not revoke its lease", took, fleetWineTTL)
	}
	cn.p.Signal(syscall.SIGINT)
	if !cn.p.Wait(30*time.Second) || cn.p.Cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("C after Ctrl-C: %v\n%s", cn.p.Err(), cn.log())
	}
	out, _ = exec.Command(sole, "status", "--fleet", direct, name).CombinedOutput()
	if string(out) != name+" is not running across the fleet\n" {
		t.Errorf("sole status --fleet once all stopped: %q", out)
	}
}

// fleetWineTTL is the lease's TTL of the nodes: the margin (a quarter, 1
// s) leaves room for a busy machine running Wine.
const fleetWineTTL = 4 * time.Second

// readyRe matches the runtime's "ready" log line: its time, pid and
// fencing token.
var readyRe = regexp.MustCompile(`(?m)^time=(\S+) level=INFO msg=ready service=\S+ pid=(\d+) lock=\S+ fencing_token=(\d+)$`)

const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func logTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(logTimeLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wineNode is one instance of the fleet demo under Wine, its stdout and
// stderr in files.
type wineNode struct {
	label, dir string
	p          *etcdtest.Proc
}

func startWineNode(t *testing.T, w *wine, label, exe, url, name string) *wineNode {
	t.Helper()
	n := &wineNode{label: label, dir: t.TempDir()}
	cmd := exec.Command("wine", winPath(exe), "run")
	cmd.Env = append(slices.Clone(w.env), "FLEETDEMO_URL="+url, "FLEETDEMO_NAME="+name,
		"FLEETDEMO_LOCK="+winPath(filepath.Join(n.dir, name+".pid")), "FLEETDEMO_TTL="+fleetWineTTL.String())
	stdout, err := os.Create(filepath.Join(n.dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(n.dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if n.p, err = etcdtest.StartProc(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.p.Kill() // this test's child, by its pid
		if t.Failed() {
			t.Logf("%s's log:\n%s", n.label, n.log())
		}
	})
	return n
}

func (n *wineNode) read(f string) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, f))
	return string(b)
}

func (n *wineNode) log() string    { return n.read("stderr") }
func (n *wineNode) stdout() string { return n.read("stdout") }

func (n *wineNode) has(re *regexp.Regexp) bool { return re.MatchString(n.log()) }

// waitLog waits up to timeout for a line of the node's log matching re,
// and returns its submatches; it fails the test if the node exits first.
func (n *wineNode) waitLog(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(n.log()); m != nil {
			return m
		}
		if !n.p.Running() {
			if m := re.FindStringSubmatch(n.log()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) while the test waited for %s:\n%s", n.label, n.p.Err(), re, n.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no %s within %v:\n%s", n.label, re, timeout, n.log())
	return nil
}
