//go:build !(unix && !aix) && !windows

package sqlite

import (
	"errors"
	"os"
)

// tryLock fails: this system has no file lock that Lock can use.
func tryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

func unlockFile(*os.File) {}
