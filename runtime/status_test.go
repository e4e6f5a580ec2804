package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/locktest"
	"github.com/solehq/sole/internal/rmtree"
	"github.com/solehq/sole/internal/rmtree/rmtreetest"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// TestStatusOpensTheServicesLock: PROG status reports on the lock the
// service takes: Config.LockPath when set (it used to look at the named
// lock instead, and said "not running" while the service ran), else the
// named lock in Config.Scope.
func TestStatusOpensTheServicesLock(t *testing.T) {
	// The scope the service takes its lock in when Config.Scope is not
	// set, which PROG status looks in given --user or not.
	var userFlag []string
	if platform.DefaultScope() == pidlock.ScopeUser {
		userFlag = []string{"--user"}
	}
	tests := map[string]struct {
		cfg    func(t *testing.T, name string) Config
		run    bool   // run the service while asking
		record string // written to the lock file first, if not ""
		code   int
		stdout string // a regexp; %[1]s is the name, %[2]d our pid
		stderr string // a regexp
	}{
		"lock path, running": {
			cfg:    lockPathConfig,
			run:    true,
			code:   cli.StatusRunning,
			stdout: `^%[1]s is running \(pid %[2]d, [^,]+, since [0-9:]+\)\n$`,
		},
		"lock path, not running": {
			cfg:    lockPathConfig,
			code:   cli.StatusNotRunning,
			stdout: `^%[1]s is not running\n$`,
		},
		"lock path, stale": {
			cfg:    lockPathConfig,
			record: locktest.StaleRecord,
			code:   cli.StatusDeadRecord,
			stdout: `^%[1]s is not running \(stale record: pid 2147483647, ghost, since .*\)\n$`,
		},
		"lock path, not a lock file": {
			cfg:    lockPathConfig,
			record: "notes\n",
			code:   cli.StatusUnknown,
			stderr: `^%[1]s: status: .*svc\.pid: holds data that is not a lock record`,
		},
		"named, in Config.Scope": {
			cfg: func(t *testing.T, name string) Config {
				l, err := pidlock.Named(name, pidlock.WithScope(pidlock.ScopeUser))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rmtree.RemoveAll(filepath.Dir(l.Path())) })
				return Config{Name: name, Scope: pidlock.ScopeUser, Logger: quietLogger()}
			},
			run:    true,
			code:   cli.StatusRunning,
			stdout: `^%[1]s is running \(pid %[2]d, `,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svcName := "rtstatus-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			cfg := tt.cfg(t, svcName)
			if tt.record != "" {
				if err := os.WriteFile(cfg.LockPath, []byte(tt.record), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.run {
				started := make(chan struct{})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					done <- Run(ctx, cfg, AppFunc(func(ctx context.Context, s *Service) error {
						s.Ready()
						close(started)
						<-ctx.Done()
						return nil
					}))
				}()
				t.Cleanup(func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("Run: %v", err)
					}
				})
				select {
				case <-started:
				case err := <-done:
					t.Fatalf("Run: %v", err)
				}
			}
			args := append([]string{"status"}, userFlag...)
			var stdout, stderr bytes.Buffer
			code := main(cfg, AppFunc(nil), args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("%v: exit %d, want %d\nstdout %q\nstderr %q", args, code, tt.code, stdout.String(), stderr.String())
			}
			for what, c := range map[string]struct{ re, got string }{"stdout": {tt.stdout, stdout.String()}, "stderr": {tt.stderr, stderr.String()}} {
				if c.re == "" {
					if c.got != "" {
						t.Errorf("%s %q, want nothing", what, c.got)
					}
					continue
				}
				re := regexp.MustCompile(fmt.Sprintf(c.re, regexp.QuoteMeta(cfg.Name), os.Getpid()))
				if !re.MatchString(c.got) {
					t.Errorf("%s %q, want it to match %s", what, c.got, re)
				}
			}
		})
	}
}

// lockPathConfig is a service whose lock is given by path.
func lockPathConfig(t *testing.T, name string) Config {
	return Config{Name: name, LockPath: filepath.Join(rmtreetest.TempDir(t, "sole-runtime-test"), "svc.pid"), Logger: quietLogger()}
}
