package report

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/locktest"
	"github.com/solehq/sole/internal/svcmgr"
	"github.com/solehq/sole/pidlock"
)

// namedIn opens named locks in dir, laid out as pidlock.Named lays them
// out in a scope's directory.
func namedIn(dir string, s pidlock.Scope) func(string) (*pidlock.Lock, error) {
	return func(name string) (*pidlock.Lock, error) {
		return pidlock.New(filepath.Join(dir, name, name+".pid"), pidlock.WithScope(s))
	}
}

// tree lists every path under dir with its contents, to show that a
// listing changed nothing.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		v := d.Type().String()
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		m[p] = v
		return nil
	})
	return m
}

func TestListDir(t *testing.T) {
	type want struct {
		name, state string
		errHas      string // a part of the error when unknown
	}
	mk := func(t *testing.T, dir string, files map[string]string) {
		for name, data := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if strings.HasSuffix(name, "/") {
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := map[string]struct {
		files map[string]string // path (a trailing / for a directory) -> contents
		hold  []string          // named locks held while listing
		link  map[string]string // symlinks: name -> target
		want  []want
	}{
		"empty": {},
		"one running": {
			files: map[string]string{"a/": ""},
			hold:  []string{"a"},
			want:  []want{{"a", "running", ""}},
		},
		"one stale": {
			files: map[string]string{"dead/dead.pid": locktest.StaleRecord},
			want:  []want{{"dead", "stale", ""}},
		},
		"directory without a file": {
			files: map[string]string{"svc/": ""},
			want:  []want{{"svc", "not running", ""}},
		},
		"not a record": {
			files: map[string]string{"junk/junk.pid": "not a pid\nat all\n"},
			want:  []want{{"junk", "unknown", "not a lock record"}},
		},
		"sorted, every kind": {
			files: map[string]string{
				"b/b.pid":     locktest.StaleRecord,
				"a/":          "",
				"a.pid":       "",
				"a-b/":        "",
				"c/c.pid":     "",
				"e.pid":       "",
				"f.txt":       "notes\n",
				".hidden/":    "",
				"d/d.pid":     "garbage",
				"d/other.txt": "the service's own file, not listed",
			},
			hold: []string{"a"},
			want: []want{
				{".hidden", "unknown", "starts with '.'"},
				{"a", "not running", ""}, // a.pid, a lock given by path
				{"a", "running", ""},
				{"a-b", "not running", ""},
				{"b", "stale", ""},
				{"c", "not running", ""},
				{"d", "unknown", "not a lock record"},
				{"e", "not running", ""},
				{"f.txt", "unknown", "not a lock record"},
			},
		},
		"symlinks are not followed": {
			files: map[string]string{"real/real.pid": locktest.StaleRecord},
			link:  map[string]string{"link": "real", "tofile": "real/real.pid"},
			want: []want{
				{"link", "unknown", "symlink"},
				{"real", "stale", ""},
				{"tofile", "unknown", "symlink"},
			},
		},
	}
	for name, tt := range tests {
		for _, s := range []pidlock.Scope{pidlock.ScopeSystem, pidlock.ScopeUser} {
			t.Run(name+"/"+s.String(), func(t *testing.T) {
				asked := fakeServices(t, map[string]svcmgr.State{"a": svcmgr.Active})
				dir := t.TempDir()
				mk(t, dir, tt.files)
				for n, target := range tt.link {
					if err := os.Symlink(target, filepath.Join(dir, n)); err != nil {
						t.Skipf("no symlinks here: %v", err)
					}
				}
				for _, n := range tt.hold {
					l, _ := namedIn(dir, s)(n)
					if err := l.TryLock(); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { l.Unlock() })
				}
				before := tree(t, dir)
				rs, err := listDir(dir, s, namedIn(dir, s))
				if err != nil {
					t.Fatal(err)
				}
				if after := tree(t, dir); !reflect.DeepEqual(before, after) {
					t.Errorf("listing changed the directory:\nbefore %v\nafter  %v", before, after)
				}
				var got []want
				for _, r := range rs {
					w := want{r.Name, r.State(), ""}
					if r.Err != nil {
						w.errHas = ErrorLine(r.Err)
						if !strings.HasPrefix(w.errHas, r.Lock) || filepath.Dir(r.Lock) != dir && filepath.Dir(filepath.Dir(r.Lock)) != dir {
							t.Errorf("%s: error %q does not name the entry", r.Name, w.errHas)
						}
					}
					got = append(got, w)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("listed %v, want %v", got, tt.want)
				}
				for i := range got {
					g, w := got[i], tt.want[i]
					if g.name != w.name || g.state != w.state || !strings.Contains(g.errHas, w.errHas) || (w.errHas == "") != (g.errHas == "") {
						t.Errorf("entry %d: %+v, want %+v", i, g, w)
					}
				}
				if !sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name }) {
					t.Errorf("not sorted: %v", got)
				}
				// The service manager is asked about named locks only, in
				// the scope's own manager.
				for _, a := range *asked {
					if a.User != (s == pidlock.ScopeUser) {
						t.Errorf("asked about %+v in scope %v", a, s)
					}
					if fi, err := os.Lstat(filepath.Join(dir, a.Name)); err != nil || !fi.IsDir() {
						t.Errorf("asked about %q, which is not a lock's directory", a.Name)
					}
				}
				namedLocks := 0
				for _, r := range rs {
					if r.Lock == filepath.Join(dir, r.Name, r.Name+".pid") {
						namedLocks++
					}
				}
				if len(*asked) != namedLocks {
					t.Errorf("asked the service manager %d times (%v) for %d named locks", len(*asked), *asked, namedLocks)
				}
				for _, r := range rs {
					// Only the named lock a, not the file a.pid.
					if r.Name == "a" && filepath.Base(r.Lock) == "a.pid" && filepath.Dir(r.Lock) != dir && r.Service != svcmgr.Active {
						t.Errorf("a: service %q, want active", r.Service)
					}
				}
			})
		}
	}
}

func TestListDirMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sole")
	rs, err := listDir(dir, pidlock.ScopeUser, namedIn(dir, pidlock.ScopeUser))
	if err != nil || len(rs) != 0 {
		t.Fatalf("listDir of a missing directory = %v, %v; want nothing", rs, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("listing created the directory: %v", err)
	}
}

// TestListDirUnreadable: a lock directory that cannot be read is an
// error naming it (a file stands in for it: root reads any directory).
func TestListDirUnreadable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sole")
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := listDir(dir, pidlock.ScopeUser, namedIn(dir, pidlock.ScopeUser))
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != dir {
		t.Fatalf("listDir of a file = %v, want a *PathError naming %s", err, dir)
	}
	if line := ErrorLine(err); !strings.HasPrefix(line, dir+": ") {
		t.Fatalf("ErrorLine = %q", line)
	}
}

// TestList lists the real directory of each scope: whatever it holds,
// every entry has a state, and a code of its own.
func TestList(t *testing.T) {
	fakeServices(t, nil)
	for _, s := range []pidlock.Scope{pidlock.ScopeSystem, pidlock.ScopeUser} {
		t.Run(s.String(), func(t *testing.T) {
			rs, err := List(s)
			if err != nil {
				t.Skipf("cannot read the %v lock directory: %v", s, err)
			}
			for _, r := range rs {
				if r.Code() == cli.StatusUnknown && r.Err == nil {
					t.Errorf("%s: unknown without an error", r.Name)
				}
			}
		})
	}
}
