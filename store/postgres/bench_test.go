package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFire compares a transition fired through relman.Manager on the
// PostgreSQL store with the same reads and writes done by hand with pgx
// (rawFire: Get's SELECT, then the store's one update statement, the same
// statements, arguments and round trips). Target: manager throughput
// ≥ 85 % of raw. "notify" is the default store (it also sends the change
// notification); "nonotify" sets Options.NoNotify.
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
			storetest.CompareFire(b, managerStep(b, pool, noNotify), rawStep(b, pool, noNotify))
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
// stage "a", as a Manager leaves it after a first transition there and
// back (its feedback moved into records), and its manager; it returns the
// release as stored.
func benchStore(b testing.TB, pool *pgxpool.Pool, opts postgres.Options) (*postgres.Store, *relman.Manager, *relman.Release) {
	s := newStore(b, pool, opts)
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
	if err != nil {
		b.Fatal(err)
	}
	r := storetest.Full("bench")
	r.Stage = "a"
	storetest.Put(b, s, r)
	fire := storetest.FireStep(b, m, "bench")
	fire()
	fire()
	if r, err = s.Get(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
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

// rawStep returns a function that does, by hand with pgx, what one Fire
// through the store does to the database, as a program written for this
// one transition would. It is rawFire on a schema of its own.
func rawStep(b testing.TB, pool *pgxpool.Pool, noNotify bool) func() {
	s, _, r := benchStore(b, pool, postgres.Options{NoNotify: noNotify})
	return rawFire(b, s, r, noNotify)
}

// rawFire returns a function that fires the LoopLifecycle event out of
// r's stage, where s stores r, by hand on s's pool. Each call makes the
// two round trips of a Fire on the store, with the same statements (the
// store's own, from FireSQL) and arguments:
//
//   - Get's "SELECT revision, CASE WHEN revision = $2 THEN NULL ELSE doc
//     END" with the revision held, which the store's cache also holds
//     after a write, so that the document does not come back; the
//     revision read must be the one held;
//   - the store's one update statement: the revision-checked UPDATE of
//     the row, the INSERT of the audit entry (as one-element arrays, its
//     signature columns NULL) and, unless noNotify, pg_notify on s's
//     channel with the store's payload; it must update one row.
//
// Its CPU work is the least a hand-written program needs for those
// arguments: it keeps the release in memory, sets
// stage, entry and update times and revision, chains the audit entry with
// Release.Record (its hash is the Manager's), marshals the changed release
// and writes the payload with strconv. Kind, services, teams, creation
// time, due time and window do not change in this transition, so they are
// computed once beforehand, as are the NULL signature arrays, and the
// entry's one-element arrays are reused. What relman does beyond this (the
// lifecycle, input checks, the copy Fire returns, the values it
// recomputes) is what the benchmark measures.
func rawFire(b testing.TB, s *postgres.Store, r *relman.Release, noNotify bool) func() {
	pool := s.Pool()
	getSQL, updSQL := s.FireSQL()
	ctx := context.Background()
	services := slices.Sorted(slices.Values(r.Services))
	teams := slices.Clone(r.Teams)
	for _, t := range r.Tasks {
		if t.Team != "" {
			teams = append(teams, t.Team)
		}
	}
	slices.Sort(teams)
	teams = slices.Compact(teams)
	var due, start, end *time.Time
	if t, ok := r.NextDue(); ok {
		due = &t
	}
	if w := r.Window; w != nil {
		a, z := w.Start.Truncate(time.Microsecond), w.End.Truncate(time.Microsecond)
		if !z.Equal(w.End) {
			z = z.Add(time.Microsecond)
		}
		start, end = &a, &z
	}
	channel := ""
	if !noNotify {
		channel = s.Channel()
	}
	seq, at, nanos := []int64{0}, []time.Time{{}}, []int32{0}
	actor, action, event := []string{"bench"}, []string{string(relman.ActionTransition)}, []string{""}
	from, to, reason := []string{""}, []string{""}, []string{""}
	details, prev, hash := []*string{nil}, []string{""}, []string{""}
	digest, keyID, sig := []*string{nil}, []*string{nil}, []*string{nil}
	var payload []byte
	return func() {
		var rev int64
		var doc []byte
		if err := pool.QueryRow(ctx, getSQL, r.ID, r.Revision).Scan(&rev, &doc); err != nil {
			b.Fatal(err)
		}
		if rev != r.Revision || doc != nil {
			b.Fatalf("release changed: revision %d", rev)
		}
		ev := storetest.NextEvent(r.Stage)
		st := relman.Stage("b")
		if r.Stage == "b" {
			st = "a"
		}
		now := time.Now()
		e := r.Record(relman.AuditEntry{At: now, Actor: "bench", Action: relman.ActionTransition, Event: ev, From: r.Stage, To: st})
		r.Stage, r.UpdatedAt, r.EnteredAt = st, now, now
		r.Revision = rev + 1
		doc, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		seq[0], at[0], nanos[0] = e.Seq, e.At, int32(e.At.Nanosecond()%1000)
		event[0], from[0], to[0], prev[0], hash[0] = string(ev), string(e.From), string(st), e.PrevHash, e.Hash
		note := ""
		if channel != "" {
			payload = append(payload[:0], `{"id":`...)
			payload = strconv.AppendQuote(payload, r.ID)
			payload = append(payload, `,"rev":`...)
			payload = strconv.AppendInt(payload, r.Revision, 10)
			payload = append(payload, `,"stage":`...)
			payload = strconv.AppendQuote(payload, string(st))
			payload = append(payload, `,"head":`...)
			payload = strconv.AppendInt(payload, e.Seq, 10)
			payload = append(payload, `,"n":1}`...)
			note = string(payload)
		}
		var n int
		if err := pool.QueryRow(ctx, updSQL, r.ID, rev, string(st), string(r.Kind), services, teams, r.CreatedAt, now, doc,
			seq, at, nanos, actor, action, event, from, to, reason, details, prev, hash, channel, note, due, digest, keyID, sig, start, end).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n != 1 {
			b.Fatalf("update: %d rows", n)
		}
	}
}

// TestRawFireIsFire checks that BenchmarkFire's baseline, rawFire, leaves
// the database as a Fire through the store does: the same release and
// history, but for times and hashes, after the same transitions, and the
// same notifications.
func TestRawFireIsFire(t *testing.T) {
	pool := testPool(t)
	ms, m, _ := benchStore(t, pool, postgres.Options{})
	mgr := storetest.FireStep(t, m, "bench")
	rs, _, r := benchStore(t, pool, postgres.Options{})
	raw := rawFire(t, rs, r, false)
	ctx := context.Background()
	var got, want []any
	for _, x := range []struct {
		s    *postgres.Store
		fire func()
		dst  *[]any
	}{{ms, mgr, &want}, {rs, raw, &got}} {
		sub, err := x.s.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			x.fire()
		}
		for range 3 {
			select {
			case c := <-sub.Changes():
				seqs := make([]int64, len(c.Entries))
				for i, e := range c.Entries {
					seqs[i] = e.Seq
				}
				*x.dst = append(*x.dst, fmt.Sprint(c.ReleaseID, c.Revision, c.Stage, seqs, c.Resync))
			case <-time.After(10 * time.Second):
				t.Fatal("no notification")
			}
		}
		sub.Close()
		r, h := storetest.Timeless(t, x.s, "bench")
		*x.dst = append(*x.dst, r, h)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("raw Fire differs from a Fire through the store (-want +got):\n%s", diff)
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
