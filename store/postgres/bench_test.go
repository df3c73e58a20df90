package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFire compares a transition fired through relman.Manager on the
// PostgreSQL store with the same SQL done by hand with pgx: BEGIN, the
// revision-checked UPDATE, the INSERT of the audit row, COMMIT. Target:
// manager throughput ≥ 70 % of raw. "notify" is the default store (it also
// sends the change notification); "nonotify" sets Options.NoNotify.
//
// The two run interleaved, one operation each in turn, so that the noise of
// a shared machine hits both alike; the result is three metrics:
// manager-ns/op, raw-ns/op and manager/raw-% (throughput of the manager as
// a percentage of raw).
func BenchmarkFire(b *testing.B) {
	for _, noNotify := range []bool{false, true} {
		name := "notify"
		if noNotify {
			name = "nonotify"
		}
		b.Run(name, func(b *testing.B) {
			pool := testPool(b)
			storetest.CompareFire(b, managerStep(b, pool, noNotify), rawStep(b, pool))
		})
	}
}

// BenchmarkFireOutbox compares a transition fired through relman.Manager
// on a store with Options.Outbox (one notification row per audit entry,
// written by the same statement) with the same on a store without it,
// both with change notifications on (the default). Target: the outbox
// costs at most 15 % of a transition. The notifications are not drained,
// as no runner runs.
//
// The two run interleaved, as in BenchmarkFire; the result is three
// metrics: plain-ns/op, outbox-ns/op and outbox-cost-%.
func BenchmarkFireOutbox(b *testing.B) {
	pool := testPool(b)
	storetest.CompareOutbox(b, managerStepWith(b, pool, postgres.Options{}), managerStepWith(b, pool, postgres.Options{Outbox: true}))
}

// benchStore makes a store in a fresh schema holding one release in
// stage "a", and its manager.
func benchStore(b testing.TB, pool *pgxpool.Pool, opts postgres.Options) (*postgres.Store, *relman.Manager, *relman.Release) {
	s := newStore(b, pool, opts)
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
	if err != nil {
		b.Fatal(err)
	}
	r := storetest.Full("bench")
	r.Stage = "a"
	storetest.Put(b, s, r)
	return s, m, r
}

// managerStep returns a function that fires one transition through a
// Manager.
func managerStep(b testing.TB, pool *pgxpool.Pool, noNotify bool) func() {
	return managerStepWith(b, pool, postgres.Options{NoNotify: noNotify})
}

// managerStepWith is managerStep on a store made with opts.
func managerStepWith(b testing.TB, pool *pgxpool.Pool, opts postgres.Options) func() {
	_, m, _ := benchStore(b, pool, opts)
	return storetest.FireStep(b, m, "bench")
}

// rawStep returns a function that does, by hand with pgx, the SQL of one
// transition: BEGIN, the revision-checked UPDATE, the audit INSERT, COMMIT.
func rawStep(b testing.TB, pool *pgxpool.Pool) func() {
	s, _, r := benchStore(b, pool, postgres.Options{NoNotify: true})
	rel := pgx.Identifier{s.Schema(), "relman_releases"}.Sanitize()
	aud := pgx.Identifier{s.Schema(), "relman_audit"}.Sanitize()
	upd := "UPDATE " + rel + " SET revision = $1, stage = $2, updated_at = $3, doc = $4 WHERE id = $5 AND revision = $6"
	ins := "INSERT INTO " + aud + " (release_id, seq, at, at_nanos, actor, action, event, from_stage, to_stage, reason, details, prev_hash, hash) VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $9, NULL, $10, $11)"
	doc, _ := json.Marshal(r)
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	rev, seq := r.Revision, r.Head.Seq
	stages := [2]string{"a", "b"}
	ctx := context.Background()
	return func() {
		now := time.Now()
		from, to := stages[seq%2], stages[(seq+1)%2]
		tx, err := pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback(ctx)
		tag, err := tx.Exec(ctx, upd, rev+1, to, now, doc, "bench", rev)
		if err != nil {
			b.Fatal(err)
		}
		if tag.RowsAffected() != 1 {
			b.Fatal("conflict")
		}
		seq++
		if _, err := tx.Exec(ctx, ins, "bench", seq, now, "bench", "transition", "go", from, to, "", hash, hash); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		rev++
	}
}

// BenchmarkRunners measures scheduled jobs done per second by 1 and by 3
// runners sharing one schema, each runner with a connection pool of its
// own, as separate host instances would have (metric jobs/s).
func BenchmarkRunners(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) {
			storetest.RunnerThroughput(b, func(b *testing.B) relman.Store { return newStore(b, testPool(b), postgres.Options{}) },
				func(b *testing.B, s relman.Store) relman.Store {
					st, err := postgres.Open(context.Background(), os.Getenv(dsnEnv), postgres.Options{Schema: s.(*postgres.Store).Schema(), NoNotify: true})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { st.Close() })
					return st
				}, n)
		})
	}
}
