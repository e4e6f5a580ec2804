package kservice_test

import (
	"fmt"

	"github.com/kardianos/service"

	"github.com/solehq/sole/runtime/kservice"
)

// daemon is a program written for kardianos/service.
type daemon struct{}

func (daemon) Start(s service.Service) error { return nil } // start serving, return
func (daemon) Stop(s service.Service) error  { return nil } // stop serving

// A kardianos/service program adopts sole with kservice.Main in place of
// service.New and s.Run; App shows what its service.Config becomes.
func ExampleApp() {
	c := &service.Config{
		Name:        "myd",
		DisplayName: "My daemon",
		UserName:    "myd",
		EnvVars:     map[string]string{"MYD_ADDR": "127.0.0.1:8080"},
		Option:      service.KeyValue{"Restart": "always", "RestartSec": "5s"},
	}
	cfg, _, err := kservice.App(daemon{}, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("name %s, description %q, run as %s, restart %s after %v\n", cfg.Name, cfg.Description, cfg.RunAs, cfg.Restart, cfg.RestartDelay)

	// What sole cannot honour is refused, in one line naming it.
	c.EnvVars["MYD_GREETING"] = "two\nlines"
	_, _, err = kservice.App(daemon{}, c)
	fmt.Println(err)
	c.EnvVars = nil
	c.Option["SystemdScript"] = "[Unit]\n..."
	_, _, err = kservice.App(daemon{}, c)
	fmt.Println(err)

	// In main: kservice.Main(daemon{}, c)

	// Output:
	// name myd, description "My daemon", run as myd, restart always after 5s
	// kservice: EnvVars["MYD_GREETING"]: "two\nlines" has a newline at byte 3
	// kservice: Option["SystemdScript"]: sole writes the service definition itself, from its description (`PROG install --print` shows it); a custom template cannot keep its guarantees
}
