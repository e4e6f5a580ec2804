package kservice

// Windows tests of the adapter, run under Wine (scripts/wine/exec.sh):
// the test binary, installed as a service of the real service control
// manager (Wine's services.exe), runs a kardianos program through
// kservice. Wine 8 runs services in session 1, where svc.IsWindowsService
// (and with it kardianos/service and runtime.Main) takes a service process
// for a console program; the helper then runs runtime.Run under
// kardianos' own Windows service handler, reporting SERVICE_RUNNING when
// the runtime reports readiness, as runtime.Main does on Windows (see
// runtime/windows_test.go). On Windows it calls Main itself.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/rmtree"
	"github.com/solehq/sole/internal/rmtree/rmtreetest"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/internal/wintest"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
	"github.com/solehq/sole/runtime"
)

// helperArg makes the test binary a helper instead of running tests:
//
//	-kservice.test.helper service NAME DIR
//	    run as the Windows service NAME the kardianos program winProgram,
//	    through kservice; log to DIR\service.log
const helperArg = "-kservice.test.helper"

// The service's names start with this, then its test binary's pid.
const servicePrefix = "sole-ks-svc-"

func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == helperArg && os.Args[2] == "service" {
		os.Exit(helperService(os.Args[3], os.Args[4]))
	}
	os.Exit(m.Run())
}

// winProgram is a kardianos program that writes down what it sees:
// DIR\start.txt when Start is called (the lock's state, the service's
// String and Platform, its environment), then waits for DIR\gate, writes
// DIR\started and returns; DIR\stop.txt when Stop is called.
type winProgram struct{ name, dir string }

func (p *winProgram) file(name string) string { return filepath.Join(p.dir, name) }

