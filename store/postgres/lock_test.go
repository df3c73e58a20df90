package postgres_test

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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
)

// holdLock is TestChild in "lock" mode: it takes relman.ScheduleLock,
// says LOCKED, and holds the lock until it reads a line on stdin (or
// stdin closes); then it unlocks and says UNLOCKED.
func holdLock(t *testing.T, s *postgres.Store) {
	unlock, err := s.Lock(context.Background(), relman.ScheduleLock)
	if err != nil {
		t.Fatalf("child lock: %v", err)
	}
	os.Stdout.WriteString("LOCKED\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	unlock()
	os.Stdout.WriteString("UNLOCKED\n")
}

// lockHolder is a child process holding relman.ScheduleLock in a schema.
type lockHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startLockHolder starts a child that takes the lock, and returns once it
// holds it.
func startLockHolder(t *testing.T, ctx context.Context, schema string) *lockHolder {
	t.Helper()
	cmd := child(t, ctx, childEnv+"=lock", childDB+"="+schema)
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

// advisory counts the server's advisory locks with id, granted and
// waiting.
func advisory(t *testing.T, pool *pgxpool.Pool, id int64) (granted, waiting int) {
	t.Helper()
	// A bigint key is split into classid (high half) and objid (low
	// half), with objsubid 1.
	err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted)
		FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = ($1::bigint >> 32) & 4294967295 AND objid::bigint = $1::bigint & 4294967295`, id).Scan(&granted, &waiting)
	if err != nil {
		t.Fatal(err)
	}
	return granted, waiting
}

// waitAdvisory waits until the server shows want granted and no waiting
// advisory locks with id.
func waitAdvisory(t *testing.T, pool *pgxpool.Pool, id int64, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, w := advisory(t, pool, id)
		if g == want && w == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("advisory lock %d: %d granted, %d waiting; want %d granted, none waiting", id, g, w, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLockAcrossProcesses: a lock held by another process keeps this one
// waiting until it is unlocked, or until the holder is killed and its
// connection with it. A Lock that gives up leaves no waiter behind on the
// server.
func TestLockAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	id := s.LockID(relman.ScheduleLock)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("Unlocked", func(t *testing.T) {
		h := startLockHolder(t, ctx, s.Schema())
		lockFails(t, s)
		waitAdvisory(t, pool, id, 1) // the child's; ours left the queue
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
		waitAdvisory(t, pool, id, 0)
	})

	t.Run("Killed", func(t *testing.T) {
		h := startLockHolder(t, ctx, s.Schema())
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
		waitAdvisory(t, pool, id, 0)
	})
}

// TestLockSchemas: stores in different schemas of one database have locks
// of their own, and the lock is not the migration lock.
func TestLockSchemas(t *testing.T) {
	pool := testPool(t)
	a, b := newStore(t, pool, postgres.Options{}), newStore(t, pool, postgres.Options{})
	if a.LockID(relman.ScheduleLock) == b.LockID(relman.ScheduleLock) {
		t.Fatal("two schemas share a lock id")
	}
	ctx := context.Background()
	unlock, err := a.Lock(ctx, relman.ScheduleLock)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	lockSucceeds(t, b)
	// A store opening the same schema migrates (under the migration
	// lock) while the schedule lock is held.
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := postgres.New(mctx, pool, postgres.Options{Schema: a.Schema()}); err != nil {
		t.Fatalf("New while the schedule lock is held: %v", err)
	}
}

// TestLockConnection: unlock returns the lock's connection to the pool,
// and a lost connection releases the lock on the server.
func TestLockConnection(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, postgres.Options{})
	other := newStore(t, testPool(t), postgres.Options{Schema: s.Schema()})
	id := s.LockID(relman.ScheduleLock)

	for range 5 { // with 2 connections, a leak would show
		unlock, err := s.Lock(ctx, relman.ScheduleLock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "none"); !errors.Is(err, relman.ErrNotFound) {
			t.Fatalf("Get while holding the lock: %v", err)
		}
		unlock()
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after unlock", n)
	}

	// Kill the holder's connection from the server side.
	unlock, err := s.Lock(ctx, relman.ScheduleLock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::bigint = ($1::bigint >> 32) & 4294967295 AND objid::bigint = $1::bigint & 4294967295`, id); err != nil {
		t.Fatal(err)
	}
	lockSucceeds(t, other)
	unlock() // fails on the dead connection, and discards it
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after unlock", n)
	}
	lockSucceeds(t, s)
}
