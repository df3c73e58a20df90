package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// runLocker checks the relman.Locker contract, for stores that have it.
func runLocker(t *testing.T, newStore func(t *testing.T) relman.Store) {
	t.Run("Lock/Exclusive", func(t *testing.T) {
		l, ok := newStore(t).(relman.Locker)
		if !ok {
			t.Skip("store is not a relman.Locker")
		}
		ctx := context.Background()
		unlock, err := l.Lock(ctx, relman.ScheduleLock)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		// While held, another Lock of the same key waits until its
		// context ends, and then fails with the context's error.
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if u, err := l.Lock(short, relman.ScheduleLock); !errors.Is(err, context.DeadlineExceeded) {
			if u != nil {
				u()
			}
			t.Fatalf("second Lock while held: err = %v, want context.DeadlineExceeded", err)
		}
		// Another key is independent.
		other, err := l.Lock(ctx, "storetest.other")
		if err != nil {
			t.Fatalf("Lock of another key while the first is held: %v", err)
		}
		other()
		unlock()
		again, err := l.Lock(ctx, relman.ScheduleLock)
		if err != nil {
			t.Fatalf("Lock after unlock: %v", err)
		}
		again()
	})

	t.Run("Lock/Cancelled", func(t *testing.T) {
		l, ok := newStore(t).(relman.Locker)
		if !ok {
			t.Skip("store is not a relman.Locker")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if u, err := l.Lock(ctx, relman.ScheduleLock); !errors.Is(err, context.Canceled) {
			if u != nil {
				u()
			}
			t.Fatalf("Lock with a cancelled context: err = %v, want context.Canceled", err)
		}
	})

	t.Run("Lock/MutualExclusion", func(t *testing.T) {
		l, ok := newStore(t).(relman.Locker)
		if !ok {
			t.Skip("store is not a relman.Locker")
		}
		var inside, maxInside, done atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					unlock, err := l.Lock(context.Background(), relman.ScheduleLock)
					if err != nil {
						t.Errorf("Lock: %v", err)
						return
					}
					n := inside.Add(1)
					for {
						m := maxInside.Load()
						if n <= m || maxInside.CompareAndSwap(m, n) {
							break
						}
					}
					done.Add(1)
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		if maxInside.Load() != 1 || done.Load() != 80 {
			t.Errorf("at most %d holders at once over %d sections, want 1 over 80", maxInside.Load(), done.Load())
		}
	})
}
