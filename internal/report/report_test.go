package report

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/locktest"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/pidlock"
)

// TestReport words every state: the text line, the JSON object, the LSB
// code, with and without a service state.
func TestReport(t *testing.T) {
	when := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	const lock = "/run/sole/backup/backup.pid"
	holder := &pidlock.Holder{PID: 1234, Process: "backup.sh", Since: when}
	const rec = `"pid":1234,"process":"backup.sh","since":"2025-01-02T03:04:05.000000006Z"`
	const norec = `"pid":null,"process":null,"since":null`
	notRecord := &fs.PathError{Op: "query", Path: lock, Err: errors.New("holds data that is not a lock record")}
	tests := map[string]struct {
		r    Report
		text string
		json string
		code int
	}{
		"running": {
			r:    Report{Status: pidlock.Status{State: pidlock.Running, Holder: holder}},
			text: "backup is running (pid 1234, backup.sh, since 2025-01-02 03:04:05)",
			json: `"state":"running","running":true,` + rec + `,"service":null}`,
			code: cli.StatusRunning,
		},
		"running, service active": {
			r:    Report{Status: pidlock.Status{State: pidlock.Running, Holder: holder}, Service: svcmgr.Active},
			text: "backup is running (pid 1234, backup.sh, since 2025-01-02 03:04:05); service active",
			json: `"state":"running","running":true,` + rec + `,"service":"active"}`,
			code: cli.StatusRunning,
		},
		"starting": {
			r:    Report{Status: pidlock.Status{State: pidlock.Starting}},
			text: "backup is running (starting)",
			json: `"state":"starting","running":true,` + norec + `,"service":null}`,
			code: cli.StatusRunning,
		},
		"starting, service activating": {
			r:    Report{Status: pidlock.Status{State: pidlock.Starting}, Service: svcmgr.Activating},
			text: "backup is running (starting); service activating",
			json: `"state":"starting","running":true,` + norec + `,"service":"activating"}`,
			code: cli.StatusRunning,
		},
		"stale": {
			r:    Report{Status: pidlock.Status{State: pidlock.Stale, Holder: holder}},
			text: "backup is not running (stale record: pid 1234, backup.sh, since 2025-01-02 03:04:05)",
			json: `"state":"stale","running":false,` + rec + `,"service":null}`,
			code: cli.StatusDeadRecord,
		},
		"stale, service failed": {
			r:    Report{Status: pidlock.Status{State: pidlock.Stale, Holder: holder}, Service: svcmgr.Failed},
			text: "backup is not running (stale record: pid 1234, backup.sh, since 2025-01-02 03:04:05); service failed",
			json: `"state":"stale","running":false,` + rec + `,"service":"failed"}`,
			code: cli.StatusDeadRecord,
		},
		"stale, unreadable record": {
			r:    Report{Status: pidlock.Status{State: pidlock.Stale}},
			text: "backup is not running (unreadable record left in " + lock + ")",
			json: `"state":"stale","running":false,` + norec + `,"service":null}`,
			code: cli.StatusDeadRecord,
		},
		"not running": {
			r:    Report{Status: pidlock.Status{State: pidlock.NotRunning}},
			text: "backup is not running",
			json: `"state":"not running","running":false,` + norec + `,"service":null}`,
			code: cli.StatusNotRunning,
		},
		"not running, service inactive": {
			r:    Report{Status: pidlock.Status{State: pidlock.NotRunning}, Service: svcmgr.Inactive},
			text: "backup is not running; service inactive",
			json: `"state":"not running","running":false,` + norec + `,"service":"inactive"}`,
			code: cli.StatusNotRunning,
		},
		"unknown": {
			r:    Report{Err: notRecord},
			text: "backup state unknown (" + lock + ": holds data that is not a lock record)",
			json: `"state":"unknown","running":false,` + norec + `,"service":null,"error":"` + lock + `: holds data that is not a lock record"}`,
			code: cli.StatusUnknown,
		},
		"unknown, service active": {
			// The lock decides: a service its manager calls active
			// whose state cannot be read is unknown, not running.
			r:    Report{Err: notRecord, Service: svcmgr.Active},
			text: "backup state unknown (" + lock + ": holds data that is not a lock record); service active",
			json: `"state":"unknown","running":false,` + norec + `,"service":"active","error":"` + lock + `: holds data that is not a lock record"}`,
			code: cli.StatusUnknown,
		},
		"unknown, a holder left in the status": {
			// Err wins over whatever Status holds.
			r:    Report{Status: pidlock.Status{State: pidlock.Running, Holder: holder}, Err: errors.New("no /proc")},
			text: "backup state unknown (no /proc)",
			json: `"state":"unknown","running":false,` + norec + `,"service":null,"error":"no /proc"}`,
			code: cli.StatusUnknown,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := tt.r
			r.Name, r.Lock = "backup", lock
			if got := r.Text(); got != tt.text {
				t.Errorf("Text:\n got %s\nwant %s", got, tt.text)
			}
			if got := r.Code(); got != tt.code {
				t.Errorf("Code = %d, want %d", got, tt.code)
			}
			want := `{"name":"backup","lock":"` + lock + `",` + tt.json
			got := r.AppendJSON(nil)
			if string(got) != want {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
			}
			var obj map[string]any
			if err := json.Unmarshal(got, &obj); err != nil {
				t.Fatalf("AppendJSON gave invalid JSON %s: %v", got, err)
			}
			if obj["state"] != r.State() || obj["running"] != r.Running() {
				t.Errorf("decoded state %v running %v, want %q %v", obj["state"], obj["running"], r.State(), r.Running())
			}
			if _, ok := obj["error"]; ok != (r.Err != nil) {
				t.Errorf("error present %v, want %v", ok, r.Err != nil)
			}
			if (r.Code() == cli.StatusRunning) != r.Running() {
				t.Errorf("Code %d but Running %v", r.Code(), r.Running())
			}
		})
	}
}

