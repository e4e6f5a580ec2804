package unit

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/solehq/sole/internal/cli"
)

// Options are the service options that `sole install`, `sole package`,
// sole.yaml, `PROG install` and runtime.Config share, under the same names
// (the option's name is the YAML key; the Go field is its CamelCase).
// Register adds them to a command line; Apply puts them into a
// Description, where Validate and the renderers check them.
type Options struct {
	RunAs        string        // --run-as USER[:GROUP]
	Workdir      string        // --workdir DIR
	EnvFile      string        // --env-file FILE
	Restart      string        // --restart on-failure|always|no
	RestartDelay time.Duration // --restart-delay DUR
	StartTimeout time.Duration // --start-timeout DUR
	StopTimeout  time.Duration // --stop-timeout DUR
	Harden       bool          // --harden
	LogDir       string        // --log-dir DIR
}

// Register adds the options to fs. workdirDefault says, in the help text,
// what the working directory is when --workdir is not given.
func (o *Options) Register(fs *flag.FlagSet, workdirDefault string) {
	fs.StringVar(&o.RunAs, "run-as", "", "run the service as `USER[:GROUP]` (system services; Windows: LocalService, NetworkService or \"NT SERVICE\\NAME\")")
	fs.StringVar(&o.Workdir, "workdir", "", "the service's working `DIR` (default "+workdirDefault+")")
	fs.StringVar(&o.EnvFile, "env-file", "", "read KEY=VALUE lines for the environment from `FILE` when the service starts")
	fs.StringVar(&o.Restart, "restart", "", "restart `POLICY`: on-failure, always or no (default on-failure; never after exit 75)")
	fs.Var(cli.Duration(&o.RestartDelay), "restart-delay", "wait `DUR` before a restart (default 1s)")
	fs.Var(cli.Duration(&o.StartTimeout), "start-timeout", "time to report ready `DUR` (default 90s)")
	fs.Var(cli.Duration(&o.StopTimeout), "stop-timeout", "time to exit after the stop request `DUR`, then it is killed (default 30s)")
	fs.BoolVar(&o.Harden, "harden", false, "run under systemd's sandboxing options, with a state and a logs directory (docs/systemd.md)")
	fs.StringVar(&o.LogDir, "log-dir", "", "launchd and Windows: write the output to files in `DIR`")
}

// Apply sets d's fields from o: RunAs "USER:GROUP" is split into RunAs and
// Group. Options left zero leave d's fields alone.
func (o *Options) Apply(d *Description) {
	if o.RunAs != "" {
		d.RunAs, d.Group, _ = strings.Cut(o.RunAs, ":")
		if d.WindowsAccount() {
			d.RunAs, d.Group = o.RunAs, ""
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&d.WorkingDirectory, o.Workdir)
	set(&d.EnvFile, o.EnvFile)
	set(&d.Restart, o.Restart)
	set(&d.LogDir, o.LogDir)
	for _, t := range []struct {
		dst *time.Duration
		v   time.Duration
	}{{&d.RestartSec, o.RestartDelay}, {&d.StartTimeout, o.StartTimeout}, {&d.StopTimeout, o.StopTimeout}} {
		if t.v != 0 {
			*t.dst = t.v
		}
	}
	d.Harden = d.Harden || o.Harden
}

// WindowsAccount reports whether RunAs names a Windows service account in
// the "DOMAIN\name" form ("NT SERVICE\NAME", "NT AUTHORITY\LocalService"),
// which only the Windows service manager takes.
func (d *Description) WindowsAccount() bool { return strings.Contains(d.RunAs, `\`) }

// ManagerArgs returns the program's arguments for a service manager that
// has no EnvironmentFile= (launchd, Windows) and, when noWorkdir is set, no
// working directory setting either (Windows): EnvFile and
// WorkingDirectory are then passed to the program's `run` as --env-file
// and --workdir, which a sole binary's `run` and runtime.Main's both take.
// The options go after "run", before any other: Args must be a `run`
// command line (SoleRunArgs', or runtime.Main's "run").
func (d *Description) ManagerArgs(noWorkdir bool) ([]string, error) {
	var extra []string
	if d.EnvFile != "" {
		extra = append(extra, "--env-file", d.EnvFile)
	}
	if noWorkdir && d.WorkingDirectory != "" {
		extra = append(extra, "--workdir", d.WorkingDirectory)
	}
	if len(extra) == 0 {
		return d.Args, nil
	}
	if len(d.Args) == 0 || d.Args[0] != "run" {
		return nil, fieldErr("args", "the program's arguments are not a `run` command line, so the environment file and working directory cannot be passed to it")
	}
	return slices.Concat(d.Args[:1], extra, d.Args[1:]), nil
}

// hardenSettings are the [Service] lines of Harden, in the order written.
// With them `systemd-analyze security` rates a unit 1.2 (with RunAs) to
// 1.6 (as root), "OK", against 9.6 "UNSAFE" without; docs/systemd.md says
// what each one stops a program from doing.
var hardenSettings = []string{
	"NoNewPrivileges=yes",
	"CapabilityBoundingSet=",
	"AmbientCapabilities=",
	"ProtectSystem=strict",
	"ProtectHome=yes",
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"PrivateMounts=yes",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"ProtectProc=invisible",
	"ProcSubset=pid",
	"RestrictNamespaces=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
	"LockPersonality=yes",
	"MemoryDenyWriteExecute=yes",
	"RemoveIPC=yes",
	"KeyringMode=private",
	"DevicePolicy=closed",
	"UMask=0027",
	"SystemCallArchitectures=native",
	"SystemCallFilter=@system-service",
	"SystemCallFilter=~@privileged @resources",
	"SystemCallErrorNumber=EPERM",
}

// HardenSettings returns the sandboxing lines that Harden adds to a
// systemd unit, besides StateDirectory= and LogsDirectory=.
func HardenSettings() []string { return slices.Clone(hardenSettings) }

// hardenBlockedDirs are hidden from a hardened service (ProtectHome=yes):
// it can neither run from nor work in them.
var hardenBlockedDirs = []string{"/home", "/root", "/run/user"}

func checkHardenPath(field, p string) error {
	for _, dir := range hardenBlockedDirs {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return fieldErr(field, "%s is under %s, which a hardened service cannot see (ProtectHome=yes); move it, or give another directory", show(p), dir)
		}
	}
	return nil
}

// restartSetting is systemd's Restart= for a policy.
func restartSetting(policy string) string {
	if policy == "" {
		return DefaultRestart
	}
	return policy
}

var _ = fmt.Sprint
