package sqlite_test

import (
	"path/filepath"
	"testing"

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
