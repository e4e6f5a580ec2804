package packaging

// The Debian maintainer scripts. nfpm, which builds the archives, declined
// service handling, so sole writes the scripts itself, doing exactly what
// debhelper 13's dh_installsystemd generates for a unit with an [Install]
// section and its defaults (restart after upgrade): enable on install,
// start on first install and restart once the new files are in place on
// upgrade, stop only on remove, reload systemd on remove, purge
// deb-systemd-helper's state on purge; every systemctl call only when
// systemd runs ([ -d /run/systemd/system ]). The tests compare each part,
// command for command, with the autoscripts of the debhelper installed on
// the machine.
//
// A fleet service (Spec.Fleet: `sole run --fleet ... --wait`) reports
// READY=1 only once it holds its lock across the fleet, which on a node
// that stands by may be never; deb-systemd-invoke's systemctl waits for
// the start job, so its postinst does what deb-systemd-invoke start and
// restart do (policy-rc.d asked first, only an enabled unit started) with
// systemctl --no-block instead: dpkg never waits for the lock.

import (
	"fmt"
	"strings"

	"github.com/solehq/sole/pidlock"
)

// DebScripts are the maintainer scripts of a package shipping one systemd
// unit.
type DebScripts struct {
	Postinst, Prerm, Postrm string
}

// The parts, in dh_installsystemd's order. #UNIT# is the unit file's name.
const (
	debEnable = `if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	# The unit is unmasked (older tools masked units on removal).
	deb-systemd-helper unmask #UNIT# >/dev/null || true

	# was-enabled is true on a first installation: enable the unit then;
	# on upgrades, honour the administrator's choice and record new links.
	if deb-systemd-helper --quiet was-enabled #UNIT#; then
		deb-systemd-helper enable #UNIT# >/dev/null || true
	else
		deb-systemd-helper update-state #UNIT# >/dev/null || true
	fi
fi
`
	debRestart = `if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# Start on a first installation, restart (once, with the new
		# files in place) on an upgrade.
		if [ -n "$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		deb-systemd-invoke $_dh_action #UNIT# >/dev/null || true
	fi
fi
`
	debStop = `if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop #UNIT# >/dev/null || true
fi
`
	debReload = `if [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	systemctl --system daemon-reload >/dev/null || true
fi
`
	debPurge = `if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge #UNIT# >/dev/null || true
	fi
fi
`
)

// debInvoke is debRestart's line that starts or restarts the unit.
const debInvoke = "\t\tdeb-systemd-invoke $_dh_action #UNIT# >/dev/null || true\n"

// debFleetRestart is debRestart for a fleet service: the job is
// queued, not waited for. It does what deb-systemd-invoke
// (init-system-helpers 1.65) does for start and restart: policy-rc.d
// (under $DPKG_ROOT) is asked first and its 101 means do nothing (so
// an image build in a chroot or a container starts nothing); start
// only an enabled unit (is-enabled says enabled or enabled-runtime),
// restart one that is enabled or active.
var debFleetRestart = strings.Replace(debRestart, debInvoke, `		# As deb-systemd-invoke $_dh_action #UNIT# does, but queueing
		# the job without waiting for it: a fleet service is ready only
		# once it holds its lock across the fleet, which a node that
		# stands by may never do.
		_sole_policy=0
		if [ -x "${DPKG_ROOT:-}/usr/sbin/policy-rc.d" ]; then
			"${DPKG_ROOT:-}/usr/sbin/policy-rc.d" #UNIT# "$_dh_action" || _sole_policy=$?
		fi
		if [ "$_sole_policy" = 101 ]; then
			echo "${DPKG_ROOT:-}/usr/sbin/policy-rc.d returned 101, not running '$_dh_action #UNIT#'" >&2
		else
			case "$(systemctl --system is-enabled -- #UNIT#)" in
			*enabled*)
				systemctl --system --quiet --no-block $_dh_action #UNIT# >/dev/null || true
				;;
			*)
				if [ "$_dh_action" = restart ] && systemctl --system --quiet is-active -- #UNIT#; then
					systemctl --system --quiet --no-block restart #UNIT# >/dev/null || true
				elif [ "$_dh_action" = restart ]; then
					echo "#UNIT# is a disabled or a static unit not running, not starting it." >&2
				else
					echo "#UNIT# is a disabled or a static unit, not starting it." >&2
				fi
				;;
			esac
		fi
`, 1)

