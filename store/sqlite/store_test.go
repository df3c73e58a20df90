package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// openTemp opens a new store in a fresh directory and closes it at the
// end of the test.
func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relman.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relman.Store { return openTemp(t) })
}

func TestConformanceOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relman.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "relman.db"), sqlite.Options{Outbox: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceNoCache runs the suite on a store without a cache: its
// GetShared lends a release of its own and UpdateShared keeps nothing,
// which the Sharer contract allows.
func TestConformanceNoCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relman.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "relman.db"), sqlite.Options{CacheSize: -1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestDeadlineOutcomes: 300 Fires under random context deadlines that
// land during the write: none returns an error although it was
// committed, none is lost.
func TestDeadlineOutcomes(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relman.db"), sqlite.Options{RelaxedSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.DeadlineOutcomes(t, s, 300)
}

// TestEndedContextErrors: whatever moment a context ends, a call that
// fails because of it says so (matches the context's error), never
// "sql: statement is closed" or another driver message.
func TestEndedContextErrors(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relman.db"), sqlite.Options{RelaxedSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	storetest.Put(t, s, storetest.Full("rel-1"))
	for i := range 400 {
		dctx, cancel := context.WithTimeout(ctx, time.Duration(i%40)*15*time.Microsecond)
		var errs []error
		if r, err := s.Get(dctx, "rel-1"); err != nil {
			errs = append(errs, err)
		} else {
			r.Title = fmt.Sprint("title ", i)
			errs = append(errs, s.Update(dctx, r, r.Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "x", Action: relman.ActionEdit})))
		}
		_, err := s.List(dctx, relman.Query{})
		errs = append(errs, err)
		_, err = s.History(dctx, "rel-1")
		errs = append(errs, err)
		cancel()
		for _, err := range errs {
			if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Fatalf("call %d: %v: not a context error", i, err)
			}
		}
	}
}
