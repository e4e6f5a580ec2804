// Command sole-fleet is sole with the fleet lock on etcd linked in: sole
// execs it for the commands given --fleet (docs/fleet.md), so that every
// local sole run does not pay for etcd's client (some 300 packages and
// milliseconds of package initialisation). It takes the same command line
// as sole.
package main

import (
	"os"

	"github.com/solehq/sole/internal/fleet/etcdlock"
	"github.com/solehq/sole/internal/solecmd"
)

func main() {
	os.Exit(solecmd.Main(os.Args[1:], os.Stdout, os.Stderr, etcdlock.Backend{}))
}
