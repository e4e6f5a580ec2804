package packaging

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/solehq/sole/internal/fleet"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// Spec is what a package is built from, in any Format: the program, its
// service options (those of `sole install`) and the package's own fields.
// A setting that a format cannot honour (a systemd option in an .msi,
// signing in a .deb) is refused by Build with an error wrapping
// ErrUnsupported, not dropped; an .msi leaves out only descriptive fields
// it has no place for (License, Homepage, Release).
type Spec struct {
	// Name is the package name and the service name: a lowercase letter or
	// digit, then lowercase letters, digits, '.', '+' or '-' (Debian's
	// rule), and a valid service name (pidlock.ValidName).
	Name string
	// Version is the upstream version ("1.2.3", "v1.2.3", "1.2.3-rc1").
	Version string
	// Release is the package revision (Debian's "-1", rpm's Release).
	// Default "1". Not in an .msi, whose version is Version alone.
	Release string
	// Arch is the target architecture in Go's spelling (amd64, arm64, 386,
	// arm7, ...); Debian's and rpm's spellings (x86_64, aarch64, i386,
	// armhf, ...) are taken too. Default: the architecture of Binary,
	// which must match.
	Arch string
	// Binary is the program's file on the build machine: an ELF binary for
	// Linux, a PE binary for Windows (.msi: for amd64 or 386), or a "#!"
	// script (not in an .msi).
	Binary string
	// Args are the program's arguments. A program built on sole's
	// runtime.Main takes none.
	Args []string
	// Maintainer is "Name <mail>"; required. In an .msi, Name is the
	// Manufacturer and mail the Add/Remove Programs contact.
	Maintainer string
	// Description is the one-line summary; it may not start with the
	// package name (lintian's description-starts-with-package-name).
	// Default "system service running PROGRAM".
	Description string
	// DisplayName is the name shown to people: the Windows service's
	// display name and the Add/Remove Programs entry. .msi only; default
	// Name.
	DisplayName string
	// License is the program's license, an SPDX identifier; required.
	License string
	// Homepage is an optional URL (in the unit's Documentation= and the
	// copyright file).
	Homepage string
	// Section is the Debian section. Default "misc". Not in an .msi.
	Section string
	// Configs are files installed as configuration: conffiles in a .deb,
	// %config(noreplace) in an .rpm: the administrator's edits survive an
	// upgrade. For .deb and .rpm Dest is an absolute path under /etc; for
	// an .msi it is relative to the install folder ("config\app.yaml" or
	// "config/app.yaml"), and an upgrade replaces the file.
	Configs []File
	// Env, Watchdog and Health are service options of `sole install` (see
	// docs/cli.md). Health is only for a program run under `sole run`: a
	// program built on the runtime checks its own health. Not in an .msi
	// (they are systemd's).
	Env      []string
	Watchdog time.Duration
	Health   string
	// RunAs, Workdir, EnvFile, Restart, RestartDelay, StartTimeout,
	// StopTimeout, Harden and LogDir are the service options shared by
	// every front end (unit.Options: --run-as, --workdir, --env-file,
	// --restart, --restart-delay, --start-timeout, --stop-timeout,
	// --harden, --log-dir), put into the service description as `sole
	// install` does; zero means the default. docs/packaging.md says what
	// each format does with each one; a format that cannot honour one
	// refuses it (ErrUnsupported).
	//
	// RunAs is USER or USER:GROUP, the system user (and group) the
	// service runs as. A .deb or .rpm creates the user (and group) when
	// the target lacks it: it ships /usr/lib/sysusers.d/NAME.conf and
	// creates them on install (systemd-sysusers, else adduser; useradd in
	// the .rpm's %pre), and leaves them in place on removal (and purge).
	// In an .msi it is a Windows service account: LocalService,
	// NetworkService or "NT SERVICE\NAME" (see
	// unit.Description.WindowsServiceAccount); a Unix user is refused there
	// and a Windows account in a .deb or .rpm.
	RunAs string
	// Workdir is the service's working directory (systemd's
	// WorkingDirectory=; in an .msi an absolute Windows path, passed to
	// the program's `run` as --workdir). Default "/" (Windows:
	// %SystemRoot%\System32).
	Workdir string
	// EnvFile is a file of KEY=VALUE lines read when the service starts
	// (systemd's EnvironmentFile=; in an .msi an absolute Windows path,
	// passed to `run` as --env-file). Ship it with Configs to make it a
	// conffile.
	EnvFile string
	// Restart is on-failure (the default), always or no; RestartDelay the
	// pause before a restart (default 1s). An .msi takes neither: the
	// service sets its own recovery actions (restart on a crash, after 1s)
	// when it first starts; "on-failure", which is what they do, is
	// accepted.
	Restart      string
	RestartDelay time.Duration
	// StartTimeout and StopTimeout are the time to report ready (default
	// 90s) and to exit after the stop request (default 30s). Not in an
	// .msi.
	StartTimeout time.Duration
	StopTimeout  time.Duration
	// Harden runs the service under systemd's sandboxing options, with a
	// state directory /var/lib/NAME and a logs directory /var/log/NAME
	// (StateDirectory= and LogsDirectory=, which systemd creates): a
	// .deb's purge removes them (not its remove). Not in an .msi.
	Harden bool
	// LogDir is where a Windows service run under `sole run` writes the
	// program's output (an absolute Windows path; --log-dir of `sole run
	// --service`). .msi of a wrapped program only: under systemd the
	// output goes to the journal.
	LogDir string
	// Fleet holds the service's lock across machines too, in etcd at the
	// URL etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (sole run --fleet,
	// docs/fleet.md), for a program run under `sole run`: the unit runs
	// `sole run --fleet URL ... --wait`, as `sole install --fleet` writes
	// it, so that the service stands by on every node but the one that
	// holds the lock, and a system unit starts after
	// network-online.target. FleetTTL is the lease's time to live
	// (default 10s, at least 1s); FleetCACert, FleetCert and FleetKey
	// are TLS files on the target, absolute paths (ship them with
	// Configs, or put them in place otherwise; FleetCert and FleetKey go
	// together). etcd's user and password go in EnvFile
	// (SOLE_FLEET_USER, SOLE_FLEET_PASSWORD), never here. The package
	// ships sole-fleet beside sole (SoleFleet). Not in an .msi.
	Fleet                            string
	FleetTTL                         time.Duration
	FleetCACert, FleetCert, FleetKey string
	// SoleFleet is a sole-fleet binary for the target, which the package
	// of a Fleet service ships beside sole (/usr/lib/NAME/sole-fleet):
	// sole execs it for --fleet. Default: sole-fleet beside Sole.
	SoleFleet string
	// User makes a per-user service (a user unit, enabled for every user,
	// run by each user's systemd --user; its lock in the user's lock
	// directory, /run/lock/sole-UID/NAME, else /tmp/sole-UID/NAME)
	// instead of a system one. Not in an .msi.
	User bool
	// Mode says how the service runs the program. Default ModeAuto.
	Mode Mode
	// Sole is a sole binary for the target (GOOS and Arch), shipped in the
	// package when the program runs under `sole run`. Required then.
	Sole string
	// NoStrip ships ELF binaries as given. By default a binary with a
	// symbol table is shipped stripped, as dh_strip does (strip
	// --strip-unneeded --remove-section=.comment --remove-section=.note,
	// with binutils' strip for the target); Go's stack traces and
	// profiles do not need the symbol table.
	NoStrip bool
	// Depends are extra package dependencies (Debian or rpm syntax, as the
	// format wants). A dynamically linked binary needing only the C
	// library gets its dependency by itself (.deb: libc6 (>= VERSION)
	// from the highest GLIBC_ symbol version it uses). Not in an .msi.
	Depends []string
	// Date is the time written into the package (file times, changelog;
	// in an .msi the files' times in its cabinet). Zero means
	// SOURCE_DATE_EPOCH when set, else the modification time of Binary:
	// the same inputs give the same package.
	Date time.Time
	// Sign, when set, Authenticode-signs the programs (the copies
	// packaged) and the package. .msi only.
	Sign *Signing
}

