package packaging

import (
	"fmt"
	"strings"

	"github.com/solehq/sole/pidlock"
)

// RPMScripts are the scriptlets of an .rpm shipping one systemd unit.
// rpm passes each a count, not a word: $1 is how many instances of the
// package are installed once the transaction is done (%post: 1 on a first
// install, 2 on an upgrade; %preun and %postun: 0 on removal, 1 on an
// upgrade, when the old version's scriptlets run).
type RPMScripts struct {
	Post, Preun, Postun string
}

// The parts: systemd's rpm macros (src/rpm/macros.systemd.in, systemd 249
// and later, which hand the work to systemd-update-helper and restart
// marked units from the systemd package's file triggers), each with the
// commands the macros ran before the helper existed as the fallback
// (systemd 239, as on EL8). #UNIT# is the unit file's name.
const (
	// %systemd_post: preset on a first installation (the distribution's
	// presets decide whether the unit is enabled; nothing is started).
	rpmPost = `if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Initial installation
    /usr/lib/systemd/systemd-update-helper install-system-units #UNIT# || :
elif [ $1 -eq 1 ]; then
    # Initial installation, systemd before 249
    systemctl --no-reload preset #UNIT# >/dev/null 2>&1 || :
fi
`
	// %systemd_preun: disable and stop on removal, not on upgrade.
	rpmPreun = `if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Package removal, not upgrade
    /usr/lib/systemd/systemd-update-helper remove-system-units #UNIT# || :
elif [ $1 -eq 0 ]; then
    # Package removal, systemd before 249
    systemctl --no-reload disable --now #UNIT# >/dev/null 2>&1 || :
fi
`
	// %systemd_postun_with_restart: restart once after an upgrade, with
	// the new files in place.
	rpmPostun = `if [ $1 -ge 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Package upgrade, not uninstall
    /usr/lib/systemd/systemd-update-helper mark-restart-system-units #UNIT# || :
elif [ $1 -ge 1 ]; then
    # Package upgrade, systemd before 249
    systemctl daemon-reload >/dev/null 2>&1 || :
    systemctl try-restart #UNIT# >/dev/null 2>&1 || :
fi
`
)

// The parts of a fleet service (Spec.Fleet: `sole run --fleet ... --wait`),
// which reports READY=1 only once it holds its lock across the fleet, on
// a node that stands by maybe never: its restart after an upgrade is
// queued with systemctl --no-block, never waited for. It is not left to
// systemd-update-helper's mark-restart-system-units either: the marked
// units are restarted by the systemd package's file trigger at the end of
// the transaction (systemctl reload-or-restart --marked), which waits for
// the jobs as systemctl does without --no-block.
const (
	// %systemd_postun_with_restart, as the macros did before the helper,
	// the restart queued.
	rpmFleetPostun = `if [ $1 -ge 1 ]; then
    # Package upgrade, not uninstall: restart if running, without
    # waiting for the fleet lock
    systemctl daemon-reload >/dev/null 2>&1 || :
    systemctl --no-block try-restart #UNIT# >/dev/null 2>&1 || :
fi
`
	// %systemd_user_postun_with_restart: in each user manager that runs
	// (systemctl --machine UID@, systemd 249 or later), reload and
	// restart if running, the restart queued.
	rpmUserFleetPostun = `if [ $1 -ge 1 ] && [ -d /run/systemd/system ]; then
    # Package upgrade, not uninstall: restart in the user managers that
    # run, without waiting for the fleet lock
    for uid in $(systemctl --no-legend list-units 'user@*' 2>/dev/null | sed -n -r 's/.*user@([0-9]+).service.*/\1/p'); do
        systemctl --user --machine "$uid@" daemon-reload >/dev/null 2>&1 || :
        systemctl --user --machine "$uid@" --no-block try-restart #UNIT# >/dev/null 2>&1 || :
    done
fi
`
)

// The user parts: %systemd_user_post, %systemd_user_preun and
// %systemd_user_postun_with_restart, with the commands of the macros
// before systemd-update-helper as the fallback (which did not restart
// user units on upgrade).
const (
	rpmUserPost = `if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Initial installation
    /usr/lib/systemd/systemd-update-helper install-user-units #UNIT# || :
elif [ $1 -eq 1 ]; then
    # Initial installation, systemd before 249
    systemctl --global preset #UNIT# >/dev/null 2>&1 || :
fi
`
	rpmUserPreun = `if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Package removal, not upgrade
    /usr/lib/systemd/systemd-update-helper remove-user-units #UNIT# || :
elif [ $1 -eq 0 ]; then
    # Package removal, systemd before 249
    systemctl --global disable #UNIT# >/dev/null 2>&1 || :
fi
`
	rpmUserPostun = `if [ $1 -ge 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Package upgrade, not uninstall
    /usr/lib/systemd/systemd-update-helper mark-restart-user-units #UNIT# || :
fi
`
)

