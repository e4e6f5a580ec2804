package fleet

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := map[string]struct {
		in        string
		endpoints []string
		prefix    string
		err       string
	}{
		"one":            {in: "etcd://127.0.0.1:2379", endpoints: []string{"127.0.0.1:2379"}},
		"three":          {in: "etcd://a:1,b:2,c:3", endpoints: []string{"a:1", "b:2", "c:3"}},
		"prefix":         {in: "etcd://a:1/jobs/nightly", endpoints: []string{"a:1"}, prefix: "jobs/nightly"},
		"trailing slash": {in: "etcd://a:1/jobs/", endpoints: []string{"a:1"}, prefix: "jobs"},
		"root":           {in: "etcd://a:1/", endpoints: []string{"a:1"}},
		"ipv6":           {in: "etcd://[::1]:2379", endpoints: []string{"[::1]:2379"}},
		"no scheme":      {in: "a:1", err: "want etcd://"},
		"http":           {in: "http://a:1", err: "want etcd://"},
		"empty":          {in: "etcd://", err: "no HOST:PORT"},
		"no port":        {in: "etcd://a", err: "is not HOST:PORT"},
		"empty port":     {in: "etcd://a:", err: "port must be"},
		"port 0":         {in: "etcd://a:0", err: "port must be"},
		"big port":       {in: "etcd://a:65536", err: "port must be"},
		"bad ipv6":       {in: "etcd://::1:2379", err: "is not HOST:PORT"},
		"empty host":     {in: "etcd://:2379", err: "is not HOST:PORT"},
		"empty member":   {in: "etcd://a:1,", err: "is not HOST:PORT"},
		"space host":     {in: "etcd://a b:1", err: "is not HOST:PORT"},
		"slash slash":    {in: "etcd://a:1//x", err: "empty, . or .."},
		"dot dot":        {in: "etcd://a:1/x/../y", err: "empty, . or .."},
		"newline":        {in: "etcd://a:1/x\ny", err: "spaces or control"},
		"bad utf8":       {in: "etcd://a:1/\xff", err: "spaces or control"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			eps, prefix, err := ParseURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseURL(%q) = %v, %q, %v; want an error with %q", tt.in, eps, prefix, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(eps, tt.endpoints) || prefix != tt.prefix {
				t.Fatalf("ParseURL(%q) = %v, %q, %v; want %v, %q", tt.in, eps, prefix, err, tt.endpoints, tt.prefix)
			}
		})
	}
}

// FuzzParseURL: no input panics, an accepted URL has endpoints that are
// HOST:PORT, and a prefix with no empty part and no space or control
// character (so no key of one lock can fall under another's prefix).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"etcd://a:1", "etcd://a:1,b:2/p/q", "etcd://[::1]:2379/x", "etcd://a:1//", "etcd://:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		eps, prefix, err := ParseURL(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Errorf("error with a newline: %q", err)
			}
			return
		}
		if len(eps) == 0 {
			t.Fatalf("%q: no endpoints and no error", s)
		}
		for _, e := range eps {
			if _, _, ok := splitHostPort(e); !ok {
				t.Errorf("%q: endpoint %q is not HOST:PORT", s, e)
			}
		}
		if prefix != "" {
			for _, seg := range strings.Split(prefix, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Errorf("%q: prefix %q has an empty or dot part", s, prefix)
				}
			}
		}
		if strings.ContainsAny(prefix, " \t\n\r\x00") {
			t.Errorf("%q: prefix %q holds a space or control character", s, prefix)
		}
	})
}

