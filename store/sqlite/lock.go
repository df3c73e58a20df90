package sqlite

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"
)

// errClosed is what Lock returns after Close.
var errClosed = errors.New("store is closed")

// Lock polling: the first retry after minPoll, doubling up to maxPoll,
// each wait jittered so that waiters do not retry in step.
const (
	minPoll = time.Millisecond
	maxPoll = 20 * time.Millisecond
)

// Lock implements relman.Locker with an exclusive lock on a file beside
// the database (see LockPath), so it holds across every process on the
// machine that opens the same database, and between goroutines of one
// process: each call opens the file anew and locks its own open file. It
// waits by polling with a short backoff until ctx ends, and then returns
// an error wrapping ctx.Err(). The operating system drops the lock when
// the holding process ends, even if it is killed.
//
// The returned unlock does not use the database: it still works after
// Close. Lock itself fails after Close.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: lock %q: %w", key, err)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: lock %q: %w", key, errClosed)
	}
	name := s.LockPath(key)
	// Reading is all a lock needs.
	f, err := os.OpenFile(name, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %q: %w", key, err)
	}
	for delay := minPoll; ; delay = min(2*delay, maxPoll) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("sqlite: lock %q: %s: %w", key, name, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("sqlite: lock %q: %w", key, ctx.Err())
		case <-t.C:
		}
		if s.closed.Load() {
			f.Close()
			return nil, fmt.Errorf("sqlite: lock %q: %w", key, errClosed)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlockFile(f) // closing alone would do; this makes it prompt on every system
			f.Close()
		})
	}, nil
}

// LockPath returns the path of the file that Lock locks for key: the
// database's path followed by the key, with bytes other than ASCII
// letters, digits, '.', '_' and '-' replaced by '_' and cut to 64 bytes,
// a 64-bit hash of the whole key (so that keys that look alike after this
// get files of their own), and ".lock". For relman.ScheduleLock and a
// database at /var/lib/app/releases.db, that is
// /var/lib/app/releases.db-relman.schedule-<16 hex digits>.lock. Lock
// creates the file (mode 0600) on first use and never removes it:
// removing a lock file while a process waits on it would let two
// processes hold "the" lock at once.
func (s *Store) LockPath(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	safe := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, key)
	if len(safe) > 64 {
		safe = safe[:64]
	}
	return fmt.Sprintf("%s-%s-%016x.lock", s.path, safe, h.Sum64())
}
