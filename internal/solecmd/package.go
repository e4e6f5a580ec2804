package solecmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"

	"github.com/solehq/sole/internal/cli"
)

// packageCmd runs the packager, sole-package, a program of its own: the
// packaging libraries it links (nfpm, with compressors, OpenPGP and
// templates) cost ~3 ms of package initialisation at every start, which
// `sole run` must not pay.
var packageCmd = &cli.Command{
	Name:  "package",
	Usage: "package deb|rpm|msi [--file sole.yaml] --name NAME --version VERSION --binary PATH [OPTIONS] [-- ARGS...]",
	Help: `Build a .deb, .rpm or .msi of a service from the description that
"sole install" uses, and print its path. "sole package deb --help" lists
the options; docs/packaging.md explains them. The work is done by the
sole-package program, found beside sole or on PATH.`,
	Args:  "deb|rpm|msi",
	Short: "Build a .deb, .rpm or .msi of a service.",
	Run:   packageMain,
}

// packager is the name of the packaging program.
const packager = "sole-package"

func packageMain(_ *cli.Command, args []string, stdout, stderr io.Writer) int {
	path, err := findPackager()
	if err != nil {
		fmt.Fprintf(stderr, "sole package: %v\n", err)
		return cli.ExitNotFound
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = os.Environ()
	if self, err := os.Executable(); err == nil {
		// Wrapped programs ship a sole: by default this one.
		cmd.Env = append(cmd.Env, "SOLE_PACKAGE_SOLE="+self)
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		fmt.Fprintf(stderr, "sole package: %s: %v\n", path, err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// findPackager looks for sole-package beside this sole, then on PATH.
func findPackager() (string, error) {
	name := packager
	if goruntime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(packager); err == nil {
		return p, nil
	}
	v := soleVersionTag()
	return "", fmt.Errorf("%s is not installed beside sole or on PATH; it is a separate program so that sole run stays fast: go install github.com/solehq/sole/cmd/%s@%s", packager, packager, v)
}

// soleVersionTag is the module version to install sole-package at: this
// sole's, or latest for a development build.
func soleVersionTag() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); v == "" && ok {
		v = bi.Main.Version
	}
	if v == "" || v == "(devel)" {
		return "latest"
	}
	return v
}
