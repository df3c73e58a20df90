package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
// least 2): speedup-x, where 2 would be perfect scaling. So that the
// figure says what the store costs and not what the machine can do, the
// same run measures two ceilings the same way: two goroutines each on a
// Manager and store of its own, which share nothing (independent-x), and
// two goroutines spinning on arithmetic (cpu-x). The three run in
// alternating bursts so that the noise of a shared machine hits them
// alike.
func BenchmarkFireParallel(b *testing.B) {
	m := benchManager(b, memory.New())
	var shared, apart []func()
	for i := range 2 {
		id := fmt.Sprintf("p%d", i)
		day := t0.Add(time.Duration(1+2*i) * 24 * time.Hour)
		toTesting(b, m, id, relman.Span{Start: day, End: day.Add(time.Hour)})
		shared = append(shared, firer(b, m, id))
		own := benchManager(b, memory.New())
		toTesting(b, own, id, relman.Span{Start: day, End: day.Add(time.Hour)})
		apart = append(apart, firer(b, own, id))
	}
	spin := func() {
		x := 0
		for i := range 2000 {
			x += i * i
		}
		sink.Add(int64(x))
	}
	cpu := []func(){spin, spin}
	const burst = 200
	var t [3][2]time.Duration // shared, apart, cpu × one, two goroutines
	var n int
	b.ResetTimer()
	for b.Loop() {
		for k, fs := range [3][]func(){shared, apart, cpu} {
			t[k][0] += fireBurst(fs[:1], burst)
			t[k][1] += fireBurst(fs, burst)
		}
		n += burst
	}
	speedup := func(k int) float64 { return 2 * t[k][0].Seconds() / t[k][1].Seconds() }
	b.ReportMetric(float64(n)/t[0][0].Seconds(), "fires/s-1g")
	b.ReportMetric(float64(2*n)/t[0][1].Seconds(), "fires/s-2g")
	b.ReportMetric(speedup(0), "speedup-x")
	b.ReportMetric(speedup(1), "independent-x")
	b.ReportMetric(speedup(2), "cpu-x")
}

// sink keeps the spinning of BenchmarkFireParallel from being optimized
// away.
var sink atomic.Int64

// BenchmarkScale runs storetest.RunScale on memory stores holding its
// populations, made through Create.
func BenchmarkScale(b *testing.B) {
	storetest.RunScale(b, func(b *testing.B, n int) relman.Store {
		s := memory.New()
		storetest.PopulatePlanned(b, s, n, 1)
		return s
	}, storetest.ScaleOptions{})
}

// BenchmarkCreateRandomID creates releases with random ids in stores
// already holding 1k and 100k releases with random ids, interleaved:
// the ordered index (List by id and by creation time) makes room in one
// chunk, so the cost does not grow with the store (n=100000/n=1000
// about 1; one sorted slice made it grow linearly).
func BenchmarkCreateRandomID(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	create := func(s *memory.Store) {
		r := storetest.Minimal(fmt.Sprintf("%016x", rng.Uint64()))
		if err := s.Create(ctx, r, r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "c", Action: relman.ActionCreate, To: r.Stage})); err != nil {
			b.Fatal(err)
		}
	}
	sizes := []int{1_000, 100_000}
	stores := make([]*memory.Store, len(sizes))
	for i, n := range sizes {
		stores[i] = memory.New()
		for range n {
			create(stores[i])
		}
	}
	t := make([]time.Duration, len(sizes))
	b.ResetTimer()
	for b.Loop() {
		for i, s := range stores {
			start := time.Now()
			create(s)
			t[i] += time.Since(start)
		}
	}
	for i, n := range sizes {
		b.ReportMetric(float64(t[i].Nanoseconds())/float64(b.N), fmt.Sprintf("n=%d-ns/create", n))
	}
	b.ReportMetric(float64(t[1])/float64(t[0]), "n=100000/n=1000")
}
