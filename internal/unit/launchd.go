package unit

import (
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// launchdData is what templates/launchd.plist.tmpl gets: every string
// already XML-escaped.
type launchdData struct {
	Label             string
	ProgramArguments  []string
	ExitTimeOut       int64
	Environment       []launchdEnv
	WorkingDirectory  string
	UserName          string
	GroupName         string
	KeepAliveAlways   bool // Restart "always": KeepAlive true
	KeepAliveNever    bool // Restart "no": KeepAlive false
	ThrottleInterval  int64
	StandardOutPath   string
	StandardErrorPath string
}

type launchdEnv struct{ Key, Value string }

// LaunchdLabel returns the launchd label of d: "sole." followed by Name
// (so "backup" is "sole.backup"). One fixed rule rather than guessing
// whether Name is already reverse-DNS keeps the mapping from name to label
// obvious in both directions, and keeps sole's jobs apart from everyone
// else's (com.apple.*, say).
func LaunchdLabel(d Description) string {
	return "sole." + d.Name
}

// LaunchdPlistPath returns where the property list of d is installed:
// /Library/LaunchDaemons/LABEL.plist for a system service and
// HOME/Library/LaunchAgents/LABEL.plist for a per-user one (with home ""
// that path is relative to the user's home directory).
func LaunchdPlistPath(d Description, home string) string {
	file := LaunchdLabel(d) + ".plist"
	if d.User {
		return path.Join(home, "Library/LaunchAgents", file)
	}
	return path.Join("/Library/LaunchDaemons", file)
}

// LaunchdLogDir returns the directory of d's launchd log files: LogDir if
// set, else /var/log/NAME for a system service and HOME/Library/Logs/NAME
// for a per-user one (relative to the home directory when home is "").
// launchd does not create it: the installer must, owned by RunAs when set.
func LaunchdLogDir(d Description, home string) string {
	switch {
	case d.LogDir != "":
		return d.LogDir
	case d.User:
		return path.Join(home, "Library/Logs", d.Name)
	default:
		return path.Join("/var/log", d.Name)
	}
}

// LaunchdPlist renders d (after WithDefaults) as a launchd property list
// (XML plist 1.0) for a LaunchDaemon, or a LaunchAgent when d.User, or
// returns an *Error if d is not valid. home is the user's home directory;
// it is needed (absolute and clean) only for a LaunchAgent without LogDir,
// whose logs default to HOME/Library/Logs/NAME, and is otherwise ignored.
// Taking it as an argument keeps the output a function of the arguments.
//
// The plist has:
//
//   - Label (LaunchdLabel) and ProgramArguments: Exec, then Args (a
//     fleet lock's options among them: launchd has no ordering after the
//     network, and sole, waiting for the lock, retries etcd until it
//     answers).
//   - RunAtLoad true, and KeepAlive {SuccessfulExit false}: start at load
//     (boot or login) and start again whenever the program exits with a
//     status other than 0 or is killed by a signal. launchd cannot be told
//     to treat status 75 ("already running") as final the way systemd's
//     RestartPreventExitStatus is; its own throttle (ThrottleInterval,
//     10 s by default, which this plist leaves alone; RestartSec is not
//     used) spaces those retries, and the job takes over once the other
//     instance is gone.
//   - ExitTimeOut: StopTimeout in whole seconds, rounded up.
//   - EnvironmentVariables from Env, when there are any. The lock lives in
//     the default lock directory (launchd creates none per job and removes
//     none when a job stops).
//   - WorkingDirectory when set, and UserName (RunAs) for a system service.
//   - StandardOutPath NAME.out.log and StandardErrorPath NAME.err.log in
//     LaunchdLogDir.
//
// There is no ProcessType: Background would throttle the CPU and I/O of a
// service that may be answering requests, and Standard is what launchd
// documents as the same as leaving it out. WatchdogSec, the start limits,
// StartTimeout and NotifyAccess have no launchd counterpart and are not
// rendered.
func LaunchdPlist(d Description, home string) ([]byte, error) {
	d = d.WithDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.User && d.LogDir == "" {
		if home == "" {
			return nil, fieldErr("home", "needed for the default log directory of a LaunchAgent (or set LogDir)")
		}
		if err := checkPath("home", home); err != nil {
			return nil, err
		}
	}
	if d.Harden {
		return nil, fieldErr("harden", "the sandboxing options are systemd's; launchd has no equivalent sole sets")
	}
	if d.WindowsAccount() {
		return nil, fieldErr("run as", "%s is a Windows service account; launchd wants a user name", show(d.RunAs))
	}
	args, err := d.ManagerArgs(false)
	if err != nil {
		return nil, err
	}
	logDir := LaunchdLogDir(d, home)
	data := launchdData{
		Label:             xmlEscape(LaunchdLabel(d)),
		ExitTimeOut:       ceilSeconds(d.StopTimeout),
		WorkingDirectory:  xmlEscape(d.WorkingDirectory),
		StandardOutPath:   xmlEscape(path.Join(logDir, d.Name+".out.log")),
		StandardErrorPath: xmlEscape(path.Join(logDir, d.Name+".err.log")),
		KeepAliveAlways:   d.Restart == "always",
		KeepAliveNever:    d.Restart == "no",
		ThrottleInterval:  max(1, ceilSeconds(d.RestartSec)),
	}
	if !d.User {
		data.UserName = xmlEscape(d.RunAs)
		data.GroupName = xmlEscape(d.Group)
	}
	for _, a := range append([]string{d.Exec}, args...) {
		data.ProgramArguments = append(data.ProgramArguments, xmlEscape(a))
	}
	for _, kv := range d.Env {
		k, v, _ := strings.Cut(kv, "=")
		data.Environment = append(data.Environment, launchdEnv{xmlEscape(k), xmlEscape(v)})
	}
	text, err := render("launchd.plist.tmpl", data)
	if err != nil {
		return nil, fmt.Errorf("unit: rendering the launchd plist: %w", err)
	}
	return []byte(text), nil
}

// ceilSeconds returns d in whole seconds, rounded up: launchd's timeouts
// are integers, and rounding up never cuts a program's time short.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return min(s, math.MaxInt32)
}

// xmlEscape escapes s for XML character data. Validate has refused what
// XML 1.0 cannot hold (control characters but tab, U+FFFE, U+FFFF, invalid
// UTF-8); a tab is written &#9; so that it survives any whitespace
// handling.
func xmlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\t':
			b.WriteString("&#9;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
