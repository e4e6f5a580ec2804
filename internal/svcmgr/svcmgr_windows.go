//go:build windows

package svcmgr

// The Windows service control manager (SCM), through
// golang.org/x/sys/windows/svc/mgr.
//
// A service is a SERVICE_WIN32_OWN_PROCESS that starts automatically at
// boot, runs as LocalSystem, and is restarted by the SCM when its process
// dies (recovery actions; see RecoveryActions). Windows has no unit text:
// Definition renders what Install configures, for --print. Besides the
// SCM's own settings, Install writes three values under the service's
// registry key: Environment (REG_MULTI_SZ, read by the SCM when it starts
// the process) and SoleStartTimeoutMs and SoleStopTimeoutMs (REG_DWORD,
// how long Start and Stop wait for the service; the SCM has no such
// setting).
//
// Only mgr calls that Wine 8's SCM implements are needed for the
// lifecycle: Config and UpdateConfig of package mgr query and set the
// delayed-start and SID settings too, which Wine refuses (ERROR_INVALID_LEVEL),
// so the configuration is read and written here with the plain
// QueryServiceConfig/ChangeServiceConfig and the description level of
// QueryServiceConfig2/ChangeServiceConfig2. See docs/windows.md.

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// errPerUser is the error for a per-user service (--user).
var errPerUser = errors.New("per-user services are not supported on Windows; install a system service (without --user)")

// The registry values Install writes under the service's key besides the
// SCM's own.
const (
	valueEnvironment  = "Environment"
	valueStartTimeout = "SoleStartTimeoutMs"
	valueStopTimeout  = "SoleStopTimeoutMs"
)

// localSystem is how the SCM reports the LocalSystem account, which
// CreateService gets as an empty account name.
const localSystem = "LocalSystem"

// maxRestarts bounds the restart actions written for StartLimitBurst;
// beyond it the service is restarted after every failure, without limit.
const maxRestarts = 64

// Extra time that Start and Stop give the service beyond its own start
// and stop timeouts, after which the runtime has stopped or exited by
// itself and the SCM says so.
const waitMargin = 5 * time.Second

