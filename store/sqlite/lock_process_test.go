package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
)

// holdLock is TestChild in "lock" mode: it takes relman.ScheduleLock,
// says LOCKED, and holds the lock until it reads a line on stdin (or
// stdin closes); then it unlocks and says UNLOCKED.
func holdLock(t *testing.T, s *sqlite.Store) {
	unlock, err := s.Lock(context.Background(), relman.ScheduleLock)
	if err != nil {
		t.Fatalf("child lock: %v", err)
	}
	os.Stdout.WriteString("LOCKED\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	unlock()
	os.Stdout.WriteString("UNLOCKED\n")
}

// lockHolder is a child process holding relman.ScheduleLock on the
// database at path.
type lockHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startLockHolder starts a child that takes the lock, and returns once it
// holds it.
func startLockHolder(t *testing.T, ctx context.Context, path string) *lockHolder {
	t.Helper()
	cmd := child(t, ctx, childEnv+"=lock", childDB+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &lockHolder{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h.expect(t, "LOCKED")
	return h
}

// expect reads the child's output up to the line want.
func (h *lockHolder) expect(t *testing.T, want string) {
	t.Helper()
	for h.out.Scan() {
		if strings.TrimSpace(h.out.Text()) == want {
			return
		}
	}
	t.Fatalf("child ended without saying %s (%v)", want, h.out.Err())
}

// lockFails checks that Lock of relman.ScheduleLock gives up with
// context.DeadlineExceeded, as the lock is held elsewhere.
func lockFails(t *testing.T, l relman.Locker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	unlock, err := l.Lock(ctx, relman.ScheduleLock)
	if err == nil {
		unlock()
		t.Fatal("Lock succeeded while another process held the lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while another process held the lock: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Lock gave up after %v, before its deadline", d)
	}
}

// lockSucceeds checks that Lock of relman.ScheduleLock is granted soon.
func lockSucceeds(t *testing.T, l relman.Locker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := l.Lock(ctx, relman.ScheduleLock)
	if err != nil {
		t.Fatalf("Lock after the other process let go: %v", err)
	}
	unlock()
}

// TestLockAcrossProcesses: a lock held by another process keeps this one
// waiting until it is unlocked, or until the holder is killed.
func TestLockAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "locked.db")
	s := openAt(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("Unlocked", func(t *testing.T) {
		h := startLockHolder(t, ctx, path)
		lockFails(t, s)
		// Another key is not held.
		if unlock, err := s.Lock(ctx, "other"); err != nil {
			t.Errorf("Lock of another key: %v", err)
		} else {
			unlock()
		}
		if _, err := io.WriteString(h.stdin, "UNLOCK\n"); err != nil {
			t.Fatal(err)
		}
		h.expect(t, "UNLOCKED")
		lockSucceeds(t, s)
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	})

	t.Run("Killed", func(t *testing.T) {
		h := startLockHolder(t, ctx, path)
		lockFails(t, s)
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := h.cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child ended with %v, want killed by SIGKILL", err)
		}
		lockSucceeds(t, s)
	})
}

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
	lockFails(t, b)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if u, err := a.Lock(context.Background(), "other"); err == nil {
		u()
		t.Error("Lock after Close succeeded")
	}
	unlock()
	lockSucceeds(t, b)
}
