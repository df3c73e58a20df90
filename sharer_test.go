package relman_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// Fire on a store that shares its values (store/memory) returns a
// release of the caller's own, and leaves the same state and history as
// on a store that copies (the same store with its abilities hidden).
func TestFireSharedAndCopied(t *testing.T) {
	ctx := context.Background()
	run := func(st relman.Store) (*relman.Release, []relman.AuditEntry) {
		c := &clock{now: t0}
		m, err := relman.NewManager(st, relman.WithClock(c.Now))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
			t.Fatal(err)
		}
		got := fire(t, m, "r", relman.EventApprove, relman.Request{Reason: "ok"})
		got.Services[0] = "changed by the caller"
		got.Title = "changed"
		fire(t, m, "r", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now, End: c.now.Add(3600e9)}})
		r, err := m.Get(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		h, err := st.History(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		return r, h
	}
	shared, hs := run(memory.New())
	copied, hc := run(bare{memory.New()})
	if shared.Services[0] != "invoices" || shared.Title != "Faster invoices" {
		t.Errorf("changing what Fire returned changed the store: %v %q", shared.Services, shared.Title)
	}
	if diff := cmp.Diff(copied, shared); diff != "" {
		t.Errorf("shared and copied stores differ (-copied +shared):\n%s", diff)
	}
	if diff := cmp.Diff(hc, hs); diff != "" {
		t.Errorf("histories differ (-copied +shared):\n%s", diff)
	}
}
