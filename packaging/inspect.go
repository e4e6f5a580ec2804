package packaging

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/solehq/sole/internal/unit"
)

// binary is what the packager learned from a program file.
type binary struct {
	format string   // "elf", "pe" or "script"
	goos   string   // "linux", "windows"; "" for a script
	arch   string   // GOARCH spelling (amd64, arm64, arm7, ...); "" for a script
	goPath string   // the main package path of a Go binary, else ""
	module bool     // a Go binary that links github.com/solehq/sole
	main   bool     // built on runtime.Main (module and the marker found)
	static bool     // an ELF binary without a program interpreter
	symtab bool     // an ELF binary with a symbol table (not stripped)
	libs   []string // the shared libraries a dynamic ELF binary needs
	glibc  string   // the highest GLIBC_ symbol version it uses ("2.34")
}

// soleModule is the module path of sole.
const soleModule = "github.com/solehq/sole"

// inspect reads the program file at path. A file that is neither ELF, PE
// nor a script starting with "#!" is refused.
func inspect(path string) (binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return binary{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return binary{}, err
	}
	if !st.Mode().IsRegular() {
		return binary{}, &os.PathError{Op: "package", Path: path, Err: errors.New("not a regular file")}
	}
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return binary{}, &os.PathError{Op: "package", Path: path, Err: errors.New("not an executable: too short")}
	}
	var b binary
	switch {
	case string(magic[:]) == elf.ELFMAG:
		b.format = "elf"
		ef, err := elf.NewFile(f)
		if err != nil {
			return binary{}, &os.PathError{Op: "package", Path: path, Err: fmt.Errorf("bad ELF file: %w", err)}
		}
		if ef.OSABI != elf.ELFOSABI_NONE && ef.OSABI != elf.ELFOSABI_LINUX {
			return binary{}, &os.PathError{Op: "package", Path: path, Err: fmt.Errorf("an ELF binary for %v, not Linux", ef.OSABI)}
		}
		b.goos = "linux"
		if b.arch, err = elfArch(ef); err != nil {
			return binary{}, &os.PathError{Op: "package", Path: path, Err: err}
		}
		b.static = true
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				b.static = false
			}
		}
		b.symtab = ef.Section(".symtab") != nil
		if !b.static {
			b.libs, _ = ef.ImportedLibraries()
			syms, _ := ef.ImportedSymbols()
			for _, sym := range syms {
				if v, ok := strings.CutPrefix(sym.Version, "GLIBC_"); ok && versionLess(b.glibc, v) {
					b.glibc = v
				}
			}
		}
	case magic[0] == 'M' && magic[1] == 'Z':
		b.format, b.goos = "pe", "windows"
		m, err := peMachine(path)
		if err != nil {
			return binary{}, &os.PathError{Op: "package", Path: path, Err: err}
		}
		switch m {
		case pe.IMAGE_FILE_MACHINE_AMD64, pe.IMAGE_FILE_MACHINE_I386, pe.IMAGE_FILE_MACHINE_ARM64:
			b.arch = peArchName(m)
		default:
			return binary{}, &os.PathError{Op: "package", Path: path, Err: fmt.Errorf("a Windows binary for %s, which sole cannot package", peArchName(m))}
		}
	case magic[0] == '#' && magic[1] == '!':
		b.format = "script"
		return b, nil
	default:
		return binary{}, &os.PathError{Op: "package", Path: path, Err: errors.New("not an executable: neither ELF, PE nor a #! script")}
	}
	if bi, err := buildinfo.Read(f); err == nil {
		b.goPath = bi.Path
		b.module = bi.Main.Path == soleModule
		for _, d := range bi.Deps {
			if d.Path == soleModule {
				b.module = true
			}
		}
		if b.arch == "arm" {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" {
					b.arch = "arm" + strings.TrimSuffix(strings.TrimSuffix(s.Value, ",softfloat"), ",hardfloat")
				}
			}
		}
		if b.module {
			b.main, err = contains(f, []byte(unit.MainMarker))
			if err != nil {
				return binary{}, &os.PathError{Op: "package", Path: path, Err: err}
			}
		}
	}
	if b.arch == "arm" {
		b.arch = "arm7" // not Go, or no GOARM: armhf, Debian's usual
	}
	return b, nil
}

