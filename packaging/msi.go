package packaging

// Windows Installer packages, built on Linux with wixl (msitools) from a
// WiX v3 source rendered from templates/msi.wxs.tmpl, and checked by
// reading their tables back with msiinfo. docs/packaging-msi.md describes
// the tables and wixl's traps.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"debug/pe"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/solehq/sole/pidlock"
)

// MSI describes a Windows Installer package of one service.
//
// Every text that ends up in the package's tables (names, description,
// manufacturer, arguments, file names) must be printable ASCII: wixl
// writes databases of code page 0 (neutral), in which other characters
// are not portable, and silently drops (or crashes on) characters outside
// Windows-1252.
type MSI struct {
	Name         string    // service name (pidlock.ValidName, and a valid Windows file name): ServiceInstall Name, INSTALLDIR folder name
	DisplayName  string    // optional; ServiceInstall DisplayName and the Add/Remove Programs name; default Name
	Description  string    // one line; ServiceInstall Description, package Comments, ARPCOMMENTS
	Version      string    // N.N.N or N.N.N.N, major and minor <= 255, build and revision <= 65535; a leading "v" is dropped
	Manufacturer string    // required; "Name <mail>": Name is the manufacturer, mail ARPCONTACT
	Program      string    // path on the build machine of the Windows program (a PE .exe for amd64 or 386); its file name is kept in INSTALLDIR
	Args         []string  // program arguments
	Sole         string    // optional path to a Windows sole.exe; when set, the service runs sole.exe, which runs Program
	Configs      []MSIFile // extra files
	Date         time.Time // build time (SOURCE_DATE_EPOCH): the files' times in the cabinet; zero keeps the files' own
	Sign         *Signing  // optional Authenticode signing
}

// MSIFile is an extra file of an MSI: Src on the build machine, Dest a
// relative path under INSTALLDIR ("config\app.yaml" or "config/app.yaml").
type MSIFile struct{ Src, Dest string }

// Signing names the PEM certificate (chain) and PEM private key (not
// encrypted) files that osslsigncode signs with, offline (no timestamp).
type Signing struct{ Cert, Key string }

// ErrNoWixl is wrapped by BuildMSI's error when wixl or msiinfo is not
// installed.
var ErrNoWixl = errors.New("wixl not found: install the Debian package wixl (and msitools for msiinfo)")

// MSITableError is BuildMSI's error when a table of the built package is
// not what the source asked for: wixl can exit 0 having written a wrong
// or empty table.
type MSITableError struct {
	Table   string // the table, as msiinfo names it
	Problem string
}

func (e *MSITableError) Error() string {
	return "packaging: msi: wixl wrote a bad " + e.Table + " table: " + e.Problem
}

// msiNamespace is the UUIDv5 namespace of sole's MSI GUIDs (chosen once,
// at random; never change it: upgrade codes derive from it):
// 1b384e7f-c162-4f19-97db-819ba81ab8a8.
var msiNamespace = [16]byte{0x1b, 0x38, 0x4e, 0x7f, 0xc1, 0x62, 0x4f, 0x19, 0x97, 0xdb, 0x81, 0x9b, 0xa8, 0x1b, 0xa8, 0xa8}

// msiuuidV5 is the name-based UUID (RFC 9562, version 5, SHA-1) of name in
// namespace ns, in the registry format MSI uses: upper case, in braces.
func msiUUIDv5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("{%x-%x-%x-%x-%x}", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// msiUpgradeCode is the UpgradeCode of the service name's packages:
// UUIDv5(msiNamespace, lower-case name). It is the same for x64 and x86
// (one service of a name per machine: a package of either replaces the
// other) and for every version.
func msiUpgradeCode(name string) string { return msiUUIDv5(msiNamespace, strings.ToLower(name)) }

// Component attribute and ServiceControl event bits (msidefs.h).
const (
	msiComponent64bit      = 256
	msiServiceTypeOwn      = 0x10
	msiServiceStartAuto    = 2
	msiServiceErrorNormal  = 1
	msiEventStartInstall   = 0x1
	msiEventStopInstall    = 0x2
	msiEventStopUninstall  = 0x20
	msiEventDeleteUninst   = 0x80
	msiServiceControlEvent = msiEventStartInstall | msiEventStopInstall | msiEventStopUninstall | msiEventDeleteUninst
)

//go:embed templates/msi.wxs.tmpl
var msiTemplateText string

var msiTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("msi.wxs").Funcs(template.FuncMap{"x": msiXMLEscape}).Parse(msiTemplateText)
})

func msiXMLEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // never fails on a strings.Builder
	return b.String()
}

