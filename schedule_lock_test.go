package relman_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// storeOnly hides the memory store's Locker, so the Manager falls back to
// its own schedule lock.
type storeOnly struct{ relman.Store }

// Two releases on one service planned into the same window at the same
// moment: exactly one is booked, the other is refused with the conflict.
// A before-hook holds each plan until the other has reached the same
// point (or a moment has passed): without the schedule lock both pass the
// conflicts gate before either commits.
func TestConcurrentPlanBooksOnce(t *testing.T) {
	for name, store := range map[string]relman.Store{"locker store": memory.New(), "manager lock": storeOnly{memory.New()}} {
		t.Run(name, func(t *testing.T) {
			arrived := make(chan struct{}, 2)
			spec := relman.DefaultSpec()
			spec.OnBefore(relman.EventPlan, "rendezvous", func(context.Context, *relman.Release, relman.Transition) error {
				arrived <- struct{}{}
				deadline := time.After(300 * time.Millisecond)
				for len(arrived) < 2 {
					select {
					case <-deadline:
						return nil
					case <-time.After(time.Millisecond):
					}
				}
				return nil
			})
			lc, err := relman.NewLifecycle(spec)
			if err != nil {
				t.Fatal(err)
			}
			c := &clock{now: t0}
			m, err := relman.NewManager(store, relman.WithLifecycle(lc), relman.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, id := range []string{"a", "b"} {
				r := newRelease(id)
				r.Teams, r.Tasks = []string{"team-" + id}, []relman.Task{{Name: "build", Team: "team-" + id, Duration: time.Hour}}
				if _, err := m.Create(ctx, r, alice); err != nil {
					t.Fatal(err)
				}
				fire(t, m, id, relman.EventApprove, relman.Request{})
			}
			win := relman.Span{Start: t0.Add(24 * time.Hour), End: t0.Add(26 * time.Hour)}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, id := range []string{"a", "b"} {
				wg.Go(func() {
					_, errs[i] = m.Fire(ctx, id, relman.EventPlan, relman.Request{Actor: alice, Window: &win})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, relman.ErrSchedulingConflict):
					t.Errorf("refused plan: %v, want a scheduling conflict", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d plans booked the same slot (errors %v), want exactly 1", ok, errs)
			}
			cs, err := m.Conflicts(ctx)
			if err != nil || len(cs) != 0 {
				t.Errorf("conflicts after concurrent plans: %v, %v", cs, err)
			}
		})
	}
}
