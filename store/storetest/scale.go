package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// ScaleSizes are the populations RunScale measures: stores holding 1k,
// 10k and 100k planned releases.
var ScaleSizes = []int{1_000, 10_000, 100_000}

// The population of the scale benchmarks: planned releases spread over
// two years from scaleEpoch, each with 1-3 of 1,000 services, a team of
// 200 (and half of them a task of another) and a window of 1-4 hours.
const (
	scaleSpan     = 2 * 365 * 24 * time.Hour
	scaleServices = 1000
	scaleTeams    = 200
)

// scaleEpoch is the start of the benchmarks' two years: tomorrow,
// midnight UTC, so that no gate finds a window in the past.
var scaleEpoch = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)

// scaleSeq numbers the releases scalePlanFire adds, across its runs on
// the same stores (-count).
var scaleSeq atomic.Int64

func scaleService(i int) string { return fmt.Sprintf("svc-%04d", i) }

func scaleTeam(i int) string { return fmt.Sprintf("team-%03d", i) }

// scaleWindow returns a window of 1-4 hours, on the minute, somewhere in
// the two years.
func scaleWindow(rng *rand.Rand) relman.Span {
	start := scaleEpoch.Add(time.Duration(rng.Int64N(int64(scaleSpan))) / time.Minute * time.Minute)
	return relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(4)) * time.Hour)}
}

// plannedRelease returns the i-th release of the population: in one of
// relman.PlannedStages, with its window, services and teams (one in
// Teams, and half the time a task owned by another).
func plannedRelease(rng *rand.Rand, i int) *relman.Release {
	r := Minimal(fmt.Sprintf("pop-%07d", i))
	r.Stage = relman.PlannedStages[rng.IntN(len(relman.PlannedStages))]
	w := scaleWindow(rng)
	r.Window = &w
	for range 1 + rng.IntN(3) {
		r.Services = append(r.Services, scaleService(rng.IntN(scaleServices)))
	}
	r.Teams = []string{scaleTeam(rng.IntN(scaleTeams))}
	if rng.IntN(2) == 0 {
		r.Tasks = []relman.Task{{Name: "deploy", Team: scaleTeam(rng.IntN(scaleTeams)), Duration: time.Hour}}
	}
	return r
}

// PopulatePlanned stores, through s.Create, the n planned releases
// RunScale expects: spread over two years from tomorrow, each with 1-3
// of 1,000 services, a team of 200 (half of them also a task owned by
// another) and a window of 1-4 hours, each with its creation
// entry. It writes from workers goroutines (use one for a store that
// serializes its writes anyway); the population is the same for any
// number of workers.
func PopulatePlanned(b testing.TB, s relman.Store, n, workers int) {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				r := plannedRelease(rand.New(rand.NewPCG(uint64(n), uint64(i))), i)
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

// ScaleOptions adapts RunScale to a backend. The zero value is fine.
type ScaleOptions struct {
	// Settle, if not nil, runs after RunScale has written the feedback
	// records of the Feedback benchmark into s and before it times
	// anything: a backend brings its statistics up to date there, as
	// its background maintenance would (PostgreSQL's VACUUM ANALYZE).
	Settle func(b *testing.B, s relman.Store)
}

// scaleStore is one population: a store holding n planned releases, and
// a Manager on it.
type scaleStore struct {
	n int
	s relman.Store
	m *relman.Manager
}

// RunScale measures how the costs that the plan index, feedback records
// and cursors keep flat grow with the data. For each n of ScaleSizes,
// populate must return a store holding PopulatePlanned's n releases (and
// register its cleanup); RunScale puts a Manager on each and runs, as
// sub-benchmarks:
//
//   - PlanFire: Fire(EventPlan) through the Manager, whose conflicts
//     gate reads the releases overlapping the window, on every size
//     interleaved. It reports n=<size>-ns/plan, the average number of
//     releases overlapping a window (n=<size>-overlapping, what the
//     gate's cost follows) and n=100000/n=1000. Target: ≤ 2.
//   - NextSlot: Manager.NextSlot for a service, interleaved likewise:
//     n=<size>-ns/op and n=100000/n=1000. Target: ≤ 3.
//   - Feedback: AddFeedback and Fire on a release with 100k feedback
//     records against one with 10 (up to 20 as AddFeedback adds to
//     them), in the smallest store, which must be a
//     relman.FeedbackStore: add-big/small and fire-big/small. Target:
//     ≤ 1.5.
//   - ListCursor/n=<size>, for every size but the smallest: every page
//     of the store by cursor, MaxPage at a time. Target: last/first
//     about 1, and walk-ns/release the same for every size.
//
// Each benchmark interleaves what it compares, one operation each in
// turn, so that the noise of a shared machine hits them alike; the ratios
// are the figures to read.
func RunScale(b *testing.B, populate func(b *testing.B, n int) relman.Store, opts ScaleOptions) {
	var sizes []scaleStore
	for _, n := range ScaleSizes {
		s := populate(b, n)
		m, err := relman.NewManager(s)
		if err != nil {
			b.Fatal(err)
		}
		sizes = append(sizes, scaleStore{n, s, m})
	}
	b.Run("PlanFire", func(b *testing.B) { scalePlanFire(b, sizes) })
	b.Run("NextSlot", func(b *testing.B) { scaleNextSlot(b, sizes) })
	fixtures := false // written on the first run (-count runs again)
	b.Run("Feedback", func(b *testing.B) {
		s := sizes[0].s
		fs, ok := s.(relman.FeedbackStore)
		if !ok {
			b.Skip("the store is no relman.FeedbackStore")
		}
		const small, big = 10, 100_000
		if !fixtures {
			feedbackRelease(b, s, fs, fmt.Sprintf("fb-op-%d", big), relman.StageOperating, big)
			feedbackRelease(b, s, fs, fmt.Sprintf("fb-loop-%d", small), "a", small)
			feedbackRelease(b, s, fs, fmt.Sprintf("fb-loop-%d", big), "a", big)
			if opts.Settle != nil {
				opts.Settle(b, s)
			}
			fixtures = true
		}
		loop, err := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(b)))
		if err != nil {
			b.Fatal(err)
		}
		scaleFeedbackCost(b, s, fs, sizes[0].m, loop, small, big)
	})
	for _, sz := range sizes[1:] {
		b.Run(fmt.Sprintf("ListCursor/n=%d", sz.n), func(b *testing.B) { scaleListPages(b, sz.s, sz.n) })
	}
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

