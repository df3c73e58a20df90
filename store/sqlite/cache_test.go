package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// TestCacheSeesOtherWriters: two stores on one file, as two processes
// would be. Each must see the other's writes, whatever it has cached.
func TestCacheSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	open := func(size int) *sqlite.Store {
		s, err := sqlite.Open(path, sqlite.Options{CacheSize: size})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(0), open(2) // b caches two releases at most
	ma, _ := relman.NewManager(a, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	mb, _ := relman.NewManager(b, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	const n = 5
	for i := range n {
		if _, err := ma.Create(ctx, storetest.Minimal(fmt.Sprint("r", i)), relman.Actor{ID: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 4 {
		m := ma
		if round%2 == 1 {
			m = mb
		}
		for i := range n {
			id := fmt.Sprint("r", i)
			want, err := storetest.FireNext(ctx, m, id, "x")
			if err != nil || want == nil {
				t.Fatalf("fire: %v", err)
			}
			for _, s := range []*sqlite.Store{a, b} {
				got, err := s.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.Revision != want.Revision || got.Stage != want.Stage || got.Head != want.Head {
					t.Errorf("round %d: %s read at revision %d stage %s, want %d %s", round, id, got.Revision, got.Stage, want.Revision, want.Stage)
				}
			}
		}
	}
}
