package storetest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// holdLock is Child in "lock" mode: it takes relman.ScheduleLock, says
// LOCKED, and holds the lock until it reads a line on stdin (or stdin
// closes); then it unlocks and says UNLOCKED.
func holdLock(t *testing.T, s relman.Store) {
	l, ok := s.(relman.Locker)
	if !ok {
		t.Fatalf("child: %T is not a relman.Locker", s)
	}
	unlock, err := l.Lock(context.Background(), relman.ScheduleLock)
	if err != nil {
		t.Fatalf("child lock: %v", err)
	}
	os.Stdout.WriteString("LOCKED\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	unlock()
	os.Stdout.WriteString("UNLOCKED\n")
}

// lockHolder is a child process holding relman.ScheduleLock on a
// database.
type lockHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startLockHolder starts a child that takes the lock on db, and returns
// once it holds it.
func (p Processes) startLockHolder(t *testing.T, ctx context.Context, db string) *lockHolder {
	t.Helper()
	cmd, stdin, stdout := p.start(t, ctx, "lock", p.env(envDB, db))
	h := &lockHolder{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
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

// LockFails checks that Lock of relman.ScheduleLock on l gives up with
// context.DeadlineExceeded after a 200ms deadline, and not before it, as
// the lock is held elsewhere.
func LockFails(t *testing.T, l relman.Locker) {
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

// LockSucceeds checks that Lock of relman.ScheduleLock on l is granted
// within 10s, and unlocks it.
func LockSucceeds(t *testing.T, l relman.Locker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := l.Lock(ctx, relman.ScheduleLock)
	if err != nil {
		t.Fatalf("Lock after the other process let go: %v", err)
	}
	unlock()
}

// CrossProcessLock checks that relman.ScheduleLock held by a child process
// (see Processes) keeps a handle in this process waiting until the child
// unlocks it (subtest Unlocked), or until the child is killed (Killed);
// another key is not held meanwhile. The store must be a relman.Locker.
//
// held, if not nil, is called with the handle at each point where the
// store can say more: with 1 once this process's Lock has given up while
// the child holds the lock, and with 0 once the child has let go and this
// process has locked and unlocked. It should wait, within reason, until
// the store's own view of the lock shows that many holders and no waiters.
func CrossProcessLock(t *testing.T, p Processes, held func(t *testing.T, s relman.Store, holders int)) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	if held == nil {
		held = func(*testing.T, relman.Store, int) {}
	}
	db := p.NewDB(t)
	s := p.open(t, db)
	l, ok := s.(relman.Locker)
	if !ok {
		t.Fatalf("%T is not a relman.Locker", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("Unlocked", func(t *testing.T) {
		h := p.startLockHolder(t, ctx, db)
		LockFails(t, l)
		held(t, s, 1) // the child's; ours left the queue
		// Another key is not held.
		if unlock, err := l.Lock(ctx, "other"); err != nil {
			t.Errorf("Lock of another key: %v", err)
		} else {
			unlock()
		}
		if _, err := io.WriteString(h.stdin, "UNLOCK\n"); err != nil {
			t.Fatal(err)
		}
		h.expect(t, "UNLOCKED")
		LockSucceeds(t, l)
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
		held(t, s, 0)
	})

	t.Run("Killed", func(t *testing.T) {
		h := p.startLockHolder(t, ctx, db)
		LockFails(t, l)
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := h.cmd.Wait(); !killedBySIGKILL(err) {
			t.Fatalf("child ended with %v, want killed by SIGKILL", err)
		}
		LockSucceeds(t, l)
		held(t, s, 0)
	})
}
