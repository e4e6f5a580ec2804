//go:build unix

package solecmd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/locktest"
)

// TestHostileInput: bad records, hostile paths and directories, odd
// commands and option values, for run and status. Each case gives the
// exact exit code and the one line (a regexp matched against the whole of
// stderr, after the usage hint is dropped) it must print, and checks that
// nothing was harmed.
func TestHostileInput(t *testing.T) {
	const notes = "remember the milk\n"
	type env struct {
		dir string
		t   *testing.T
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			panic(err)
		}
	}
	tests := map[string]struct {
		setup func(e env) []string // returns the arguments after "sole"
		code  int
		line  string             // regexp for stderr's first line
		check func(e env) string // "" if all is well
	}{
		// Option values.
		"empty --lock": {
			setup: func(e env) []string { return []string{"run", "--lock", "", "--", "true"} },
			code:  64, line: `^sole: run: --lock "": must not be empty$`,
		},
		"empty --name": {
			setup: func(e env) []string { return []string{"run", "--name=", "--", "true"} },
			code:  64, line: `^sole: run: --name "": must not be empty$`,
		},
		"status empty --name": {
			setup: func(e env) []string { return []string{"status", "--name", ""} },
			code:  64, line: `must not be empty$`,
		},
		"status empty NAME": {
			setup: func(e env) []string { return []string{"status", ""} },
			code:  64, line: `^sole: status: invalid lock name: empty$`,
		},
		"timeout without unit": {
			setup: func(e env) []string { return []string{"run", "--wait", "--timeout", "10", "--", "true"} },
			code:  64, line: `^sole: run: --timeout "10": a duration needs a unit, e\.g\. 10s, 10ms or 10m$`,
		},
		"stop-timeout without unit": {
			setup: func(e env) []string { return []string{"run", "--replace", "--stop-timeout", "1.5", "--", "true"} },
			code:  64, line: `a duration needs a unit, e\.g\. 1\.5s`,
		},
		"timeout nonsense": {
			setup: func(e env) []string { return []string{"run", "--wait", "--timeout", "soon", "--", "true"} },
			code:  64, line: `want a duration such as 30s, 1m30s or 500ms$`,
		},
		"negative stop-timeout": {
			setup: func(e env) []string { return []string{"run", "--replace", "--stop-timeout", "-1s", "--", "true"} },
			code:  64, line: `must not be negative$`,
		},
		"dot-file command": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, ".hidden.sh"), "#!/bin/sh\n", 0o755)
				return []string{"run", "--", filepath.Join(e.dir, ".hidden.sh")}
			},
			code: 64, line: `^sole: run: cannot name the lock after the command: invalid lock name "\.hidden\.sh": starts with '\.'; give --name NAME$`,
		},
		// Files that are not locks: refused, untouched.
		"text file": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "notes.txt"), notes, 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "notes.txt"), "--", "true"}
			},
			code: 73, line: `^sole: .*/notes\.txt: holds data that is not a lock record \(pid and process name\), so sole leaves it alone$`,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "notes.txt"), notes) },
		},
		"status of a text file": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "notes.txt"), notes, 0o644)
				return []string{"status", "--lock", filepath.Join(e.dir, "notes.txt")}
			},
			code: 4, line: `^sole: .*/notes\.txt: holds data that is not a lock record`,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "notes.txt"), notes) },
		},
		"a pid file of another program": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "nginx.pid"), "1\n", 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "nginx.pid"), "--", "true"}
			},
			code: 73, line: `not a lock record`,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "nginx.pid"), "1\n") },
		},
		"hard link to a file": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "precious"), "", 0o644)
				os.Link(filepath.Join(e.dir, "precious"), filepath.Join(e.dir, "x.pid"))
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/x\.pid: has 2 hard links; a lock file has one, so this is not a lock file$`,
		},
		"hard link to a record-like file": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "precious"), locktest.StaleRecord, 0o644)
				os.Link(filepath.Join(e.dir, "precious"), filepath.Join(e.dir, "x.pid"))
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `has 2 hard links`,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "precious"), locktest.StaleRecord) },
		},
		"status of a hard link": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "precious"), "", 0o644)
				os.Link(filepath.Join(e.dir, "precious"), filepath.Join(e.dir, "x.pid"))
				return []string{"status", "--lock", filepath.Join(e.dir, "x.pid")}
			},
			code: 4, line: `has 2 hard links`,
		},
		"symlink": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "target"), notes, 0o644)
				os.Symlink(filepath.Join(e.dir, "target"), filepath.Join(e.dir, "x.pid"))
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/x\.pid: is a symlink; refusing to follow it$`,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "target"), notes) },
		},
		"dangling symlink": {
			setup: func(e env) []string {
				os.Symlink(filepath.Join(e.dir, "nowhere"), filepath.Join(e.dir, "x.pid"))
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `is a symlink`,
			check: func(e env) string {
				if _, err := os.Lstat(filepath.Join(e.dir, "nowhere")); err == nil {
					return "the symlink's target was created"
				}
				return ""
			},
		},
		"fifo": {
			setup: func(e env) []string {
				syscall.Mkfifo(filepath.Join(e.dir, "x.pid"), 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/x\.pid: is (a FIFO, )?not a regular file$`,
		},
		"status of a fifo": {
			setup: func(e env) []string {
				syscall.Mkfifo(filepath.Join(e.dir, "x.pid"), 0o644)
				return []string{"status", "--lock", filepath.Join(e.dir, "x.pid")}
			},
			code: 4, line: `not a regular file`,
		},
		"directory": {
			setup: func(e env) []string {
				os.Mkdir(filepath.Join(e.dir, "x.pid"), 0o755)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/x\.pid: is a directory, not a regular file$`,
		},
		"missing directory": {
			setup: func(e env) []string {
				return []string{"run", "--lock", filepath.Join(e.dir, "no", "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/no: no such file or directory$`,
		},
		"status in a missing directory": {
			setup: func(e env) []string { return []string{"status", "--lock", filepath.Join(e.dir, "no", "x.pid")} },
			code:  3,
		},
		"world-writable directory": {
			setup: func(e env) []string {
				os.Mkdir(filepath.Join(e.dir, "ww"), 0o777)
				os.Chmod(filepath.Join(e.dir, "ww"), 0o777)
				return []string{"run", "--lock", filepath.Join(e.dir, "ww", "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: .*/ww: directory is world-writable without the sticky bit$`,
		},
		"status in a world-writable directory": {
			setup: func(e env) []string {
				os.Mkdir(filepath.Join(e.dir, "ww"), 0o777)
				os.Chmod(filepath.Join(e.dir, "ww"), 0o777)
				return []string{"status", "--lock", filepath.Join(e.dir, "ww", "x.pid")}
			},
			code: 4, line: `^sole: .*/ww: directory is world-writable without the sticky bit$`,
		},
		"newline in the path": {
			setup: func(e env) []string {
				return []string{"run", "--lock", filepath.Join(e.dir, "a\nb", "x.pid"), "--", "true"}
			},
			code: 73, line: `^sole: ".*/a\\nb": no such file or directory$`,
		},
		"newline in the command": {
			setup: func(e env) []string { return []string{"run", "--name", "x", "--", "no\nsuch"} },
			code:  127, line: `^sole: "no\\nsuch": command not found$`,
		},
		// Records.
		"stale record": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "x.pid"), locktest.StaleRecord, 0o644)
				return []string{"status", "--lock", filepath.Join(e.dir, "x.pid")}
			},
			code: 1,
		},
		"stale record is taken": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "x.pid"), locktest.StaleRecord, 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 0,
		},
		"empty file is taken": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "x.pid"), "", 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "true"}
			},
			code: 0,
		},
		// Commands.
		"no such command": {
			setup: func(e env) []string {
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "no-such-command-here"}
			},
			code: 127, line: `^sole: no-such-command-here: command not found$`,
			check: func(e env) string { return absent(filepath.Join(e.dir, "x.pid")) },
		},
		"not executable": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "prog"), "#!/bin/sh\n", 0o644)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", filepath.Join(e.dir, "prog")}
			},
			code: 126, line: `permission denied$`,
			check: func(e env) string { return absent(filepath.Join(e.dir, "x.pid")) },
		},
		"a directory as command": {
			setup: func(e env) []string { return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", e.dir} },
			code:  126, line: `is a directory$`,
		},
		"script without #!": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "prog"), "echo ran \"$1\" >\"$2\"; exit 7\n", 0o755)
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", filepath.Join(e.dir, "prog"), "arg", filepath.Join(e.dir, "out")}
			},
			code:  7,
			check: func(e env) string { return unchanged(filepath.Join(e.dir, "out"), "ran arg\n") },
		},
		"script without #! from PATH": {
			setup: func(e env) []string {
				write(filepath.Join(e.dir, "prog"), "exit 5\n", 0o755)
				e.t.Setenv("PATH", e.dir+":"+os.Getenv("PATH"))
				return []string{"run", "--lock", filepath.Join(e.dir, "x.pid"), "--", "prog"}
			},
			code: 5,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := env{dir: t.TempDir(), t: t}
			args := tt.setup(e)
			cmd := soleCmd(args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("sole %q hangs", args)
			}
			if code := exitCode(err); code != tt.code {
				t.Fatalf("sole %q exited %d, want %d; stderr %q", args, code, tt.code, stderr.String())
			}
			msg := strings.TrimSuffix(stderr.String(), "Run 'sole help run' for usage.\n")
			msg = strings.TrimSuffix(msg, "Run 'sole help status' for usage.\n")
			if tt.line != "" {
				if strings.Count(msg, "\n") != 1 || !regexp.MustCompile(tt.line).MatchString(strings.TrimSuffix(msg, "\n")) {
					t.Fatalf("stderr %q: want one line matching %s", msg, tt.line)
				}
			}
			if tt.check != nil {
				if bad := tt.check(e); bad != "" {
					t.Fatal(bad)
				}
			}
		})
	}
}

func unchanged(p, want string) string {
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		return p + " changed: " + string(b)
	}
	return ""
}

func absent(p string) string {
	if _, err := os.Lstat(p); err == nil {
		return p + " was created"
	}
	return ""
}