// elfArch names the machine of an ELF file as nfpm does (GOARCH spelling).
func elfArch(f *elf.File) (string, error) {
	le := f.ByteOrder.String() == "LittleEndian"
	switch {
	case f.Machine == elf.EM_X86_64 && f.Class == elf.ELFCLASS64:
		return "amd64", nil
	case f.Machine == elf.EM_AARCH64:
		return "arm64", nil
	case f.Machine == elf.EM_386:
		return "386", nil
	case f.Machine == elf.EM_ARM:
		return "arm", nil
	case f.Machine == elf.EM_RISCV && f.Class == elf.ELFCLASS64:
		return "riscv64", nil
	case f.Machine == elf.EM_PPC64 && le:
		return "ppc64le", nil
	case f.Machine == elf.EM_S390:
		return "s390x", nil
	case f.Machine == elf.EM_LOONGARCH:
		return "loong64", nil
	}
	return "", fmt.Errorf("an ELF binary for machine %v, which sole cannot package", f.Machine)
}

// contains reports whether the file holds needle, reading it in blocks.
func contains(r io.ReaderAt, needle []byte) (bool, error) {
	const block = 1 << 20
	buf := make([]byte, block+len(needle))
	var off int64
	for {
		n, err := r.ReadAt(buf, off)
		if bytes.Contains(buf[:n], needle) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		off += block
	}
}

// versionLess compares dotted decimal versions ("" is the least).
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	if a == "" {
		return b != ""
	}
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// glibcLibs are the libraries of the C library's package (libc6, glibc).
var glibcLibs = map[string]bool{
	"libc.so.6": true, "libpthread.so.0": true, "libdl.so.2": true, "libm.so.6": true,
	"librt.so.1": true, "libresolv.so.2": true, "libutil.so.1": true,
	"ld-linux-x86-64.so.2": true, "ld-linux-aarch64.so.1": true, "ld-linux.so.2": true, "ld-linux-armhf.so.3": true,
}

// stripTools are the binutils strip commands that can handle arch, best
// first.
func stripTools(arch string) []string {
	triplet := map[string]string{
		"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i686-linux-gnu",
		"arm7": "arm-linux-gnueabihf", "arm6": "arm-linux-gnueabi", "arm5": "arm-linux-gnueabi",
		"riscv64": "riscv64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	}[arch]
	tools := []string{}
	if triplet != "" {
		tools = append(tools, triplet+"-strip")
	}
	return append(tools, "strip")
}

// peMachine reads a PE executable's machine type.
func peMachine(path string) (uint16, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	var mz [2]byte
	if _, err := io.ReadFull(f, mz[:]); err != nil || string(mz[:]) != "MZ" {
		return 0, fmt.Errorf("%s is not a Windows executable (no MZ header)", path)
	}
	pf, err := pe.NewFile(f)
	if err != nil {
		return 0, fmt.Errorf("%s is not a Windows executable: %w", path, err)
	}
	defer pf.Close()
	if pf.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 || pf.Characteristics&pe.IMAGE_FILE_DLL != 0 {
		return 0, fmt.Errorf("%s is not a Windows executable (a DLL or an object file)", path)
	}
	return pf.Machine, nil
}

// peArchName names a PE machine type in Go's spelling.
func peArchName(m uint16) string {
	switch m {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return "amd64"
	case pe.IMAGE_FILE_MACHINE_I386:
		return "386"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return "arm64"
	case pe.IMAGE_FILE_MACHINE_ARMNT:
		return "arm"
	}
	return fmt.Sprintf("machine 0x%04x", m)
}
