package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// TestScanBatches scans more releases than one batch, on a pool of one
// connection, while fn reads each release's history from the store: Scan
// must hold no connection while fn runs, and visit each release once.
func TestScanBatches(t *testing.T) {
	admin := testPool(t)
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := newStore(t, pool, postgres.Options{Schema: freshSchema(t, admin)})
	ctx := context.Background()
	const n = 600
	for i := range n {
		r := storetest.Minimal(fmt.Sprintf("r%04d", i))
		if i%3 == 0 {
			r.Services = []string{"billing"}
		}
		e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "c", Action: relman.ActionCreate, To: r.Stage})
		if err := s.Create(ctx, r, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		q    relman.Query
		want int
	}{{relman.Query{}, n}, {relman.Query{Service: "billing"}, n / 3}} {
		seen := map[string]bool{}
		err := s.Scan(ctx, c.q, func(r *relman.Release) error {
			if seen[r.ID] {
				t.Errorf("%s visited twice", r.ID)
			}
			seen[r.ID] = true
			h, err := s.History(ctx, r.ID)
			if err != nil || len(h) != 1 {
				return fmt.Errorf("history of %s: %d entries, %v", r.ID, len(h), err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan(%+v): %v", c.q, err)
		}
		if len(seen) != c.want {
			t.Errorf("Scan(%+v) visited %d releases, want %d", c.q, len(seen), c.want)
		}
	}
}
