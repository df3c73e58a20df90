package memory_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestOverlappingMatchesScan replans releases at random and checks,
// after each step, that Overlapping agrees with a filter over every
// release.
func TestOverlappingMatchesScan(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	rng := rand.New(rand.NewPCG(3, 4))
	stages := []relman.Stage{relman.StageProposed, relman.StagePlanned, relman.StageBuilding, relman.StageDeploying, relman.StageOperating}
	services := []string{"a", "b", "c", "d"}
	teams := []string{"web", "ops", "data"}
	random := func(r *relman.Release) {
		r.Stage = stages[rng.IntN(len(stages))]
		r.Services = []string{services[rng.IntN(len(services))]}
		r.Teams, r.Tasks = nil, nil
		switch rng.IntN(3) {
		case 0:
			r.Teams = []string{teams[rng.IntN(len(teams))]}
		case 1:
			r.Tasks = []relman.Task{{Name: "deploy", Team: teams[rng.IntN(len(teams))], Duration: time.Hour}}
		}
		if rng.IntN(10) == 0 {
			r.Window = nil
			return
		}
		start := t0.Add(time.Duration(rng.IntN(60*24)-30*24) * time.Hour)
		r.Window = &relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(rng.IntN(24*20)+1)) * time.Hour)}
	}
	for i := range 200 {
		r := storetest.Minimal(fmt.Sprintf("r%03d", i))
		random(r)
		storetest.Put(t, s, r)
	}
	for step := range 300 {
		id := fmt.Sprintf("r%03d", rng.IntN(200))
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		random(r)
		if err := s.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		var from, to time.Time
		if rng.IntN(5) > 0 {
			from = t0.Add(time.Duration(rng.IntN(60*24)-30*24) * time.Hour)
		}
		if rng.IntN(5) > 0 {
			to = from.Add(time.Duration(rng.IntN(24*10)) * time.Hour)
			if from.IsZero() {
				to = t0
			}
		}
		var match relman.PlanMatch
		if rng.IntN(2) == 0 {
			match.Services = services[:1+rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			match.Teams = teams[:1+rng.IntN(2)]
		}
		var want []*relman.Release
		all, _ := s.List(ctx, relman.Query{Stages: relman.PlannedStages})
		empty := !from.IsZero() && !to.IsZero() && !from.Before(to) // overlaps nothing
		for _, r := range all {
			if !empty && r.Window != nil && (from.IsZero() || r.Window.End.After(from)) && (to.IsZero() || r.Window.Start.Before(to)) &&
				(match.All() || slices.ContainsFunc(match.Services, r.HasService) || slices.ContainsFunc(match.Teams, r.HasTeam)) {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, func(a, b *relman.Release) int {
			return cmp.Or(a.Window.Start.Compare(b.Window.Start), strings.Compare(a.ID, b.ID))
		})
		var got []string
		if err := s.Overlapping(ctx, from, to, match, func(r *relman.Release) error { got = append(got, r.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("step %d: Overlapping(%v, %v, %+v) = %v, want %v", step, from, to, match, got, wantIDs)
		}
	}
}

// TestConcurrentReleases runs writers on releases of their own beside
// readers of the history, the plan index and the due index; with -race it
// checks the store's locking, and it checks that readers always see a
// history without gaps and releases that match the index.
func TestConcurrentReleases(t *testing.T) {
	ctx := context.Background()
	s := memory.NewWithOptions(memory.Options{Outbox: true})
	const writers, updates = 4, 300
	for w := range writers {
		r := storetest.Minimal(fmt.Sprintf("w%d", w))
		r.Stage = relman.StagePlanned
		r.Window = &relman.Span{Start: t0, End: t0.Add(time.Hour)}
		storetest.Put(t, s, r)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("w%d", w)
			for i := range updates {
				r, err := s.Get(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				start := t0.Add(time.Duration(i%48) * time.Hour)
				r.Window = &relman.Span{Start: start, End: start.Add(time.Hour)}
				if i%7 == 0 {
					r.Stage = relman.StageOperating
				} else {
					r.Stage = relman.StagePlanned
				}
				e := r.Record(relman.AuditEntry{At: t0, Actor: "w", Action: relman.ActionEdit})
				fs := []relman.Feedback{{Rating: 1 + i%5, At: t0, Seq: int64(i + 1)}}
				if err := s.UpdateFeedback(ctx, r, fs, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for w := range writers {
				h, err := s.History(ctx, fmt.Sprintf("w%d", w))
				if err != nil {
					t.Error(err)
					return
				}
				for i, e := range h {
					if e.Seq != int64(i+1) {
						t.Errorf("history of w%d: entry %d has seq %d", w, i, e.Seq)
						return
					}
				}
				fb, err := s.Feedback(ctx, fmt.Sprintf("w%d", w), 0, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				for i, f := range fb {
					if f.Seq != int64(i+1) {
						t.Errorf("feedback of w%d: record %d has seq %d", w, i, f.Seq)
						return
					}
				}
			}
		}
	})
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			from := t0.Add(time.Duration(time.Now().UnixNano()%48) * time.Hour)
			err := s.Overlapping(ctx, from, from.Add(time.Hour), relman.PlanMatch{}, func(r *relman.Release) error {
				if !slices.Contains(relman.PlannedStages, r.Stage) || !r.Window.End.After(from) || !r.Window.Start.Before(from.Add(time.Hour)) {
					return fmt.Errorf("Overlapping passed %s at %s, %v", r.ID, r.Stage, r.Window)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.ClaimNotifications(ctx, "r", t0.Add(time.Hour), t0.Add(2*time.Hour), 5); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	for w := range writers {
		r, _ := s.Get(ctx, fmt.Sprintf("w%d", w))
		h, _ := s.History(ctx, r.ID)
		if r.Revision != updates+1 || len(h) != updates+1 {
			t.Errorf("%s: revision %d, %d entries; want %d", r.ID, r.Revision, len(h), updates+1)
		}
		if err := relman.VerifyHistory(h, &r.Head); err != nil {
			t.Error(err)
		}
	}
}
