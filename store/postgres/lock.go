package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cleanupTimeout bounds the statements Lock runs on its own after the
// caller's context is gone: the unlock, and closing a connection.
const cleanupTimeout = 10 * time.Second

// Lock implements relman.Locker with a session-level advisory lock
// (pg_advisory_lock), so it holds across every instance sharing the
// tables. The lock lives on a connection taken from the pool and kept
// until unlock; unlock runs pg_advisory_unlock and returns the connection
// (or, if that fails, closes it, which releases the lock too). Within one
// Store, callers of the same key queue in the process first, so that only
// one of them holds a pool connection while it waits for the server.
//
// Lock waits until ctx ends, and then returns an error wrapping
// ctx.Err(). A server that cannot be reached is an error matching
// ErrUnavailable. The lock is only as good as its connection: if the
// connection is lost, the server releases the lock, and another instance
// may take it before the holder notices. A Store that owns its pool
// (made by Open) waits in Close until every lock is unlocked.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	op := fmt.Sprintf("lock %q", key)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	sem := s.localLock(key)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("postgres: %s: %w", op, ctx.Err())
	}
	conn, err := s.acquireLock(ctx, op, s.lockID(key))
	if err != nil {
		<-sem
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { s.unlock(conn, key, sem) }) }, nil
}

// unlock releases the advisory lock on conn and returns conn to the pool,
// then lets the next caller in this process go. If the unlock fails (the
// connection is lost, or a cancel request meant for the lock statement
// arrived late), it closes the connection instead, which releases the
// lock on the server.
func (s *Store) unlock(conn *pgxpool.Conn, key string, sem chan struct{}) {
	defer func() { <-sem }()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var held bool
	if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", s.lockID(key)).Scan(&held); err != nil || !held {
		discard(conn)
		return
	}
	conn.Release()
}

// acquireLock takes a pool connection and the advisory lock id on it.
func (s *Store) acquireLock(ctx context.Context, op string, id int64) (*pgxpool.Conn, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, ctx.Err())
		}
		return nil, wrap(op, err)
	}
	// When ctx ends, pgx cancels the statement: by default it sends the
	// server a cancel request, which ends the wait there too (a server
	// process waiting for a lock would not notice that its client left),
	// and closes the connection.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		// Do not reuse the connection: if the lock was granted as the
		// statement failed, closing the connection releases it.
		discard(conn)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, ctx.Err())
		}
		return nil, wrap(op, err)
	}
	return conn, nil
}

// discard closes conn instead of returning it to the pool, ending its
// session and with it any advisory lock it holds.
func discard(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	conn.Hijack().Close(ctx)
}

// localLock returns the semaphore that queues this Store's callers of
// Lock for key.
func (s *Store) localLock(key string) chan struct{} {
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	if s.locks == nil {
		s.locks = make(map[string]chan struct{})
	}
	sem, ok := s.locks[key]
	if !ok {
		sem = make(chan struct{}, 1)
		s.locks[key] = sem
	}
	return sem
}

// lockID is the advisory lock id of key: FNV-1a (64 bits) of a string
// naming this package, the store's schema and the key, so that stores in
// different schemas of one database have locks of their own. The
// migration lock is keyed by hashtextextended of a string starting
// "relman/store/postgres migrate"; this one hashes a different prefix
// with a different function, so the two ids meet only by a 2⁻⁶⁴ chance,
// and even then they would only wait for each other, briefly.
func (s *Store) lockID(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte("relman/store/postgres lock\x00"))
	h.Write([]byte(s.schema))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}