// reportSizes reports the time per op of each size, and the ratio of
// the largest's to the smallest's.
func reportSizes(b *testing.B, sizes []scaleStore, ts []time.Duration, n int, unit string) {
	for i, s := range sizes {
		b.ReportMetric(float64(ts[i].Nanoseconds())/float64(n), fmt.Sprintf("n=%d-ns/%s", s.n, unit))
	}
	last := len(sizes) - 1
	b.ReportMetric(float64(ts[last])/float64(ts[0]), fmt.Sprintf("n=%d/n=%d", sizes[last].n, sizes[0].n))
}

// scalePlanFire benchmarks Fire(EventPlan) through each sized store's
// Manager, interleaved: each iteration, untimed, closes the release it
// planned last in each store (so that the store keeps its n planned
// releases), stores a new approved one, with a service and a team of its
// own so that the conflicts gate lets it through (the gate still asks
// the plan index for the releases sharing either), and counts the releases
// overlapping the window it will get (through relman.PlanIndex, if the
// store has it); then it fires plan with that window of 1-4 hours
// somewhere in the two years.
func scalePlanFire(b *testing.B, sizes []scaleStore) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, len(sizes))
	overlap := make([]int, len(sizes))
	var win relman.Span
	setup := make([]func(), len(sizes))
	ops := make([]func(), len(sizes))
	for i, sz := range sizes {
		pi, _ := sz.s.(relman.PlanIndex)
		setup[i] = func() {
			if ids[i] != "" {
				// The release planned last leaves the planned stages, so
				// that the population stays at sz.n.
				r, err := sz.s.Get(ctx, ids[i])
				if err != nil {
					b.Fatal(err)
				}
				r.Stage = relman.StageClosed
				if err := sz.s.Update(ctx, r, r.Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "bench", Action: relman.ActionEdit})); err != nil {
					b.Fatal(err)
				}
			}
			id := fmt.Sprintf("new-%07d", scaleSeq.Add(1))
			r := Minimal(id)
			r.Stage = relman.StageApproved
			r.Services = []string{id}
			r.Teams = []string{"team-" + id}
			Put(b, sz.s, r)
			ids[i] = r.ID
			win = scaleWindow(rng)
			if pi != nil {
				// How many planned releases overlap the window, whatever
				// their services and teams: the density the booking
				// meets. (The conflicts gate reads them all only under a
				// capacity; without one it asks the index for those
				// sharing a service or a team.)
				err := pi.Overlapping(ctx, win.Start, win.End, relman.PlanMatch{}, func(*relman.Release) error { overlap[i]++; return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		ops[i] = func() {
			w := win
			if _, err := sz.m.Fire(ctx, ids[i], relman.EventPlan, relman.Request{Actor: relman.Actor{ID: "bench"}, Window: &w}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ts, n := timeEach(b, ops, setup)
	reportSizes(b, sizes, ts, n, "plan")
	for i, sz := range sizes {
		if _, ok := sz.s.(relman.PlanIndex); ok {
			b.ReportMetric(float64(overlap[i])/float64(n), fmt.Sprintf("n=%d-overlapping", sz.n))
		}
	}
}

// scaleNextSlot benchmarks Manager.NextSlot for 2 hours of a random
// service of the population, from a random day of the two years, on each
// sized store, interleaved.
func scaleNextSlot(b *testing.B, sizes []scaleStore) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var after time.Time
	var svc string
	setup := make([]func(), len(sizes))
	ops := make([]func(), len(sizes))
	for i, sz := range sizes {
		setup[i] = func() {
			after = scaleEpoch.Add(time.Duration(rng.IntN(700)) * 24 * time.Hour)
			svc = scaleService(rng.IntN(scaleServices))
		}
		ops[i] = func() {
			if _, err := sz.m.NextSlot(ctx, after, 2*time.Hour, []string{svc}, "", 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	ts, n := timeEach(b, ops, setup)
	reportSizes(b, sizes, ts, n, "op")
}

// scaleListPages benchmarks paging through every release of s (n of
// them) by cursor, MaxPage at a time in creation order: it reports the
// time of the first page and of the last full one (and their ratio), of
// that same last page read with Offset for comparison, and of the whole
// walk per release.
func scaleListPages(b *testing.B, s relman.Store, n int) {
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

// feedbackRelease stores, in s, release id at stage holding k feedback
// records written through fs.UpdateFeedback, 1,000 at a time, with their
// summary.
func feedbackRelease(b testing.TB, s relman.Store, fs relman.FeedbackStore, id string, stage relman.Stage, k int) {
	ctx := context.Background()
	r := Minimal(id)
	r.Stage = stage
	r.FeedbackSummary = &relman.FeedbackSummary{}
	Put(b, s, r)
	for seq := 1; seq <= k; {
		var recs []relman.Feedback
		for ; seq <= k && len(recs) < 1000; seq++ {
			f := relman.Feedback{Seq: int64(seq), Rating: 1 + seq%5, Comment: "fine", At: scaleEpoch.Add(-time.Duration(seq) * time.Minute), By: "uma"}
			r.FeedbackSummary.Count++
			r.FeedbackSummary.Counts[f.Rating-1]++
			recs = append(recs, f)
		}
		e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "bench", Action: relman.ActionFeedback})
		if err := fs.UpdateFeedback(ctx, r, recs, e); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleFeedbackCost benchmarks, on s, AddFeedback (through m) and Fire
// (through loop, a Manager with LoopLifecycle) on releases with big
// feedback records ("fb-op-<big>" in operation and "fb-loop-<big>" in a
// stage of LoopLifecycle, which s holds) against releases with small
// ("fb-loop-<small>", which s holds, and, for AddFeedback, releases
// it stores untimed with small records, a new one each small additions,
// so that the small side never holds more than twice small), interleaved.
// It reports ns/op of each and the ratios.
func scaleFeedbackCost(b *testing.B, s relman.Store, fs relman.FeedbackStore, m, loop *relman.Manager, small, big int) {
	ctx := context.Background()
	add := func(id *string) func() {
		return func() {
			if _, err := m.AddFeedback(ctx, *id, relman.Actor{ID: "bench"}, relman.Feedback{Rating: 4, Comment: "ok"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// fire moves release id on, from wherever an earlier run left it.
	fire := func(id string) func() {
		r, err := loop.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		st := r.Stage
		return func() {
			r, err := loop.Fire(ctx, id, NextEvent(st), relman.Request{Actor: relman.Actor{ID: "bench"}})
			if err != nil {
				b.Fatal(err)
			}
			st = r.Stage
		}
	}
	smallID, bigID := "", fmt.Sprintf("fb-op-%d", big)
	adds := 0
	fresh := func() {
		if adds%small == 0 {
			smallID = fmt.Sprintf("fb-op-%d-%07d", small, scaleSeq.Add(1))
			feedbackRelease(b, s, fs, smallID, relman.StageOperating, small)
		}
		adds++
	}
	none := func() {}
	ops := []func(){add(&smallID), add(&bigID), fire(fmt.Sprintf("fb-loop-%d", small)), fire(fmt.Sprintf("fb-loop-%d", big))}
	ts, n := timeEach(b, ops, []func(){fresh, none, none, none})
	f := float64(n)
	b.ReportMetric(float64(ts[0].Nanoseconds())/f, fmt.Sprintf("add-%d-ns", small))
	b.ReportMetric(float64(ts[1].Nanoseconds())/f, fmt.Sprintf("add-%d-ns", big))
	b.ReportMetric(float64(ts[1])/float64(ts[0]), "add-big/small")
	b.ReportMetric(float64(ts[2].Nanoseconds())/f, fmt.Sprintf("fire-%d-ns", small))
	b.ReportMetric(float64(ts[3].Nanoseconds())/f, fmt.Sprintf("fire-%d-ns", big))
	b.ReportMetric(float64(ts[3])/float64(ts[2]), "fire-big/small")
}
