//go:build unix

package runtime_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/runtime"
)

// An app becomes ready once it serves; the runtime reports readiness only
// then, and only while it holds the lock. Here the app looks at its own
// lock, then stops the run.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx, stop := context.WithCancel(context.Background())
	cfg := runtime.Config{
		Name:     "myd",
		LockPath: filepath.Join(dir, "myd.pid"),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	err := runtime.Run(ctx, cfg, runtime.AppFunc(func(ctx context.Context, svc *runtime.Service) error {
		svc.Ready()
		st, _ := svc.Lock().Query()
		fmt.Println("lock:", st.State, "by me:", st.Holder.PID == os.Getpid())
		stop()
		<-ctx.Done()
		return nil
	}))
	fmt.Println("run:", err)

	// Once the run is over, the lock is free and its record empty.
	l, _ := pidlock.New(cfg.LockPath)
	st, _ := l.Query()
	fmt.Println("after:", st.State)
	// Output:
	// lock: running by me: true
	// run: <nil>
	// after: not running
}
