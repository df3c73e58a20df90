package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/relman-dev/relman"
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
