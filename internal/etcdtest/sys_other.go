//go:build !unix

package etcdtest

import "os"

// supported says whether the harness can run here: not without the Unix
// signals SIGSTOP and SIGCONT, so Start and StartProxy skip (or fail under
// CI=true).
const supported = false

// The signals the harness would send; never sent here.
var (
	sigTerm = os.Kill
	sigStop = os.Kill
	sigCont = os.Kill
)