// The parts of dh_installsystemduser (debhelper 13.11) for a user unit:
// enabled globally for every user (systemctl --global), restarted in the
// running user managers, stopped in them on remove. #UNIT# is the unit
// file's name.
const (
	debUserEnable = `if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -z "${DPKG_ROOT:-}" ] ; then
		# The unit is unmasked (older tools masked units on removal).
		deb-systemd-helper --user unmask #UNIT# >/dev/null || true

		# was-enabled is true on a first installation: enable the unit
		# for every user then; on upgrades, honour the choice made.
		if deb-systemd-helper --quiet --user was-enabled #UNIT# ; then
			deb-systemd-helper --user enable #UNIT# >/dev/null || true
		else
			deb-systemd-helper --user update-state #UNIT# >/dev/null || true
		fi
	fi
fi
`
	debUserRestart = `if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl --global daemon-reload >/dev/null || true
		# (Re)start in the user managers that run.
		deb-systemd-invoke --user restart #UNIT# >/dev/null || true
	fi
fi
`
	debUserStop = `if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke --user stop #UNIT# >/dev/null || true
fi
`
	debUserReload = `if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	systemctl --global daemon-reload >/dev/null || true
fi
`
	debUserPurge = `if [ "$1" = "purge" ]; then
	if [ -z "${DPKG_ROOT:-}" ] && [ -x "/usr/bin/deb-systemd-helper" ] ; then
		deb-systemd-helper --user purge #UNIT# >/dev/null || true
	fi
fi
`
)

// debUserInvoke is debUserRestart's lines that restart the unit.
const debUserInvoke = "\t\t# (Re)start in the user managers that run.\n\t\tdeb-systemd-invoke --user restart #UNIT# >/dev/null || true\n"

// debUserFleetRestart is debUserRestart for a fleet service: what
// deb-systemd-invoke --user restart does (policy-rc.d asked first;
// systemd 249 or later, for systemctl --machine UID@; in each user
// manager that runs, restart the unit if it is enabled or active
// there), with the jobs queued, not waited for.
var debUserFleetRestart = strings.Replace(debUserRestart, debUserInvoke, `		# (Re)start in the user managers that run, as
		# deb-systemd-invoke --user restart #UNIT# does, but queueing
		# the jobs without waiting for them: a fleet service is ready
		# only once it holds its lock across the fleet, which a node
		# that stands by may never do.
		_sole_policy=0
		if [ -x "${DPKG_ROOT:-}/usr/sbin/policy-rc.d" ]; then
			"${DPKG_ROOT:-}/usr/sbin/policy-rc.d" #UNIT# restart || _sole_policy=$?
		fi
		if [ "$_sole_policy" = 101 ]; then
			echo "${DPKG_ROOT:-}/usr/sbin/policy-rc.d returned 101, not running 'restart #UNIT#'" >&2
		elif ! dpkg --compare-versions "$(systemctl --version --quiet | sed -n -r 's/systemd ([0-9]+) \(.*/\1/p')" ge 249; then
			echo "systemctl does not support acting on user instances (systemd 249 or later does), skipping" >&2
		else
			for _sole_uid in $(systemctl --no-legend --quiet list-units 'user@*' | sed -n -r 's/.*user@([0-9]+).service.*/\1/p'); do
				case "$(systemctl --user --machine "$_sole_uid@" is-enabled -- #UNIT#)" in
				*enabled*) ;;
				*)
					if ! systemctl --user --machine "$_sole_uid@" --quiet is-active -- #UNIT#; then
						echo "#UNIT# is a disabled or a static unit not running, not starting it." >&2
						continue
					fi
					;;
				esac
				systemctl --quiet --user --machine "$_sole_uid@" --no-block restart #UNIT# >/dev/null || true
			done
		fi
`, 1)

// NewDebUserScripts returns the maintainer scripts for the per-user
// service name (a user unit, /usr/lib/systemd/user/name.service), doing
// what dh_installsystemduser of debhelper 13.11 does: enable it for every
// user, restart it in the running user managers on install and upgrade,
// stop it there on remove, purge the enablement state on purge. A user
// service's lock lives in each user's own lock directory
// (/run/lock/sole-UID/NAME, else /tmp/sole-UID/NAME), which is that
// user's and is cleared at boot: the scripts leave it alone.
func NewDebUserScripts(name string) (DebScripts, error) { return debUserScripts(name, false) }

// debUserScripts are NewDebUserScripts', with debUserFleetRestart for a
// fleet service.
func debUserScripts(name string, fleet bool) (DebScripts, error) {
	if err := pidlock.ValidName(name); err != nil {
		return DebScripts{}, fmt.Errorf("packaging: %w", err)
	}
	script := debScript(name + ".service")
	restart := debUserRestart
	if fleet {
		restart = debUserFleetRestart
	}
	return DebScripts{
		Postinst: script(debUserEnable, restart),
		Prerm:    script(debUserStop),
		Postrm:   script(debUserReload, debUserPurge),
	}, nil
}

