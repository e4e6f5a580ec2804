package solecmd

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"testing"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/report"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// TestListScopes: which scopes `sole list` reads, in which order, how a
// lock of the scope that is not the default one is marked, and the exit
// status when a directory cannot be read. Each scope's directory holds
// one lock, named after the scope's first letter.
func TestListScopes(t *testing.T) {
	sys, usr := pidlock.ScopeSystem, pidlock.ScopeUser
	// What a line of scope s ends with when both scopes are listed.
	mark := func(s pidlock.Scope) string {
		if s == platform.DefaultScope() {
			return ""
		}
		return "; scope " + s.String()
	}
	tests := map[string]struct {
		args   []string
		fail   pidlock.Scope // this scope's directory cannot be read
		stdout string
		stderr string
		code   int
		scopes []pidlock.Scope // listed, in order
	}{
		"both": {
			stdout: "s is not running" + mark(sys) + "\nu is not running" + mark(usr) + "\n",
			scopes: []pidlock.Scope{sys, usr},
		},
		"system": {
			args:   []string{"--scope", "system"},
			stdout: "s is not running\n",
			scopes: []pidlock.Scope{sys},
		},
		"user": {
			args:   []string{"--scope=user"},
			stdout: "u is not running\n",
			scopes: []pidlock.Scope{usr},
		},
		"system unreadable": {
			fail:   sys,
			stdout: "u is not running" + mark(usr) + "\n",
			stderr: "sole: list: system locks: /locks/system: permission denied\n",
			code:   cli.StatusUnknown,
			scopes: []pidlock.Scope{sys, usr},
		},
		"user unreadable": {
			args:   []string{"--scope", "user"},
			fail:   usr,
			stderr: "sole: list: user locks: /locks/user: permission denied\n",
			code:   cli.StatusUnknown,
			scopes: []pidlock.Scope{usr},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var scopes []pidlock.Scope
			old := listScope
			t.Cleanup(func() { listScope = old })
			listScope = func(s pidlock.Scope) ([]report.Report, error) {
				scopes = append(scopes, s)
				if s == tt.fail {
					return nil, &fs.PathError{Op: "open", Path: "/locks/" + s.String(), Err: fs.ErrPermission}
				}
				n := s.String()[:1]
				return []report.Report{{Name: n, Lock: "/locks/" + s.String() + "/" + n + "/" + n + ".pid"}}, nil
			}
			for _, json := range []bool{false, true} {
				scopes = nil
				args := append([]string{"list"}, tt.args...)
				if json {
					args = append(args, "--json")
				}
				var stdout, stderr bytes.Buffer
				code := soleProgram.Main(args, &stdout, &stderr)
				if code != tt.code {
					t.Fatalf("%v: exit %d, want %d; stderr %q", args, code, tt.code, stderr.String())
				}
				if stderr.String() != tt.stderr {
					t.Errorf("%v: stderr %q, want %q", args, stderr.String(), tt.stderr)
				}
				if !slices.Equal(scopes, tt.scopes) {
					t.Errorf("%v: listed scopes %v, want %v", args, scopes, tt.scopes)
				}
				if !json {
					if stdout.String() != tt.stdout {
						t.Errorf("%v: stdout %q, want %q", args, stdout.String(), tt.stdout)
					}
					continue
				}
				n := len(tt.scopes) // one lock a scope read
				if tt.fail != 0 {
					n--
				}
				checkListJSON(t, stdout.Bytes(), n)
			}
		})
	}
}

// checkListJSON decodes a list's JSON array of n objects.
func checkListJSON(t *testing.T, b []byte, n int) {
	t.Helper()
	var arr []json.RawMessage
	if err := json.Unmarshal(b, &arr); err != nil || len(arr) != n {
		t.Fatalf("JSON %s: %d objects, %v; want %d", b, len(arr), err, n)
	}
	for _, raw := range arr {
		checkObject(t, raw, "not running")
	}
}
