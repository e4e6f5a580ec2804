package fleet

import (
	"fmt"
	"time"
)

// Options are the fleet options as sole run, sole install, sole package
// and sole.yaml name them (without the leading "--"): fleet, fleet-ttl,
// fleet-cacert, fleet-cert and fleet-key. They are the one check of those
// options and the one way of writing them back on a command line.
type Options struct {
	URL               string        // fleet: etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
	TTL               time.Duration // fleet-ttl: 0 is DefaultTTL
	CACert, Cert, Key string        // fleet-cacert, fleet-cert, fleet-key
}

// An OptionError is a bad fleet option: Option is its name
// ("fleet-ttl"), Msg what is wrong.
type OptionError struct {
	Option, Msg string
}

func (e *OptionError) Error() string { return "--" + e.Option + " " + e.Msg }

// Check checks the options. given reports whether an option was given at
// all (by its name), so that fleet-ttl, say, without fleet is an error
// rather than ignored. The error is an *OptionError.
func (o Options) Check(given func(option string) bool) error {
	if o.URL == "" {
		for _, n := range []string{"fleet-ttl", "fleet-cacert", "fleet-cert", "fleet-key"} {
			if given(n) {
				return &OptionError{n, "needs --fleet"}
			}
		}
		if given("fleet") {
			return &OptionError{"fleet", "must not be empty"}
		}
		return nil
	}
	if _, _, err := ParseURL(o.URL); err != nil {
		return &OptionError{"fleet", err.Error()}
	}
	if given("fleet-ttl") && o.TTL < time.Second {
		return &OptionError{"fleet-ttl", fmt.Sprintf("%v: must be at least 1s: etcd's leases count whole seconds", o.TTL)}
	}
	switch {
	case o.Cert != "" && o.Key == "":
		return &OptionError{"fleet-key", "missing: --fleet-cert and --fleet-key go together"}
	case o.Cert == "" && o.Key != "":
		return &OptionError{"fleet-cert", "missing: --fleet-cert and --fleet-key go together"}
	}
	return nil
}

// Args are the options as a command line: --fleet URL, --fleet-ttl
// unless it is the default, and the TLS files; nothing without URL.
func (o Options) Args() []string {
	if o.URL == "" {
		return nil
	}
	a := []string{"--fleet", o.URL}
	if o.TTL != 0 && o.TTL != DefaultTTL {
		a = append(a, "--fleet-ttl", o.TTL.String())
	}
	for _, f := range []struct{ name, v string }{{"--fleet-cacert", o.CACert}, {"--fleet-cert", o.Cert}, {"--fleet-key", o.Key}} {
		if f.v != "" {
			a = append(a, f.name, f.v)
		}
	}
	return a
}

// Config is the Config of the lock name that the options select, with
// the user and password from getenv (Credentials).
func (o Options) Config(name string, getenv func(string) string) Config {
	eps, prefix, _ := ParseURL(o.URL)
	c := Config{Endpoints: eps, Prefix: prefix, Name: name, TTL: o.TTL, CACert: o.CACert, Cert: o.Cert, Key: o.Key}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	c.Credentials(getenv)
	return c
}
