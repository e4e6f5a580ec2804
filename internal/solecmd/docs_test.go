package solecmd

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/cli"
)

// TestDocsSayWhatTheCodeDoes checks docs/cli.md against the command
// table: every command has a section or a synopsis line, every option and
// short option is named, and every exit code is in the table.
func TestDocsSayWhatTheCodeDoes(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	synopsis, _, _ := strings.Cut(strings.SplitN(doc, "```", 3)[1], "```")
	for _, c := range soleProgram.Commands {
		if c.Hidden {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^sole (\S+\|)*` + regexp.QuoteMeta(c.Name) + `\b`).MatchString(synopsis) {
				t.Errorf("the synopsis of docs/cli.md has no line for sole %s", c.Name)
			}
			if c.Flags == nil {
				return
			}
			for _, o := range cli.Options(c.Flags()) {
				if o.Name == "service" {
					continue // sole install sets it on Windows; docs/windows.md
				}
				if !strings.Contains(doc, "`--"+o.Name) {
					t.Errorf("docs/cli.md does not name --%s of sole %s", o.Name, c.Name)
				}
				for _, a := range o.Aliases {
					if !strings.Contains(doc, "`-"+a+"`") {
						t.Errorf("docs/cli.md does not name -%s (--%s)", a, o.Name)
					}
				}
			}
		})
	}
	codes := append(append([]cli.ExitCode{}, cli.ExitCodes...), cli.StatusCodes...)
	for _, c := range codes {
		row := fmt.Sprintf("| %d |", c.Code)
		if c.Code == cli.ExitSignal {
			row = "| 128+N |"
		}
		if !strings.Contains(doc, row) && !regexp.MustCompile(fmt.Sprintf(`\| (\d+, )*%d(, \d+)* \|`, c.Code)).MatchString(doc) {
			t.Errorf("docs/cli.md's exit-code table has no row %s (%s)", row, c.Name)
		}
	}
}
