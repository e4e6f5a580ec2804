package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/solehq/sole/packaging"
)

// config is sole.yaml: the long options as keys. Relative paths of files
// on the build machine in it are relative to the file's directory; paths
// on the target (env-file, workdir, the fleet's TLS files) are absolute.
type config struct {
	Name         string       `yaml:"name"`
	Version      string       `yaml:"version"`
	Release      string       `yaml:"release"`
	Binary       string       `yaml:"binary"`
	Args         []string     `yaml:"args"`
	Arch         string       `yaml:"arch"`
	Maintainer   string       `yaml:"maintainer"`
	Description  string       `yaml:"description"`
	License      string       `yaml:"license"`
	Homepage     string       `yaml:"homepage"`
	Section      string       `yaml:"section"`
	Configs      []configFile `yaml:"config"`
	Env          []string     `yaml:"env"`
	Depends      []string     `yaml:"depends"`
	Watchdog     duration     `yaml:"watchdog"`
	Health       string       `yaml:"health"`
	RunAs        string       `yaml:"run-as"`
	Workdir      string       `yaml:"workdir"`
	EnvFile      string       `yaml:"env-file"`
	Restart      string       `yaml:"restart"`
	RestartDelay duration     `yaml:"restart-delay"`
	StartTimeout duration     `yaml:"start-timeout"`
	StopTimeout  duration     `yaml:"stop-timeout"`
	Harden       bool         `yaml:"harden"`
	LogDir       string       `yaml:"log-dir"`
	Fleet        string       `yaml:"fleet"`
	FleetTTL     duration     `yaml:"fleet-ttl"`
	FleetCACert  string       `yaml:"fleet-cacert"`
	FleetCert    string       `yaml:"fleet-cert"`
	FleetKey     string       `yaml:"fleet-key"`
	SoleFleet    string       `yaml:"sole-fleet"`
	Mode         string       `yaml:"mode"`
	Sole         string       `yaml:"sole"`
	NoStrip      bool         `yaml:"no-strip"`
	User         bool         `yaml:"user"`
	Sign         struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"sign"`
	Output string `yaml:"output"`
}

// configFile is "SRC:DEST" or {src: SRC, dest: DEST}.
type configFile struct {
	Src  string `yaml:"src"`
	Dest string `yaml:"dest"`
}

func (c *configFile) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		src, dest, ok := strings.Cut(n.Value, ":")
		if !ok || src == "" || dest == "" {
			return fmt.Errorf("line %d: config %q: want SRC:DEST", n.Line, n.Value)
		}
		*c = configFile{Src: src, Dest: dest}
		return nil
	}
	type plain configFile
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	if p.Src == "" || p.Dest == "" {
		return fmt.Errorf("line %d: config: want src and dest", n.Line)
	}
	*c = configFile(p)
	return nil
}

// duration is a time.Duration written as "10s" in YAML.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration such as 10s or 1m30s", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// maxConfigSize bounds sole.yaml: a bigger file is a mistake.
const maxConfigSize = 1 << 20

// readConfig reads sole.yaml. Unknown keys, a second document and bad
// values are errors naming the file and line.
func readConfig(file string) (config, error) {
	var cfg config
	data, err := os.ReadFile(file)
	if err != nil {
		return cfg, err
	}
	if len(data) > maxConfigSize {
		return cfg, fmt.Errorf("%s: larger than %d bytes", file, maxConfigSize)
	}
	if cfg, err = parseConfig(data); err != nil {
		return cfg, fmt.Errorf("%s: %w", file, err)
	}
	dir := filepath.Dir(file)
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&cfg.Binary)
	rel(&cfg.Sole)
	rel(&cfg.SoleFleet)
	rel(&cfg.Output)
	rel(&cfg.Sign.Cert)
	rel(&cfg.Sign.Key)
	for i := range cfg.Configs {
		rel(&cfg.Configs[i].Src)
	}
	return cfg, nil
}

// parseConfig decodes one YAML document strictly.
func parseConfig(data []byte) (cfg config, err error) {
	defer func() {
		// yaml.v3 panics on some malformed input; it is an error here.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, errors.New("empty")
		}
		return cfg, errors.New(strings.Join(strings.Fields(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "unmarshal errors:")), " ")) // yaml's lines, folded into one
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return cfg, errors.New("more than one YAML document")
	}
	return cfg, nil
}

// spec turns the merged options into a packaging.Spec and the output
// directory.
func (c config) spec() (packaging.Spec, string, error) {
	mode, err := packaging.ParseMode(c.Mode)
	if err != nil {
		return packaging.Spec{}, "", err
	}
	s := packaging.Spec{
		Name: c.Name, Version: c.Version, Release: c.Release, Arch: c.Arch,
		Binary: c.Binary, Args: c.Args, Maintainer: c.Maintainer,
		Description: c.Description, License: c.License, Homepage: c.Homepage,
		Section: c.Section, Env: c.Env, Depends: c.Depends,
		Watchdog: time.Duration(c.Watchdog), Health: c.Health,
		RunAs: c.RunAs, Workdir: c.Workdir, EnvFile: c.EnvFile, Restart: c.Restart,
		RestartDelay: time.Duration(c.RestartDelay), Harden: c.Harden, LogDir: c.LogDir,
		StartTimeout: time.Duration(c.StartTimeout), StopTimeout: time.Duration(c.StopTimeout),
		Mode: mode, Sole: c.Sole, NoStrip: c.NoStrip, User: c.User,
		Fleet: c.Fleet, FleetTTL: time.Duration(c.FleetTTL), FleetCACert: c.FleetCACert, FleetCert: c.FleetCert, FleetKey: c.FleetKey,
		SoleFleet: c.SoleFleet,
	}
	for _, f := range c.Configs {
		s.Configs = append(s.Configs, packaging.File{Src: f.Src, Dest: f.Dest})
	}
	switch {
	case c.Sign.Cert != "" && c.Sign.Key != "":
		s.Sign = &packaging.Signing{Cert: c.Sign.Cert, Key: c.Sign.Key}
	case c.Sign.Cert != "" || c.Sign.Key != "":
		return s, "", errors.New("signing needs both --sign-cert and --sign-key")
	}
	out := c.Output
	if out == "" {
		out = "dist"
	}
	return s, out, nil
}