// msiPlan is what the template renders and the table check expects.
type msiPlan struct {
	Name, DisplayName, Description, Version, Manufacturer, Contact string
	Arch                                                           string // wixl's -a: x64 or x86
	Win64                                                          bool
	ProgramFilesFolder                                             string
	UpgradeCode                                                    string
	ProductCode                                                    string
	Root                                                           *msiDir
	Components                                                     []*msiComponent
	Service                                                        *msiService
	DowngradeMessage                                               string
}

type msiDir struct {
	ID, Name   string
	Dirs       []*msiDir
	Components []*msiComponent
}

type msiComponent struct {
	ID, GUID, FileID, FileName string
	Dir                        string // Directory Id
	Source                     string // staged copy, set by BuildMSI
	src                        string // on the build machine
	exe                        bool   // signed when signing
	size                       int64
	Win64                      bool
	Service                    *msiService // the service runs this file
}

type msiService struct {
	Component                      string
	Name, DisplayName, Description string // MSI Formatted
	Arguments                      string // MSI Formatted
}

// BuildMSI writes NAME-VERSION-ARCH.msi into outDir (created if need be)
// and returns its path. ARCH is x64 or x86, from the PE header of
// Program. It returns:
//   - an error naming the field for bad input (name, version,
//     manufacturer, a program that is not a PE for amd64 or 386, a config
//     destination that is empty, absolute, has ".." or clashes);
//   - an error wrapping ErrNoWixl when wixl or msiinfo is missing;
//   - an error naming the tool and its output when wixl, msiinfo or
//     osslsigncode fails;
//   - a *MSITableError when a table read back with msiinfo is wrong.
//
// With Sign, the .exe files are signed (copies) before packaging and the
// .msi after.
func BuildMSI(ctx context.Context, m MSI, outDir string) (string, error) {
	p, err := planMSI(m)
	if err != nil {
		return "", err
	}
	wixl, errW := exec.LookPath("wixl")
	msiinfo, errI := exec.LookPath("msiinfo")
	if errW != nil || errI != nil {
		return "", fmt.Errorf("packaging: msi: %w", ErrNoWixl)
	}
	var signer string
	if m.Sign != nil {
		if m.Sign.Cert == "" || m.Sign.Key == "" {
			return "", errors.New("packaging: msi: signing needs a certificate and a key file")
		}
		if signer, err = exec.LookPath("osslsigncode"); err != nil {
			return "", errors.New("packaging: msi: osslsigncode not found: install the Debian package osslsigncode")
		}
	}
	// The tools run in the staging directory: a relative outDir would
	// name another place there. The path returned keeps the caller's
	// spelling.
	given := outDir
	if outDir, err = filepath.Abs(outDir); err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	stage, err := os.MkdirTemp(outDir, ".msi-build-")
	if err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	defer os.RemoveAll(stage)
	if msiStageHook != nil {
		defer msiStageHook(stage)
	}

	// Stage every file under a plain name: wixl reads the sources by
	// path, and the cabinet keeps their times (set to Date).
	for i, c := range p.Components {
		// wixl wants Source relative to its working directory.
		c.Source = fmt.Sprintf("f%d", i)
		staged := filepath.Join(stage, c.Source)
		if c.exe && m.Sign != nil {
			if err := msiSign(ctx, signer, m.Sign, p.Name, c.src, staged); err != nil {
				return "", err
			}
		} else if err := msiCopyFile(c.src, staged); err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
		fi, err := os.Stat(staged)
		if err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
		c.size = fi.Size()
		mtime := m.Date
		if mtime.IsZero() {
			src, err := os.Stat(c.src)
			if err != nil {
				return "", fmt.Errorf("packaging: msi: %w", err)
			}
			mtime = src.ModTime()
		}
		if err := os.Chtimes(staged, mtime, mtime); err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
	}

	tmpl, err := msiTemplate()
	if err != nil {
		return "", fmt.Errorf("packaging: msi: template: %w", err)
	}
	var wxs bytes.Buffer
	if err := tmpl.Execute(&wxs, p); err != nil {
		return "", fmt.Errorf("packaging: msi: template: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, "package.wxs"), wxs.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	out, err := msiRunTool(ctx, stage, wixl, "-a", p.Arch, "-o", "package.msi", "package.wxs")
	if err != nil {
		return "", err
	}
	// wixl reports some failures (an unknown attribute, a ServiceControl
	// without Id) on stderr and exits 0 all the same.
	for _, bad := range []string{"WARNING", "CRITICAL", "ERROR"} {
		if bytes.Contains(out, []byte(bad)) {
			return "", fmt.Errorf("packaging: msi: wixl: %s", msiOneLine(out))
		}
	}
	built := filepath.Join(stage, "package.msi")
	tables := map[string]*idtTable{}
	for _, name := range msiCheckedTables {
		out, err := msiRunTool(ctx, stage, msiinfo, "export", built, name)
		if err != nil {
			return "", err
		}
		t, err := parseIDT(out)
		if err != nil {
			return "", fmt.Errorf("packaging: msi: msiinfo export %s: %w", name, err)
		}
		tables[name] = t
	}
	if err := checkMSITables(p, tables); err != nil {
		return "", err
	}

	final := filepath.Join(outDir, fmt.Sprintf("%s-%s-%s.msi", p.Name, p.Version, p.Arch))
	if m.Sign != nil {
		signed := filepath.Join(stage, "signed.msi")
		if err := msiSign(ctx, signer, m.Sign, p.DisplayName, built, signed); err != nil {
			return "", err
		}
		built = signed
	}
	if err := os.Chmod(built, 0o644); err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	if err := os.Rename(built, final); err != nil {
		return "", fmt.Errorf("packaging: msi: %w", err)
	}
	return filepath.Join(given, filepath.Base(final)), nil
}

// msiStageHook, when set (by tests), sees the staging directory before it
// is removed.
var msiStageHook func(dir string)

// planMSI validates m and lays the package out.
func planMSI(m MSI) (*msiPlan, error) {
	if err := pidlock.ValidName(m.Name); err != nil {
		return nil, fmt.Errorf("packaging: msi: name: %w", err)
	}
	if err := msiFileName(m.Name); err != nil {
		return nil, fmt.Errorf("packaging: msi: name %q: %w", m.Name, err)
	}
	p := &msiPlan{Name: m.Name, DisplayName: m.DisplayName, Description: m.Description, DowngradeMessage: msiDowngradeMessage}
	if p.DisplayName == "" {
		p.DisplayName = m.Name
	}
	var err error
	if p.Version, err = msiVersion(m.Version); err != nil {
		return nil, err
	}
	if p.Manufacturer, p.Contact, err = msiManufacturer(m.Manufacturer); err != nil {
		return nil, err
	}
	for _, f := range []struct{ what, s string }{{"name", m.Name}, {"display name", p.DisplayName}, {"description", p.Description}} {
		if err := msiText(f.s); err != nil {
			return nil, fmt.Errorf("packaging: msi: %s %q: %w", f.what, f.s, err)
		}
	}
	for i, a := range m.Args {
		if err := msiText(a); err != nil {
			return nil, fmt.Errorf("packaging: msi: argument %d %q: %w", i+1, a, err)
		}
	}
	p.UpgradeCode = msiUpgradeCode(m.Name)

	if m.Program == "" {
		return nil, errors.New("packaging: msi: no program")
	}
	machine, err := peMachine(m.Program)
	if err != nil {
		return nil, fmt.Errorf("packaging: msi: program: %w", err)
	}
	switch machine {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		p.Arch, p.Win64, p.ProgramFilesFolder = "x64", true, "ProgramFiles64Folder"
	case pe.IMAGE_FILE_MACHINE_I386:
		p.Arch, p.ProgramFilesFolder = "x86", "ProgramFilesFolder"
	default:
		return nil, fmt.Errorf("packaging: msi: program %s: a PE for %s; MSI packages are built for amd64 (x64) and 386 (x86) programs only", m.Program, peArchName(machine))
	}
	// A product code of its own for each name, version and architecture
	// (what Product Id="*" gives too, but random): the same inputs give
	// the same tables.
	p.ProductCode = msiUUIDv5(msiNamespace, "product\x00"+strings.ToLower(m.Name)+"\x00"+p.Version+"\x00"+p.Arch)
	progName := filepath.Base(m.Program)
	if err := msiFileName(progName); err != nil {
		return nil, fmt.Errorf("packaging: msi: program file name %q: %w", progName, err)
	}
	if !strings.EqualFold(filepath.Ext(progName), ".exe") {
		return nil, fmt.Errorf("packaging: msi: program file name %q: not a .exe", progName)
	}

	p.Root = &msiDir{ID: "INSTALLDIR", Name: m.Name}
	dirs := map[string]*msiDir{"": p.Root} // by lower-case relative path
	files := map[string]string{}           // lower-case relative path: what
	add := func(rel []string, what, src, fileID string, exe bool) *msiComponent {
		dir := p.Root
		for i := range rel[:len(rel)-1] {
			key := strings.ToLower(strings.Join(rel[:i+1], `\`))
			d, ok := dirs[key]
			if !ok {
				d = &msiDir{ID: fmt.Sprintf("Dir%d", len(dirs)), Name: rel[i]}
				dirs[key] = d
				dir.Dirs = append(dir.Dirs, d)
			}
			dir = d
		}
		path := strings.Join(rel, `\`)
		files[strings.ToLower(path)] = what
		c := &msiComponent{
			ID:       fileID + "Component",
			GUID:     msiUUIDv5(msiNamespace, "component\x00"+strings.ToLower(m.Name)+"\x00"+p.Arch+"\x00"+strings.ToLower(path)),
			FileID:   fileID,
			FileName: rel[len(rel)-1],
			Dir:      dir.ID,
			src:      src,
			exe:      exe,
			Win64:    p.Win64,
		}
		dir.Components = append(dir.Components, c)
		p.Components = append(p.Components, c)
		return c
	}
	prog := add([]string{progName}, "the program", m.Program, "Program", true)

	// The service's command line, in MSI Formatted syntax.
	var args []string
	svcComp := prog
	if m.Sole == "" {
		args = append(args, "run")
	} else {
		machine, err := peMachine(m.Sole)
		if err != nil {
			return nil, fmt.Errorf("packaging: msi: sole: %w", err)
		}
		if want := map[bool]uint16{true: pe.IMAGE_FILE_MACHINE_AMD64, false: pe.IMAGE_FILE_MACHINE_I386}[p.Win64]; machine != want {
			return nil, fmt.Errorf("packaging: msi: sole %s: a PE for %s, the program one for %s: they must match", m.Sole, peArchName(machine), peArchName(want))
		}
		if strings.EqualFold(progName, "sole.exe") {
			return nil, errors.New(`packaging: msi: program file name "sole.exe": clashes with sole's own in the wrapped package`)
		}
		svcComp = add([]string{"sole.exe"}, "sole", m.Sole, "Sole", true)
		args = append(args, "run", "--name", m.Name, "--scope", "system", "--service", "--")
	}
	var cmd []string
	for _, a := range args {
		cmd = append(cmd, msiFormatEscape(msiEscapeArg(a)))
	}
	if m.Sole != "" {
		// A file's full path has no quote and does not end in a backslash:
		// quoting it is escaping it (syscall.EscapeArg's rule).
		cmd = append(cmd, `"[#`+prog.FileID+`]"`)
	}
	for _, a := range m.Args {
		cmd = append(cmd, msiFormatEscape(msiEscapeArg(a)))
	}
	p.Service = &msiService{
		Component:   svcComp.ID,
		Name:        msiFormatEscape(m.Name),
		DisplayName: msiFormatEscape(p.DisplayName),
		Description: msiFormatEscape(p.Description),
		Arguments:   strings.Join(cmd, " "),
	}
	svcComp.Service = p.Service

	for i, f := range m.Configs {
		rel, err := msiDest(f.Dest)
		if err != nil {
			return nil, fmt.Errorf("packaging: msi: config %d: %w", i+1, err)
		}
		if f.Src == "" {
			return nil, fmt.Errorf("packaging: msi: config %d (%s): no source file", i+1, f.Dest)
		}
		fi, err := os.Stat(f.Src)
		if err != nil {
			return nil, fmt.Errorf("packaging: msi: config %d: %w", i+1, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("packaging: msi: config %d: %s is not a regular file", i+1, f.Src)
		}
		key := strings.ToLower(strings.Join(rel, `\`))
		if what, ok := files[key]; ok {
			return nil, fmt.Errorf("packaging: msi: config %d: destination %q clashes with %s", i+1, f.Dest, what)
		}
		if _, ok := dirs[key]; ok {
			return nil, fmt.Errorf("packaging: msi: config %d: destination %q is a directory of another file", i+1, f.Dest)
		}
		for j := 1; j < len(rel); j++ {
			if what, ok := files[strings.ToLower(strings.Join(rel[:j], `\`))]; ok {
				return nil, fmt.Errorf("packaging: msi: config %d: destination %q is under %s, a file", i+1, f.Dest, what)
			}
		}
		add(rel, fmt.Sprintf("config %d (%s)", i+1, f.Dest), f.Src, fmt.Sprintf("Config%d", i+1), false)
	}
	return p, nil
}

// msiVersion checks an MSI ProductVersion and returns it without its "v"
// and leading zeros.
func msiVersion(v string) (string, error) {
	s := strings.TrimPrefix(v, "v")
	parts := strings.Split(s, ".")
	bad := func(why string) error {
		return fmt.Errorf("packaging: msi: version %q: %s (an MSI version is N.N.N or N.N.N.N, major and minor at most 255, build and revision at most 65535)", v, why)
	}
	if len(parts) != 3 && len(parts) != 4 {
		return "", bad(fmt.Sprintf("%d fields", len(parts)))
	}
	limits := []uint64{255, 255, 65535, 65535}
	for i, f := range parts {
		if f == "" || strings.Trim(f, "0123456789") != "" {
			return "", bad(fmt.Sprintf("field %q is not a number", f))
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || n > limits[i] {
			return "", bad(fmt.Sprintf("field %q is above %d", f, limits[i]))
		}
		parts[i] = strconv.FormatUint(n, 10)
	}
	return strings.Join(parts, "."), nil
}

// msiManufacturer splits "Name <mail>".
func msiManufacturer(s string) (name, contact string, err error) {
	name = strings.TrimSpace(s)
	if i := strings.LastIndexByte(name, '<'); i >= 0 && strings.HasSuffix(name, ">") {
		name, contact = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:len(name)-1])
	}
	if name == "" {
		return "", "", fmt.Errorf("packaging: msi: manufacturer %q: empty (MSI requires one)", s)
	}
	for _, f := range []string{name, contact} {
		if err := msiText(f); err != nil {
			return "", "", fmt.Errorf("packaging: msi: manufacturer %q: %w", s, err)
		}
	}
	return name, contact, nil
}

// msiText checks a text for the package's tables: printable ASCII.
func msiText(s string) error {
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return errors.New("contains a control character (a line break or tab, say)")
		case r >= 0x80:
			return fmt.Errorf("contains %q: only ASCII is portable in wixl's code page 0 database", r)
		}
	}
	return nil
}

// msiFileName checks one file or folder name for Windows.
func msiFileName(s string) error {
	if err := msiText(s); err != nil {
		return err
	}
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a name", s)
	case strings.ContainsAny(s, `<>:"/\|?*`):
		return errors.New(`has a character Windows forbids in file names (<>:"/\|?*)`)
	case strings.HasSuffix(s, " ") || strings.HasSuffix(s, "."):
		return errors.New("ends in a space or dot, which Windows drops")
	}
	base := strings.ToUpper(s)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	switch strings.TrimRight(base, " ") {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return errors.New("a reserved device name on Windows")
	}
	return nil
}

// msiDest splits a config destination into its names.
func msiDest(dest string) ([]string, error) {
	d := strings.ReplaceAll(dest, "/", `\`)
	switch {
	case d == "":
		return nil, errors.New("empty destination")
	case strings.HasPrefix(d, `\`) || len(d) >= 2 && d[1] == ':':
		return nil, fmt.Errorf("destination %q is absolute: it must be relative to INSTALLDIR", dest)
	}
	parts := strings.Split(d, `\`)
	for _, p := range parts {
		switch p {
		case "":
			return nil, fmt.Errorf("destination %q has an empty path element", dest)
		case ".", "..":
			return nil, fmt.Errorf("destination %q has a %q element: it must stay under INSTALLDIR", dest, p)
		}
		if err := msiFileName(p); err != nil {
			return nil, fmt.Errorf("destination %q: %q: %w", dest, p, err)
		}
	}
	return parts, nil
}

// msiEscapeArg quotes s as syscall.EscapeArg does on Windows (which
// CommandLineToArgvW and Go's os.Args read back): unchanged unless it is
// empty or has a space, tab, quote or backslash; quotes are preceded by a
// backslash, as are the backslashes before a quote or the closing quote.
func msiEscapeArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	hasSpace := strings.ContainsAny(s, " \t")
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	if hasSpace {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		default:
			slashes = 0
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	if hasSpace {
		for ; slashes > 0; slashes-- {
			b.WriteByte('\\')
		}
		b.WriteByte('"')
	}
	return b.String()
}

// msiFormatEscape makes s literal in an MSI Formatted column: each of
// [ ] { } becomes [\c].
func msiFormatEscape(s string) string {
	if !strings.ContainsAny(s, "[]{}") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '[', ']', '{', '}':
			b.WriteString(`[\`)
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func msiCopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// msisign signs in into out with osslsigncode, offline.
func msiSign(ctx context.Context, osslsigncode string, s *Signing, name, in, out string) error {
	_, err := msiRunTool(ctx, "", osslsigncode, "sign", "-certs", s.Cert, "-key", s.Key, "-n", name, "-in", in, "-out", out)
	return err
}

// msirunTool runs a tool and returns its standard output; its error names
// the tool and has its output on one line.
func msiRunTool(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	name := filepath.Base(tool)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name += " " + args[0]
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("packaging: msi: %s: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("packaging: msi: %s: %w: %s", name, err, msiOneLine(append(stderr.Bytes(), stdout.Bytes()...)))
	}
	if filepath.Base(tool) == "wixl" {
		return append(stderr.Bytes(), stdout.Bytes()...), nil
	}
	return stdout.Bytes(), nil
}

// msioneLine squeezes a tool's output onto one line of at most 400 bytes.
func msiOneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 400 {
		i := 400
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "..."
	}
	if s == "" {
		s = "(no output)"
	}
	return s
}

// The tables BuildMSI reads back.
var msiCheckedTables = []string{"ServiceInstall", "ServiceControl", "Component", "File", "Directory", "Property", "Upgrade", "LaunchCondition", "_SummaryInformation"}

// msiDowngradeMessage is MajorUpgrade's DowngradeErrorMessage (a launch
// condition).
const msiDowngradeMessage = "A newer version of [ProductName] is already installed: uninstall it first to install this one."

// checkMSITables checks the tables of a built package against its plan.
func checkMSITables(p *msiPlan, tables map[string]*idtTable) error {
	bad := func(table, format string, args ...any) error {
		return &MSITableError{Table: table, Problem: fmt.Sprintf(format, args...)}
	}
	get := func(name string, cols ...string) (*idtTable, error) {
		t := tables[name]
		if t == nil {
			return nil, bad(name, "not in the package")
		}
		for _, c := range cols {
			if t.col(c) < 0 {
				return nil, bad(name, "no column %s", c)
			}
		}
		return t, nil
	}

	// ServiceInstall: one row, the service as planned.
	t, err := get("ServiceInstall", "ServiceInstall", "Name", "DisplayName", "ServiceType", "StartType", "ErrorControl", "StartName", "Arguments", "Component_", "Description")
	if err != nil {
		return err
	}
	if len(t.Rows) != 1 {
		return bad("ServiceInstall", "%d rows, want 1", len(t.Rows))
	}
	s := p.Service
	for _, c := range []struct{ col, want string }{
		{"Name", s.Name},
		{"DisplayName", s.DisplayName},
		{"Description", s.Description},
		{"ServiceType", strconv.Itoa(msiServiceTypeOwn)},
		{"StartType", strconv.Itoa(msiServiceStartAuto)},
		{"ErrorControl", strconv.Itoa(msiServiceErrorNormal)},
		{"StartName", "LocalSystem"},
		{"Arguments", s.Arguments},
		{"Component_", s.Component},
	} {
		if got := t.get(0, c.col); got != c.want {
			return bad("ServiceInstall", "%s is %q, want %q", c.col, got, c.want)
		}
	}

	// ServiceControl: one row, start on install, stop on both, delete on
	// uninstall, and wait.
	t, err = get("ServiceControl", "ServiceControl", "Name", "Event", "Wait", "Component_")
	if err != nil {
		return err
	}
	if len(t.Rows) != 1 {
		return bad("ServiceControl", "%d rows, want 1 (wixl writes none for a ServiceControl without Id)", len(t.Rows))
	}
	for _, c := range []struct{ col, want string }{
		{"Name", s.Name},
		{"Event", strconv.Itoa(msiServiceControlEvent)},
		{"Wait", "1"},
		{"Component_", s.Component},
	} {
		if got := t.get(0, c.col); got != c.want {
			return bad("ServiceControl", "%s is %q, want %q", c.col, got, c.want)
		}
	}

	// Component and File: exactly the planned ones; 64-bit on x64.
	comps, err := get("Component", "Component", "ComponentId", "Directory_", "Attributes", "KeyPath")
	if err != nil {
		return err
	}
	files, err := get("File", "File", "Component_", "FileName", "FileSize")
	if err != nil {
		return err
	}
	if len(comps.Rows) != len(p.Components) {
		return bad("Component", "%d rows, want %d", len(comps.Rows), len(p.Components))
	}
	if len(files.Rows) != len(p.Components) {
		return bad("File", "%d rows, want %d", len(files.Rows), len(p.Components))
	}
	for _, c := range p.Components {
		i := comps.find("Component", c.ID)
		if i < 0 {
			return bad("Component", "no component %s", c.ID)
		}
		attr, err := strconv.Atoi(comps.get(i, "Attributes"))
		if err != nil {
			return bad("Component", "component %s: attributes %q", c.ID, comps.get(i, "Attributes"))
		}
		if p.Win64 && attr&msiComponent64bit == 0 {
			return bad("Component", "component %s lacks msidbComponentAttributes64bit (256) in a x64 package (attributes %d; wixl needs Win64=\"yes\")", c.ID, attr)
		}
		if !p.Win64 && attr&msiComponent64bit != 0 {
			return bad("Component", "component %s is 64-bit in a x86 package (attributes %d)", c.ID, attr)
		}
		for _, x := range []struct{ col, want string }{{"ComponentId", c.GUID}, {"Directory_", c.Dir}, {"KeyPath", c.FileID}} {
			if got := comps.get(i, x.col); got != x.want {
				return bad("Component", "component %s: %s is %q, want %q", c.ID, x.col, got, x.want)
			}
		}
		j := files.find("File", c.FileID)
		if j < 0 {
			return bad("File", "no file %s (%s)", c.FileID, c.FileName)
		}
		for _, x := range []struct{ col, want string }{{"Component_", c.ID}, {"FileName", c.FileName}, {"FileSize", strconv.FormatInt(c.size, 10)}} {
			if got := files.get(j, x.col); got != x.want {
				return bad("File", "file %s: %s is %q, want %q", c.FileID, x.col, got, x.want)
			}
		}
	}

	// Directory: INSTALLDIR named after the service, under the right
	// Program Files.
	t, err = get("Directory", "Directory", "Directory_Parent", "DefaultDir")
	if err != nil {
		return err
	}
	var checkDir func(d *msiDir, parent string) error
	checkDir = func(d *msiDir, parent string) error {
		i := t.find("Directory", d.ID)
		if i < 0 {
			return bad("Directory", "no directory %s (%s)", d.ID, d.Name)
		}
		if got := t.get(i, "Directory_Parent"); got != parent {
			return bad("Directory", "%s is under %q, want %q", d.ID, got, parent)
		}
		if got := t.get(i, "DefaultDir"); got != d.Name {
			return bad("Directory", "%s is named %q, want %q", d.ID, got, d.Name)
		}
		for _, sub := range d.Dirs {
			if err := checkDir(sub, d.ID); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkDir(p.Root, p.ProgramFilesFolder); err != nil {
		return err
	}

	// Property: what Add/Remove Programs and upgrades read.
	t, err = get("Property", "Property", "Value")
	if err != nil {
		return err
	}
	props := map[string]string{
		"ProductName": p.DisplayName, "ProductVersion": p.Version, "Manufacturer": p.Manufacturer,
		"UpgradeCode": p.UpgradeCode, "ALLUSERS": "1", "ARPNOMODIFY": "1",
	}
	if p.Contact != "" {
		props["ARPCONTACT"] = p.Contact
	}
	if p.Description != "" {
		props["ARPCOMMENTS"] = p.Description
	}
	for _, k := range msiSortedKeys(props) {
		i := t.find("Property", k)
		if i < 0 {
			return bad("Property", "no %s", k)
		}
		if got := t.get(i, "Value"); got != props[k] {
			return bad("Property", "%s is %q, want %q", k, got, props[k])
		}
	}
	if i := t.find("Property", "ProductCode"); i < 0 || len(t.get(i, "Value")) != 38 {
		return bad("Property", "no ProductCode")
	}

	// Upgrade: MajorUpgrade's two rows (older versions upgraded, newer
	// ones detected for the downgrade error).
	t, err = get("Upgrade", "UpgradeCode", "VersionMin", "VersionMax", "ActionProperty")
	if err != nil {
		return err
	}
	found := map[string]bool{}
	for i := range t.Rows {
		if t.get(i, "UpgradeCode") == p.UpgradeCode {
			found[t.get(i, "ActionProperty")] = true
		}
	}
	if !found["WIX_UPGRADE_DETECTED"] || !found["WIX_DOWNGRADE_DETECTED"] {
		return bad("Upgrade", "no MajorUpgrade rows for upgrade code %s", p.UpgradeCode)
	}

	// LaunchCondition: the downgrade error.
	t, err = get("LaunchCondition", "Condition", "Description")
	if err != nil {
		return err
	}
	if i := t.find("Condition", "NOT WIX_DOWNGRADE_DETECTED"); i < 0 || t.get(i, "Description") != msiDowngradeMessage {
		return bad("LaunchCondition", "no downgrade error %q", msiDowngradeMessage)
	}

	// The summary's template: the platform.
	t, err = get("_SummaryInformation", "PropertyId", "Value")
	if err != nil {
		return err
	}
	want := map[bool]string{true: "x64;1033", false: "Intel;1033"}[p.Win64]
	if i := t.find("PropertyId", "7"); i < 0 || t.get(i, "Value") != want {
		return bad("_SummaryInformation", "template (platform) is not %q", want)
	}
	return nil
}

func msiSortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// idtTable is a table as msiinfo export writes it: the text archive
// (.idt) format of MsiDatabaseExport. Three header lines, tab-separated:
// column names, column types ("s72": s/S string, l/L localizable string,
// i/I integer of 2 or 4 bytes, v/V binary (a stream file name); upper case
// nullable), then the table name (after a code page number when the data
// is not ASCII) and its primary key columns; then one line per row, each
// with a value per column. Lines end in CR LF. Within values, 0x11 0x19
// stands for a CR LF, 0x19 for a LF and 0x11 for a CR. _ForceCodepage has
// a form of its own: two empty lines, then "CODEPAGE\t_ForceCodepage".
type idtTable struct {
	Name     string
	Codepage int
	Columns  []string
	Types    []string
	Keys     []string
	Rows     [][]string
}

// parseIDT parses one table exported by msiinfo.
func parseIDT(data []byte) (*idtTable, error) {
	data = bytes.TrimRight(data, "\x00")
	if !utf8.Valid(data) {
		return nil, errors.New("idt: not UTF-8")
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("idt: no final line break")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("idt: %d lines, want at least 3 header lines", len(lines))
	}
	for i, l := range lines {
		if strings.ContainsRune(l, '\r') {
			return nil, fmt.Errorf("idt: line %d: a lone CR", i+1)
		}
	}
	if lines[0] == "" && lines[1] == "" && len(lines) == 3 {
		cp, name, ok := strings.Cut(lines[2], "\t")
		n, err := strconv.Atoi(cp)
		if !ok || name != "_ForceCodepage" || err != nil || n < 0 || strconv.Itoa(n) != cp {
			return nil, fmt.Errorf("idt: bad _ForceCodepage line %q", lines[2])
		}
		return &idtTable{Name: name, Codepage: n}, nil
	}
	t := &idtTable{Columns: strings.Split(lines[0], "\t"), Types: strings.Split(lines[1], "\t")}
	if len(t.Columns) != len(t.Types) {
		return nil, fmt.Errorf("idt: %d column names but %d types", len(t.Columns), len(t.Types))
	}
	seen := map[string]bool{}
	for i, c := range t.Columns {
		if !msiIdentifier(c) {
			return nil, fmt.Errorf("idt: column name %q", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("idt: column %s twice", c)
		}
		seen[c] = true
		if !idtType(t.Types[i]) {
			return nil, fmt.Errorf("idt: column %s: type %q", c, t.Types[i])
		}
	}
	labels := strings.Split(lines[2], "\t")
	if n, err := strconv.Atoi(labels[0]); err == nil && len(labels) > 1 {
		if n < 0 || strconv.Itoa(n) != labels[0] {
			return nil, fmt.Errorf("idt: code page %q", labels[0])
		}
		t.Codepage = n
		labels = labels[1:]
	}
	t.Name, t.Keys = labels[0], labels[1:]
	if !msiIdentifier(t.Name) {
		return nil, fmt.Errorf("idt: table name %q", t.Name)
	}
	if len(t.Keys) == 0 {
		return nil, fmt.Errorf("idt: table %s: no primary key", t.Name)
	}
	for _, k := range t.Keys {
		if !seen[k] {
			return nil, fmt.Errorf("idt: table %s: primary key %q is not a column", t.Name, k)
		}
	}
	for i, l := range lines[3:] {
		row := strings.Split(l, "\t")
		if len(row) != len(t.Columns) {
			return nil, fmt.Errorf("idt: table %s: row %d has %d values, want %d", t.Name, i+1, len(row), len(t.Columns))
		}
		for j, v := range row {
			v = strings.ReplaceAll(v, "\x11\x19", "\r\n")
			v = strings.ReplaceAll(v, "\x19", "\n")
			v = strings.ReplaceAll(v, "\x11", "\r")
			row[j] = v
			if typ := t.Types[j]; typ[0] == 'i' || typ[0] == 'I' {
				if v == "" {
					continue
				}
				bits := 32
				if typ[1:] == "2" || typ[1:] == "1" {
					bits = 16
				}
				if _, err := strconv.ParseInt(v, 10, bits); err != nil {
					return nil, fmt.Errorf("idt: table %s: row %d: column %s: %q is not an integer of %s", t.Name, i+1, t.Columns[j], v, typ)
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// format writes t back in the text archive format (the inverse of
// parseIDT).
func (t *idtTable) format() []byte {
	var b strings.Builder
	if t.Name == "_ForceCodepage" && len(t.Columns) == 0 {
		fmt.Fprintf(&b, "\r\n\r\n%d\t_ForceCodepage\r\n", t.Codepage)
		return []byte(b.String())
	}
	line := func(fields []string) {
		b.WriteString(strings.Join(fields, "\t"))
		b.WriteString("\r\n")
	}
	line(t.Columns)
	line(t.Types)
	labels := append([]string{t.Name}, t.Keys...)
	if t.Codepage != 0 {
		labels = append([]string{strconv.Itoa(t.Codepage)}, labels...)
	}
	line(labels)
	esc := strings.NewReplacer("\r\n", "\x11\x19", "\n", "\x19", "\r", "\x11")
	for _, r := range t.Rows {
		fields := make([]string, len(r))
		for i, v := range r {
			fields[i] = esc.Replace(v)
		}
		line(fields)
	}
	return []byte(b.String())
}

// col returns the index of a column, or -1.
func (t *idtTable) col(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// get returns a row's value of a column ("" if there is no such column).
func (t *idtTable) get(row int, col string) string {
	if i := t.col(col); i >= 0 && row >= 0 && row < len(t.Rows) {
		return t.Rows[row][i]
	}
	return ""
}

// find returns the first row whose column col is value, or -1.
func (t *idtTable) find(col, value string) int {
	i := t.col(col)
	if i < 0 {
		return -1
	}
	for r, row := range t.Rows {
		if row[i] == value {
			return r
		}
	}
	return -1
}

// msiIdentifier reports whether s is an MSI identifier: letters, digits,
// underscores and periods, not starting with a digit or period.
func msiIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case c == '.' || '0' <= c && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// idtType reports whether s is a column type of the text archive format.
func idtType(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("sSlLiIvV", rune(s[0])) {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != s[1:] {
		return false
	}
	if s[0] == 'i' || s[0] == 'I' {
		return n == 1 || n == 2 || n == 4
	}
	return true
}
