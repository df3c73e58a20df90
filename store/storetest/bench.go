package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
)

// FireStep returns a function that fires one transition on release id,
// which must be in stage "a", through m, a Manager with LoopLifecycle;
// each call moves the release on, and a failure stops the benchmark.
func FireStep(b testing.TB, m *relman.Manager, id string) func() {
	ctx := context.Background()
	req := relman.Request{Actor: relman.Actor{ID: "bench"}}
	st := relman.Stage("a")
	return func() {
		r, err := m.Fire(ctx, id, NextEvent(st), req)
		if err != nil {
			b.Fatal(err)
		}
		st = r.Stage
	}
}

// CompareFire benchmarks mgr, one transition fired through a Manager,
// against raw, the same SQL done by hand on the driver. The two run
// interleaved, one operation each in turn and in alternating order, so
// that the noise of a shared machine hits both alike; the result is three
// metrics: manager-ns/op, raw-ns/op and manager/raw-% (throughput of the
// manager as a percentage of raw).
func CompareFire(b *testing.B, mgr, raw func()) {
	tm, tr, n := interleave(b, mgr, raw)
	b.ReportMetric(float64(tm.Nanoseconds())/float64(n), "manager-ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(100*float64(tr)/float64(tm), "manager/raw-%")
}

// CompareOutbox benchmarks outbox, one transition fired through a Manager
// on a store with its outbox on, against plain, the same on a store with
// its outbox off, interleaved as in CompareFire. The result is three
// metrics: plain-ns/op, outbox-ns/op and outbox-cost-% (how much longer a
// transition takes with the outbox, as a percentage of plain).
func CompareOutbox(b *testing.B, plain, outbox func()) {
	tp, to, n := interleave(b, plain, outbox)
	b.ReportMetric(float64(tp.Nanoseconds())/float64(n), "plain-ns/op")
	b.ReportMetric(float64(to.Nanoseconds())/float64(n), "outbox-ns/op")
	b.ReportMetric(100*float64(to-tp)/float64(tp), "outbox-cost-%")
}

// CompareSigned benchmarks signed, one transition fired through a Manager
// with a signer (relman.WithSigner), against plain, the same through a
// Manager without one, interleaved as in CompareFire. The result is three
// metrics: plain-ns/op, signed-ns/op and signing-cost-% (how much longer
// a signed transition takes, as a percentage of plain).
func CompareSigned(b *testing.B, plain, signed func()) {
	tp, ts, n := interleave(b, plain, signed)
	b.ReportMetric(float64(tp.Nanoseconds())/float64(n), "plain-ns/op")
	b.ReportMetric(float64(ts.Nanoseconds())/float64(n), "signed-ns/op")
	b.ReportMetric(100*float64(ts-tp)/float64(tp), "signing-cost-%")
}

// BenchSigner returns a Signer with a fixed key, for benchmarks.
func BenchSigner(b testing.TB) *relman.Signer { return FixedSigner(b, "bench", 7) }

// interleave runs x and y once each per iteration of b, in alternating
// order, and returns the time each took and the number of iterations.
func interleave(b *testing.B, x, y func()) (tx, ty time.Duration, n int) {
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if n%2 == 0 {
			x()
			t1 := time.Now()
			y()
			tx, ty = tx+t1.Sub(t0), ty+time.Since(t1)
		} else {
			y()
			t1 := time.Now()
			x()
			ty, tx = ty+t1.Sub(t0), tx+time.Since(t1)
		}
		n++
	}
	return tx, ty, n
}

// RunnerThroughput measures how many scheduled jobs per second runners
// working together get done: b.N releases, each with one scheduled event
// due now, are stored in a store made by newStore, then runners runners
// (each with its own store handle from open and its own Manager) pass
// until every job has fired. It reports jobs/s. Setting up the jobs is
// not timed.
func RunnerThroughput(b *testing.B, newStore func(b *testing.B) relman.Store, open func(b *testing.B, s relman.Store) relman.Store, runners int) {
	ctx := context.Background()
	s := newStore(b)
	due := time.Now().UTC().Add(-time.Minute)
	for i := range b.N {
		Put(b, s, scheduledRelease(fmt.Sprintf("job-%07d", i), due))
	}
	rs := make([]*runner.Runner, runners)
	for i := range rs {
		m, err := relman.NewManager(open(b, s), relman.WithRetries(20))
		if err != nil {
			b.Fatal(err)
		}
		if rs[i], err = runner.New(m, runner.Options{Batch: 64, Owner: fmt.Sprintf("bench-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	ds := s.(relman.DueStore)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var errs atomic.Int64
	for _, r := range rs {
		wg.Go(func() {
			for {
				rep, err := r.Tick(ctx)
				if err != nil {
					errs.Add(1)
				}
				if len(rep.Actions) == 0 {
					left, err := ds.DueBefore(ctx, due.Add(time.Hour), 1)
					if err != nil || len(left) == 0 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := errs.Load(); n > 0 {
		b.Errorf("%d passes failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}

// Timeless returns release id and its history from s with what differs
// between two runs of the same transitions blanked (times and hashes), so
// that a benchmark's baseline can be checked to leave what a Fire leaves.
func Timeless(t testing.TB, s relman.Store, id string) (*relman.Release, []relman.AuditEntry) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r.UpdatedAt, r.EnteredAt, r.Head.Hash = time.Time{}, time.Time{}, ""
	h, err := s.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		h[i].At, h[i].PrevHash, h[i].Hash = time.Time{}, "", ""
	}
	return r, h
}
