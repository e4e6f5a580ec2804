package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/testenv"
)

// TestDocsThreeCommands runs the commands of docs/packaging.md's "three
// commands" section, as a new user would: the go build, then `sole
// package` (sole running sole-package beside it), and checks that the path
// it prints is the one the third command installs.
func TestDocsThreeCommands(t *testing.T) {
	for tool, pkg := range map[string]string{"strip": "binutils", "wixl": "wixl", "msiinfo": "msitools"} {
		testenv.NeedTool(t, tool, pkg)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(repo, "docs/packaging.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## From a Go binary to a package in three commands")
	if !ok {
		t.Fatal("docs/packaging.md has no three-commands section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 3 {
		t.Fatalf("%d command blocks, want 3 (deb, rpm, msi)", len(blocks))
	}

	bin := t.TempDir()
	for _, pkg := range []string{"sole", "sole-package"} {
		if err := testenv.BuildTo(filepath.Join(bin, pkg), "cmd/"+pkg); err != nil {
			t.Fatal(err)
		}
	}
	buildRe := regexp.MustCompile(`^((?:[A-Z_]+=\S+ )*)go build -o (\S+) (\./cmd/\S+)$`)
	pathRe := regexp.MustCompile(`(dist[/\\]\S+\.(?:deb|rpm|msi))`)
	for _, b := range blocks {
		lines := strings.Split(strings.ReplaceAll(strings.TrimSpace(b[1]), "\\\n", ""), "\n")
		if len(lines) != 3 {
			t.Fatalf("block of %d commands, want 3:\n%s", len(lines), b[1])
		}
		format := strings.Fields(lines[1])[2]
		t.Run(format, func(t *testing.T) {
			work := t.TempDir()
			// 1. go build, run in the repository, the output in work.
			m := buildRe.FindStringSubmatch(lines[0])
			if m == nil {
				t.Fatalf("not a go build command: %q", lines[0])
			}
			cmd := exec.Command("go", "build", "-o", filepath.Join(work, m[2]), m[3])
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), strings.Fields(m[1])...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", lines[0], err, out)
			}
			// 2. sole package, as written, with this build's sole.
			if !strings.HasPrefix(lines[1], "sole package ") {
				t.Fatalf("not a sole package command: %q", lines[1])
			}
			cmd = exec.Command("sh", "-c", lines[1])
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("%s: %v\n%s", lines[1], err, stderr)
			}
			// 3. The install command names the printed path.
			p := pathRe.FindString(lines[2])
			if p == "" {
				t.Fatalf("no package path in %q", lines[2])
			}
			if got, want := strings.TrimSpace(string(out)), strings.ReplaceAll(p, `\`, "/"); got != want {
				t.Fatalf("sole package printed %q, the docs install %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(work, p)); err != nil && format != "msi" {
				t.Fatal(err)
			}
		})
	}
}
