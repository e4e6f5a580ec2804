package runtime

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMainCommandLine(t *testing.T) {
	app := AppFunc(func(ctx context.Context, s *Service) error { s.Ready(); <-ctx.Done(); return nil })
	cfg := Config{Name: "myd", Description: "my daemon", Logger: quietLogger()}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	tests := map[string]struct {
		args     []string
		code     int
		stdout   []string
		stderrRe string
	}{
		"print": {args: []string{"install", "--print"}, stdout: []string{
			"Type=notify\n", "ExecStart=" + exe + " run\n", "RestartPreventExitStatus=75\n",
			"RuntimeDirectory=sole/myd\n", "WantedBy=multi-user.target\n"}},
		"print user":      {args: []string{"install", "--print", "--user"}, stdout: []string{"WantedBy=default.target\n"}},
		"unknown command": {args: []string{"frob"}, code: 64, stderrRe: `unknown command "frob"`},
		"run with args":   {args: []string{"run", "x"}, code: 64, stderrRe: "run: takes no arguments"},
		"bad flag":        {args: []string{"install", "--nope"}, code: 64, stderrRe: "myd: install: unknown option --nope\n"},
		"help":            {args: []string{"help"}, stdout: []string{"Usage:\n  myd COMMAND", "  status     Show the service's state"}},
		"--help":          {args: []string{"--help"}, stdout: []string{"Usage:\n  myd COMMAND"}},
		"help status":     {args: []string{"help", "status"}, stdout: []string{"Usage: myd status [--user]", "  --user\n"}},
		"status -h":       {args: []string{"status", "-h"}, stdout: []string{"Usage: myd status [--user]"}},
		"status operand":  {args: []string{"status", "x"}, code: 64, stderrRe: "myd: status: takes no arguments, got \"x\"\nRun 'myd help status' for usage.\n"},
		"user after":      {args: []string{"install", "--print", "--user", "extra"}, code: 64, stderrRe: "takes no arguments"},
		"version":         {args: []string{"-V"}, stdout: []string{"myd "}},
		"marker":          {args: []string{"--sole-main"}, stdout: []string{MainMarker + "\n"}},
		"unknown option":  {args: []string{"--frob"}, code: 64, stderrRe: "myd: unknown option --frob"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "print") && goruntime.GOOS != "linux" {
				t.Skip("service definitions are installed only through systemd so far")
			}
			var stdout, stderr bytes.Buffer
			code := main(cfg, app, tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tt.stderrRe != "" && !strings.Contains(stderr.String(), tt.stderrRe) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderrRe)
			}
		})
	}
}
