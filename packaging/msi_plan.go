package packaging

// The layout of an .msi: its product and upgrade codes, directories,
// components and service, and the checks of what an .msi needs beyond a
// Spec valid for Windows.

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/solehq/sole/internal/unit"
)

// uuidNamespace is the UUIDv5 namespace of sole's MSI GUIDs (chosen once,
// at random; never change it: upgrade codes derive from it):
// 1b384e7f-c162-4f19-97db-819ba81ab8a8.
var uuidNamespace = [16]byte{0x1b, 0x38, 0x4e, 0x7f, 0xc1, 0x62, 0x4f, 0x19, 0x97, 0xdb, 0x81, 0x9b, 0xa8, 0x1b, 0xa8, 0xa8}

// uuidV5 is the name-based UUID (RFC 9562, version 5, SHA-1) of name in
// namespace ns, in the registry format MSI uses: upper case, in braces.
func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("{%x-%x-%x-%x-%x}", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// upgradeCode is the UpgradeCode of the service name's packages:
// UUIDv5(uuidNamespace, lower-case name). It is the same for x64 and x86
// (one service of a name per machine: a package of either replaces the
// other) and for every version.
func upgradeCode(name string) string { return uuidV5(uuidNamespace, strings.ToLower(name)) }

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
	Source                     string // staged copy, set by buildMSI
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
	Account                        string // StartName: LocalSystem, NT AUTHORITY\LocalService, ...
}

