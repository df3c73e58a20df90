package sqlite

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock locks the first byte of f with LockFileEx without waiting. It
// reports false if another handle holds it.
func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := rc.Control(func(h uintptr) {
		lerr = windows.LockFileEx(windows.Handle(h), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	}); err != nil {
		return false, err
	}
	if errors.Is(lerr, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	if lerr != nil {
		return false, os.NewSyscallError("LockFileEx", lerr)
	}
	return true, nil
}

// unlockFile releases the lock tryLock took.
func unlockFile(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(h uintptr) { windows.UnlockFileEx(windows.Handle(h), 0, 1, 0, new(windows.Overlapped)) })
	}
}
