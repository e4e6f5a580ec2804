package packaging

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestErrorsIs: every error that documents a sentinel, or reports a
// cause, wraps it: errors.Is sees ErrUnsupported, ErrNoWixl,
// fs.ErrNotExist and the context's error through Build's error, and an
// *Error still names the field.
func TestErrorsIs(t *testing.T) {
	linuxBins(t)
	windowsBins(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	missing := filepath.Join(t.TempDir(), "missing")
	tests := map[string]struct {
		format Format
		edit   func(*Spec)
		ctx    context.Context // default t.Context()
		noPath bool            // run with an empty PATH (no wixl, no msiinfo)
		target error
		field  string // the *Error's field; "" when the error is no *Error
	}{
		"msi env":           {format: MSI, edit: func(s *Spec) { s.Env = []string{"A=1"} }, target: ErrUnsupported, field: "env"},
		"msi watchdog":      {format: MSI, edit: func(s *Spec) { s.Watchdog = time.Second }, target: ErrUnsupported, field: "watchdog"},
		"msi health":        {format: MSI, edit: func(s *Spec) { s.Health = "true" }, target: ErrUnsupported, field: "health"},
		"msi start-timeout": {format: MSI, edit: func(s *Spec) { s.StartTimeout = time.Second }, target: ErrUnsupported, field: "start-timeout"},
		"msi stop-timeout":  {format: MSI, edit: func(s *Spec) { s.StopTimeout = time.Second }, target: ErrUnsupported, field: "stop-timeout"},
		"msi depends":       {format: MSI, edit: func(s *Spec) { s.Depends = []string{"x"} }, target: ErrUnsupported, field: "depends"},
		"msi section":       {format: MSI, edit: func(s *Spec) { s.Section = "net" }, target: ErrUnsupported, field: "section"},
		"msi user":          {format: MSI, edit: func(s *Spec) { s.User = true }, target: ErrUnsupported, field: "user"},
		"deb sign":          {format: Deb, edit: func(s *Spec) { s.Sign = &Signing{Cert: "c.pem", Key: "k.pem"} }, target: ErrUnsupported, field: "sign"},
		"rpm sign":          {format: RPM, edit: func(s *Spec) { s.Sign = &Signing{Cert: "c.pem", Key: "k.pem"} }, target: ErrUnsupported, field: "sign"},
		"deb display name":  {format: Deb, edit: func(s *Spec) { s.DisplayName = "My daemon" }, target: ErrUnsupported, field: "display-name"},
		"unknown format":    {format: "zip", target: ErrUnsupported, field: "format"},
		"msi without wixl":  {format: MSI, noPath: true, target: ErrNoWixl},
		"deb binary gone":   {format: Deb, edit: func(s *Spec) { s.Binary = missing }, target: fs.ErrNotExist, field: "binary"},
		"msi binary gone":   {format: MSI, edit: func(s *Spec) { s.Binary = missing }, target: fs.ErrNotExist, field: "binary"},
		"deb sole gone":     {format: Deb, edit: func(s *Spec) { s.Binary, s.Sole = bins.stranger, missing }, target: fs.ErrNotExist, field: "sole"},
		"msi sole gone":     {format: MSI, edit: func(s *Spec) { s.Binary, s.Sole = winBins.worker, missing }, target: fs.ErrNotExist, field: "sole"},
		"rpm config gone":   {format: RPM, edit: func(s *Spec) { s.Configs = []File{{missing, "/etc/x"}} }, target: fs.ErrNotExist, field: "config[0]"},
		"msi config gone":   {format: MSI, edit: func(s *Spec) { s.Configs = []File{{missing, "x"}} }, target: fs.ErrNotExist, field: "config[0]"},
		"deb canceled":      {format: Deb, ctx: canceled, target: context.Canceled},
		"msi canceled":      {format: MSI, ctx: canceled, target: context.Canceled},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			if tt.format == MSI {
				s = msiSpec()
			}
			if tt.edit != nil {
				tt.edit(&s)
			}
			if tt.noPath {
				t.Setenv("PATH", t.TempDir())
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			out := t.TempDir()
			path, err := Build(ctx, s, tt.format, out)
			if err == nil {
				t.Fatalf("built %s", path)
			}
			if !errors.Is(err, tt.target) {
				t.Errorf("errors.Is(%v, %v) is false", err, tt.target)
			}
			var se *Error
			switch {
			case tt.field == "" && errors.As(err, &se):
				t.Errorf("error %v is a *packaging.Error for %s, want a build failure", err, se.Field)
			case tt.field != "" && (!errors.As(err, &se) || se.Field != tt.field):
				t.Errorf("error %v (%T), want a *packaging.Error for %s", err, err, tt.field)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("left in the output directory: %v", left)
			}
		})
	}
}
