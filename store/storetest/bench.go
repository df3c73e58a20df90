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
	var tm, tr time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if i%2 == 0 {
			mgr()
			t1 := time.Now()
			raw()
			tm, tr = tm+t1.Sub(t0), tr+time.Since(t1)
		} else {
			raw()
			t1 := time.Now()
			mgr()
			tr, tm = tr+t1.Sub(t0), tm+time.Since(t1)
		}
		i++
	}
	b.ReportMetric(float64(tm.Nanoseconds())/float64(i), "manager-ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(i), "raw-ns/op")
	b.ReportMetric(100*float64(tr)/float64(tm), "manager/raw-%")
}
