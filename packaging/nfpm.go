package packaging

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	nfpm "github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"github.com/solehq/sole/internal/unit"
)

// buildLinux builds the .deb or .rpm of s with nfpm (see Build).
func buildLinux(ctx context.Context, s Spec, format Format, outDir string) (string, error) {
	if err := refuse(format, "an .msi option", option{s.DisplayName != "", "display-name"}, option{s.Sign != nil, "sign"}); err != nil {
		return "", err
	}
	if err := refuse(format, "for a Windows service's output: under systemd it goes to the journal (a hardened service also gets /var/log/NAME)", option{s.LogDir != "", "log-dir"}); err != nil {
		return "", err
	}
	if err := refuse(format, "a Windows service account: give a Unix user, USER or USER:GROUP", option{(&unit.Description{RunAs: s.RunAs}).WindowsAccount(), "run-as"}); err != nil {
		return "", err
	}
	p, err := newPlan(s, "linux")
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "sole-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	info, err := p.nfpmInfo(ctx, work, format)
	if err != nil {
		return "", err
	}
	var pkgr nfpm.Packager = deb.Default
	if format == RPM {
		pkgr = rpm.DefaultRPM
	}
	name := pkgr.ConventionalFileName(info)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, name)
	tmp, err := os.CreateTemp(outDir, "."+name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := pkgr.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("package: build the %s: %w", format, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// nfpmInfo writes the generated files into work and describes the package
// for nfpm.
func (p *plan) nfpmInfo(ctx context.Context, work string, format Format) (*nfpm.Info, error) {
	s := p.s
	d, err := p.unit()
	if err != nil {
		return nil, err
	}
	unitText, err := unit.SystemdUnit(d)
	if err != nil {
		return nil, specErr("service", "%w", err)
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:     s.Name,
		Arch:     s.Arch,
		Platform: "linux",
		Version:  p.version(),
		// Versions are taken as given (a leading "v" dropped, "-" made
		// "~" so that 1.2.3-rc1 sorts before 1.2.3), not normalised by
		// nfpm's semver reading (which makes 1.0 into 1.0.0).
		VersionSchema: "none",
		Release:       p.release,
		Section:       s.Section,
		Priority:      "optional",
		Maintainer:    s.Maintainer,
		Description:   p.s.Description + "\n" + wrapText(p.longDescription(), 72),
		Vendor:        "",
		Homepage:      s.Homepage,
		License:       s.License,
		MTime:         p.date,
	})
	info.RPM.BuildHost = "localhost" // not this machine's name: reproducible
	info.RPM.Group = "System Environment/Daemons"
	info.Umask = 0o022

	write := func(name string, data []byte) (string, error) {
		f := filepath.Join(work, name)
		return f, os.WriteFile(f, data, 0o644)
	}
	add := func(src, dst, typ string, mode os.FileMode) {
		info.Contents = append(info.Contents, &files.Content{
			Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Mode: mode, MTime: p.date, Owner: "root", Group: "root"},
		})
	}
	prog, err := p.stripped(ctx, work, s.Binary, p.bin)
	if err != nil {
		return nil, err
	}
	add(prog, p.programPath(), "", 0o755)
	if p.wrap {
		sb, err := inspect(s.Sole)
		if err != nil {
			return nil, specErr("sole", "%w", err)
		}
		sole, err := p.stripped(ctx, work, s.Sole, sb)
		if err != nil {
			return nil, err
		}
		add(sole, p.solePath(), "", 0o755)
	}
	if s.Fleet != "" {
		sf, err := p.stripped(ctx, work, s.SoleFleet, p.fleet)
		if err != nil {
			return nil, err
		}
		add(sf, p.soleFleetPath(), "", 0o755)
	}
	deps, err := p.depends(format)
	if err != nil {
		return nil, err
	}
	info.Depends = deps
	f, err := write("unit", unitText)
	if err != nil {
		return nil, err
	}
	add(f, p.unitPath(format), "", 0o644)
	if _, _, ok := p.sysUser(); ok {
		if f, err = write("sysusers", []byte(p.sysusersConf())); err != nil {
			return nil, err
		}
		add(f, p.sysusersPath(), "", 0o644)
	}
	for _, c := range s.Configs {
		typ := files.TypeConfig // a conffile
		if format == RPM {
			typ = files.TypeConfigNoReplace
		}
		add(c.Src, c.Dest, typ, 0o644)
	}
	man, err := gz([]byte(p.manPage()))
	if err != nil {
		return nil, err
	}
	if f, err = write("man", man); err != nil {
		return nil, err
	}
	add(f, "/usr/share/man/man8/"+p.exe+".8.gz", "", 0o644)
	if f, err = write("copyright", []byte(p.copyright())); err != nil {
		return nil, err
	}
	add(f, p.docDir()+"/copyright", "", 0o644)

	scripts := filepath.Join(work, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		return nil, err
	}
	script := func(name, text string) (string, error) {
		if text == "" {
			return "", nil
		}
		f := filepath.Join(scripts, name)
		return f, os.WriteFile(f, []byte(text), 0o755)
	}
	pre, post, preun, postun, err := p.scripts(format)
	if err != nil {
		return nil, specErr("name", "%w", err)
	}
	for _, sc := range []struct {
		dst        *string
		name, text string
	}{
		{&info.Scripts.PreInstall, "preinst", pre},
		{&info.Scripts.PostInstall, "postinst", post},
		{&info.Scripts.PreRemove, "prerm", preun},
		{&info.Scripts.PostRemove, "postrm", postun},
	} {
		if *sc.dst, err = script(sc.name, sc.text); err != nil {
			return nil, err
		}
	}
	switch format {
	case Deb:
		ch, err := gz([]byte(p.debChangelog(debVersion(info))))
		if err != nil {
			return nil, err
		}
		if f, err = write("changelog", ch); err != nil {
			return nil, err
		}
		add(f, p.docDir()+"/changelog.Debian.gz", "", 0o644)
		if o := p.lintianOverrides(); o != "" {
			if f, err = write("overrides", []byte(o)); err != nil {
				return nil, err
			}
			add(f, "/usr/share/lintian/overrides/"+s.Name, "", 0o644)
		}
	case RPM:
		// rpm removes only the directories a package owns (dpkg tracks
		// them itself): own the package's own ones.
		dirs := []string{p.docDir()}
		if p.wrap {
			dirs = append(dirs, path.Dir(p.solePath()))
		}
		for _, c := range s.Configs {
			for d := path.Dir(c.Dest); d != "/etc"; d = path.Dir(d) {
				if !slices.Contains(dirs, d) {
					dirs = append(dirs, d)
				}
			}
		}
		for _, d := range dirs {
			info.Contents = append(info.Contents, &files.Content{Destination: d, Type: files.TypeDir,
				FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: p.date, Owner: "root", Group: "root"}})
		}
	}
	return info, nil
}

