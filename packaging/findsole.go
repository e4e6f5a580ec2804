package packaging

// Finding the sole binary that the package of a wrapped program ships,
// when the Spec names none.

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// soleCandidates lists where a sole binary for goos/arch is looked for
// (see Spec.Sole), in order: beside the running program (sole-package,
// which `sole package` runs from beside sole) as sole-GOOS-GOARCH (.exe
// for Windows) and as sole (sole.exe); then in GOBIN/GOOS_GOARCH and, for
// each GOPATH entry (default HOME/go), GOPATH/bin/GOOS_GOARCH, where
// `GOOS=... GOARCH=... go install github.com/solehq/sole/cmd/sole@V` puts
// a cross-compiled sole; then GOBIN and GOPATH/bin themselves, where a
// native `go install` puts it. Only the environment is read: no `go env`
// runs.
func soleCandidates(goos, arch string) []string {
	ext := ""
	if goos == "windows" {
		ext = ".exe"
	}
	var dirs, cands []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		cands = append(cands, filepath.Join(dir, "sole-"+goos+"-"+goarch(arch)+ext), filepath.Join(dir, "sole"+ext))
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, gp := range filepath.SplitList(gopath) {
		if gp != "" {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		cands = append(cands, filepath.Join(d, goos+"_"+goarch(arch), "sole"+ext))
	}
	for _, d := range dirs {
		cands = append(cands, filepath.Join(d, "sole"+ext))
	}
	return cands
}

// findSole returns the first of soleCandidates that is a sole binary for
// goos/arch, or "".
func findSole(goos, arch string) string {
	for _, c := range soleCandidates(goos, arch) {
		b, err := inspect(c)
		if err == nil && b.goPath == soleModule+"/cmd/sole" && b.goos == goos && sameArch(b.arch, arch) {
			return c
		}
	}
	return ""
}

// soleInstallCommand is the command that builds a sole for goos/arch
// where findSole finds it.
func soleInstallCommand(goos, arch string) string {
	env := ""
	if os.Getenv("GOBIN") != "" {
		env = "GOBIN= " // go install refuses to cross-compile into GOBIN
	}
	if strings.HasPrefix(arch, "arm") && arch != "arm64" {
		env += "GOARM=" + strings.TrimPrefix(arch, "arm") + " "
	}
	return env + "GOOS=" + goos + " GOARCH=" + goarch(arch) + " go install " + soleModule + "/cmd/sole@" + soleVersion()
}

// soleVersion is the version of sole this package is built from, for `go
// install`: latest for a development build.
func soleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "latest"
	}
	v := ""
	if bi.Main.Path == soleModule {
		v = bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == soleModule {
			v = m.Version
		}
	}
	if v == "" || v == "(devel)" || strings.Contains(v, "+") {
		return "latest"
	}
	return v
}
