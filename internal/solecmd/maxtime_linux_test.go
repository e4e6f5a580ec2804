//go:build linux

package solecmd

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/pidlock"
)

// TestMaxTime: at --max-time, COMMAND's whole tree (its process group,
// and a daemon that left it) gets one SIGTERM; what is left gets SIGKILL
// --kill-after later; sole exits 124 and the lock is free.
func TestMaxTime(t *testing.T) {
	sc := sigcount(t)
	for name, c := range map[string]struct {
		opts    []string
		command func(rec func(string) string) string // a shell script
		recs    []string                             // sigcount records, each to get one TERM
		exit    int
		stderr  string
		minTime time.Duration
	}{
		"in time": {
			opts:    []string{"--max-time", "30s"},
			command: func(func(string) string) string { return "exit 3" },
			exit:    3,
		},
		"group and daemon get one TERM": {
			opts: []string{"--max-time", "3s"},
			command: func(rec func(string) string) string {
				return sc + " " + rec("child") + " & setsid " + sc + " " + rec("daemon") + " & exec " + sc + " " + rec("command")
			},
			recs:   []string{"child", "daemon", "command"},
			exit:   cli.ExitTimeout,
			stderr: "--max-time 3s reached: sent SIGTERM to sh and its processes",
		},
		"TERM ignored": {
			opts:    []string{"--max-time", "300ms", "--kill-after", "700ms"},
			command: func(func(string) string) string { return "trap '' TERM; while :; do sleep 0.05; done" },
			exit:    cli.ExitTimeout,
			stderr:  "still running 700ms after SIGTERM: sent SIGKILL",
			minTime: time.Second,
		},
		"daemon ignoring TERM outlives COMMAND": {
			opts: []string{"--max-time", "2s", "--kill-after", "1s"},
			command: func(rec func(string) string) string {
				return "setsid sh -c \"trap '' TERM; exec sleep 60\" & exec " + sc + " " + rec("command")
			},
			recs:    []string{"command"},
			exit:    cli.ExitTimeout,
			stderr:  "sent SIGKILL",
			minTime: 3 * time.Second,
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			lock := filepath.Join(dir, "x.pid")
			rec := func(n string) string { return filepath.Join(dir, n) }
			args := append([]string{"run", "--lock", lock}, c.opts...)
			args = append(args, "--", "sh", "-c", c.command(rec))
			cmd := soleCmd(args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			p := startSigProc(t, cmd)
			for _, r := range c.recs {
				waitReady(t, rec(r))
			}
			code := p.wait(t)
			took := time.Since(start)
			p.waitSessionGone(t)
			for _, r := range c.recs {
				checkCounts(t, rec(r), map[string]int{"TERM": 1})
			}
			if code != c.exit || !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.exit, c.stderr)
			}
			if took < c.minTime {
				t.Errorf("sole exited after %v, before --kill-after could have run out (%v)", took, c.minTime)
			}
			l, err := pidlock.New(lock)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.TryLock(); err != nil {
				t.Errorf("after sole exited the lock is not free: %v", err)
			} else {
				l.Unlock()
			}
		})
	}
}

func TestMaxTimeUsage(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"kill-after alone": {[]string{"--kill-after", "1s"}, "sole: run: --kill-after needs --max-time\n"},
		"no unit":          {[]string{"--max-time", "10"}, "sole: run: --max-time \"10\": a duration needs a unit, e.g. 10s, 10ms or 10m\n"},
		"negative":         {[]string{"--max-time", "-1s"}, "must not be negative"},
		"garbage":          {[]string{"--max-time", "soon"}, "want a duration such as 30s"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append(append([]string{"run", "--lock", filepath.Join(t.TempDir(), "x")}, c.args...), "--", "true")
			out, err := soleCmd(args...).CombinedOutput()
			if code := exitCode(err); code != cli.ExitUsage || !strings.Contains(string(out), c.want) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out, cli.ExitUsage, c.want)
			}
		})
	}
}