// TestOneLine: whatever the name, path, process name or error, the text
// is one line and the JSON decodes back to the same strings.
func TestOneLine(t *testing.T) {
	r := Report{
		Name:   "a\nb\x1b[31m",
		Lock:   "/tmp/x\ny/a.pid",
		Status: pidlock.Status{State: pidlock.Running, Holder: &pidlock.Holder{PID: 7, Process: "p\rq\x00", Since: time.Now()}},
	}
	for name, r := range map[string]Report{
		"running": r,
		"stale":   {Name: r.Name, Lock: r.Lock, Status: pidlock.Status{State: pidlock.Stale}},
		"unknown": {Name: r.Name, Lock: r.Lock, Err: &fs.PathError{Op: "query", Path: r.Lock, Err: errors.New("bad\nthing")}},
	} {
		t.Run(name, func(t *testing.T) {
			text := r.Text()
			if strings.ContainsFunc(text, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				t.Errorf("Text %q has control characters", text)
			}
			var obj struct {
				Name, Lock, Process string
			}
			if err := json.Unmarshal(r.AppendJSON(nil), &obj); err != nil {
				t.Fatal(err)
			}
			if obj.Name != r.Name || obj.Lock != r.Lock {
				t.Errorf("JSON name %q lock %q, want %q %q", obj.Name, obj.Lock, r.Name, r.Lock)
			}
			if r.Status.Holder != nil && r.Err == nil && obj.Process != r.Status.Holder.Process {
				t.Errorf("JSON process %q, want %q", obj.Process, r.Status.Holder.Process)
			}
		})
	}
}

func TestAppendJSONArray(t *testing.T) {
	a := Report{Name: "a", Lock: "/l/a/a.pid"}
	b := Report{Name: "b", Lock: "/l/b/b.pid", Err: errors.New("x")}
	tests := map[string]struct {
		rs   []Report
		want string
	}{
		"empty": {nil, "[]\n"},
		"one":   {[]Report{a}, "[\n" + string(a.AppendJSON(nil)) + "\n]\n"},
		"two":   {[]Report{a, b}, "[\n" + string(a.AppendJSON(nil)) + ",\n" + string(b.AppendJSON(nil)) + "\n]\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := AppendJSONArray(nil, tt.rs)
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			var arr []map[string]any
			if err := json.Unmarshal(got, &arr); err != nil || len(arr) != len(tt.rs) {
				t.Fatalf("decoded %d objects, %v; want %d", len(arr), err, len(tt.rs))
			}
		})
	}
}

// fakeServices makes serviceState answer from states, and records what it
// was asked.
func fakeServices(t *testing.T, states map[string]svcmgr.State) *[]Service {
	asked := new([]Service)
	old := serviceState
	serviceState = func(name string, user bool) svcmgr.State {
		*asked = append(*asked, Service{Name: name, User: user})
		return states[name]
	}
	t.Cleanup(func() { serviceState = old })
	return asked
}

// TestGather queries real locks.
func TestGather(t *testing.T) {
	asked := fakeServices(t, map[string]svcmgr.State{"svc": svcmgr.Active})
	locks := locktest.New(t)
	dir, write, held := locks.Path, locks.Write, locks.Held("held.pid")

	tests := map[string]struct {
		path  string
		svc   *Service
		state string
		pid   int
		serv  svcmgr.State
	}{
		"no file":             {path: filepath.Join(dir, "gone.pid"), state: "not running"},
		"no directory":        {path: filepath.Join(dir, "nodir", "x.pid"), state: "not running"},
		"empty":               {path: write("empty.pid", ""), state: "not running"},
		"held":                {path: held, state: "running", pid: os.Getpid()},
		"stale":               {path: write("dead.pid", locktest.StaleRecord), state: "stale", pid: locktest.StalePID},
		"not a record":        {path: write("junk.pid", "not a pid\n"), state: "unknown"},
		"service installed":   {path: held, svc: &Service{Name: "svc"}, state: "running", pid: os.Getpid(), serv: svcmgr.Active},
		"service not there":   {path: held, svc: &Service{Name: "other", User: true}, state: "running", pid: os.Getpid()},
		"unknown has service": {path: write("junk2.pid", "x"), svc: &Service{Name: "svc"}, state: "unknown", serv: svcmgr.Active},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			*asked = nil
			l, err := pidlock.New(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			r := Gather("x", l, tt.svc)
			if r.Name != "x" || r.Lock != tt.path {
				t.Errorf("name %q lock %q, want x %q", r.Name, r.Lock, tt.path)
			}
			if r.State() != tt.state {
				t.Fatalf("state %q (err %v), want %q", r.State(), r.Err, tt.state)
			}
			pid := 0
			if r.Err == nil && r.Status.Holder != nil {
				pid = r.Status.Holder.PID
			}
			if pid != tt.pid {
				t.Errorf("holder pid %d, want %d", pid, tt.pid)
			}
			if r.Service != tt.serv {
				t.Errorf("service %q, want %q", r.Service, tt.serv)
			}
			var want []Service
			if tt.svc != nil {
				want = []Service{*tt.svc}
			}
			if !reflect.DeepEqual(*asked, want) {
				t.Errorf("asked the service manager about %v, want %v", *asked, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "nodir")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a query created a directory: %v", err)
			}
		})
	}
}