// planMSI lays out the .msi of lp, a Spec validated for Windows, and
// checks what an .msi needs beyond it: printable ASCII in every text that
// goes into its tables, Windows file names, an MSI version, a program for
// amd64 or 386, config destinations that stay under INSTALLDIR and clash
// with nothing.
func planMSI(lp *plan) (*msiPlan, error) {
	s := lp.s
	if err := windowsFileName(s.Name); err != nil {
		return nil, specErr("name", "%q: %w", s.Name, err)
	}
	if s.Sign != nil && (s.Sign.Cert == "" || s.Sign.Key == "") {
		return nil, specErr("sign", "signing needs a certificate and a key file")
	}
	p := &msiPlan{Name: s.Name, DisplayName: s.DisplayName, Description: s.Description, DowngradeMessage: downgradeMessage}
	if p.DisplayName == "" {
		p.DisplayName = s.Name
	}
	var err error
	if p.Version, err = productVersion(s.Version); err != nil {
		return nil, specErr("version", "%w", err)
	}
	if p.Manufacturer, p.Contact, err = splitManufacturer(s.Maintainer); err != nil {
		return nil, specErr("maintainer", "%w", err)
	}
	for _, f := range []struct{ field, s string }{{"display-name", p.DisplayName}, {"description", p.Description}} {
		if err := printableASCII(f.s); err != nil {
			return nil, specErr(f.field, "%q: %w", f.s, err)
		}
	}
	for i, a := range s.Args {
		if err := printableASCII(a); err != nil {
			return nil, specErr("args["+strconv.Itoa(i)+"]", "%q: %w", a, err)
		}
	}
	p.UpgradeCode = upgradeCode(s.Name)

	switch lp.bin.arch {
	case "amd64":
		p.Arch, p.Win64, p.ProgramFilesFolder = "x64", true, "ProgramFiles64Folder"
	case "386":
		p.Arch, p.ProgramFilesFolder = "x86", "ProgramFilesFolder"
	default:
		return nil, specErr("binary", "%s: a PE for %s; MSI packages are built for amd64 (x64) and 386 (x86) programs only", s.Binary, lp.bin.arch)
	}
	// A product code of its own for each name, version and architecture
	// (what Product Id="*" gives too, but random): the same inputs give
	// the same tables.
	p.ProductCode = uuidV5(uuidNamespace, "product\x00"+strings.ToLower(s.Name)+"\x00"+p.Version+"\x00"+p.Arch)
	progName := lp.exe // the binary's file name, with .exe
	if err := windowsFileName(progName); err != nil {
		return nil, specErr("binary", "file name %q: %w", progName, err)
	}

	p.Root = &msiDir{ID: "INSTALLDIR", Name: s.Name}
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
			GUID:     uuidV5(uuidNamespace, "component\x00"+strings.ToLower(s.Name)+"\x00"+p.Arch+"\x00"+strings.ToLower(path)),
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
	prog := add([]string{progName}, "the program", s.Binary, "Program", true)

	// The service's account and command line, in MSI Formatted syntax.
	// newPlan checked that sole is a Windows sole for the program's
	// architecture.
	d := lp.description()
	account, err := d.WindowsServiceAccount()
	if err != nil {
		var ue *unit.Error
		if errors.As(err, &ue) {
			return nil, specErr("run-as", "%w in an .msi: %s", ErrUnsupported, ue.Reason)
		}
		return nil, specErr("run-as", "%w", err)
	}
	if account == "" {
		account = "LocalSystem"
	}
	for _, f := range []struct{ field, p string }{{"workdir", s.Workdir}, {"env-file", s.EnvFile}, {"log-dir", s.LogDir}} {
		if err := windowsAbsPath(f.p); f.p != "" && err != nil {
			return nil, specErr(f.field, "%q: %w", f.p, err)
		}
	}
	var args []string
	svcComp := prog
	if !lp.wrap {
		if s.LogDir != "" {
			return nil, specErr("log-dir", "%w for a program built on sole's runtime, which writes its own logs: it is for a program run under sole run", ErrUnsupported)
		}
		args = append(args, "run")
	} else {
		if strings.EqualFold(progName, "sole.exe") {
			return nil, specErr("binary", `file name "sole.exe" clashes with sole's own in the package of a program run by sole`)
		}
		svcComp = add([]string{"sole.exe"}, "sole", s.Sole, "Sole", true)
		args = append(args, "run", "--name", s.Name, "--scope", "system", "--service")
		if s.LogDir != "" {
			args = append(args, "--log-dir", s.LogDir)
		}
	}
	// The Windows service manager has no environment file or working
	// directory setting: `run` takes them (--env-file, --workdir).
	d.Args = args
	if args, err = d.ManagerArgs(true); err != nil {
		return nil, specErr("service", "%w", err)
	}
	if lp.wrap {
		args = append(args, "--")
	}
	var cmd []string
	for _, a := range args {
		cmd = append(cmd, escapeFormatted(escapeArg(a)))
	}
	if lp.wrap {
		// A file's full path has no quote and does not end in a backslash:
		// quoting it is escaping it (syscall.EscapeArg's rule).
		cmd = append(cmd, `"[#`+prog.FileID+`]"`)
	}
	for _, a := range s.Args {
		cmd = append(cmd, escapeFormatted(escapeArg(a)))
	}
	p.Service = &msiService{
		Component:   svcComp.ID,
		Account:     account,
		Name:        escapeFormatted(s.Name),
		DisplayName: escapeFormatted(p.DisplayName),
		Description: escapeFormatted(p.Description),
		Arguments:   strings.Join(cmd, " "),
	}
	svcComp.Service = p.Service

	// newPlan checked that each source is a regular file.
	for i, f := range s.Configs {
		field := "config[" + strconv.Itoa(i) + "]"
		rel, err := splitDest(f.Dest)
		if err != nil {
			return nil, specErr(field, "%w", err)
		}
		key := strings.ToLower(strings.Join(rel, `\`))
		if what, ok := files[key]; ok {
			return nil, specErr(field, "destination %q clashes with %s", f.Dest, what)
		}
		if _, ok := dirs[key]; ok {
			return nil, specErr(field, "destination %q is a directory of another file", f.Dest)
		}
		for j := 1; j < len(rel); j++ {
			if what, ok := files[strings.ToLower(strings.Join(rel[:j], `\`))]; ok {
				return nil, specErr(field, "destination %q is under %s, a file", f.Dest, what)
			}
		}
		add(rel, fmt.Sprintf("%s (%s)", field, f.Dest), f.Src, fmt.Sprintf("Config%d", i+1), false)
	}
	return p, nil
}

// productVersion checks an MSI ProductVersion and returns it without its "v"
// and leading zeros.
func productVersion(v string) (string, error) {
	s := strings.TrimPrefix(v, "v")
	parts := strings.Split(s, ".")
	bad := func(why string) error {
		return fmt.Errorf("%q: %s (an MSI version is N.N.N or N.N.N.N, major and minor at most 255, build and revision at most 65535)", v, why)
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

// splitManufacturer splits "Name <mail>" into the manufacturer and the
// contact.
func splitManufacturer(s string) (name, contact string, err error) {
	name = strings.TrimSpace(s)
	if i := strings.LastIndexByte(name, '<'); i >= 0 && strings.HasSuffix(name, ">") {
		name, contact = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:len(name)-1])
	}
	if name == "" {
		return "", "", fmt.Errorf("%q: no name, which an .msi needs as its manufacturer", s)
	}
	for _, f := range []string{name, contact} {
		if err := printableASCII(f); err != nil {
			return "", "", fmt.Errorf("%q: %w", s, err)
		}
	}
	return name, contact, nil
}

// printableASCII checks a text for the package's tables: printable ASCII (wixl
// writes databases of code page 0, neutral, in which other characters are
// not portable, and silently drops, or crashes on, characters outside
// Windows-1252).
func printableASCII(s string) error {
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

// windowsFileName checks one file or folder name for Windows.
func windowsFileName(s string) error {
	if err := printableASCII(s); err != nil {
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

// windowsAbsPath checks an absolute Windows path given to the service
// (C:\dir or \\server\share\dir).
func windowsAbsPath(p string) error {
	if err := printableASCII(p); err != nil {
		return err
	}
	drive := len(p) >= 3 && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
	if !drive && !strings.HasPrefix(p, `\\`) {
		return errors.New(`not an absolute Windows path (want C:\dir\...)`)
	}
	if strings.ContainsAny(p[2:], `"*?<>|`) || strings.Contains(p[2:], ":") {
		return errors.New(`has a character Windows forbids in paths (:"*?<>|)`)
	}
	return nil
}

// splitDest splits a config destination into its names.
func splitDest(dest string) ([]string, error) {
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
		if err := windowsFileName(p); err != nil {
			return nil, fmt.Errorf("destination %q: %q: %w", dest, p, err)
		}
	}
	return parts, nil
}

// escapeArg quotes s as syscall.EscapeArg does on Windows (which
// CommandLineToArgvW and Go's os.Args read back): unchanged unless it is
// empty or has a space, tab, quote or backslash; quotes are preceded by a
// backslash, as are the backslashes before a quote or the closing quote.
func escapeArg(s string) string {
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

// escapeFormatted makes s literal in an MSI Formatted column: each of
// [ ] { } becomes [\c].
func escapeFormatted(s string) string {
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
