package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkScale runs storetest.RunScale on schemas holding its
// populations, made once through Create from eight goroutines (on a pool
// with synchronous_commit off, to make them fast), then VACUUM ANALYZEd
// (as autovacuum would, so that the GIN index of services has no pending
// list to read through) and used through a store on the test pool; the
// feedback records are VACUUM ANALYZEd likewise.
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	pool := testPool(b)
	cfg, err := pgxpool.ParseConfig(dsn(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	fast, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer fast.Close()
	vacuum := func(b *testing.B, s relman.Store, table string) {
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+s.(*postgres.Store).Schema()+"."+table); err != nil {
			b.Fatal(err)
		}
	}
	storetest.RunScale(b, func(b *testing.B, n int) relman.Store {
		s := newStore(b, pool, postgres.Options{NoNotify: true})
		fill, err := postgres.New(ctx, fast, postgres.Options{Schema: s.Schema(), NoNotify: true})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PopulatePlanned(b, fill, n, 8)
		vacuum(b, s, "relman_releases")
		return s
	}, storetest.ScaleOptions{
		Settle: func(b *testing.B, s relman.Store) { vacuum(b, s, "relman_feedback") },
	})
}
