package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

const dsnEnv = "RELMAN_POSTGRES_DSN"

// dsn returns the test database's DSN, or skips the test when it is unset.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" {
		t.Skipf("%s is not set; skipping PostgreSQL tests", dsnEnv)
	}
	return d
}

var schemaSeq atomic.Int64

// freshSchema returns a schema name no other test uses and drops the
// schema when the test ends.
func freshSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("relman_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// testPool connects to the test database; a failed connection fails the
// test.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn(t))
	if err != nil {
		t.Fatalf("connect %s: %v", dsnEnv, err)
	}
	if err := pool.Ping(context.Background()); err != nil {
		pool.Close()
		t.Fatalf("connect %s: %v", dsnEnv, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStore returns a store in a fresh schema of its own.
func newStore(t testing.TB, pool *pgxpool.Pool, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = freshSchema(t, pool)
	}
	s, err := postgres.New(context.Background(), pool, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) relman.Store { return newStore(t, pool, postgres.Options{}) })
}

func TestConformanceOutbox(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) relman.Store { return newStore(t, pool, postgres.Options{Outbox: true}) })
}

// TestConformanceNoCache runs the suite on a store without a cache: its
// GetShared lends a release of its own and UpdateShared keeps nothing,
// which the Sharer contract allows.
func TestConformanceNoCache(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) relman.Store {
		return newStore(t, pool, postgres.Options{CacheSize: -1})
	})
}

// TestConformanceSerializable runs the suite on connections at the
// serializable isolation level, where concurrent updates fail with
// serialization errors: the store must report them as relman.ErrConflict.
// The outbox is on, so that the claims, which run at read committed, are
// checked there too.
func TestConformanceSerializable(t *testing.T) {
	dsn(t)
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	admin := testPool(t)
	storetest.Run(t, func(t *testing.T) relman.Store {
		return newStore(t, pool, postgres.Options{Schema: freshSchema(t, admin), Outbox: true})
	})
}

// TestDeadlineOutcomes: 300 Fires under random context deadlines that
// land during the write: none returns an error although it was
// committed (the Manager reads the outcome back), none is lost.
func TestDeadlineOutcomes(t *testing.T) {
	storetest.DeadlineOutcomes(t, newStore(t, testPool(t), postgres.Options{}), 300)
}
