package pidlock

import (
	"testing"

	"github.com/solehq/sole/internal/rmtree/rmtreetest"
)

// tempDir is t.TempDir made to work under Wine 8 too.
func tempDir(t testing.TB) string { return rmtreetest.TempDir(t, "pidlock-test") }
