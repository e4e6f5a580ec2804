// Package packaging builds .deb, .rpm and .msi packages of a service from
// the same service description that `sole install` uses: Build takes a
// Spec and a Format.
//
// The unit a .deb or an .rpm installs is byte for byte the one `sole
// install` (or PROG install, for a program built on the runtime) writes,
// and its maintainer scripts do what debhelper's dh_installsystemd and
// systemd's rpm macros do: enable, start, restart once on upgrade, stop on
// removal. An .msi installs the program as a Windows service started on
// install; it is built with wixl (msitools), and its tables are read back
// and checked before it is written.
package packaging

import (
	"context"
	"fmt"
)

// Format is a package format.
type Format string

// The formats.
const (
	Deb Format = "deb" // Debian, Ubuntu (dpkg)
	RPM Format = "rpm" // Fedora, RHEL and friends (rpm)
	MSI Format = "msi" // Windows Installer, built on Linux with wixl
)

// Build builds the package of s in format f into outDir (created if
// missing) and returns its path, named by the format's convention:
//
//	deb  outDir/NAME_VERSION-RELEASE_ARCH.deb
//	rpm  outDir/NAME-VERSION-RELEASE.ARCH.rpm
//	msi  outDir/NAME-VERSION-ARCH.msi (ARCH x64 or x86)
//
// A .deb holds the program (/usr/sbin), sole when the program runs under
// `sole run` (/usr/lib/NAME/sole, and sole-fleet beside it with
// Spec.Fleet), the systemd unit (/lib/systemd/system),
// the configs as conffiles, a manual page, the copyright file and a Debian
// changelog, and the maintainer scripts of NewDebScripts (with RunAs,
// also /usr/lib/sysusers.d/NAME.conf and a postinst part that creates the
// user; with Harden, a postrm part that removes the service's state and
// logs directories on purge). An .rpm holds
// the same (the unit in /usr/lib/systemd/system, the configs as
// %config(noreplace), no Debian changelog) and the scriptlets of
// NewRPMScripts (with RunAs, the same sysusers.d file and a %pre creating
// the user). A Spec.Fleet service's postinst and %postun start and
// restart it without waiting for the start to end (systemctl --no-block,
// after policy-rc.d and only when enabled, as deb-systemd-invoke does
// otherwise): a node that stands by for the fleet lock is "activating"
// until it holds it, and must not hold up apt or rpm. An .msi installs
// the program (and sole.exe, for a program run under `sole run`) under Program Files\NAME as a service
// started on install and stopped and removed on uninstall; with s.Sign
// its programs and itself are signed.
//
// The error is an *Error naming the field for a Spec that cannot be
// packaged (wrapping ErrUnsupported for a setting that f cannot honour,
// and for an unknown f); for an .msi, an error wrapping ErrNoWixl when wixl or msiinfo is
// missing and an *MSITableError when a table wixl wrote is wrong; else the
// cause wrapped, naming the tool that failed. A failed build leaves no
// partial file.
func Build(ctx context.Context, s Spec, f Format, outDir string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	switch f {
	case Deb, RPM:
		return buildLinux(ctx, s, f, outDir)
	case MSI:
		return buildMSI(ctx, s, outDir)
	}
	return "", specErr("format", "%q is %w: want deb, rpm or msi", string(f), ErrUnsupported)
}

// option is a Spec field that not every format has.
type option struct {
	set   bool
	field string
}

// refuse returns the *Error for the first option set: f has no place for
// it (why says what it is).
func refuse(f Format, why string, opts ...option) error {
	in := map[Format]string{Deb: "a .deb", RPM: "an .rpm", MSI: "an .msi"}[f]
	for _, o := range opts {
		if o.set {
			return specErr(o.field, "%w in %s: it is %s", ErrUnsupported, in, why)
		}
	}
	return nil
}