// File is a file to ship: Src on the build machine, Dest in the package.
type File struct{ Src, Dest string }

// Mode says how a packaged service runs its program.
type Mode int

const (
	// ModeAuto runs a program built on sole's runtime.Main directly and
	// any other program under `sole run`.
	ModeAuto Mode = iota
	// ModeRuntime runs the program directly, as PROG run: the program
	// holds its own lock and reports readiness itself.
	ModeRuntime
	// ModeWrap runs the program under `sole run`, with the sole binary
	// shipped in the package. Refused for a program built on
	// runtime.Main, which takes its own lock.
	ModeWrap
)

// ParseMode parses "auto", "runtime" or "wrap".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return ModeAuto, nil
	case "runtime":
		return ModeRuntime, nil
	case "wrap":
		return ModeWrap, nil
	}
	return 0, fmt.Errorf("mode %q: want auto, runtime or wrap", s)
}

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeRuntime:
		return "runtime"
	case ModeWrap:
		return "wrap"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Error is a Spec that cannot be packaged. Its message is one line.
type Error struct {
	Field  string // "name", "version", "binary", ...
	Reason string
	Err    error // the cause Reason tells of (ErrUnsupported, a *fs.PathError...), or nil
}

func (e *Error) Error() string { return "package: " + e.Field + ": " + e.Reason }