func TestMargin(t *testing.T) {
	for ttl, want := range map[time.Duration]time.Duration{
		time.Second: 500 * time.Millisecond, 2 * time.Second: 500 * time.Millisecond,
		10 * time.Second: 2500 * time.Millisecond, time.Minute: 5 * time.Second,
	} {
		if got := Margin(ttl); got != want {
			t.Errorf("Margin(%v) = %v, want %v", ttl, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	c := Config{Prefix: "jobs", Name: "backup"}
	if got := c.LockPrefix(); got != "jobs/sole/backup/lock" {
		t.Errorf("LockPrefix = %q", got)
	}
	if got := c.WhoKey(0x2a); got != "jobs/sole/backup/who/2a" {
		t.Errorf("WhoKey = %q", got)
	}
	if got := (Config{Name: "b"}).LockPrefix(); got != "sole/b/lock" {
		t.Errorf("LockPrefix without prefix = %q", got)
	}
}

func TestErrors(t *testing.T) {
	le := &LockedError{Name: "job", Holder: &Holder{Host: "web1", PID: 42}}
	if !errors.Is(le, ErrLocked) || le.Error() != "job: held by pid 42 on web1" {
		t.Errorf("LockedError: %v", le)
	}
	ue := &UnreachableError{Endpoints: []string{"a:1", "b:2"}, Err: errors.New("context deadline exceeded")}
	if !errors.Is(ue, ErrUnreachable) || ue.Error() != "etcd at a:1,b:2 cannot be reached: context deadline exceeded" {
		t.Errorf("UnreachableError: %v", ue)
	}
}

func TestCredentials(t *testing.T) {
	for name, tt := range map[string]struct{ user, pw, wantUser, wantPw string }{
		"both":     {"root", "s3cret", "root", "s3cret"},
		"combined": {"root:s3cret", "", "root", "s3cret"},
		"colon pw": {"root:a:b", "", "root", "a:b"},
		"none":     {"", "", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			var c Config
			c.Credentials(func(k string) string { return map[string]string{EnvUser: tt.user, EnvPassword: tt.pw}[k] })
			if c.User != tt.wantUser || c.Password != tt.wantPw {
				t.Errorf("got %q, %q", c.User, c.Password)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := map[string]struct {
		o     Options
		given []string
		err   string
		args  []string
	}{
		"none":             {},
		"url":              {o: Options{URL: "etcd://a:1"}, given: []string{"fleet"}, args: []string{"--fleet", "etcd://a:1"}},
		"default ttl":      {o: Options{URL: "etcd://a:1", TTL: DefaultTTL}, given: []string{"fleet", "fleet-ttl"}, args: []string{"--fleet", "etcd://a:1"}},
		"all":              {o: Options{URL: "etcd://a:1/p", TTL: 3 * time.Second, CACert: "/c", Cert: "/d", Key: "/e"}, given: []string{"fleet", "fleet-ttl"}, args: []string{"--fleet", "etcd://a:1/p", "--fleet-ttl", "3s", "--fleet-cacert", "/c", "--fleet-cert", "/d", "--fleet-key", "/e"}},
		"ttl without url":  {o: Options{TTL: time.Second}, given: []string{"fleet-ttl"}, err: "--fleet-ttl needs --fleet"},
		"key without url":  {o: Options{Key: "/k"}, given: []string{"fleet-key"}, err: "--fleet-key needs --fleet"},
		"empty url":        {given: []string{"fleet"}, err: "--fleet must not be empty"},
		"bad url":          {o: Options{URL: "a:1"}, given: []string{"fleet"}, err: `--fleet "a:1": want etcd://`},
		"short ttl":        {o: Options{URL: "etcd://a:1", TTL: 500 * time.Millisecond}, given: []string{"fleet", "fleet-ttl"}, err: "--fleet-ttl 500ms: must be at least 1s"},
		"cert without key": {o: Options{URL: "etcd://a:1", Cert: "/c"}, given: []string{"fleet"}, err: "--fleet-key missing"},
		"key without cert": {o: Options{URL: "etcd://a:1", Key: "/k"}, given: []string{"fleet"}, err: "--fleet-cert missing"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.o.Check(func(n string) bool { return slices.Contains(tt.given, n) })
			if tt.err != "" {
				var oe *OptionError
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) || !errors.As(err, &oe) {
					t.Fatalf("Check = %v, want an *OptionError starting %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.o.Args(); !slices.Equal(got, tt.args) {
				t.Errorf("Args = %q, want %q", got, tt.args)
			}
		})
	}
	c := Options{URL: "etcd://a:1,b:2/p"}.Config("job", func(k string) string { return map[string]string{EnvUser: "u:p"}[k] })
	if !slices.Equal(c.Endpoints, []string{"a:1", "b:2"}) || c.Prefix != "p" || c.Name != "job" || c.TTL != DefaultTTL || c.User != "u" || c.Password != "p" {
		t.Errorf("Config = %+v", c)
	}
}
