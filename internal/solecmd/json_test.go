package solecmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/locktest"
	"github.com/solehq/sole/pidlock"
	"github.com/solehq/sole/platform"
)

// statusKeys are the fields of every object `sole status --json` and
// `sole list --json` print, in order; "error" follows when the state is
// unknown.
var statusKeys = []string{"name", "lock", "state", "running", "pid", "process", "since", "service"}

// checkObject decodes one status object with encoding/json and checks its
// fields, in order.
func checkObject(t *testing.T, raw json.RawMessage, state string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object (%v)", raw, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		keys = append(keys, tok.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	want := statusKeys
	if state == "unknown" {
		want = append(slices.Clip(want), "error")
	}
	if !slices.Equal(keys, want) {
		t.Errorf("%s: keys %v, want %v", raw, keys, want)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("invalid JSON %s: %v", raw, err)
	}
	if obj["state"] != state {
		t.Errorf("%s: state %v, want %q", raw, obj["state"], state)
	}
	if obj["running"] != (state == "running" || state == "starting") {
		t.Errorf("%s: running %v for state %q", raw, obj["running"], state)
	}
	if s, ok := obj["since"].(string); ok {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("%s: since: %v", raw, err)
		}
	}
	return obj
}

// TestStatusJSON decodes `sole status --json` in each state.
func TestStatusJSON(t *testing.T) {
	locks := locktest.New(t)
	dir, write, held := locks.Path, locks.Write, locks.Held("held.pid")
	tests := map[string]struct {
		path  string
		state string
		code  int
		pid   int
	}{
		"running":      {path: held, state: "running", code: cli.StatusRunning, pid: os.Getpid()},
		"stale":        {path: write("dead.pid", locktest.StaleRecord), state: "stale", code: cli.StatusDeadRecord, pid: locktest.StalePID},
		"not running":  {path: filepath.Join(dir, "gone.pid"), state: "not running", code: cli.StatusNotRunning},
		"not a record": {path: write("junk.pid", "not a pid\n"), state: "unknown", code: cli.StatusUnknown},
		"odd name":     {path: write("a\"b\\c\u2028.pid", ""), state: "not running", code: cli.StatusNotRunning},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := soleProgram.Main([]string{"status", "--lock", tt.path, "--json"}, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, stderr.String())
			}
			out := stdout.Bytes()
			if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("\n")) {
				t.Fatalf("not one line: %q", out)
			}
			obj := checkObject(t, out, tt.state)
			if obj["lock"] != tt.path || obj["name"] != strings.TrimSuffix(filepath.Base(tt.path), ".pid") {
				t.Errorf("name %v lock %v, for %s", obj["name"], obj["lock"], tt.path)
			}
			if pid, _ := obj["pid"].(float64); int(pid) != tt.pid {
				t.Errorf("pid %v, want %d", obj["pid"], tt.pid)
			}
			if obj["service"] != nil {
				t.Errorf("service %v for a lock given by path", obj["service"])
			}
			if tt.state == "unknown" && (!strings.Contains(obj["error"].(string), "not a lock record") || !strings.Contains(stderr.String(), "not a lock record")) {
				t.Errorf("error %v, stderr %q", obj["error"], stderr.String())
			}
		})
	}
}

// TestListJSON decodes `sole list --json`: an array of the objects sole
// status --json prints, each the same as sole status's.
func TestListJSON(t *testing.T) {
	dir, err := platform.LockDir(platform.ScopeUser)
	if err != nil {
		t.Skip(err)
	}
	prefix := "tj" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	mk := func(name, data string) {
		d := filepath.Join(dir, prefix+name)
		t.Cleanup(func() { os.RemoveAll(d) })
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if data != "" {
			if err := os.WriteFile(filepath.Join(d, prefix+name+".pid"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("dead", locktest.StaleRecord)
	mk("junk", "not a pid\n")
	mk("idle", "")
	run, err := pidlock.Named(prefix+"run", pidlock.WithScope(pidlock.ScopeUser))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(run.Path())) })
	if err := run.TryLock(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Unlock() })

	var stdout, stderr bytes.Buffer
	if code := soleProgram.Main([]string{"list", "--json", "--scope", "user"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &arr); err != nil {
		t.Fatalf("invalid JSON array %s: %v", stdout.Bytes(), err)
	}
	want := map[string]string{"dead": "stale", "idle": "not running", "junk": "unknown", "run": "running"}
	var names []string
	for _, raw := range arr {
		var obj struct{ Name string }
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		names = append(names, obj.Name)
		short, ok := strings.CutPrefix(obj.Name, prefix)
		if !ok {
			continue // another test's lock
		}
		checkObject(t, raw, want[short])
		// The very object sole status --json prints.
		var st, serr bytes.Buffer
		soleProgram.Main([]string{"status", "--scope", "user", "--json", obj.Name}, &st, &serr)
		if got := strings.TrimSuffix(st.String(), "\n"); got != string(raw) {
			t.Errorf("list: %s\nstatus: %s", raw, got)
		}
		delete(want, short)
	}
	if len(want) != 0 {
		t.Errorf("not listed: %v", want)
	}
	if !slices.IsSorted(names) {
		t.Errorf("not sorted: %v", names)
	}
}
