package runtime

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/solehq/sole/internal/rmtree/rmtreetest"
)

// TestReadyWins: when the app's Ready and the end of the start come at
// once (the app returns, or Run's ctx ends, just after Ready), the start
// counts as done and the stop is clean: Run returns nil, every time, never
// "start cancelled" or "returned before it was ready" by the luck of a
// select (the first was seen in CI). The lock directory is
// rmtreetest.TempDir's, which Wine 8 can remove.
func TestReadyWins(t *testing.T) {
	tests := map[string]func(cancel context.CancelFunc) App{
		"app returns just after Ready": func(context.CancelFunc) App {
			return AppFunc(func(_ context.Context, s *Service) error { s.Ready(); return nil })
		},
		"ctx ends just after Ready": func(cancel context.CancelFunc) App {
			return AppFunc(func(ctx context.Context, s *Service) error { s.Ready(); cancel(); <-ctx.Done(); return nil })
		},
	}
	// The start sees the app only once the app is done, as on a busy
	// machine.
	testHookStartWait = func() { time.Sleep(5 * time.Millisecond) }
	t.Cleanup(func() { testHookStartWait = func() {} })
	for name, app := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Name: "svc", LockPath: filepath.Join(rmtreetest.TempDir(t, "sole-runtime-test"), "svc.pid"), Logger: quietLogger()}
			for i := range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				err := Run(ctx, cfg, app(cancel))
				cancel()
				if err != nil {
					t.Fatalf("run %d: Run = %v, want nil", i, err)
				}
			}
		})
	}
}