// debScript returns a function joining parts into a script for unit.
func debScript(unit string) func(parts ...string) string {
	return func(parts ...string) string {
		var b strings.Builder
		b.WriteString("#!/bin/sh\nset -e\n")
		for _, p := range parts {
			b.WriteString("# Added by sole (as dh_installsystemd of debhelper 13.11 does)\n")
			b.WriteString(strings.ReplaceAll(p, "#UNIT#", unit))
			b.WriteString("# End of sole's section\n")
		}
		return b.String()
	}
}

// NewDebScripts returns the maintainer scripts for the service name (its
// unit is name.service): dh_installsystemd's, and in postrm on remove the
// removal of the service's lock directory (see NewRPMScripts).
func NewDebScripts(name string) (DebScripts, error) { return debScripts(name, debExtra{}) }

// debExtra are the parts of a system service's scripts that depend on its
// options: the system user it runs as, created in postinst from its
// sysusers.d file (sysusers, its base name), and the directories that
// postrm removes on purge (a hardened service's state and logs), and
// whether it is a fleet service, whose postinst starts it without waiting
// (debFleetRestart).
type debExtra struct {
	sysusers, user, group string
	purgeDirs             []string
	fleet                 bool
}

// debSysusers creates the service's system user before the service is
// enabled and started: dh_installsysusers' part (debhelper 13.11) where
// systemd-sysusers is installed, else adduser's way (Debian policy
// 9.2.2; as postfix's and ntpsec's postinst do). #CONF# is the sysusers.d
// file's base name, #ADDUSER# the adduser commands. Neither remove nor
// purge deletes the user: files it owns may remain (debhelper, policy and
// practice leave system users in place).
const debSysusers = `if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} #CONF#
	else
#ADDUSER#	fi
fi
`

// debPurgeDirs removes, on purge only (Debian policy 10.7: remove keeps
// what purge deletes), the directories systemd created for the service
// (StateDirectory=, LogsDirectory=). #DIRS# are their paths.
const debPurgeDirs = `if [ "$1" = "purge" ]; then
	rm -rf #DIRS#
fi
`

// adduserPart is debSysusers' fallback for user (and group, "" for the
// user's own).
func adduserPart(user, group string) string {
	if group == "" {
		return "\t\tif ! getent passwd " + user + " >/dev/null; then\n" +
			"\t\t\tadduser --system --group --no-create-home --home /nonexistent --quiet " + user + "\n\t\tfi\n"
	}
	return "\t\tif ! getent group " + group + " >/dev/null; then\n" +
		"\t\t\taddgroup --system --quiet " + group + "\n\t\tfi\n" +
		"\t\tif ! getent passwd " + user + " >/dev/null; then\n" +
		"\t\t\tadduser --system --ingroup " + group + " --no-create-home --home /nonexistent --quiet " + user + "\n\t\tfi\n"
}

func debScripts(name string, x debExtra) (DebScripts, error) {
	if err := pidlock.ValidName(name); err != nil {
		return DebScripts{}, fmt.Errorf("packaging: %w", err)
	}
	script := debScript(name + ".service")
	var s DebScripts
	restart := debRestart
	if x.fleet {
		restart = debFleetRestart
	}
	s.Postinst = script(debEnable, restart)
	if x.sysusers != "" {
		part := strings.NewReplacer("#CONF#", x.sysusers, "#ADDUSER#", adduserPart(x.user, x.group)).Replace(debSysusers)
		s.Postinst = strings.Replace(s.Postinst, "set -e\n", "set -e\n"+
			"# Added by sole: the system user "+name+".service runs as (as dh_installsysusers of debhelper 13.11 does, or with adduser)\n"+
			part+"# End of sole's section\n", 1)
	}
	s.Prerm = script(debStop)
	s.Postrm = script(debReload, debPurge) + lockDirPart(name)
	if len(x.purgeDirs) > 0 {
		s.Postrm += "# Added by sole: on purge, remove the state and logs directories of the service\n" +
			strings.ReplaceAll(debPurgeDirs, "#DIRS#", strings.Join(x.purgeDirs, " ")) + "# End of sole's section\n"
	}
	return s, nil
}

// lockDirPart is sole's own postrm part: on remove (after prerm stopped the
// service), the lock directory goes unless somebody holds the lock.
func lockDirPart(name string) string {
	return "# Added by sole: remove the lock directory of a removed service\n" +
		cleanup(name, `[ "$1" = remove ]`) + "# End of sole's section\n"
}