// Unwrap returns the cause, so that errors.Is(err, ErrUnsupported) and
// errors.Is(err, fs.ErrNotExist) see through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// specErr is an *Error for field; a %w in format makes its operand the
// Error's cause.
func specErr(field, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	return &Error{Field: field, Reason: err.Error(), Err: errors.Unwrap(err)}
}

// ErrUnsupported is wrapped by the *Error of a Spec field or a Format
// that the format asked for cannot have (Env in an .msi, Sign in a .deb).
var ErrUnsupported = errors.New("not supported")

// plan is a validated Spec for one target: what goes where.
type plan struct {
	s       Spec
	bin     binary
	wrap    bool   // the program runs under `sole run`
	fleet   binary // SoleFleet, with Fleet
	exe     string // the program's base name in the package
	date    time.Time
	release string
}

// Paths of a Linux package.
func (p *plan) programPath() string { return "/usr/sbin/" + p.exe }
func (p *plan) solePath() string    { return "/usr/lib/" + p.s.Name + "/sole" }
func (p *plan) docDir() string      { return "/usr/share/doc/" + p.s.Name }

// soleFleetPath is where sole-fleet goes: beside sole, where sole looks
// for it first.
func (p *plan) soleFleetPath() string { return "/usr/lib/" + p.s.Name + "/sole-fleet" }

// unitPath is where the unit goes: /lib/systemd/system in a .deb (where
// debhelper 13.11 and bookworm's lintian want system units),
// /usr/lib/systemd/system in an .rpm, /usr/lib/systemd/user for a user
// unit in either.
func (p *plan) unitPath(format Format) string {
	switch {
	case p.s.User:
		return "/usr/lib/systemd/user/" + p.s.Name + ".service"
	case format == Deb:
		return "/lib/systemd/system/" + p.s.Name + ".service"
	}
	return "/usr/lib/systemd/system/" + p.s.Name + ".service"
}

// documentation is the unit's Documentation=: the package's manual page,
// and the homepage when it is a web address.
func (p *plan) documentation() []string {
	docs := []string{"man:" + p.exe + "(8)"}
	if h := p.s.Homepage; (strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "http://")) && !strings.ContainsAny(h, " \t\"'\\") {
		docs = append(docs, h)
	}
	return docs
}

// lockPath is the lock's path on the target: /run/sole/NAME/NAME.pid for
// a system service; for a user service, in each user's lock directory
// (platform.LockDir: /run/lock/sole-UID where /run/lock is root's and
// 1777, as on Debian and Ubuntu, /tmp/sole-UID elsewhere, as on Fedora).
func (p *plan) lockPath() string {
	dir := "/run/sole"
	if p.s.User {
		dir = "/run/lock/sole-UID"
	}
	return dir + "/" + p.s.Name + "/" + p.s.Name + ".pid"
}

