package packaging

// Windows Installer packages, built on Linux with wixl (msitools) from a
// WiX v3 source rendered from templates/msi.wxs.tmpl (the layout:
// msi_plan.go), and checked by reading their tables back with msiinfo
// (msi_tables.go, idt.go). docs/packaging-msi.md describes the tables and
// wixl's traps.

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/solehq/sole/internal/fsutil"
	"github.com/solehq/sole/internal/unit"
)

// Signing names the PEM certificate (chain) and PEM private key (not
// encrypted) files that osslsigncode signs with, offline (no timestamp).
type Signing struct{ Cert, Key string }

// ErrNoWixl is wrapped by Build's error for an .msi when wixl or msiinfo
// is not installed.
var ErrNoWixl = errors.New("wixl not found: install the Debian package wixl (and msitools for msiinfo)")

// MSITableError is Build's error for an .msi when a table of the built
// package is not what the source asked for: wixl can exit 0 having
// written a wrong or empty table.
type MSITableError struct {
	Table   string // the table, as msiinfo names it
	Problem string
}

func (e *MSITableError) Error() string {
	return "packaging: msi: wixl wrote a bad " + e.Table + " table: " + e.Problem
}

//go:embed templates/msi.wxs.tmpl
var wxsTemplateText string

var wxsTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("msi.wxs").Funcs(template.FuncMap{"x": xmlEscape}).Parse(wxsTemplateText)
})

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // never fails on a strings.Builder
	return b.String()
}

// buildMSI builds the .msi of s (see Build): the options that only
// systemd and the Linux packages have are refused, s is validated for
// Windows and laid out (planMSI), the files are staged (the programs
// signed with s.Sign), wixl builds the package, and the tables msiinfo
// reads back are checked before the package is signed and moved to outDir.
func buildMSI(ctx context.Context, s Spec, outDir string) (string, error) {
	if err := refuse(MSI, "a systemd or Linux package option",
		option{len(s.Env) > 0, "env"}, option{s.Watchdog != 0, "watchdog"}, option{s.Health != "", "health"},
		option{s.StartTimeout != 0, "start-timeout"}, option{s.StopTimeout != 0, "stop-timeout"},
		option{len(s.Depends) > 0, "depends"}, option{s.Section != "", "section"}, option{s.User, "user"},
		option{s.Harden, "harden"},
	); err != nil {
		return "", err
	}
	if err := refuse(MSI, "the fleet lock, which sole does not support on Windows yet",
		option{s.Fleet != "", "fleet"}, option{s.FleetTTL != 0, "fleet-ttl"}, option{s.FleetCACert != "", "fleet-cacert"},
		option{s.FleetCert != "", "fleet-cert"}, option{s.FleetKey != "", "fleet-key"}, option{s.SoleFleet != "", "sole-fleet"},
	); err != nil {
		return "", err
	}
	if err := refuse(MSI, "the restart policy: wixl cannot write recovery actions into a package; the service sets its own (restart on a crash, after 1s) when it first starts",
		option{s.Restart != "" && s.Restart != unit.DefaultRestart, "restart"}, option{s.RestartDelay != 0, "restart-delay"},
	); err != nil {
		return "", err
	}
	lp, err := newPlan(s, "windows")
	if err != nil {
		return "", err
	}
	p, err := planMSI(lp)
	if err != nil {
		return "", err
	}
	wixl, errW := exec.LookPath("wixl")
	msiinfo, errI := exec.LookPath("msiinfo")
	if errW != nil || errI != nil {
		return "", fmt.Errorf("packaging: msi: %w", ErrNoWixl)
	}
	var signer string
	if s.Sign != nil {
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
	if stageHook != nil {
		defer stageHook(stage)
	}

	// Stage every file under a plain name: wixl reads the sources by
	// path, and the cabinet keeps their times (set to the Spec's Date).
	for i, c := range p.Components {
		// wixl wants Source relative to its working directory.
		c.Source = fmt.Sprintf("f%d", i)
		staged := filepath.Join(stage, c.Source)
		if c.exe && s.Sign != nil {
			if err := signFile(ctx, signer, s.Sign, p.Name, c.src, staged); err != nil {
				return "", err
			}
		} else if err := fsutil.CopyFile(staged, c.src, 0o644); err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
		fi, err := os.Stat(staged)
		if err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
		c.size = fi.Size()
		if err := os.Chtimes(staged, lp.date, lp.date); err != nil {
			return "", fmt.Errorf("packaging: msi: %w", err)
		}
	}

	tmpl, err := wxsTemplate()
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
	out, err := runTool(ctx, stage, wixl, "-a", p.Arch, "-o", "package.msi", "package.wxs")
	if err != nil {
		return "", err
	}
	// wixl reports some failures (an unknown attribute, a ServiceControl
	// without Id) on stderr and exits 0 all the same.
	for _, bad := range []string{"WARNING", "CRITICAL", "ERROR"} {
		if bytes.Contains(out, []byte(bad)) {
			return "", fmt.Errorf("packaging: msi: wixl: %s", oneLine(out))
		}
	}
	built := filepath.Join(stage, "package.msi")
	tables := map[string]*idtTable{}
	for _, name := range checkedTables {
		out, err := runTool(ctx, stage, msiinfo, "export", built, name)
		if err != nil {
			return "", err
		}
		t, err := parseIDT(out)
		if err != nil {
			return "", fmt.Errorf("packaging: msi: msiinfo export %s: %w", name, err)
		}
		tables[name] = t
	}
	if err := checkTables(p, tables); err != nil {
		return "", err
	}

	final := filepath.Join(outDir, fmt.Sprintf("%s-%s-%s.msi", p.Name, p.Version, p.Arch))
	if s.Sign != nil {
		signed := filepath.Join(stage, "signed.msi")
		if err := signFile(ctx, signer, s.Sign, p.DisplayName, built, signed); err != nil {
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

// stageHook, when set (by tests), sees the staging directory before it
// is removed.
var stageHook func(dir string)

// signFile signs in into out with osslsigncode, offline.
func signFile(ctx context.Context, osslsigncode string, s *Signing, name, in, out string) error {
	_, err := runTool(ctx, "", osslsigncode, "sign", "-certs", s.Cert, "-key", s.Key, "-n", name, "-in", in, "-out", out)
	return err
}

// runTool runs a tool and returns its standard output; its error names
// the tool and has its output on one line.
func runTool(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
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
		return nil, fmt.Errorf("packaging: msi: %s: %w: %s", name, err, oneLine(append(stderr.Bytes(), stdout.Bytes()...)))
	}
	if filepath.Base(tool) == "wixl" {
		return append(stderr.Bytes(), stdout.Bytes()...), nil
	}
	return stdout.Bytes(), nil
}

// oneLine squeezes a tool's output onto one line of at most 400 bytes.
func oneLine(b []byte) string {
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
