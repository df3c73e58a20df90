//go:build !plan9

package storetest

import (
	"errors"
	"os/exec"
	"syscall"
)

// killedBySIGKILL reports whether err, from exec.Cmd.Wait, says the
// process was killed by SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
}
