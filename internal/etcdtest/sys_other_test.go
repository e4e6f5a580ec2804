//go:build !unix

package etcdtest

import "errors"

// syscallKill0 would check whether pid exists; never called here.
func syscallKill0(pid int) error { return errors.New("not supported") }
