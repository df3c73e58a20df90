package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFire compares a transition fired through relman.Manager on the
// SQLite store with the same reads and writes done by hand on the raw
// driver (rawFire: Get's read, then the revision-checked UPDATE and the
// audit INSERT in one BEGIN IMMEDIATE transaction, the same statements
// and round trips), on the same file settings (WAL, synchronous=FULL by
// default, NORMAL for "relaxed"). Target: manager throughput ≥ 85 % of
// raw.
//
// The two run interleaved, one operation each in turn, so that the noise of
// a shared machine (fsync times vary several-fold) hits both alike; the
// result is three metrics: manager-ns/op, raw-ns/op and manager/raw-%
// (throughput of the manager as a percentage of raw).
func BenchmarkFire(b *testing.B) {
	for _, relaxed := range []bool{false, true} {
		name := "sync=full"
		if relaxed {
			name = "sync=normal"
		}
		b.Run(name, func(b *testing.B) {
			storetest.CompareFire(b, managerStep(b, relaxed), rawStep(b, relaxed))
		})
	}
}

// BenchmarkFireOutbox compares a transition fired through relman.Manager
// on a store with Options.Outbox (one notification row per audit entry,
// in the same transaction) with the same on a store without it, on the
// same file settings. Target: the outbox costs at most 15 % of a
// transition. The notifications are not drained, as no runner runs.
//
// The two run interleaved, as in BenchmarkFire; the result is three
// metrics: plain-ns/op, outbox-ns/op and outbox-cost-%.
func BenchmarkFireOutbox(b *testing.B) {
	for _, relaxed := range []bool{false, true} {
		name := "sync=full"
		if relaxed {
			name = "sync=normal"
		}
		b.Run(name, func(b *testing.B) {
			storetest.CompareOutbox(b, managerStepWith(b, sqlite.Options{RelaxedSync: relaxed}),
				managerStepWith(b, sqlite.Options{RelaxedSync: relaxed, Outbox: true}))
		})
	}
}

