package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

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
	storetest.CrossProcessLock(t, procs, func(t *testing.T, s relman.Store, holders int) {
		ps := s.(*postgres.Store)
		waitAdvisory(t, ps.Pool(), ps.LockID(relman.ScheduleLock), holders)
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
	storetest.LockSucceeds(t, b)
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
	storetest.LockSucceeds(t, other)
	unlock() // fails on the dead connection, and discards it
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after unlock", n)
	}
	storetest.LockSucceeds(t, s)
}
