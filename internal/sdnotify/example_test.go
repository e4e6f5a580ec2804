package sdnotify_test

import (
	"fmt"
	"time"

	"github.com/solehq/sole/internal/sdnotify"
)

// Under systemd with WatchdogSec=30s, WATCHDOG_USEC says 30000000 and
// WATCHDOG_PID the service's main process: a child that inherited them
// has no watchdog of its own.
func ExampleWatchdogInterval() {
	env := map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1234"}
	getenv := func(k string) string { return env[k] }

	d, err := sdnotify.WatchdogInterval(getenv, 1234)
	fmt.Println("main process:", d, err)
	d, err = sdnotify.WatchdogInterval(getenv, 5678)
	fmt.Println("a child:", d, err)

	env["WATCHDOG_USEC"] = "30s"
	_, err = sdnotify.WatchdogInterval(getenv, 1234)
	fmt.Println(err)
	// Output:
	// main process: 30s <nil>
	// a child: 0s <nil>
	// sd_notify: WATCHDOG_USEC="30s": invalid syntax
}

// The lines of a ready message; Send joins them with "\n".
func ExampleStatus() {
	fmt.Println(sdnotify.Ready)
	fmt.Println(sdnotify.MainPID(1234))
	fmt.Println(sdnotify.Status("reload failed: config.yaml:3:\nbad indent"))
	fmt.Println(sdnotify.ExtendTimeout(5 * time.Second))
	// Output:
	// READY=1
	// MAINPID=1234
	// STATUS=reload failed: config.yaml:3: bad indent
	// EXTEND_TIMEOUT_USEC=5000000
}
