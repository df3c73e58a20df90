// Package scaletest holds the scale benchmarks that store/sqlite and
// store/postgres share.
package scaletest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/storetest"
)

// Store is a store with every ability the benchmarks use.
type Store interface {
	relman.Store
	relman.PlanIndex
	relman.FeedbackStore
}

// The population of the scale benchmarks: planned releases spread over
// two years from Epoch, each with 1-3 of 1,000 services and a window of
// 1-4 hours.
const (
	span     = 2 * 365 * 24 * time.Hour
	services = 1000
)

// Epoch is the start of the benchmarks' two years: tomorrow, midnight UTC,
// so that no gate finds a window in the past.
var Epoch = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)

func service(i int) string { return fmt.Sprintf("svc-%04d", i) }

// plannedRelease returns the i-th release of the population: planned,
// with its window and services.
func plannedRelease(rng *rand.Rand, i int) *relman.Release {
	r := storetest.Minimal(fmt.Sprintf("pop-%07d", i))
	r.Stage = relman.PlannedStages[rng.IntN(len(relman.PlannedStages))]
	start := Epoch.Add(time.Duration(rng.Int64N(int64(span))) / time.Minute * time.Minute)
	r.Window = &relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(4)) * time.Hour)}
	for range 1 + rng.IntN(3) {
		r.Services = append(r.Services, service(rng.IntN(services)))
	}
	return r
}

// Populate stores n planned releases (see Epoch) through s.Create, each
// with its creation entry, from workers goroutines (one for a store that
// serializes its writes anyway).
func Populate(b testing.TB, s relman.Store, n, workers int) {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(n), uint64(w)))
			for i := w; i < n; i += workers {
				r := plannedRelease(rng, i)
				e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "creator", Action: relman.ActionCreate, To: r.Stage})
				if err := s.Create(context.Background(), r, e); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// Sized is a store holding a population of N planned releases, and a
// Manager on it.
type Sized struct {
	N int
	S relman.Store
	M *relman.Manager
}

// timeEach runs each op once per iteration of b, in turn (starting with a
// different one each time, so that the noise of a shared machine hits
// them alike), timing op i with ts[i], and returns the total time of
// each, and the iterations. setup, if not nil, runs untimed before each
// op.
func timeEach(b *testing.B, ops []func(), setup []func()) ([]time.Duration, int) {
	ts := make([]time.Duration, len(ops))
	n := 0
	for b.Loop() {
		for k := range ops {
			i := (n + k) % len(ops)
			if setup != nil {
				setup[i]()
			}
			t0 := time.Now()
			ops[i]()
			ts[i] += time.Since(t0)
		}
		n++
	}
	return ts, n
}

func report(b *testing.B, sizes []Sized, ts []time.Duration, n int, unit string) {
	for i, s := range sizes {
		b.ReportMetric(float64(ts[i].Nanoseconds())/float64(n), fmt.Sprintf("n=%d-ns/%s", s.N, unit))
	}
	last := len(sizes) - 1
	b.ReportMetric(float64(ts[last])/float64(ts[0]), fmt.Sprintf("n=%d/n=%d", sizes[last].N, sizes[0].N))
}

