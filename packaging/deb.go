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

// NewDebUserScripts returns the maintainer scripts for the per-user
// service name (a user unit, /usr/lib/systemd/user/name.service), doing
// what dh_installsystemduser of debhelper 13.11 does: enable it for every
// user, restart it in the running user managers on install and upgrade,
// stop it there on remove, purge the enablement state on purge. A user
// service's lock lives in each user's own lock directory
// (/run/lock/sole-UID/NAME, else /tmp/sole-UID/NAME), which is that
// user's and is cleared at boot: the scripts leave it alone.
func NewDebUserScripts(name string) (DebScripts, error) {
	if err := pidlock.ValidName(name); err != nil {
		return DebScripts{}, fmt.Errorf("packaging: %w", err)
	}
	script := debScript(name + ".service")
	return DebScripts{
		Postinst: script(debUserEnable, debUserRestart),
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
// postrm removes on purge (a hardened service's state and logs).
type debExtra struct {
	sysusers, user, group string
	purgeDirs             []string
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
	s.Postinst = script(debEnable, debRestart)
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