// newPlan validates s for a package for goos.
func newPlan(s Spec, goos string) (*plan, error) {
	if err := checkPackageName(s.Name); err != nil {
		return nil, err
	}
	if s.Version == "" {
		return nil, specErr("version", "missing")
	}
	if err := checkText("version", s.Version); err != nil {
		return nil, err
	}
	v := strings.TrimPrefix(s.Version, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		return nil, specErr("version", "%q does not start with a digit", s.Version)
	}
	if i := strings.IndexFunc(v, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~-", r))
	}); i >= 0 {
		return nil, specErr("version", "%q has %q, which package versions do not allow", s.Version, v[i])
	}
	if s.Release == "" {
		s.Release = "1"
	}
	if strings.IndexFunc(s.Release, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r == '.' || r == '+' || r == '~')
	}) >= 0 {
		return nil, specErr("release", "%q: want digits, lowercase letters, '.', '+' or '~'", s.Release)
	}
	if s.Maintainer == "" {
		return nil, specErr("maintainer", `missing: give "Name <mail>"`)
	}
	if err := checkText("maintainer", s.Maintainer); err != nil {
		return nil, err
	}
	if i, j := strings.Index(s.Maintainer, "<"), strings.LastIndex(s.Maintainer, ">"); i < 1 || j != len(s.Maintainer)-1 || !strings.Contains(s.Maintainer[i:], "@") {
		return nil, specErr("maintainer", `%q: want "Name <mail>"`, s.Maintainer)
	}
	if s.License == "" {
		return nil, specErr("license", "missing: give an SPDX identifier such as MIT or Apache-2.0")
	}
	if err := checkText("license", s.License); err != nil {
		return nil, err
	}
	if err := checkText("description", s.Description); err != nil {
		return nil, err
	}
	if err := checkText("homepage", s.Homepage); err != nil {
		return nil, err
	}
	if s.Section == "" {
		s.Section = "misc"
	}
	if err := checkText("section", s.Section); err != nil {
		return nil, err
	}
	if s.Binary == "" {
		return nil, specErr("binary", "missing: give the program's file")
	}
	if a, ok := archAliases[s.Arch]; ok {
		s.Arch = a
	}
	bin, err := inspect(s.Binary)
	if err != nil {
		return nil, specErr("binary", "%w", err)
	}
	switch {
	case bin.format == "script" && goos == "windows":
		return nil, specErr("binary", "%s is a script; an .msi needs a Windows program", s.Binary)
	case bin.goos != "" && bin.goos != goos:
		return nil, specErr("binary", "%s is a program for %s, not %s", s.Binary, bin.goos, goos)
	case bin.arch != "" && s.Arch != "" && bin.arch != s.Arch && !(bin.arch == "arm7" && strings.HasPrefix(s.Arch, "arm") && s.Arch != "arm64"):
		return nil, specErr("arch", "%s, but %s is built for %s", s.Arch, s.Binary, bin.arch)
	case s.Arch == "":
		s.Arch = bin.arch
	}
	p := &plan{s: s, bin: bin, release: s.Release}
	p.exe = filepath.Base(s.Binary)
	if goos == "windows" {
		if !strings.HasSuffix(strings.ToLower(p.exe), ".exe") {
			p.exe += ".exe"
		}
	} else {
		p.exe = strings.TrimSuffix(p.exe, ".exe")
		if bin.format == "script" {
			// Debian's policy: no language extension on a program in PATH.
			for _, ext := range []string{".sh", ".bash", ".py", ".pl", ".rb"} {
				if e := strings.TrimSuffix(p.exe, ext); e != p.exe && e != "" {
					p.exe = e
					break
				}
			}
		}
	}
	if err := checkPackageFileName(p.exe); err != nil {
		return nil, err
	}
	if s.Description == "" {
		p.s.Description = "system service running " + p.exe
	} else if err := p.checkDescription(); err != nil {
		return nil, err
	}
	switch s.Mode {
	case ModeAuto:
		p.wrap = !bin.main
	case ModeRuntime:
		if !bin.main {
			return nil, specErr("mode", "runtime, but %s is not built on sole's runtime.Main (it does not print %q for --sole-main)", s.Binary, "sole runtime.Main v1...")
		}
	case ModeWrap:
		if bin.main {
			return nil, specErr("mode", "wrap, but %s is built on sole's runtime.Main, which takes its own lock: under sole run it would find that lock taken and exit 75; use mode auto or runtime", s.Binary)
		}
		p.wrap = true
	default:
		return nil, specErr("mode", "%v is not a mode", s.Mode)
	}
	if !p.wrap {
		if len(s.Args) > 0 {
			return nil, specErr("args", "a program built on sole's runtime.Main runs as \"PROG run\" and takes no other arguments; configure it with env or a config file")
		}
		if s.Health != "" {
			return nil, specErr("health", "a program built on sole's runtime checks its own health (runtime.Checker); health is for a program run under sole run")
		}
	}
	if s.Watchdog < 0 || s.StartTimeout < 0 || s.StopTimeout < 0 {
		return nil, specErr("watchdog", "durations must not be negative")
	}
	if p.wrap {
		switch {
		case s.Watchdog > 0 && s.Health == "":
			return nil, specErr("watchdog", "needs health: sole cannot tell by itself whether the program is healthy")
		case s.Health != "" && s.Watchdog == 0:
			return nil, specErr("health", "needs watchdog")
		}
		if s.Sole == "" {
			arch := s.Arch
			if arch == "" {
				arch = goruntime.GOARCH // a script: the package is for sole's
			}
			s.Sole = findSole(goos, arch)
			p.s.Sole = s.Sole
		}
		if s.Sole == "" {
			arch := s.Arch
			if arch == "" {
				arch = goruntime.GOARCH
			}
			return nil, specErr("sole", "%s is not built on sole's runtime.Main, so it runs under sole run and the package ships sole, and no sole binary for %s/%s was found (beside this program, or in GOPATH/bin/%s_%s): give one with --sole PATH (in sole.yaml, sole: PATH), or build one where it is found: %s",
				s.Binary, goos, arch, goos, goarch(arch), soleInstallCommand(goos, arch))
		}
		sb, err := inspect(s.Sole)
		if err != nil {
			return nil, specErr("sole", "%w", err)
		}
		if s.Arch == "" {
			s.Arch = sb.arch // a script: the package's architecture is sole's
			p.s.Arch = sb.arch
		}
		switch {
		case sb.goPath != soleModule+"/cmd/sole":
			return nil, specErr("sole", "%s is not a sole binary (built from %s/cmd/sole)", s.Sole, soleModule)
		case sb.goos != goos || !sameArch(sb.arch, s.Arch):
			return nil, specErr("sole", "%s is built for %s/%s, the package is for %s/%s (build one: GOOS=%s GOARCH=%s go build %s/cmd/sole)", s.Sole, sb.goos, sb.arch, goos, s.Arch, goos, goarch(s.Arch), soleModule)
		}
	}
	if p.s.Arch == "" {
		return nil, specErr("arch", "missing: %s is a script; give the target architecture", s.Binary)
	}
	if err := p.checkFleet(goos); err != nil {
		return nil, err
	}
	for i, c := range s.Configs {
		field := "config[" + strconv.Itoa(i) + "]"
		if c.Src == "" || c.Dest == "" {
			return nil, specErr(field, "want SRC:DEST")
		}
		if st, err := os.Stat(c.Src); err != nil {
			return nil, specErr(field, "%w", err)
		} else if !st.Mode().IsRegular() {
			return nil, specErr(field, "%s is not a regular file", c.Src)
		}
		if goos == "windows" {
			continue // Dest is checked by planMSI
		}
		if err := checkText(field, c.Dest); err != nil {
			return nil, err
		}
		if !path.IsAbs(c.Dest) || path.Clean(c.Dest) != c.Dest || !strings.HasPrefix(c.Dest, "/etc/") {
			return nil, specErr(field, "%q: a configuration file goes to a clean absolute path under /etc/", c.Dest)
		}
		for _, d := range s.Configs[:i] {
			if d.Dest == c.Dest {
				return nil, specErr(field, "%q is given twice", c.Dest)
			}
		}
	}
	p.date = s.Date
	if p.date.IsZero() {
		if sde := os.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
			n, err := strconv.ParseInt(sde, 10, 64)
			if err != nil || n < 0 {
				return nil, specErr("date", "SOURCE_DATE_EPOCH=%q is not a number of seconds", sde)
			}
			p.date = time.Unix(n, 0)
		} else {
			st, err := os.Stat(s.Binary)
			if err != nil {
				return nil, specErr("binary", "%w", err)
			}
			p.date = st.ModTime().Truncate(time.Second)
		}
	}
	p.date = p.date.UTC()
	if goos != "windows" {
		if _, err := p.unit(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// description is the package's service description before the program's
// command line (Exec, Args) is set: the Spec's fields, with the service
// options applied as every front end applies them (unit.Options.Apply).
func (p *plan) description() unit.Description {
	d := unit.Description{
		Name:          p.s.Name,
		Description:   p.s.Description,
		Documentation: p.documentation(),
		User:          p.s.User,
		Env:           p.s.Env,
		Watchdog:      p.s.Watchdog,
	}
	o := unit.Options{
		RunAs:        p.s.RunAs,
		Workdir:      p.s.Workdir,
		EnvFile:      p.s.EnvFile,
		Restart:      p.s.Restart,
		RestartDelay: p.s.RestartDelay,
		StartTimeout: p.s.StartTimeout,
		StopTimeout:  p.s.StopTimeout,
		Harden:       p.s.Harden,
		LogDir:       p.s.LogDir,
	}
	o.Apply(&d)
	return d
}

// unit is the service description of a Linux package: the same one that
// `sole install` (wrapped) or `PROG install` (runtime) writes, with the
// package's paths.
func (p *plan) unit() (unit.Description, error) {
	d := p.description()
	if p.wrap {
		d.Exec = p.solePath()
		d.Args = unit.SoleRun{Name: p.s.Name, User: p.s.User, Health: p.s.Health, Fleet: p.fleetArgs(),
			Command: append([]string{p.programPath()}, p.s.Args...)}.Args()
	} else {
		d.Exec = p.programPath()
		d.Args = []string{"run"}
	}
	d = d.WithDefaults()
	if err := d.Validate(); err != nil {
		var ue *unit.Error
		if errors.As(err, &ue) {
			return d, &Error{Field: ue.Field, Reason: ue.Reason, Err: err}
		}
		return d, specErr("service", "%w", err)
	}
	return d, nil
}

// checkFleet checks the fleet options as `sole run` checks them (and
// `sole install`, which writes them into the unit), and finds and checks
// the sole-fleet binary the package ships with them.
func (p *plan) checkFleet(goos string) error {
	s := &p.s
	if s.Fleet == "" && s.SoleFleet != "" {
		return specErr("sole-fleet", "needs --fleet")
	}
	if err := checkText("fleet", s.Fleet); err != nil {
		return err
	}
	given := map[string]bool{"fleet": s.Fleet != "", "fleet-ttl": s.FleetTTL != 0, "fleet-cacert": s.FleetCACert != "",
		"fleet-cert": s.FleetCert != "", "fleet-key": s.FleetKey != ""}
	if err := p.fleetOptions().Check(func(n string) bool { return given[n] }); err != nil {
		var oe *fleet.OptionError
		if errors.As(err, &oe) {
			return specErr(oe.Option, "%s", oe.Msg)
		}
		return err
	}
	if s.Fleet == "" {
		return nil
	}
	if !p.wrap {
		return specErr("fleet", "%s is built on sole's runtime.Main, which takes its fleet lock from its runtime.Config (Fleet); fleet is for a program run under sole run", s.Binary)
	}
	for _, f := range []struct{ field, path string }{{"fleet-cacert", s.FleetCACert}, {"fleet-cert", s.FleetCert}, {"fleet-key", s.FleetKey}} {
		if f.path == "" {
			continue
		}
		if err := checkText(f.field, f.path); err != nil {
			return err
		}
		if !path.IsAbs(f.path) || path.Clean(f.path) != f.path {
			return specErr(f.field, "%q: want a clean absolute path on the target (ship the file with config, or put it there)", f.path)
		}
	}
	if s.SoleFleet == "" {
		s.SoleFleet = filepath.Join(filepath.Dir(s.Sole), "sole-fleet")
		if _, err := os.Stat(s.SoleFleet); err != nil {
			return specErr("sole-fleet", "the package of a fleet service ships sole-fleet beside sole, and there is none beside %s: give one with --sole-fleet PATH (in sole.yaml, sole-fleet: PATH), or build one there: GOOS=%s GOARCH=%s go build -o %s %s/cmd/sole-fleet",
				s.Sole, goos, goarch(s.Arch), s.SoleFleet, soleModule)
		}
	}
	b, err := inspect(s.SoleFleet)
	if err != nil {
		return specErr("sole-fleet", "%w", err)
	}
	switch {
	case b.goPath != soleModule+"/cmd/sole-fleet":
		return specErr("sole-fleet", "%s is not a sole-fleet binary (built from %s/cmd/sole-fleet)", s.SoleFleet, soleModule)
	case b.goos != goos || !sameArch(b.arch, s.Arch):
		return specErr("sole-fleet", "%s is built for %s/%s, the package is for %s/%s (build one: GOOS=%s GOARCH=%s go build %s/cmd/sole-fleet)", s.SoleFleet, b.goos, b.arch, goos, s.Arch, goos, goarch(s.Arch), soleModule)
	}
	p.fleet = b
	return nil
}

// fleetOptions are the fleet options of the spec.
func (p *plan) fleetOptions() fleet.Options {
	s := p.s
	return fleet.Options{URL: s.Fleet, TTL: s.FleetTTL, CACert: s.FleetCACert, Cert: s.FleetCert, Key: s.FleetKey}
}

// fleetArgs are the fleet options of the unit's `sole run`, as `sole
// install` writes them.
func (p *plan) fleetArgs() []string { return p.fleetOptions().Args() }

// sysUser returns the system user (and group, "" for the user's own) that
// a Linux package creates when the target lacks it: RunAs's, unless the
// service runs as root.
func (p *plan) sysUser() (user, group string, ok bool) {
	d := p.description()
	if d.RunAs == "" || d.RunAs == "root" || d.WindowsAccount() {
		return "", "", false
	}
	return d.RunAs, d.Group, true
}

// sysusersPath is where a Linux package declares its system user.
func (p *plan) sysusersPath() string { return "/usr/lib/sysusers.d/" + p.s.Name + ".conf" }

// sysusersConf is the sysusers.d(5) file of the service's system user: a
// locked system account with no home (/nonexistent, as Debian's adduser
// --system default is), its primary group GROUP (created first) when
// given, else a group of its own name.
func (p *plan) sysusersConf() string {
	user, group, _ := p.sysUser()
	var b strings.Builder
	fmt.Fprintf(&b, "# The system user of the %s service, created on install (sole package --run-as).\n", p.s.Name)
	id := "-"
	if group != "" {
		fmt.Fprintf(&b, "g %s -\n", group)
		id = "-:" + group
	}
	fmt.Fprintf(&b, "u %s %s \"%s service\" /nonexistent\n", user, id, p.s.Name)
	return b.String()
}

// stateDirs are the directories systemd creates for a hardened service
// (StateDirectory=NAME, LogsDirectory=NAME), which a .deb's purge removes.
func (p *plan) stateDirs() []string {
	if !p.s.Harden || p.s.User {
		return nil
	}
	return []string{"/var/lib/" + p.s.Name, "/var/log/" + p.s.Name}
}

// checkDescription refuses a Description that lintian (2.116, its
// fields/description check) rejects with an error, and nothing else:
// TestDescriptionsAgainstLintian builds a .deb of each of a table of
// descriptions and checks that this refuses exactly those. (Tabs and
// other control characters are refused by checkText before.) Lintian's
// warnings (an article first, more than 80 characters) and notes (a
// full stop at the end) are not refused.
func (p *plan) checkDescription() error {
	d, name := p.s.Description, p.s.Name
	syn := strings.Trim(d, " ") // dpkg drops the spaces around a field's value
	lower := strings.ToLower(syn)
	fuzzy := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if strings.ContainsRune("-_/\\", r) {
				return ' '
			}
			return r
		}, strings.ToLower(s))
		return strings.Join(strings.Fields(s), " ")
	}
	example := ` say what the program is, e.g. "web server for greetings"`
	switch {
	case syn == "":
		return specErr("description", "%q is blank (lintian: description-synopsis-is-empty); leave it out for the default, or%s", d, example)
	case strings.HasPrefix(lower, name) && !isWordChar(lower[len(name):]):
		return specErr("description", "%q starts with the package name (lintian: description-starts-with-package-name);%s", d, example)
	case !strings.ContainsFunc(syn, isPerlSpace):
		return specErr("description", "%q is a single word (lintian: description-too-short);%s", d, example)
	case fuzzy(syn) == fuzzy(name):
		return specErr("description", "%q is the package name (lintian: description-is-pkg-name);%s", d, example)
	case strings.Contains(syn, "<insert up to 60 chars description>"):
		return specErr("description", "%q is dh_make's template (lintian: description-is-dh_make-template);%s", d, example)
	}
	// The extended description is sole's; its first line may not say the
	// same (letters and digits compared).
	first, _, _ := strings.Cut(wrapText(p.longDescription(), 72), "\n")
	alnum := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf && isAlnumByte(byte(r)) {
				return r
			}
			return -1
		}, strings.ToLower(s))
	}
	if alnum(first) == alnum(syn) {
		return specErr("description", "%q is the first line of the package's extended description (lintian: description-synopsis-is-duplicated);%s", d, example)
	}
	return nil
}