// stripped returns a copy of the ELF file src without its symbol table,
// made as dh_strip does, or src itself when it has none or NoStrip is set.
func (p *plan) stripped(ctx context.Context, work, src string, b binary) (string, error) {
	if b.format != "elf" || !b.symtab || p.s.NoStrip {
		return src, nil
	}
	dst := filepath.Join(work, "strip-"+filepath.Base(src)+fmt.Sprint(len(src)))
	var tried []string
	for _, tool := range stripTools(b.arch) {
		path, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, path, "--remove-section=.comment", "--remove-section=.note", "--strip-unneeded", "-o", dst, src).CombinedOutput()
		if err == nil {
			return dst, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", tool, err, strings.Join(strings.Fields(string(out)), " ")))
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("package: %s has a symbol table and binutils' strip is not installed (Debian package binutils, or binutils-multiarch for other architectures): install it, build with -ldflags=\"-s -w\", or ship it unstripped with --no-strip", src)
	}
	return "", fmt.Errorf("package: strip %s (%s): %s; build with -ldflags=\"-s -w\" or ship it unstripped with --no-strip", src, b.arch, strings.Join(tried, "; "))
}

// depends is the package's dependency list: the Spec's, and the C library
// for a dynamic binary that needs it.
func (p *plan) depends(format Format) ([]string, error) {
	deps := append([]string(nil), p.s.Depends...)
	if _, _, ok := p.sysUser(); ok && format == Deb {
		// postinst creates the user with one or the other (as polkitd's
		// does in bookworm).
		deps = append(deps, "adduser | systemd-sysusers")
	}
	// The program, and sole-fleet (a native `go install` with cgo links
	// it dynamically, for the C library's resolver).
	type linked struct {
		b           binary
		field, file string
	}
	bins := []linked{{p.bin, "binary", p.s.Binary}}
	if p.s.Fleet != "" {
		bins = append(bins, linked{p.fleet, "sole-fleet", p.s.SoleFleet})
	}
	libc, glibc := false, ""
	for _, x := range bins {
		if x.b.format != "elf" || x.b.static {
			continue
		}
		for _, l := range x.b.libs {
			if !glibcLibs[l] {
				if len(p.s.Depends) == 0 {
					return nil, specErr(x.field, "%s needs the shared library %s, which sole cannot map to a package: give its package with depends (or link statically, CGO_ENABLED=0)", x.file, l)
				}
				continue
			}
			libc = true
		}
		if versionLess(glibc, x.b.glibc) {
			glibc = x.b.glibc
		}
	}
	if libc {
		dep := map[Format]string{Deb: "libc6", RPM: "glibc"}[format]
		if glibc != "" {
			dep += map[Format]string{Deb: " (>= ", RPM: " >= "}[format] + glibc + map[Format]string{Deb: ")", RPM: ""}[format]
		}
		deps = append(deps, dep)
	}
	return deps, nil
}

