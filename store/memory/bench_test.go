package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

var benchActor = relman.Actor{ID: "alice", Roles: []string{"release-manager"}}

func benchRelease(id string, services ...string) *relman.Release {
	if len(services) == 0 {
		services = []string{"invoices"}
	}
	return &relman.Release{
		ID: id, Title: "Faster invoices", Version: "2.4.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "rita", Owner: "olga", Teams: []string{"billing"}, Services: services,
		Case:         relman.BusinessCase{Problem: "invoices take 30s", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh},
		Tasks:        []relman.Task{{Name: "build", Team: "billing", Duration: 4 * time.Hour}},
		RollbackPlan: "redeploy 2.3.9", RequiredSuites: []string{"unit"},
	}
}

func benchManager(b testing.TB, s relman.Store) *relman.Manager {
	b.Helper()
	m, err := relman.NewManager(s, relman.WithClock(func() time.Time { return t0 }))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func must(b testing.TB, _ *relman.Release, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// toTesting takes a new release id to testing with a failed test
// recorded, from where submit and fail alternate, as the root package's
// BenchmarkFire does.
func toTesting(b testing.TB, m *relman.Manager, id string, window relman.Span) {
	b.Helper()
	ctx := context.Background()
	req := relman.Request{Actor: benchActor}
	r, err := m.Create(ctx, benchRelease(id, "svc-"+id), benchActor)
	must(b, r, err)
	r, err = m.Fire(ctx, id, relman.EventApprove, req)
	must(b, r, err)
	r, err = m.Fire(ctx, id, relman.EventPlan, relman.Request{Actor: benchActor, Window: &window})
	must(b, r, err)
	r, err = m.Fire(ctx, id, relman.EventStart, req)
	must(b, r, err)
	r, err = m.RecordTest(ctx, id, benchActor, relman.TestResult{Suite: "unit", Passed: false})
	must(b, r, err)
}

// firer returns a function that fires submit, then fail, then submit …
// on release id.
func firer(b testing.TB, m *relman.Manager, id string) func() {
	ctx := context.Background()
	req := relman.Request{Actor: benchActor, Reason: "benchmark"}
	events := [2]relman.Event{relman.EventSubmit, relman.EventFail}
	i := 0
	return func() {
		if _, err := m.Fire(ctx, id, events[i&1], req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// fireBurst fires n events in each of g goroutines, each on a release of
// its own, and returns the time the burst took.
func fireBurst(fs []func(), n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for _, f := range fs {
		wg.Go(func() {
			for range n {
				f()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkFireParallel measures the throughput of Manager.Fire on one
// memory store with one goroutine on one release, and with two
// goroutines each on a release of its own (run with GOMAXPROCS of at
// least 2). The two run in alternating bursts so that the noise of a
// shared machine hits both alike. It reports fires/s of each and their
// ratio, speedup-x: 2 would be perfect scaling.
func BenchmarkFireParallel(b *testing.B) {
	s := memory.New()
	m := benchManager(b, s)
	var fs []func()
	for i := range 2 {
		id := fmt.Sprintf("p%d", i)
		day := t0.Add(time.Duration(1+2*i) * 24 * time.Hour)
		toTesting(b, m, id, relman.Span{Start: day, End: day.Add(time.Hour)})
		fs = append(fs, firer(b, m, id))
	}
	const burst = 200
	var one, two time.Duration
	var n int
	b.ResetTimer()
	for b.Loop() {
		one += fireBurst(fs[:1], burst)
		two += fireBurst(fs, burst)
		n += burst
	}
	oneRate := float64(n) / one.Seconds()
	twoRate := float64(2*n) / two.Seconds()
	b.ReportMetric(oneRate, "fires/s-1g")
	b.ReportMetric(twoRate, "fires/s-2g")
	b.ReportMetric(twoRate/oneRate, "speedup-x")
}

// BenchmarkScale runs storetest.RunScale on memory stores holding its
// populations, made through Create.
func BenchmarkScale(b *testing.B) {
	storetest.RunScale(b, func(b *testing.B, n int) relman.Store {
		s := memory.New()
		storetest.PopulatePlanned(b, s, n, 1)
		return s
	}, storetest.ScaleOptions{})
}