// isWordChar reports whether s starts with a character of Perl's \w
// (lintian's \b after the package name): a letter, digit or '_'.
func isWordChar(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
}

// isPerlSpace is Perl's \s on a decoded string.
func isPerlSpace(r rune) bool { return unicode.IsSpace(r) }

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkPackageName applies Debian's rule for package names (the strictest
// of the three formats) and sole's for service names.
func checkPackageName(name string) error {
	if name == "" {
		return specErr("name", "missing")
	}
	if err := pidlock.ValidName(name); err != nil {
		return specErr("name", "%w", err)
	}
	if len(name) < 2 {
		return specErr("name", "%q: a package name has at least 2 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '+' || r == '-')
		if !ok {
			return specErr("name", "%q: a package name is lowercase letters, digits, '.', '+' and '-', starting with a letter or digit", name)
		}
	}
	return nil
}

// checkPackageFileName checks the program's base name as a file name in
// the package.
func checkPackageFileName(base string) error {
	if base == "" || base == "." || base == ".." || strings.ContainsAny(base, `/\"'$%`) {
		return specErr("binary", "%q cannot be a program's file name in a package", base)
	}
	for _, r := range base {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return specErr("binary", "%q: a program's file name in a package has no spaces or control characters", base)
		}
	}
	return nil
}

// checkText refuses control characters (a newline would forge fields).
func checkText(field, s string) error {
	for i, r := range s {
		if r < ' ' || r == 0x7f || r == unicode.ReplacementChar {
			return specErr(field, "has a control character or invalid UTF-8 at byte %d", i)
		}
	}
	return nil
}

func sameArch(a, b string) bool {
	return a == b || strings.HasPrefix(a, "arm") && strings.HasPrefix(b, "arm") && a != "arm64" && b != "arm64"
}

func goarch(arch string) string {
	if strings.HasPrefix(arch, "arm") && arch != "arm64" {
		return "arm"
	}
	return arch
}

// archAliases maps Debian's and rpm's spellings to Go's.
var archAliases = map[string]string{
	"x86_64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386",
	"armhf": "arm7", "armel": "arm6", "armv7hl": "arm7", "ppc64el": "ppc64le",
}
