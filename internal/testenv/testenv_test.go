package testenv

import (
	"os"
	"os/exec"
	"testing"
)

func TestBuild(t *testing.T) {
	for name, c := range map[string]struct {
		pkg string
		env []string
	}{
		"short":   {pkg: "internal/sigcount"},
		"full":    {pkg: "github.com/solehq/sole/internal/sigcount"},
		"windows": {pkg: "cmd/sole", env: []string{"GOOS=windows"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := Build(t, c.pkg, c.env...)
			if st, err := os.Stat(p); err != nil || st.Size() == 0 {
				t.Fatalf("built %s: %v", p, err)
			}
		})
	}
	if err := BuildTo(t.TempDir()+"/x", "cmd/nonexistent"); err == nil {
		t.Error("building a package that does not exist succeeded")
	}
}

func TestNeed(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	if p := NeedTool(t, "sh", "dash"); p == "" {
		t.Error("NeedTool returned no path")
	}
	Need(t, true, "never")
}
