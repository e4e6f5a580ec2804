//go:build unix

package etcdtest

import (
	"os"

	"golang.org/x/sys/unix"
)

// supported says whether the harness can run here: it needs SIGSTOP and
// SIGCONT, and etcd.
const supported = true

// The signals the harness sends to its processes.
var (
	sigTerm os.Signal = unix.SIGTERM
	sigStop os.Signal = unix.SIGSTOP
	sigCont os.Signal = unix.SIGCONT
)
