package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// seedCursor stores 30 releases whose creation and update times tie in
// threes and fours, so that pages end inside runs of equal keys; one in
// three is in billing, one in two planned.
func seedCursor(t *testing.T, s relman.Store) {
	for i := range 30 {
		r := Minimal(fmt.Sprintf("c%02d", (i*7)%30)) // ids not in creation order
		r.CreatedAt = base.Add(time.Duration(i/3) * time.Hour)
		r.UpdatedAt = base.Add(time.Duration(100+(i*11)%4) * time.Hour)
		if i%3 == 0 {
			r.Services = []string{"billing"}
		}
		if i%2 == 0 {
			r.Stage = relman.StagePlanned
		}
		create(t, s, r)
	}
}

// seedCursorNanos stores 37 releases whose creation times tie in threes
// and whose update times lie a nanosecond apart, in the reverse order of
// creation, some written in another zone; one in two is in billing.
func seedCursorNanos(t *testing.T, s relman.Store) {
	paris := time.FixedZone("CET", 3600)
	for i := range 37 {
		r := Minimal(fmt.Sprintf("m%02d", (i*7)%37))
		r.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		r.UpdatedAt = base.Add(time.Duration(37-i) * time.Nanosecond)
		if i%3 == 1 {
			r.CreatedAt, r.UpdatedAt = r.CreatedAt.In(paris), r.UpdatedAt.In(paris)
		}
		if i%2 == 0 {
			r.Services = []string{"billing"}
		}
		create(t, s, r)
	}
}

// pageAll reads every page of q (Limit per page) by cursor, calling
// between after each page but the last.
func pageAll(t *testing.T, s relman.Store, q relman.Query, between func(page int, last *relman.Release)) []string {
	t.Helper()
	var got []string
	for page := 0; ; page++ {
		rs, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatalf("List(%+v), page %d: %v", q, page, err)
		}
		got = append(got, ids(rs)...)
		if len(rs) < q.Limit {
			return got
		}
		if page > 100 {
			t.Fatalf("more than 100 pages: the cursor does not advance")
		}
		last := rs[len(rs)-1]
		if between != nil {
			between(page, last)
		}
		q.After = q.Cursor(last)
	}
}

// runCursor checks List's cursor paging (relman.Query.After).
func runCursor(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	type variant struct {
		name string
		q    relman.Query
	}
	var variants []variant
	for _, o := range []relman.Order{relman.OrderCreated, relman.OrderUpdated, relman.OrderID} {
		for _, desc := range []bool{false, true} {
			for _, f := range []variant{
				{"all", relman.Query{}},
				{"billing", relman.Query{Service: "billing"}},
				{"planned", relman.Query{Stages: []relman.Stage{relman.StagePlanned}}},
			} {
				q := f.q
				q.OrderBy, q.Desc, q.Limit = o, desc, 4
				name := fmt.Sprintf("%s/%s", o, f.name)
				if desc {
					name = fmt.Sprintf("%s/desc/%s", o, f.name)
				}
				variants = append(variants, variant{name, q})
			}
		}
	}

	// agree checks, for each variant, that paging by cursor through s
	// gives what one List does.
	agree := func(t *testing.T, s relman.Store, withStages bool) {
		for _, v := range variants {
			if len(v.q.Stages) > 0 && !withStages {
				continue
			}
			t.Run(v.name, func(t *testing.T) {
				full := v.q
				full.Limit = 0
				want, err := s.List(ctx, full)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(ids(want), pageAll(t, s, v.q, nil)); d != "" {
					t.Errorf("pages by cursor differ from one List (-want +got):\n%s", d)
				}
			})
		}
	}

	t.Run("List/Cursor", func(t *testing.T) {
		s := newStore(t)
		seedCursor(t, s)
		agree(t, s, true)
	})

	t.Run("List/CursorNanosecondKeys", func(t *testing.T) {
		s := newStore(t)
		seedCursorNanos(t, s)
		agree(t, s, false) // seedCursorNanos stores none planned
	})

	t.Run("List/CursorWithInserts", func(t *testing.T) {
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				s := newStore(t)
				seedCursor(t, s)
				full := v.q
				full.Limit = 0
				before, err := s.List(ctx, full)
				if err != nil {
					t.Fatal(err)
				}
				// After each page, add releases that sort just before the
				// last one read, on it, just after it, and at both ends.
				n := 0
				got := pageAll(t, s, v.q, func(page int, last *relman.Release) {
					for _, d := range []time.Duration{-time.Hour, 0, time.Hour, -1000 * time.Hour, 1000 * time.Hour} {
						r := Minimal(fmt.Sprintf("n%02d", n))
						n++
						r.CreatedAt, r.UpdatedAt = last.CreatedAt.Add(d), last.UpdatedAt.Add(d)
						r.Services, r.Stage = last.Services, last.Stage
						create(t, s, r)
					}
				})
				seen := map[string]int{}
				for _, id := range got {
					seen[id]++
				}
				for id, c := range seen {
					if c > 1 {
						t.Errorf("%s read %d times", id, c)
					}
				}
				for _, r := range before {
					if seen[r.ID] != 1 {
						t.Errorf("%s, there before paging began, read %d times, want once", r.ID, seen[r.ID])
					}
				}
				// What was read is in q's order.
				after, err := s.List(ctx, full)
				if err != nil {
					t.Fatal(err)
				}
				order := ids(after)
				if !slices.IsSortedFunc(got, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) }) {
					t.Errorf("pages not in the query's order: %v", got)
				}
			})
		}
	})

	t.Run("List/BadCursor", func(t *testing.T) {
		s := newStore(t)
		seedCursor(t, s)
		r, err := s.Get(ctx, "c05")
		if err != nil {
			t.Fatal(err)
		}
		byID := relman.Query{OrderBy: relman.OrderID}
		good := relman.Query{}.Cursor(r)
		for name, q := range map[string]relman.Query{
			"garbage":             {After: "not a cursor!"},
			"base64 garbage":      {After: "Zm9vYmFy"},
			"other order's":       {After: byID.Cursor(r)},
			"with offset":         {After: good, Offset: 1},
			"updated for created": {OrderBy: relman.OrderUpdated, After: good},
		} {
			if _, err := s.List(ctx, q); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("List with %s cursor: err = %v, want ErrInvalid", name, err)
			}
		}
		if _, err := s.List(ctx, relman.Query{After: good}); err != nil {
			t.Errorf("List with a good cursor: %v", err)
		}
	})
}
