package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// plannedStore returns a memory store holding n releases planned over
// two years from t0, each in one to three of 1,000 services, with
// windows of one to four hours.
func plannedStore(b testing.TB, n int) *memory.Store {
	s := memory.New()
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	span := int64(2 * 365 * 24 * time.Hour)
	for i := range n {
		r := storetest.Minimal(fmt.Sprintf("rel-%06d", i))
		r.Stage = relman.StagePlanned
		for range 1 + rng.IntN(3) {
			r.Services = append(r.Services, fmt.Sprintf("svc-%03d", rng.IntN(1000)))
		}
		start := t0.Add(time.Duration(rng.Int64N(span))).Truncate(time.Minute)
		r.Window = &relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(4)) * time.Hour)}
		storetest.Put(b, s, r)
	}
	return s
}

var plannedSizes = []int{1_000, 10_000, 100_000}

// BenchmarkPlanFire replans one release, back and forth between two
// windows a year out, among n planned releases: each Fire runs the
// conflicts gate, which reads the planned releases around the window
// through the plan index.
func BenchmarkPlanFire(b *testing.B) {
	ctx := context.Background()
	for _, n := range plannedSizes {
		b.Run(fmt.Sprintf("planned=%d", n), func(b *testing.B) {
			s := plannedStore(b, n)
			m := benchManager(b, s)
			year := t0.Add(365 * 24 * time.Hour)
			windows := [2]relman.Span{{Start: year, End: year.Add(2 * time.Hour)}, {Start: year.Add(3 * time.Hour), End: year.Add(5 * time.Hour)}}
			r, err := m.Create(ctx, benchRelease("bench"), benchActor)
			must(b, r, err)
			r, err = m.Fire(ctx, "bench", relman.EventApprove, relman.Request{Actor: benchActor})
			must(b, r, err)
			r, err = m.Fire(ctx, "bench", relman.EventPlan, relman.Request{Actor: benchActor, Window: &windows[0]})
			must(b, r, err)
			// What the conflicts gate reads: every release overlapping
			// the window, whatever its services (team and capacity
			// conflicts need them all).
			overlap := 0
			for _, w := range windows {
				err := s.Overlapping(ctx, w.Start, w.End, nil, func(*relman.Release) error { overlap++; return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 1
			for b.Loop() {
				if _, err := m.Fire(ctx, "bench", relman.EventReplan, relman.Request{Actor: benchActor, Window: &windows[i&1]}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(overlap)/2, "overlapping")
		})
	}
}

// BenchmarkNextSlot finds a two-hour slot for one of the services, from
// a moment in the two years, among n planned releases.
func BenchmarkNextSlot(b *testing.B) {
	ctx := context.Background()
	for _, n := range plannedSizes {
		b.Run(fmt.Sprintf("planned=%d", n), func(b *testing.B) {
			m := benchManager(b, plannedStore(b, n))
			rng := rand.New(rand.NewPCG(7, 7))
			type ask struct {
				after   time.Time
				service string
			}
			var asks [64]ask
			for i := range asks {
				asks[i] = ask{t0.Add(time.Duration(rng.IntN(700*24)) * time.Hour), fmt.Sprintf("svc-%03d", rng.IntN(1000))}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				a := asks[i%len(asks)]
				if _, err := m.NextSlot(ctx, a.after, 2*time.Hour, []string{a.service}, "", 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// withFeedback stores n feedback records on release id, straight into
// the store, with the summary the Manager would have kept.
func withFeedback(b testing.TB, s *memory.Store, id string, n int) {
	b.Helper()
	ctx := context.Background()
	r, err := s.Get(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	sum := relman.FeedbackSummary{}
	var fs []relman.Feedback
	for i := range n {
		f := relman.Feedback{Rating: 1 + i%5, Comment: "ok", Source: "survey", At: t0, By: "uma", Seq: int64(i + 1)}
		sum.Count++
		sum.Counts[f.Rating-1]++
		sum.Last = t0
		fs = append(fs, f)
	}
	r.FeedbackSummary = &sum
	if err := s.UpdateFeedback(ctx, r, fs); err != nil {
		b.Fatal(err)
	}
}

var feedbackSizes = []int{10, 100_000}

// BenchmarkAddFeedback adds feedback to an operating release that holds
// n records already.
func BenchmarkAddFeedback(b *testing.B) {
	ctx := context.Background()
	for _, n := range feedbackSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := memory.New()
			m := benchManager(b, s)
			r := benchRelease("fb")
			r.Stage = relman.StageOperating
			storetest.Put(b, s, r)
			withFeedback(b, s, "fb", n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.AddFeedback(ctx, "fb", benchActor, relman.Feedback{Rating: 4, Source: "survey"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFireWithFeedback fires submit and fail, as BenchmarkFire
// does, on a release that holds n feedback records.
func BenchmarkFireWithFeedback(b *testing.B) {
	for _, n := range feedbackSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := memory.New()
			m := benchManager(b, s)
			toTesting(b, m, "fb", relman.Span{Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour)})
			withFeedback(b, s, "fb", n)
			fire := firer(b, m, "fb")
			b.ReportAllocs()
			for b.Loop() {
				fire()
			}
		})
	}
}
