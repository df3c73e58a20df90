package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
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
	storetest.ScanBatches(t, s)
}