func (p *winProgram) Start(s service.Service) error {
	lg, err := s.Logger(nil)
	if err != nil {
		return err
	}
	l, err := pidlock.Named(p.name, pidlock.WithScope(pidlock.ScopeSystem))
	if err != nil {
		return err
	}
	st, err := l.Query()
	if err != nil {
		return err
	}
	holder := 0
	if st.Holder != nil {
		holder = st.Holder.PID
	}
	lg.Infof("Start: %s on %s; lock %s, holder %d", s, s.Platform(), st.State, holder)
	status, err := s.Status()
	text := fmt.Sprintf("pid=%d\nlock=%s\nholder=%d\nstring=%s\nenv=%s\nstatus=%d %v\n", os.Getpid(), st.State, holder, s, os.Getenv("KSERVICE_WINE"), status, err)
	if err := os.WriteFile(p.file("start.txt"), []byte(text), 0o644); err != nil {
		return err
	}
	for {
		if _, err := os.Stat(p.file("gate")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lg.Info("Start returns")
	return os.WriteFile(p.file("started"), nil, 0o644)
}

func (p *winProgram) Stop(s service.Service) error {
	lg, _ := s.Logger(nil)
	lg.Info("Stop")
	return os.WriteFile(p.file("stop.txt"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

func helperService(name, dir string) int {
	logf, err := os.OpenFile(filepath.Join(dir, "service.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 2
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := os.WriteFile(filepath.Join(dir, "programdata.txt"), []byte(os.Getenv("ProgramData")), 0o644); err != nil {
		log.Error("writing programdata.txt", "err", err)
		return 2
	}
	c := &service.Config{
		Name:        name,
		DisplayName: "kservice wine test",
		EnvVars:     map[string]string{"KSERVICE_WINE": "from EnvVars"},
	}
	ready := make(chan struct{})
	opt := WithConfig(func(c *runtime.Config) {
		c.Scope = pidlock.ScopeSystem
		c.Logger = slog.New(&readyHandler{Handler: log.Handler(), ready: ready, once: new(sync.Once)})
		c.StartTimeout = 20 * time.Second
		c.StopTimeout = 10 * time.Second
	})
	p := &winProgram{name: name, dir: dir}
	if ok, _ := svc.IsWindowsService(); ok {
		// Windows: exactly what a program's main does.
		log.Info("helper: svc.IsWindowsService is true; kservice.Main")
		os.Args = []string{os.Args[0], "run"}
		Main(p, c, opt)
	}
	log.Info("helper: svc.IsWindowsService is false (Wine); runtime.Run under kardianos' service handler")
	cfg, app, err := App(p, c, opt)
	if err != nil {
		log.Error("helper: App", "err", err)
		return 1
	}
	b := &bridge{cfg: cfg, app: app, ready: ready, done: make(chan error, 1)}
	if err := wintest.ServeKardianos(name, b); err != nil {
		log.Error("helper", "err", err)
		return 1
	}
	log.Info("helper: done", "err", b.err)
	if b.err != nil {
		return 1
	}
	return 0
}

// bridge is runtime.Main's Windows program rebuilt from runtime.Run: Start
// returns once the runtime reported readiness (its "ready" log line), so
// that kardianos reports SERVICE_RUNNING only then; Stop ends the run.
type bridge struct {
	cfg    runtime.Config
	app    runtime.App
	ready  chan struct{}
	cancel context.CancelFunc
	done   chan error
	err    error
}

func (b *bridge) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- runtime.Run(ctx, b.cfg, b.app) }()
	select {
	case <-b.ready:
		return nil
	case err := <-b.done:
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
		b.err = err
		return err
	}
}

func (b *bridge) Stop(service.Service) error {
	b.cancel()
	b.err = <-b.done
	return b.err
}

// readyHandler closes ready at the runtime's "ready" line, which it logs
// once readiness is reported.
type readyHandler struct {
	slog.Handler
	ready chan struct{}
	once  *sync.Once
}

func (h *readyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "ready" {
		h.once.Do(func() { close(h.ready) })
	}
	return h.Handler.Handle(ctx, r)
}

func (h *readyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &readyHandler{Handler: h.Handler.WithAttrs(as), ready: h.ready, once: h.once}
}

func (h *readyHandler) WithGroup(g string) slog.Handler {
	return &readyHandler{Handler: h.Handler.WithGroup(g), ready: h.ready, once: h.once}
}

// TestWindowsServiceKservice installs the test binary as a service and
// drives it through the service control manager: Start is called holding
// the lock while the service is START_PENDING, SERVICE_RUNNING comes only
// once Start returned, a second instance does not call Start, and the
// SCM's stop calls Stop and frees the lock.
func TestWindowsServiceKservice(t *testing.T) {
	m := wintest.ConnectAdmin(t)
	deleteLeftovers(t, m)

	name := fmt.Sprintf("%s%d", servicePrefix, os.Getpid())
	dir := filepath.Join(rmtreetest.TempDir(t, "sole-kservice-test"), "ks svc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "kservice test.exe")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	d := unit.Description{
		Name:         name,
		Description:  "sole kservice test service",
		Exec:         exe,
		Args:         []string{helperArg, "service", name, dir},
		StartTimeout: 30 * time.Second,
		StopTimeout:  15 * time.Second,
	}
	installDir := filepath.Join(os.Getenv("ProgramData"), "sole", name)
	var lockDir string
	t.Cleanup(func() {
		if err := svcmgr.Uninstall(name, false); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			if st, serr := svcmgr.Status(name, false); serr != nil || st != svcmgr.NotInstalled {
				t.Errorf("cleanup: uninstall: %v", err)
			} else {
				t.Logf("the service is gone; removing its lock directory failed (Wine 8's os.RemoveAll): %v", err)
			}
		}
		for _, dir := range []string{lockDir, installDir} {
			if dir != "" {
				rmtree.RemoveAll(dir)
			}
		}
	})
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "service.log")); err == nil && t.Failed() {
			t.Logf("service log:\n%s", b)
		}
	})
	if _, err := svcmgr.Install(d); err != nil {
		t.Fatalf("Install: %v", err)
	}
	s, err := m.OpenService(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Start: Start is called while the service is START_PENDING, and
	// holds the start back until the gate opens.
	started := make(chan error, 1)
	go func() { started <- svcmgr.Start(name, false) }()
	startTxt := filepath.Join(dir, "start.txt")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(startTxt); err == nil {
			break
		}
		select {
		case err := <-started:
			t.Fatalf("Start returned before the program's Start was called: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the program's Start was not called")
		}
	}
	st, err := s.Query()
	if err != nil || st.State != svc.StartPending {
		t.Fatalf("while Start runs: %+v, %v; want START_PENDING", st, err)
	}
	seen := readKV(t, startTxt)
	pid := int(st.ProcessId)
	if seen["pid"] != strconv.Itoa(pid) || seen["lock"] != pidlock.Running.String() || seen["holder"] != seen["pid"] {
		t.Errorf("Start saw %q; want the lock held by the service's process %d", seen, pid)
	}
	if seen["string"] != "kservice wine test" || seen["env"] != "from EnvVars" {
		t.Errorf("Start saw %q; want the display name and the EnvVars variable", seen)
	}
	if want := fmt.Sprintf("%d <nil>", service.StatusRunning); seen["status"] != want {
		t.Errorf("Service.Status in Start: %q, want %q (running: the service is starting)", seen["status"], want)
	}
	if err := os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "started")); err != nil {
		t.Errorf("SERVICE_RUNNING before the program's Start returned: %v", err)
	}
	st, err = s.Query()
	if err != nil || st.State != svc.Running || int(st.ProcessId) != pid {
		t.Fatalf("after Start: %+v, %v; want running as pid %d", st, err, pid)
	}
	t.Logf("service pid %d: Start was called holding the lock, SERVICE_RUNNING came after it returned", pid)

	// A second instance fails naming the service, and never calls Start.
	lock := wintest.ServiceLock(t, dir, name)
	lockDir = filepath.Dir(lock.Path())
	second := &winProgram{name: name, dir: rmtreetest.TempDir(t, "sole-kservice-second")}
	cfg, app, err := App(second, &service.Config{Name: name}, WithConfig(func(c *runtime.Config) {
		c.Scope = pidlock.ScopeSystem
		c.Logger = slog.New(slog.DiscardHandler)
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = runtime.Run(context.Background(), cfg, app)
	var le *pidlock.LockedError
	if !errors.Is(err, runtime.ErrAlreadyRunning) || !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != pid {
		t.Errorf("second instance: %v; want ErrAlreadyRunning naming pid %d", err, pid)
	}
	if _, err := os.Stat(second.file("start.txt")); err == nil {
		t.Error("the second instance called Start")
	}

	// Stop: Stop is called, the lock is free.
	if err := svcmgr.Stop(name, false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stop.txt")); err != nil || string(b) != strconv.Itoa(pid) {
		t.Errorf("stop.txt %q, %v; want Stop called in pid %d", b, err, pid)
	}
	if ls, err := lock.Query(); err != nil || ls.State != pidlock.NotRunning {
		t.Errorf("lock after Stop: %+v, %v; want not running", ls, err)
	}
	if st, err := s.Query(); err != nil || st.State != svc.Stopped || st.ServiceSpecificExitCode != 0 {
		t.Errorf("after Stop: %+v, %v; want stopped, exit code 0", st, err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "service.log"))
	for _, line := range []string{`msg="Start: kservice wine test on windows-service; lock running, holder ` + strconv.Itoa(pid) + `"`, `msg=Stop`, "msg=stopped"} {
		if !strings.Contains(string(log), line) {
			t.Errorf("service log lacks %s:\n%s", line, log)
		}
	}
}

func readKV(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		kv[k] = v
	}
	return kv
}

// deleteLeftovers deletes the services that an earlier, killed run of this
// test left behind; not those of a test binary that still runs.
func deleteLeftovers(t *testing.T, m *mgr.Mgr) {
	names, err := m.ListServices()
	if err != nil {
		t.Logf("listing services: %v", err)
		return
	}
	for _, n := range names {
		pid, err := strconv.Atoi(strings.TrimPrefix(n, servicePrefix))
		if !strings.HasPrefix(n, servicePrefix) || err != nil {
			continue
		}
		if p, err := platform.ProcessName(pid); err == nil && strings.HasSuffix(strings.ToLower(p), ".test.exe") {
			continue
		}
		if err := svcmgr.Uninstall(n, false); err != nil && !errors.Is(err, svcmgr.ErrNotInstalled) {
			t.Logf("removing leftover service %s: %v", n, err)
		}
	}
}
