package sdnotify_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/solehq/sole/internal/sdnotify"
)

func TestSendNoManager(t *testing.T) {
	for name, lines := range map[string][]string{
		"one line":  {sdnotify.Ready},
		"several":   {sdnotify.Ready, sdnotify.MainPID(1), sdnotify.Status("x")},
		"no line":   nil,
		"all empty": {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if err := sdnotify.Send("", lines...); err != nil {
				t.Fatalf("Send without NOTIFY_SOCKET: %v, want nil", err)
			}
		})
	}
}

func TestLines(t *testing.T) {
	for name, tc := range map[string]struct{ got, want string }{
		"ready":             {sdnotify.Ready, "READY=1"},
		"reloading":         {sdnotify.Reloading, "RELOADING=1"},
		"stopping":          {sdnotify.Stopping, "STOPPING=1"},
		"watchdog":          {sdnotify.Watchdog, "WATCHDOG=1"},
		"status":            {sdnotify.Status("serving 3 clients"), "STATUS=serving 3 clients"},
		"status empty":      {sdnotify.Status(""), "STATUS="},
		"status line break": {sdnotify.Status("reload failed: bad\nline\r\n"), "STATUS=reload failed: bad line  "},
		"status nul":        {sdnotify.Status("a\x00b"), "STATUS=a b"},
		"status unicode":    {sdnotify.Status("prêt ✓"), "STATUS=prêt ✓"},
		"mainpid":           {sdnotify.MainPID(1234), "MAINPID=1234"},
		"extend":            {sdnotify.ExtendTimeout(5 * time.Second), "EXTEND_TIMEOUT_USEC=5000000"},
		"extend rounds":     {sdnotify.ExtendTimeout(1500 * time.Nanosecond), "EXTEND_TIMEOUT_USEC=1"},
		"extend negative":   {sdnotify.ExtendTimeout(-time.Second), "EXTEND_TIMEOUT_USEC=0"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestMonotonicUsec(t *testing.T) {
	m := sdnotify.MonotonicUsec()
	if m == "" {
		t.Skip("no CLOCK_MONOTONIC here")
	}
	v, ok := strings.CutPrefix(m, "MONOTONIC_USEC=")
	if !ok {
		t.Fatalf("MonotonicUsec() = %q", m)
	}
	a, err := strconv.ParseInt(v, 10, 64)
	if err != nil || a <= 0 {
		t.Fatalf("MonotonicUsec() = %q: not a positive number", m)
	}
	time.Sleep(2 * time.Millisecond)
	b, _ := strconv.ParseInt(strings.TrimPrefix(sdnotify.MonotonicUsec(), "MONOTONIC_USEC="), 10, 64)
	if b-a < 2000 {
		t.Fatalf("the clock went from %d to %d in 2ms", a, b)
	}
}

// env is a fake environment for WatchdogInterval.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestWatchdogInterval(t *testing.T) {
	const pid = 4242
	for name, tc := range map[string]struct {
		usec, wpid string // "-" for unset
		want       time.Duration
		wantErr    error // nil: none; errAny: some error
	}{
		"unset":                   {usec: "-", wpid: "-"},
		"empty":                   {usec: "", wpid: "-"},
		"set":                     {usec: "30000000", wpid: "-", want: 30 * time.Second},
		"one microsecond":         {usec: "1", wpid: "-", want: time.Microsecond},
		"leading zeros":           {usec: "007", wpid: "-", want: 7 * time.Microsecond},
		"zero":                    {usec: "0", wpid: "-", wantErr: errAny},
		"negative":                {usec: "-5000000", wpid: "-", wantErr: errAny},
		"garbage":                 {usec: "30s", wpid: "-", wantErr: strconv.ErrSyntax},
		"fraction":                {usec: "1.5", wpid: "-", wantErr: strconv.ErrSyntax},
		"space":                   {usec: " 1000", wpid: "-", wantErr: strconv.ErrSyntax},
		"huge":                    {usec: "99999999999999999999", wpid: "-", wantErr: strconv.ErrRange},
		"too long for Duration":   {usec: "9223372036854776", wpid: "-", wantErr: strconv.ErrRange},
		"longest Duration":        {usec: "9223372036854775", wpid: "-", want: 9223372036854775 * time.Microsecond},
		"pid ours":                {usec: "1000000", wpid: "4242", want: time.Second},
		"pid empty":               {usec: "1000000", wpid: "", want: time.Second},
		"pid other":               {usec: "1000000", wpid: "1"},
		"pid garbage":             {usec: "1000000", wpid: "me", wantErr: strconv.ErrSyntax},
		"pid huge":                {usec: "1000000", wpid: "99999999999999999999", wantErr: strconv.ErrRange},
		"pid without usec":        {usec: "-", wpid: "4242"},
		"garbage pid, no usec":    {usec: "-", wpid: "me"},
		"garbage usec, pid ours":  {usec: "x", wpid: "4242", wantErr: strconv.ErrSyntax},
		"garbage usec, pid other": {usec: "x", wpid: "1", wantErr: strconv.ErrSyntax},
	} {
		t.Run(name, func(t *testing.T) {
			kv := map[string]string{}
			if tc.usec != "-" {
				kv["WATCHDOG_USEC"] = tc.usec
			}
			if tc.wpid != "-" {
				kv["WATCHDOG_PID"] = tc.wpid
			}
			d, err := sdnotify.WatchdogInterval(env(kv), pid)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("no error, want one (got %v)", d)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "sd_notify: WATCHDOG_") {
				t.Fatalf("error %q does not say which variable", err)
			}
			if d != tc.want {
				t.Fatalf("interval %v, want %v", d, tc.want)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestWatchdogIntervalOS: with os.Getenv, the WATCHDOG_PID rule is about
// the pid passed.
func TestWatchdogIntervalOS(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "77")
	for name, tc := range map[string]struct {
		pid  int
		want time.Duration
	}{
		"ours":  {77, 2 * time.Second},
		"other": {78, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if d, err := sdnotify.WatchdogInterval(os.Getenv, tc.pid); err != nil || d != tc.want {
				t.Fatalf("WatchdogInterval(os.Getenv, %d) = %v, %v; want %v", tc.pid, d, err, tc.want)
			}
		})
	}
}

// FuzzWatchdogInterval checks WatchdogInterval against what its doc
// promises, for any WATCHDOG_USEC and WATCHDOG_PID.
func FuzzWatchdogInterval(f *testing.F) {
	f.Add("30000000", "", 1)
	f.Add("1000000", "1", 1)
	f.Add("1000000", "2", 1)
	f.Add("-1", "", 1)
	f.Fuzz(func(t *testing.T, usec, wpid string, pid int) {
		asked := map[string]bool{}
		getenv := func(k string) string {
			asked[k] = true
			switch k {
			case "WATCHDOG_USEC":
				return usec
			case "WATCHDOG_PID":
				return wpid
			}
			return ""
		}
		d, err := sdnotify.WatchdogInterval(getenv, pid)
		for k := range asked {
			if k != "WATCHDOG_USEC" && k != "WATCHDOG_PID" {
				t.Fatalf("read %s", k)
			}
		}
		if d < 0 {
			t.Fatalf("negative interval %v", d)
		}
		if err != nil {
			if d != 0 {
				t.Fatalf("interval %v with error %v", d, err)
			}
			return
		}
		n, perr := strconv.ParseInt(usec, 10, 64)
		if d == 0 {
			// No watchdog: unset, or another process's.
			if usec == "" {
				return
			}
			p, aerr := strconv.Atoi(wpid)
			if perr != nil || n <= 0 || wpid == "" || aerr != nil || p == pid {
				t.Fatalf("WATCHDOG_USEC=%q WATCHDOG_PID=%q pid %d: no watchdog and no error", usec, wpid, pid)
			}
			return
		}
		if perr != nil || n <= 0 || time.Duration(n)*time.Microsecond != d || d/time.Microsecond != time.Duration(n) {
			t.Fatalf("WATCHDOG_USEC=%q: interval %v", usec, d)
		}
		if wpid != "" && wpid != strconv.Itoa(pid) {
			if p, err := strconv.Atoi(wpid); err != nil || p != pid {
				t.Fatalf("WATCHDOG_PID=%q, pid %d: interval %v, want none", wpid, pid, d)
			}
		}
	})
}

// TestExtending: the line is sent every interval until stop, and never
// after stop returned.
func TestExtending(t *testing.T) {
	var mu sync.Mutex
	var got []string
	stop := sdnotify.Extending(10*time.Millisecond, 5*time.Second, func(l string) {
		mu.Lock()
		got = append(got, l)
		mu.Unlock()
	})
	time.Sleep(55 * time.Millisecond)
	stop()
	mu.Lock()
	n := len(got)
	mu.Unlock()
	time.Sleep(30 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n < 2 || len(got) != n {
		t.Fatalf("sent %d lines, then %d after stop", n, len(got))
	}
	for _, l := range got {
		if l != "EXTEND_TIMEOUT_USEC=5000000" {
			t.Fatalf("sent %q", l)
		}
	}
	stop() // a second stop is harmless
}