// NewRPMUserScripts returns the scriptlets for the per-user service name:
// those of %systemd_user_post, %systemd_user_preun and
// %systemd_user_postun_with_restart.
func NewRPMUserScripts(name string) (RPMScripts, error) { return rpmUserScripts(name, false) }

// rpmUserScripts are NewRPMUserScripts', with rpmUserFleetPostun for a
// fleet service.
func rpmUserScripts(name string, fleet bool) (RPMScripts, error) {
	if err := pidlock.ValidName(name); err != nil {
		return RPMScripts{}, fmt.Errorf("packaging: %w", err)
	}
	unit := name + ".service"
	script := func(macro, part string) string {
		return fmt.Sprintf("# Added by sole: %s %s (systemd's rpm macros)\n", macro, unit) + strings.ReplaceAll(part, "#UNIT#", unit)
	}
	postun := rpmUserPostun
	if fleet {
		postun = rpmUserFleetPostun
	}
	return RPMScripts{
		Post:   script("%systemd_user_post", rpmUserPost),
		Preun:  script("%systemd_user_preun", rpmUserPreun),
		Postun: script("%systemd_user_postun_with_restart", postun),
	}, nil
}

// lockDirCleanup removes the service's lock directory once the package is
// removed and the service stopped (the unit keeps it across stops with
// RuntimeDirectoryPreserve=yes), but only while nobody holds the lock:
// flock(1) takes it first, so a `sole run --name NAME` started by hand
// keeps its lock. #COND# is the removal test of the format.
const lockDirCleanup = `if #COND# && [ -d #DIR# ] && command -v flock >/dev/null 2>&1; then
	flock -n #DIR#/#NAME#.pid rm -rf #DIR# || true
	rmdir /run/sole 2>/dev/null || true
fi
`

func cleanup(name, cond string) string {
	return strings.NewReplacer("#COND#", cond, "#DIR#", "/run/sole/"+name, "#NAME#", name).Replace(lockDirCleanup)
}

// NewRPMScripts returns the scriptlets for the service name (its unit is
// name.service): those of %systemd_post, %systemd_preun and
// %systemd_postun_with_restart, and on removal the lock directory's
// cleanup.
func NewRPMScripts(name string) (RPMScripts, error) { return rpmScripts(name, false) }

// rpmScripts are NewRPMScripts', with rpmFleetPostun for a fleet service.
func rpmScripts(name string, fleet bool) (RPMScripts, error) {
	if err := pidlock.ValidName(name); err != nil {
		return RPMScripts{}, fmt.Errorf("packaging: %w", err)
	}
	unit := name + ".service"
	script := func(macro, part, extra string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "# Added by sole: %s %s (systemd's rpm macros)\n", macro, unit)
		b.WriteString(strings.ReplaceAll(part, "#UNIT#", unit))
		if extra != "" {
			b.WriteString("# Added by sole: remove the lock directory of a removed service\n")
			b.WriteString(extra)
		}
		return b.String()
	}
	postun := rpmPostun
	if fleet {
		postun = rpmFleetPostun
	}
	return RPMScripts{
		Post:   script("%systemd_post", rpmPost, ""),
		Preun:  script("%systemd_preun", rpmPreun, ""),
		Postun: script("%systemd_postun_with_restart", postun, cleanup(name, `[ $1 -eq 0 ]`)),
	}, nil
}

// rpmUserPre is the %pre scriptlet creating the system user (and group,
// "" for a group of the user's name) that the service name runs as, when
// missing: Fedora's packaging guidelines' (Users and Groups, dynamic
// allocation; the group first, so that useradd never fails on a group of
// that name that exists), as systemd's %sysusers_create_compat writes
// it from the same /usr/lib/sysusers.d/NAME.conf, with the home "/".
// The user stays when the package is erased (the guidelines: files it
// owns may remain).
func rpmUserPre(name, user, group string) string {
	if group == "" {
		group = user
	}
	return fmt.Sprintf("# Added by sole: the system user %s.service runs as (Fedora's packaging guidelines)\n"+
		"getent group %s >/dev/null || groupadd -r %s || :\n"+
		"getent passwd %s >/dev/null || useradd -r -g %s -d / -s /sbin/nologin -M -c \"%s service\" %s || :\n",
		name, group, group, user, group, name, user)
}
