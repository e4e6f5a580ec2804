package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/solehq/sole/internal/testenv"
)

// soleBin is a sole binary built for the scripts (a wrapped program's
// package ships it).
var soleBin string

// TestMain makes the test binary double as sole-package for testscript.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sole-package": main})
}

func TestScripts(t *testing.T) {
	if soleBin == "" {
		soleBin = testenv.Build(t, "cmd/sole")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SOLE_BIN", soleBin)
			env.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			return nil
		},
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
				}
				want, _ := strconv.Atoi(args[0])
				err := ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
		},
	})
}

func TestParseConfig(t *testing.T) {
	tests := map[string]struct {
		in      string
		wantErr string
		check   func(config) error
	}{
		"full": {
			in: "name: myd\nversion: 1.0.0\nbinary: bin/myd\nargs: [-v, --port, \"80\"]\nwatchdog: 30s\nconfig:\n  - etc/a.yaml:/etc/myd/a.yaml\n  - {src: b, dest: /etc/myd/b}\nenv: [A=1]\nsign: {cert: c.pem, key: k.pem}\n",
			check: func(c config) error {
				if c.Name != "myd" || len(c.Args) != 3 || c.Watchdog != duration(30e9) || len(c.Configs) != 2 || c.Configs[1].Dest != "/etc/myd/b" || c.Sign.Key != "k.pem" {
					return fmt.Errorf("%+v", c)
				}
				return nil
			},
		},
		"unknown key":      {in: "name: a\nbinar: x\n", wantErr: "field binar not found"},
		"bad duration":     {in: "watchdog: soon\n", wantErr: `"soon" is not a duration`},
		"bad config":       {in: "config: [nocolon]\n", wantErr: "want SRC:DEST"},
		"config no dest":   {in: "config: [{src: a}]\n", wantErr: "want src and dest"},
		"two documents":    {in: "name: a\n---\nname: b\n", wantErr: "more than one YAML document"},
		"empty":            {in: "", wantErr: "empty"},
		"not a map":        {in: "- a\n- b\n", wantErr: "cannot unmarshal"},
		"tab indentation":  {in: "name: a\n\tversion: 1\n", wantErr: "tab character"},
		"duration as list": {in: "watchdog: [1s]\n", wantErr: "not a duration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := parseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

// FuzzParseConfig: no input makes the sole.yaml parser panic or return a
// multi-line error.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("name: myd\nversion: 1.0.0\nbinary: myd\nwatchdog: 10s\nconfig: [a:/etc/a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseConfig(data)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
	})
}