// PlanFire benchmarks Fire(EventPlan) through each sized store's Manager,
// interleaved: each iteration stores (untimed) a new approved release
// per store, with a service of its own so that the conflicts gate lets
// it through, and fires plan with a window of 1-4 hours somewhere in the
// two years. It reports ns/plan for each size and the ratio of the
// largest to the smallest.
func PlanFire(b *testing.B, sizes []Sized) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, len(sizes))
	var win relman.Span
	seq := 0
	setup := make([]func(), len(sizes))
	ops := make([]func(), len(sizes))
	for i, sz := range sizes {
		setup[i] = func() {
			seq++
			r := storetest.Minimal(fmt.Sprintf("new-%07d", seq))
			r.Stage = relman.StageApproved
			r.Services = []string{fmt.Sprintf("new-%07d", seq)}
			storetest.Put(b, sz.S, r)
			ids[i] = r.ID
			start := Epoch.Add(time.Duration(rng.Int64N(int64(span))) / time.Minute * time.Minute)
			win = relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(4)) * time.Hour)}
		}
		ops[i] = func() {
			w := win
			if _, err := sz.M.Fire(ctx, ids[i], relman.EventPlan, relman.Request{Actor: relman.Actor{ID: "bench"}, Window: &w}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ts, n := timeEach(b, ops, setup)
	report(b, sizes, ts, n, "plan")
}

// NextSlot benchmarks Manager.NextSlot for 2 hours of a random service
// of the population, from a random day of the two years, on each sized
// store, interleaved. It reports ns/op for each size and the ratio of the
// largest to the smallest.
func NextSlot(b *testing.B, sizes []Sized) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var after time.Time
	var svc string
	setup := make([]func(), len(sizes))
	ops := make([]func(), len(sizes))
	for i, sz := range sizes {
		setup[i] = func() {
			after = Epoch.Add(time.Duration(rng.IntN(700)) * 24 * time.Hour)
			svc = service(rng.IntN(services))
		}
		ops[i] = func() {
			if _, err := sz.M.NextSlot(ctx, after, 2*time.Hour, []string{svc}, "", 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	ts, n := timeEach(b, ops, setup)
	report(b, sizes, ts, n, "op")
}

// ListPages benchmarks paging through every release of s (n of them) by
// cursor, MaxPage at a time in creation order: it reports the time of the
// first page and of the last full one (and their ratio), of that same
// last page read with Offset for comparison, and of the whole walk per
// release.
func ListPages(b *testing.B, s relman.Store, n int) {
	ctx := context.Background()
	var first, last, offset, total time.Duration
	iters := 0
	for b.Loop() {
		q := relman.Query{Limit: relman.MaxPage}
		seen, lastFull := 0, 0
		var lastTime time.Duration
		t0 := time.Now()
		for page := 0; ; page++ {
			tp := time.Now()
			rs, err := s.List(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			d := time.Since(tp)
			if page == 0 {
				first += d
			}
			if len(rs) < q.Limit {
				break
			}
			lastFull, lastTime = seen, d
			seen += len(rs)
			q.After = q.Cursor(rs[len(rs)-1])
		}
		total += time.Since(t0)
		last += lastTime
		if seen < n-n%relman.MaxPage {
			b.Fatalf("paged %d releases, want at least %d", seen, n)
		}
		tp := time.Now()
		if _, err := s.List(ctx, relman.Query{Limit: relman.MaxPage, Offset: lastFull}); err != nil {
			b.Fatal(err)
		}
		offset += time.Since(tp)
		iters++
	}
	f := float64(iters)
	b.ReportMetric(float64(first.Nanoseconds())/f, "first-page-ns")
	b.ReportMetric(float64(last.Nanoseconds())/f, "last-page-ns")
	b.ReportMetric(float64(last)/float64(first), "last/first")
	b.ReportMetric(float64(offset.Nanoseconds())/f, "offset-last-page-ns")
	b.ReportMetric(float64(total.Nanoseconds())/f/float64(n), "walk-ns/release")
}

// FeedbackFixture stores, in s, releases for Feedback: "fb-op-<k>" in
// operation (for AddFeedback) and "fb-loop-<k>" in stage "a" of
// storetest.LoopLifecycle (for Fire), each holding k feedback records
// written through UpdateFeedback, 1,000 at a time, and their summary.
func FeedbackFixture(b testing.TB, s Store, k int) {
	ctx := context.Background()
	for _, id := range []string{fmt.Sprintf("fb-op-%d", k), fmt.Sprintf("fb-loop-%d", k)} {
		r := storetest.Minimal(id)
		r.Stage = relman.StageOperating
		if id[3] == 'l' {
			r.Stage = "a"
		}
		r.FeedbackSummary = &relman.FeedbackSummary{}
		storetest.Put(b, s, r)
		for seq := 1; seq <= k; {
			var fs []relman.Feedback
			for ; seq <= k && len(fs) < 1000; seq++ {
				f := relman.Feedback{Seq: int64(seq), Rating: 1 + seq%5, Comment: "fine", At: Epoch.Add(-time.Duration(seq) * time.Minute), By: "uma"}
				r.FeedbackSummary.Count++
				r.FeedbackSummary.Counts[f.Rating-1]++
				fs = append(fs, f)
			}
			e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "bench", Action: relman.ActionFeedback})
			if err := s.UpdateFeedback(ctx, r, fs, e); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// FeedbackCost benchmarks, on stores holding FeedbackFixture for small and
// big, AddFeedback (with m) and Fire (with loop, a Manager with
// storetest.LoopLifecycle) on the release with big records against the
// one with small, interleaved. It reports ns/op of each and the ratios.
func FeedbackCost(b *testing.B, m, loop *relman.Manager, small, big int) {
	ctx := context.Background()
	stage := map[string]relman.Stage{}
	fire := func(id string) func() {
		stage[id] = "a"
		return func() {
			r, err := loop.Fire(ctx, id, storetest.NextEvent(stage[id]), relman.Request{Actor: relman.Actor{ID: "bench"}})
			if err != nil {
				b.Fatal(err)
			}
			stage[id] = r.Stage
		}
	}
	add := func(id string) func() {
		return func() {
			if _, err := m.AddFeedback(ctx, id, relman.Actor{ID: "bench"}, relman.Feedback{Rating: 4, Comment: "ok"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ops := []func(){
		add(fmt.Sprintf("fb-op-%d", small)), add(fmt.Sprintf("fb-op-%d", big)),
		fire(fmt.Sprintf("fb-loop-%d", small)), fire(fmt.Sprintf("fb-loop-%d", big)),
	}
	ts, n := timeEach(b, ops, nil)
	f := float64(n)
	b.ReportMetric(float64(ts[0].Nanoseconds())/f, fmt.Sprintf("add-%d-ns", small))
	b.ReportMetric(float64(ts[1].Nanoseconds())/f, fmt.Sprintf("add-%d-ns", big))
	b.ReportMetric(float64(ts[1])/float64(ts[0]), "add-big/small")
	b.ReportMetric(float64(ts[2].Nanoseconds())/f, fmt.Sprintf("fire-%d-ns", small))
	b.ReportMetric(float64(ts[3].Nanoseconds())/f, fmt.Sprintf("fire-%d-ns", big))
	b.ReportMetric(float64(ts[3])/float64(ts[2]), "fire-big/small")
}