// version is the upstream version written into the package.
func (p *plan) version() string {
	return strings.ReplaceAll(strings.TrimPrefix(p.s.Version, "v"), "-", "~")
}

// scripts are the package's maintainer scripts (.deb) or scriptlets
// (.rpm), for a system or a user unit: what runs before install (the
// .rpm's creation of the system user), after install, before removal and
// after removal.
func (p *plan) scripts(format Format) (pre, post, preun, postun string, err error) {
	user, group, create := p.sysUser()
	fleet := p.s.Fleet != "" // started without waiting for its lock
	if format == Deb {
		if p.s.User {
			ds, err := debUserScripts(p.s.Name, fleet)
			return "", ds.Postinst, ds.Prerm, ds.Postrm, err
		}
		x := debExtra{fleet: fleet}
		if create {
			x.sysusers = path.Base(p.sysusersPath())
			x.user, x.group = user, group
		}
		x.purgeDirs = p.stateDirs()
		ds, err := debScripts(p.s.Name, x)
		return "", ds.Postinst, ds.Prerm, ds.Postrm, err
	}
	newScripts := rpmScripts
	if p.s.User {
		newScripts = rpmUserScripts
	}
	rs, err := newScripts(p.s.Name, fleet)
	if create {
		pre = rpmUserPre(p.s.Name, user, group)
	}
	return pre, rs.Post, rs.Preun, rs.Postun, err
}

// debVersion is the version nfpm writes into a .deb's control file.
func debVersion(info *nfpm.Info) string {
	v := info.Version
	if info.Epoch != "" {
		v = info.Epoch + ":" + v
	}
	if info.Prerelease != "" {
		v += "~" + info.Prerelease
	}
	if info.VersionMetadata != "" {
		v += "+" + info.VersionMetadata
	}
	if info.Release != "" {
		v += "-" + info.Release
	}
	return v
}

func (p *plan) longDescription() string {
	kind := "systemd service"
	if p.s.User {
		kind = "systemd user service, enabled for every user,"
	}
	if p.wrap && p.s.Fleet != "" {
		return fmt.Sprintf("This package runs %s as the %s %s.service under sole run: "+
			"one instance at a time (the lock %s), and one across the machines "+
			"that share its lock in etcd: on the others the service stands by "+
			"and takes over when the holder goes. Readiness is reported to systemd "+
			"once the program runs under the lock, signals are forwarded.", p.exe, kind, p.s.Name, p.lockPath())
	}
	if p.wrap {
		return fmt.Sprintf("This package runs %s as the %s %s.service under sole run: "+
			"one instance at a time (the lock %s), readiness reported to systemd "+
			"once the program runs under the lock, signals forwarded, no restart loop when another "+
			"instance already runs.", p.exe, kind, p.s.Name, p.lockPath())
	}
	return fmt.Sprintf("This package runs %s as the %s %s.service. The program "+
		"holds its own single-instance lock (%s) and reports readiness to "+
		"systemd once it holds it.", p.exe, kind, p.s.Name, p.lockPath())
}

