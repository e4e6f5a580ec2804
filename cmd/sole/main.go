// Command sole runs a program as exactly one instance.
//
//	sole run [--name NAME | --lock PATH] [--scope system|user] [--wait [--timeout DUR]]
//	         [--replace [--stop-timeout DUR]] [--no-inherit] [--quiet] [--conflict-exit-code N]
//	         [--fleet etcd://HOST:PORT[,...][/PREFIX]] -- COMMAND [ARGS...]
//	sole status [NAME | --name NAME | --lock PATH] [--scope system|user] [--fleet URL] [--json]
//	sole list [--scope system|user] [--fleet URL] [--json]
//	sole install | uninstall | start | stop | restart ...
//	sole package deb|rpm|msi ...
//	sole completion bash|zsh|fish
//	sole help [COMMAND]
//	sole --version | -V
//
// See docs/cli.md and sole(1) (docs/man/sole.1) for every option and exit
// code. The command itself is internal/solecmd; this program links no
// fleet lock, and execs sole-fleet for --fleet.
package main

import (
	"os"

	"github.com/solehq/sole/internal/solecmd"
)

func main() {
	os.Exit(solecmd.Main(os.Args[1:], os.Stdout, os.Stderr, nil))
}
