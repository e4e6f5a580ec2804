package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"time"

	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/internal/unit"
	"github.com/solehq/sole/pidlock"
)

// manage runs install, uninstall, start, stop, restart and status for the
// program itself.
func manage(cfg Config, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.Bool("user", false, "a per-user service (systemd --user, a LaunchAgent)")
	print := false
	if cmd == "install" {
		fs.BoolVar(&print, "print", false, "print the service definition instead of installing it")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			err = errors.New("unexpected arguments")
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", cfg.Name, cmd, err)
		return 64
	}
	switch cmd {
	case "install":
		d, err := cfg.description(*user)
		if err != nil {
			fmt.Fprintf(stderr, "%s install: %v\n", cfg.Name, err)
			return 1
		}
		if print {
			_, text, err := svcmgr.Definition(d)
			if err != nil {
				fmt.Fprintf(stderr, "%s install: %v\n", cfg.Name, err)
				return 1
			}
			stdout.Write(text)
			return 0
		}
		changed, err := svcmgr.Install(d)
		if err != nil {
			fmt.Fprintf(stderr, "%s install: %v\n", cfg.Name, err)
			return 1
		}
		if changed {
			fmt.Fprintf(stdout, "%s: installed\n", cfg.Name)
		} else {
			fmt.Fprintf(stdout, "%s: already installed, unchanged\n", cfg.Name)
		}
		return 0
	case "status":
		scope := pidlock.ScopeSystem
		if *user {
			scope = pidlock.ScopeUser
		}
		if cfg.Scope != 0 {
			scope = cfg.Scope
		}
		l, err := pidlock.Named(cfg.Name, pidlock.WithScope(scope))
		if err != nil {
			fmt.Fprintf(stderr, "%s status: %v\n", cfg.Name, err)
			return svcmgr.StatusUnknown
		}
		line, code := svcmgr.Report(cfg.Name, *user, l, func(h pidlock.Holder) string { return h.Since.Format(time.TimeOnly) })
		fmt.Fprintln(stdout, line)
		return code
	}
	var err error
	switch cmd {
	case "uninstall":
		err = svcmgr.Uninstall(cfg.Name, *user)
	case "start":
		err = svcmgr.Start(cfg.Name, *user)
	case "stop":
		err = svcmgr.Stop(cfg.Name, *user)
	case "restart":
		err = svcmgr.Restart(cfg.Name, *user)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", cfg.Name, cmd, err)
		return 1
	}
	return 0
}

// description is the service definition of this program: it runs itself
// with "run".
func (cfg Config) description(user bool) (unit.Description, error) {
	exe, err := os.Executable()
	if err != nil {
		return unit.Description{}, err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return unit.Description{}, err
	}
	cfg = cfg.withDefaults()
	d := unit.Description{
		Name:         cfg.Name,
		Description:  cfg.Description,
		Exec:         exe,
		Args:         []string{"run"},
		User:         user,
		Watchdog:     cfg.Watchdog,
		StartTimeout: cfg.StartTimeout,
		StopTimeout:  cfg.StopTimeout,
	}.WithDefaults()
	// The description's checks are those of systemd and launchd; the
	// Windows service manager checks its own (svcmgr).
	if goruntime.GOOS == "windows" {
		return d, nil
	}
	return d, d.Validate()
}