// manPage is a short section 8 page: how the program runs as a service.
func (p *plan) manPage() string {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		s = strings.ReplaceAll(s, "-", `\-`)
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
			s = `\&` + s
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 8 %q %q\n", strings.ToUpper(esc(p.exe)), p.date.Format("2006-01-02"), esc(p.s.Name+" "+p.s.Version))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", esc(p.exe), esc(p.s.Description))
	b.WriteString(".SH SYNOPSIS\n")
	if p.wrap {
		user := ""
		if p.s.User {
			user = "\\-\\-user "
		}
		fmt.Fprintf(&b, ".B systemctl %sstart %s\n", user, esc(p.s.Name))
	} else {
		fmt.Fprintf(&b, ".B %s\n.RB [ run | status ]\n", esc(p.exe))
	}
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(esc(p.longDescription()) + "\n")
	b.WriteString(".PP\n")
	fmt.Fprintf(&b, "The service starts when the package is installed and restarts once when it is upgraded. "+
		"Control it with systemctl %sstart, stop, restart and status %s.\n", map[bool]string{true: "\\-\\-user "}[p.s.User], esc(p.s.Name))
	b.WriteString(".SH FILES\n")
	fmt.Fprintf(&b, ".TP\n.I %s\nThe systemd unit.\n", esc(p.unitPath(Deb)))
	fmt.Fprintf(&b, ".TP\n.I %s\nThe single-instance lock: the holder's PID and name.\n", esc(p.lockPath()))
	for _, c := range p.s.Configs {
		fmt.Fprintf(&b, ".TP\n.I %s\nConfiguration.\n", esc(c.Dest))
	}
	b.WriteString(".SH SEE ALSO\n.BR systemctl (1)\n")
	return b.String()
}

// copyright is /usr/share/doc/NAME/copyright.
func (p *plan) copyright() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", p.s.Name)
	fmt.Fprintf(&b, "Packaged by %s.\n", p.s.Maintainer)
	if p.s.Homepage != "" {
		fmt.Fprintf(&b, "Upstream: %s\n", p.s.Homepage)
	}
	fmt.Fprintf(&b, "\nCopyright: %d %s\nLicense: %s\n", p.date.Year(), p.maintainerName(), p.s.License)
	if p.wrap {
		fmt.Fprintf(&b, "\n%s is sole (%s): see its repository for its copyright\nand license.\n", strings.TrimPrefix(p.solePath(), "/"), "https://"+soleModule)
	}
	if p.s.Fleet != "" {
		fmt.Fprintf(&b, "\n%s is sole's too, with etcd's client: see sole's repository\nfor its copyright and license, and for those of what it links.\n", strings.TrimPrefix(p.soleFleetPath(), "/"))
	}
	return b.String()
}

func (p *plan) maintainerName() string {
	n, _, _ := strings.Cut(p.s.Maintainer, "<")
	return strings.TrimSpace(n)
}

// debChangelog is a one-entry Debian changelog for version v.
func (p *plan) debChangelog(v string) string {
	return fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Package built by sole from %s.\n\n -- %s  %s\n",
		p.s.Name, v, p.exe, p.s.Maintainer, p.date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
}

// lintianOverrides lists the tags that a packaged binary draws by being
// what it is, each with its reason (docs/packaging.md).
func (p *plan) lintianOverrides() string {
	var b strings.Builder
	tag := func(why, tag, file string) {
		fmt.Fprintf(&b, "# %s\n%s: %s [%s]\n", why, p.s.Name, tag, strings.TrimPrefix(file, "/"))
	}
	if p.bin.format == "elf" && p.bin.static {
		tag("A static binary (Go's default without cgo) is shipped as built.", "statically-linked-binary", p.programPath())
	}
	if p.wrap {
		tag("sole is a static Go binary, shipped as built.", "statically-linked-binary", p.solePath())
	}
	if p.s.Fleet != "" && p.fleet.static {
		tag("sole-fleet is a static Go binary, shipped as built.", "statically-linked-binary", p.soleFleetPath())
	}
	if p.s.NoStrip && p.bin.format == "elf" && p.bin.symtab {
		tag("Shipped unstripped on request (no-strip).", "unstripped-binary-or-object", p.programPath())
	}
	tag("The package is built outside the Debian archive: there is no ITP bug to close.", "initial-upload-closes-no-bugs", p.docDir()+"/changelog.Debian.gz:1")
	if p.s.Fleet != "" {
		fmt.Fprintf(&b, "# A fleet service may stand by for its lock forever: postinst asks policy-rc.d and starts it as deb-systemd-invoke does, but with systemctl --no-block.\n%s: maintainer-script-calls-systemctl [postinst:*]\n", p.s.Name)
	}
	if _, _, ok := p.sysUser(); ok {
		// As polkitd's override says it in bookworm.
		fmt.Fprintf(&b, "# postinst calls adduser only where systemd-sysusers is missing; it depends on one of them.\n%s: maintainer-script-needs-depends-on-adduser adduser * [postinst:*]\n", p.s.Name)
	}
	return b.String()
}

// gz compresses as gzip -9n does: best compression, no name or time.
func gz(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// wrapText breaks s into lines of at most width bytes at spaces.
func wrapText(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