// benchFile makes a store file holding one release in stage "a", as a
// Manager leaves it after a first transition there and back (its feedback
// moved into records), and returns the release as stored.
func benchFile(b testing.TB) (path string, r *relman.Release) {
	path = filepath.Join(b.TempDir(), "bench.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r = storetest.Full("bench")
	r.Stage = "a"
	storetest.Put(b, s, r)
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
	if err != nil {
		b.Fatal(err)
	}
	fire := storetest.FireStep(b, m, "bench")
	fire()
	fire()
	if r, err = s.Get(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	return path, r
}

// managerStep returns a function that fires one transition through a
// Manager on a store of its own.
func managerStep(b testing.TB, relaxed bool) func() {
	return managerStepWith(b, sqlite.Options{RelaxedSync: relaxed})
}

// managerStepWith is managerStep on a store opened with opts.
func managerStepWith(b testing.TB, opts sqlite.Options) func() {
	path, _ := benchFile(b)
	s, err := sqlite.Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
	if err != nil {
		b.Fatal(err)
	}
	return storetest.FireStep(b, m, "bench")
}

// rawStep returns a function that does, by hand on the raw driver
// (database/sql and modernc.org/sqlite), what one Fire through the store
// does to the database, as a program written for this one transition
// would. It is rawFire on a file of its own.
func rawStep(b testing.TB, relaxed bool) func() {
	path, r := benchFile(b)
	return rawFire(b, path, r, relaxed)
}

// rawFire returns a function that fires the LoopLifecycle event out of
// r's stage on the file at path, where r is stored, by hand. Each call
// issues exactly the statements of a Fire on the store, with the same
// text (the store's own, from FireSQL), arguments, handles and
// transaction:
//
//   - on a read handle (query_only, as the store's readers), Get's
//     "SELECT revision, CASE WHEN revision = ? THEN NULL ELSE doc END"
//     with the revision held, which the store's cache also holds after a
//     write, so that the document does not come back; the revision read
//     must be the one held;
//   - on the write handle (one connection), BEGIN IMMEDIATE, the store's
//     revision-checked UPDATE of revision, stage, update time, document
//     and due time (WHERE id, revision, kind, creation time, tags and
//     planned window), which must change one row, the INSERT of the audit
//     entry with its signature columns NULL, and COMMIT.
//
// Its CPU work is the least a hand-written program needs for those
// arguments: it keeps the release in memory instead of decoding it, sets
// stage, entry and update times and revision, chains the audit entry with
// Release.Record (its hash is the Manager's), formats the time once and
// marshals the changed release. Kind, creation time, tags, due time and
// window do not change in this transition, so their stored values, read
// once beforehand, are passed as they are. What relman does beyond this
// (the lifecycle, input checks, the copy Get returns, the cached copy, the
// tags and due time it recomputes) is what the benchmark measures.
func rawFire(b testing.TB, path string, r *relman.Release, relaxed bool) func() {
	opts := sqlite.Options{RelaxedSync: relaxed}
	s, err := sqlite.Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	getSQL, updSQL, insSQL := s.FireSQL()
	s.Close()
	wdsn, rdsn := sqlite.DSNs(path, opts)
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	rd, err := sql.Open("sqlite", rdsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rd.Close() })
	rd.SetMaxOpenConns(4)
	rd.SetMaxIdleConns(4)
	prep := func(db *sql.DB, q string) *sql.Stmt {
		st, err := db.Prepare(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	get, upd, ins := prep(rd, getSQL), prep(w, updSQL), prep(w, insSQL)
	ctx := context.Background()
	var kind, created, tags string
	var due, start, end any
	if err := w.QueryRowContext(ctx, "SELECT kind, created_at, tags, due_at, plan_start, plan_end FROM releases WHERE id = ?", r.ID).
		Scan(&kind, &created, &tags, &due, &start, &end); err != nil {
		b.Fatal(err)
	}
	return func() {
		var rev int64
		var doc []byte
		if err := get.QueryRowContext(ctx, r.Revision, r.ID).Scan(&rev, &doc); err != nil {
			b.Fatal(err)
		}
		if rev != r.Revision || doc != nil {
			b.Fatalf("release changed: revision %d", rev)
		}
		ev := storetest.NextEvent(r.Stage)
		from, to := r.Stage, relman.Stage("b")
		if from == "b" {
			to = "a"
		}
		now := time.Now()
		e := r.Record(relman.AuditEntry{At: now, Actor: "bench", Action: relman.ActionTransition, Event: ev, From: from, To: to})
		r.Stage, r.UpdatedAt, r.EnteredAt = to, now, now
		r.Revision = rev + 1
		doc, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		at := now.UTC().Format("2006-01-02T15:04:05.000000000Z")
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := tx.StmtContext(ctx, upd).ExecContext(ctx, rev+1, string(to), at, doc, due, r.ID, rev, kind, created, tags, start, end)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			b.Fatalf("update: %d rows, %v", n, err)
		}
		if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, r.ID, e.Seq, at, e.Actor, string(e.Action), string(e.Event), string(from), string(to),
			e.Reason, nil, e.PrevHash, e.Hash, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRawFireIsFire checks that BenchmarkFire's baseline, rawFire, leaves
// a file as a Fire through the store does: the same release and history,
// but for times and hashes, after the same transitions.
func TestRawFireIsFire(t *testing.T) {
	mpath, _ := benchFile(t)
	ms, err := sqlite.Open(mpath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	m, err := relman.NewManager(ms, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	if err != nil {
		t.Fatal(err)
	}
	mgr := storetest.FireStep(t, m, "bench")
	rpath, r := benchFile(t)
	raw := rawFire(t, rpath, r, false)
	for range 3 {
		mgr()
		raw()
	}
	rs, err := sqlite.Open(rpath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got, want []any
	for _, x := range []struct {
		s   *sqlite.Store
		dst *[]any
	}{{ms, &want}, {rs, &got}} {
		r, h := storetest.Timeless(t, x.s, "bench")
		*x.dst = append(*x.dst, r, h)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("raw Fire differs from a Fire through the store (-want +got):\n%s", diff)
	}
}

// BenchmarkRunners measures scheduled jobs done per second by 1 and by 3
// runners sharing one file, each with a handle of its own (metric jobs/s).
func BenchmarkRunners(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) {
			storetest.RunnerThroughput(b, func(b *testing.B) relman.Store {
				s, err := sqlite.Open(filepath.Join(b.TempDir(), "relman.db"), sqlite.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}, func(b *testing.B, s relman.Store) relman.Store {
				st, err := sqlite.Open(s.(*sqlite.Store).Path(), sqlite.Options{BusyTimeout: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				return st
			}, n)
		})
	}
}

// BenchmarkCheckOverHTTP compares a dry run through Manager.Check on the
// SQLite store (the embedded default) with the same dry run over HTTP on
// loopback (see storetest.CheckOverHTTP).
func BenchmarkCheckOverHTTP(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "relman.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.CheckOverHTTP(b, s)
}