func serviceKey(name string) string { return `SYSTEM\CurrentControlSet\Services\` + name }

// config is everything Install sets for a description.
type config struct {
	name        string
	exec        string
	args        []string
	binaryPath  string // the command line the SCM runs
	displayName string
	description string
	env         []string
	startTO     time.Duration
	stopTO      time.Duration
	actions     []mgr.RecoveryAction
	resetPeriod uint32 // seconds
}

// RecoveryActions returns the SCM recovery actions for d (defaults filled
// in), mirroring the systemd unit's Restart=on-failure with its start
// limit: after each of the first StartLimitBurst failures, restart after
// RestartSec; after more, do nothing (the service stays stopped, as a
// systemd unit that hit its start limit stays failed). The failure count
// goes back to zero after StartLimitInterval without a failure (the reset
// period, in seconds). A burst above 64 means restarting after every
// failure.
//
// The SCM counts as a failure a process that ends without reporting
// SERVICE_STOPPED (a crash, a kill, a panic). Actions on "non-crash
// failures" (a service that stops with a non-zero exit code) stay off, so
// a service that stops because another instance holds its lock is not
// restarted: the nearest Windows gets to RestartPreventExitStatus=75.
func RecoveryActions(d unit.Description) ([]mgr.RecoveryAction, uint32) {
	d = d.WithDefaults()
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d.RestartSec}
	var actions []mgr.RecoveryAction
	if d.StartLimitBurst > maxRestarts {
		actions = []mgr.RecoveryAction{restart}
	} else {
		for range d.StartLimitBurst {
			actions = append(actions, restart)
		}
		actions = append(actions, mgr.RecoveryAction{Type: mgr.NoAction})
	}
	return actions, seconds(d.StartLimitInterval)
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	if s > 1<<32-1 {
		s = 1<<32 - 1
	}
	return uint32(s)
}

// millis is d in milliseconds as a REG_DWORD holds it.
func millis(d time.Duration) uint32 {
	ms := d.Milliseconds()
	if ms > 1<<32-1 {
		ms = 1<<32 - 1
	}
	return uint32(ms)
}

// validate checks d as unit.Validate does, except for what differs on
// Windows: the program path is a Windows path, and the settings that the
// SCM has no place for are refused rather than dropped.
func validate(d unit.Description) error {
	if d.User {
		return fmt.Errorf("%s: %w", d.Name, errPerUser)
	}
	if d.RunAs != "" {
		return &unit.Error{Field: "run as", Reason: "a Windows service is installed to run as LocalSystem; another account needs its password, which sole does not handle"}
	}
	if d.WorkingDirectory != "" {
		return &unit.Error{Field: "working directory", Reason: `the Windows service control manager has no working directory setting (a service starts in %SystemRoot%\System32)`}
	}
	if err := checkExe(d.Exec); err != nil {
		return err
	}
	u := d
	u.Exec = "/exe" // checked above, as a Windows path
	u.LogDir = ""   // launchd only
	return u.Validate()
}

func checkExe(p string) error {
	const field = "exec"
	q := strconv.Quote(p)
	switch {
	case p == "":
		return &unit.Error{Field: field, Reason: "empty"}
	case !filepath.IsAbs(p):
		return &unit.Error{Field: field, Reason: q + ` is not an absolute Windows path (want C:\dir\prog.exe)`}
	case filepath.Clean(p) != p:
		return &unit.Error{Field: field, Reason: fmt.Sprintf("%s is not a clean path (want %s)", q, strconv.Quote(filepath.Clean(p)))}
	case strings.ContainsRune(p, '"'):
		return &unit.Error{Field: field, Reason: q + " contains a double quote, which a Windows command line cannot hold in a program path"}
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return &unit.Error{Field: field, Reason: q + " contains a control character"}
	}
	return nil
}

// commandLine is the binary path the SCM runs: the program and its
// arguments, each quoted as CommandLineToArgvW (and Go's os.Args) reads
// them back; the same quoting as mgr.CreateService's.
func commandLine(exe string, args []string) string {
	s := syscall.EscapeArg(exe)
	for _, a := range args {
		s += " " + syscall.EscapeArg(a)
	}
	return s
}

func windowsConfig(d unit.Description) (config, error) {
	if err := validate(d); err != nil {
		return config{}, err
	}
	d = d.WithDefaults()
	c := config{
		name:        d.Name,
		exec:        d.Exec,
		args:        d.Args,
		binaryPath:  commandLine(d.Exec, d.Args),
		displayName: strings.TrimSpace(d.DisplayName),
		description: strings.TrimSpace(d.Description),
		env:         d.Env,
		startTO:     d.StartTimeout,
		stopTO:      d.StopTimeout,
	}
	if c.displayName == "" {
		c.displayName = d.Name
	}
	c.actions, c.resetPeriod = RecoveryActions(d)
	return c, nil
}

func definition(d unit.Description) (string, []byte, error) {
	c, err := windowsConfig(d)
	if err != nil {
		return "", nil, err
	}
	return `HKLM\` + serviceKey(d.Name), c.render(d.Watchdog), nil
}

// render is the human-readable rendering of c that --print shows.
func (c config) render(watchdog time.Duration) []byte {
	var b strings.Builder
	line := func(k, v string) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(&b, "%-16s%s\n", k, v)
	}
	fmt.Fprintf(&b, "Windows service %s (HKLM\\%s)\n", c.name, serviceKey(c.name))
	line("display name", c.displayName)
	line("description", c.description)
	line("binary path", c.binaryPath)
	line("type", "own process")
	line("start type", "automatic")
	line("account", localSystem)
	if len(c.env) == 0 {
		line("environment", "(none)")
	}
	for i, kv := range c.env {
		if i == 0 {
			line("environment", kv)
		} else {
			line("", kv)
		}
	}
	line("on failure", describeActions(c.actions, c.resetPeriod))
	line("", "(a crash only: a stop with an error exit code, such as \"already running\", is not restarted)")
	line("start timeout", c.startTO.String()+" (how long start waits for SERVICE_RUNNING)")
	line("stop timeout", c.stopTO.String()+" (how long stop waits for SERVICE_STOPPED)")
	if watchdog > 0 {
		line("watchdog", "none (Windows has no service watchdog; "+watchdog.String()+" is for systemd)")
	}
	return []byte(b.String())
}

func describeActions(actions []mgr.RecoveryAction, reset uint32) string {
	if len(actions) == 1 && actions[0].Type == mgr.ServiceRestart {
		return fmt.Sprintf("restart after %v, every time", actions[0].Delay)
	}
	restarts := 0
	for _, a := range actions {
		if a.Type == mgr.ServiceRestart {
			restarts++
		}
	}
	if restarts == 0 {
		return "no action"
	}
	return fmt.Sprintf("restart after %v, for %d failures, then no action; the count resets after %ds without a failure",
		actions[0].Delay, restarts, reset)
}

// scmError wraps an error of the SCM for service name.
func scmError(name, op string, err error) error {
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return fmt.Errorf("%s: %w", name, ErrNotInstalled)
	}
	return fmt.Errorf("%s: %s: %w", name, op, err)
}

func connect(access uint32) (*mgr.Mgr, error) {
	h, err := windows.OpenSCManager(nil, nil, access)
	if err != nil {
		return nil, fmt.Errorf("connect to the service control manager: %w", err)
	}
	return &mgr.Mgr{Handle: h}, nil
}

// connectFor connects to the SCM to act on the existing service name;
// per-user services do not exist on Windows.
func connectFor(name string, user bool) (*mgr.Mgr, error) {
	if user {
		return nil, fmt.Errorf("%s: %w", name, errPerUser)
	}
	return connect(windows.SC_MANAGER_CONNECT)
}

// open opens service name with only the access it needs, so that status
// works without administrator rights.
func open(m *mgr.Mgr, name string, access uint32) (*mgr.Service, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h, err := windows.OpenService(m.Handle, p, access)
	if err != nil {
		return nil, scmError(name, "open service", err)
	}
	return &mgr.Service{Name: name, Handle: h}, nil
}

// current is what the SCM has of the settings Install makes.
type current struct {
	serviceType, startType, errorControl uint32
	binaryPath, account, displayName     string
	description                          string
}

// queryConfig reads the service's configuration with the calls that
// Wine's SCM implements too (mgr's Config also asks for the delayed-start
// and SID settings, which it refuses).
func queryConfig(s *mgr.Service) (current, error) {
	n := uint32(1024)
	var p *windows.QUERY_SERVICE_CONFIG
	for {
		b := make([]byte, n)
		p = (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(s.Handle, p, n, &n)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return current{}, err
		}
	}
	c := current{
		serviceType:  p.ServiceType,
		startType:    p.StartType,
		errorControl: p.ErrorControl,
		binaryPath:   windows.UTF16PtrToString(p.BinaryPathName),
		account:      windows.UTF16PtrToString(p.ServiceStartName),
		displayName:  windows.UTF16PtrToString(p.DisplayName),
	}
	n = 1024
	for {
		b := make([]byte, n)
		err := windows.QueryServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, &b[0], n, &n)
		if err == nil {
			c.description = windows.UTF16PtrToString((*windows.SERVICE_DESCRIPTION)(unsafe.Pointer(&b[0])).Description)
			return c, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return current{}, err
		}
	}
}

func isLocalSystem(account string) bool {
	return account == "" || strings.EqualFold(account, localSystem) || strings.EqualFold(account, `.\`+localSystem)
}

// updateConfig brings an existing service's configuration to c, touching
// only what differs, and reports whether anything did.
func updateConfig(s *mgr.Service, c config) (bool, error) {
	cur, err := queryConfig(s)
	if err != nil {
		return false, scmError(c.name, "query its configuration", err)
	}
	changed := false
	if cur.serviceType != windows.SERVICE_WIN32_OWN_PROCESS || cur.startType != mgr.StartAutomatic ||
		cur.errorControl != mgr.ErrorNormal || cur.binaryPath != c.binaryPath ||
		!isLocalSystem(cur.account) || cur.displayName != c.displayName {
		bin, _ := windows.UTF16PtrFromString(c.binaryPath)
		disp, _ := windows.UTF16PtrFromString(c.displayName)
		var account, password *uint16 // nil: unchanged
		if !isLocalSystem(cur.account) {
			account, _ = windows.UTF16PtrFromString(localSystem)
			password, _ = windows.UTF16PtrFromString("")
		}
		if err := windows.ChangeServiceConfig(s.Handle, windows.SERVICE_WIN32_OWN_PROCESS, mgr.StartAutomatic,
			mgr.ErrorNormal, bin, nil, nil, nil, account, password, disp); err != nil {
			return false, scmError(c.name, "change its configuration", err)
		}
		changed = true
	}
	if cur.description != c.description {
		desc, _ := windows.UTF16PtrFromString(c.description)
		d := windows.SERVICE_DESCRIPTION{Description: desc}
		if err := windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d))); err != nil {
			return changed, scmError(c.name, "change its description", err)
		}
		changed = true
	}
	return changed, nil
}

// setValues writes the registry values of c that differ (the environment
// and the timeouts) and reports whether any did.
func setValues(c config) (bool, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(c.name), registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return false, fmt.Errorf("%s: open HKLM\\%s: %w", c.name, serviceKey(c.name), err)
	}
	defer k.Close()
	changed := false
	old, _, err := k.GetStringsValue(valueEnvironment)
	switch {
	case len(c.env) == 0 && err == nil:
		if err := k.DeleteValue(valueEnvironment); err != nil {
			return changed, fmt.Errorf("%s: remove its environment: %w", c.name, err)
		}
		changed = true
	case len(c.env) > 0 && (err != nil || !slices.Equal(old, c.env)):
		if err := k.SetStringsValue(valueEnvironment, c.env); err != nil {
			return changed, fmt.Errorf("%s: set its environment: %w", c.name, err)
		}
		changed = true
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{valueStartTimeout, c.startTO}, {valueStopTimeout, c.stopTO}} {
		if old, _, err := k.GetIntegerValue(v.name); err == nil && old == uint64(millis(v.d)) {
			continue
		}
		if err := k.SetDWordValue(v.name, millis(v.d)); err != nil {
			return changed, fmt.Errorf("%s: set %s: %w", c.name, v.name, err)
		}
		changed = true
	}
	return changed, nil
}

// setRecovery sets the recovery actions unless the SCM reports exactly
// these already. An SCM that cannot report them (Wine's refuses the query)
// gets them written every time, without counting as a change.
func setRecovery(s *mgr.Service, c config) (bool, error) {
	old, err := s.RecoveryActions()
	var reset uint32
	if err == nil {
		reset, err = s.ResetPeriod()
	}
	known := err == nil
	if known && slices.Equal(old, c.actions) && reset == c.resetPeriod {
		return false, nil
	}
	if err := s.SetRecoveryActions(c.actions, c.resetPeriod); err != nil {
		return false, scmError(c.name, "set its recovery actions", err)
	}
	return known, nil
}

func install(d unit.Description) (bool, error) {
	c, err := windowsConfig(d)
	if err != nil {
		return false, err
	}
	m, err := connect(windows.SC_MANAGER_ALL_ACCESS)
	if err != nil {
		return false, err
	}
	defer m.Disconnect()
	changed := false
	s, err := m.OpenService(c.name)
	switch {
	case errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST):
		s, err = m.CreateService(c.name, c.exec, mgr.Config{
			ServiceType:  windows.SERVICE_WIN32_OWN_PROCESS,
			StartType:    mgr.StartAutomatic,
			ErrorControl: mgr.ErrorNormal,
			DisplayName:  c.displayName,
			Description:  c.description,
		}, c.args...)
		if errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
			return false, fmt.Errorf("%s: create service: it is still marked for deletion; close the programs that have it open (the Services console, say) and try again: %w", c.name, err)
		}
		if err != nil {
			return false, scmError(c.name, "create service", err)
		}
		changed = true
	case err != nil:
		return false, scmError(c.name, "open service", err)
	default:
		if changed, err = updateConfig(s, c); err != nil {
			s.Close()
			return changed, err
		}
	}
	defer s.Close()
	ch, err := setValues(c)
	changed = changed || ch
	if err != nil {
		return changed, err
	}
	ch, err = setRecovery(s, c)
	if err != nil {
		return changed || ch, err
	}
	// The event source the service logs to (package runtime).
	if err := eventlog.InstallAsEventCreate(c.name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return changed || ch, fmt.Errorf("%s: event log source: %w", c.name, err)
	} else if err == nil {
		ch = true
	}
	return changed || ch, nil
}

// timeouts reads how long Start and Stop wait for service name (what
// Install wrote, else the defaults).
func timeouts(name string) (start, stop time.Duration) {
	start, stop = unit.DefaultStartTimeout, unit.DefaultStopTimeout
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(name), registry.QUERY_VALUE)
	if err != nil {
		return start, stop
	}
	defer k.Close()
	if ms, _, err := k.GetIntegerValue(valueStartTimeout); err == nil && ms > 0 {
		start = time.Duration(ms) * time.Millisecond
	}
	if ms, _, err := k.GetIntegerValue(valueStopTimeout); err == nil && ms > 0 {
		stop = time.Duration(ms) * time.Millisecond
	}
	return start, stop
}

func uninstall(name string, user bool) error {
	m, err := connectFor(name, user)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := open(m, name, windows.SERVICE_STOP|windows.SERVICE_QUERY_STATUS|windows.DELETE)
	if err != nil {
		return err
	}
	_, stopTO := timeouts(name)
	if err := stopService(s, stopTO+waitMargin); err != nil {
		s.Close()
		return err
	}
	err = s.Delete()
	s.Close()
	if err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return scmError(name, "delete service", err)
	}
	_ = eventlog.Remove(name) // absent when installed by something else
	// The SCM removes it once no handle to it is open; wait a little, so
	// that an install right after does not find it marked for deletion.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s, err := open(m, name, windows.SERVICE_QUERY_STATUS)
		if err != nil {
			break
		}
		s.Close()
	}
	return nil
}

func control(name string, user bool, action string) error {
	m, err := connectFor(name, user)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	access := uint32(windows.SERVICE_QUERY_STATUS)
	switch action {
	case "start":
		access |= windows.SERVICE_START
	case "stop":
		access |= windows.SERVICE_STOP
	case "restart":
		access |= windows.SERVICE_START | windows.SERVICE_STOP
	default:
		return fmt.Errorf("%s: unknown action %q", name, action)
	}
	s, err := open(m, name, access)
	if err != nil {
		return err
	}
	defer s.Close()
	startTO, stopTO := timeouts(name)
	switch action {
	case "start":
		return startService(s, startTO+waitMargin, stopTO+waitMargin)
	case "stop":
		return stopService(s, stopTO+waitMargin)
	case "restart":
		if err := stopService(s, stopTO+waitMargin); err != nil {
			return err
		}
	}
	return startService(s, startTO+waitMargin, stopTO+waitMargin)
}

// poll calls f with the service's state, quickly at first, until f says
// done or the time is up; it returns the last state.
func poll(s *mgr.Service, within time.Duration, f func(svc.Status) (done bool, err error)) (svc.Status, bool, error) {
	deadline := time.Now().Add(within)
	wait := 10 * time.Millisecond
	for {
		st, err := s.Query()
		if err != nil {
			return st, false, scmError(s.Name, "query its state", err)
		}
		if done, err := f(st); done || err != nil {
			return st, done, err
		}
		if !time.Now().Before(deadline) {
			return st, false, nil
		}
		time.Sleep(min(wait, time.Until(deadline)+time.Millisecond))
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// startService starts the service and returns once it reports
// SERVICE_RUNNING (the runtime reports it only once the app is ready and
// holds its lock), or with an error naming the state it got stuck in or
// how it stopped. A service that is stopping is let stop first.
func startService(s *mgr.Service, within, stopWithin time.Duration) error {
	st, err := s.Query()
	if err != nil {
		return scmError(s.Name, "query its state", err)
	}
	switch st.State {
	case svc.Running:
		return nil
	case svc.StopPending:
		if st, ok, err := poll(s, stopWithin, func(st svc.Status) (bool, error) { return st.State == svc.Stopped, nil }); err != nil || !ok {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s: still %s after %v; not started", s.Name, stateName(st.State), stopWithin)
		}
	}
	if st.State != svc.StartPending {
		if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
			return scmError(s.Name, "start", err)
		}
	}
	st, ok, err := poll(s, within, func(st svc.Status) (bool, error) {
		switch st.State {
		case svc.Running:
			return true, nil
		case svc.Stopped:
			return false, fmt.Errorf("%s: stopped while starting (%s)", s.Name, exitText(st))
		}
		return false, nil
	})
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("%s: not running after %v: still %s", s.Name, within, stateName(st.State))
}

// stopService asks the service to stop and waits until it has, at most
// within. A service still starting is asked again once it can take the
// request.
func stopService(s *mgr.Service, within time.Duration) error {
	asked := false
	st, ok, err := poll(s, within, func(st svc.Status) (bool, error) {
		switch st.State {
		case svc.Stopped:
			return true, nil
		case svc.StopPending, svc.StartPending:
			return false, nil
		}
		if asked {
			return false, nil
		}
		_, err := s.Control(svc.Stop)
		switch {
		case err == nil:
			asked = true
		case errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE):
			return true, nil
		case errors.Is(err, windows.ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
			// Between states: ask again at the next poll.
		default:
			return false, scmError(s.Name, "stop", err)
		}
		return false, nil
	})
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("%s: not stopped after %v: still %s", s.Name, within, stateName(st.State))
}

// exitText describes how a stopped service ended.
func exitText(st svc.Status) string {
	switch st.Win32ExitCode {
	case 0:
		return "exit code 0"
	case uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR):
		return fmt.Sprintf("service-specific exit code %d", st.ServiceSpecificExitCode)
	}
	return fmt.Sprintf("exit code %d: %v", st.Win32ExitCode, windows.Errno(st.Win32ExitCode))
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "SERVICE_STOPPED"
	case svc.StartPending:
		return "SERVICE_START_PENDING"
	case svc.StopPending:
		return "SERVICE_STOP_PENDING"
	case svc.Running:
		return "SERVICE_RUNNING"
	case svc.ContinuePending:
		return "SERVICE_CONTINUE_PENDING"
	case svc.PausePending:
		return "SERVICE_PAUSE_PENDING"
	case svc.Paused:
		return "SERVICE_PAUSED"
	}
	return fmt.Sprintf("state %d", s)
}

// mapState maps the SCM's state onto State. A stopped service whose last
// run ended with an error is Failed, as systemd would say.
func mapState(st svc.Status) State {
	switch st.State {
	case svc.Stopped:
		if st.Win32ExitCode != 0 && st.Win32ExitCode != uint32(windows.ERROR_SERVICE_NEVER_STARTED) {
			return Failed
		}
		return Inactive
	case svc.StartPending, svc.ContinuePending:
		return Activating
	case svc.Running:
		return Active
	case svc.StopPending, svc.PausePending:
		return Deactivating
	case svc.Paused:
		return Inactive
	}
	return Unknown
}

func status(name string, user bool) (State, error) {
	m, err := connectFor(name, user)
	if err != nil {
		return Unknown, err
	}
	defer m.Disconnect()
	s, err := open(m, name, windows.SERVICE_QUERY_STATUS)
	if errors.Is(err, ErrNotInstalled) {
		return NotInstalled, nil
	}
	if err != nil {
		return Unknown, err
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return Unknown, scmError(name, "query its state", err)
	}
	return mapState(st), nil
}
