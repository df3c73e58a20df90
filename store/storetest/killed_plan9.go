package storetest

import (
	"errors"
	"os/exec"
)

// killedBySIGKILL reports whether err, from exec.Cmd.Wait, says the
// process was killed. Plan 9 has no signals, so it only checks that the
// process ended without success.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Success()
}
