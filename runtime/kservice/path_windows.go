package kservice

import (
	"fmt"
	"path/filepath"

	"github.com/solehq/sole/internal/unit"
)

// checkPath checks a directory or file path of the service (its working
// directory, log directory, PID file): an absolute, clean Windows path on
// one line.
func checkPath(p string) error {
	if err := unitCheck(unit.Description{Env: []string{"P=" + p}}); err != nil {
		return err
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s is not an absolute path", show(p))
	}
	if c := filepath.Clean(p); c != p {
		return fmt.Errorf("%s is not a clean path (want %s)", show(p), show(c))
	}
	return nil
}
