package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// TestLockAcrossProcesses: a lock held by another process keeps this one
// waiting until it is unlocked, or until the holder is killed.
func TestLockAcrossProcesses(t *testing.T) { storetest.CrossProcessLock(t, procs, nil) }

// openAt opens the database at path and closes it when the test ends.
func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLockFile: the lock file lives beside the database, readable by its
// owner only, and stays after unlock.
func TestLockFile(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "relman.db"))
	name := s.LockPath(relman.ScheduleLock)
	if filepath.Dir(name) != dir || !strings.HasPrefix(filepath.Base(name), "relman.db-relman.schedule-") || !strings.HasSuffix(name, ".lock") {
		t.Errorf("LockPath = %s, want relman.db-relman.schedule-<hash>.lock in %s", name, dir)
	}
	unlock, err := s.Lock(context.Background(), relman.ScheduleLock)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatalf("lock file after unlock: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", fi.Mode().Perm())
	}
	// Keys that look alike once made safe for a file name get files of
	// their own.
	if a, b := s.LockPath("a/b"), s.LockPath("a_b"); a == b {
		t.Errorf("keys a/b and a_b share the lock file %s", a)
	}
	if long := filepath.Base(s.LockPath(strings.Repeat("k", 1000))); len(long) > 128 {
		t.Errorf("lock file name for a long key is %d bytes long", len(long))
	}
}

// TestLockTwoHandles: two stores on one file in one process exclude each
// other, and an unlock still works after its store is closed.
func TestLockTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relman.db")
	a, b := openAt(t, path), openAt(t, path)
	unlock, err := a.Lock(context.Background(), relman.ScheduleLock)
	if err != nil {
		t.Fatal(err)
	}
	storetest.LockFails(t, b)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if u, err := a.Lock(context.Background(), "other"); err == nil {
		u()
		t.Error("Lock after Close succeeded")
	}
	unlock()
	storetest.LockSucceeds(t, b)
}
