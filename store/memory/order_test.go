package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// TestListOrderAgreesWithSort checks List by creation time, by id and by
// update time, both ways, by cursor and by offset, against a sort of
// every release, on a store whose ids and times arrive in random order
// (with ties) and whose creation times move, so that the ordered index
// splits and empties many of its chunks.
func TestListOrderAgreesWithSort(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	rng := rand.New(rand.NewPCG(5, 6))
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	created := func() time.Time { return t0.Add(time.Duration(rng.IntN(500)) * time.Minute) } // many ties
	const n = 2000
	ids := make([]string, 0, n)
	for range n {
		r := storetest.Minimal(fmt.Sprintf("%08x", rng.Uint32()))
		if slices.Contains(ids, r.ID) {
			continue
		}
		r.CreatedAt = created()
		r.UpdatedAt = r.CreatedAt.Add(time.Duration(rng.IntN(50)) * time.Minute) // ties too
		if err := s.Create(ctx, r, r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "c", Action: relman.ActionCreate, To: r.Stage})); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// Move a third of them to other creation times: some chunks empty.
	for _, id := range ids[:len(ids)/3] {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r.CreatedAt = t0.Add(-time.Duration(1+rng.IntN(3)) * time.Hour)
		r.UpdatedAt = r.UpdatedAt.Add(time.Duration(rng.IntN(50)) * time.Minute)
		if err := s.Update(ctx, r, r.Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "u", Action: relman.ActionEdit})); err != nil {
			t.Fatal(err)
		}
	}
	var all []*relman.Release
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	idsOf := func(rs []*relman.Release) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	for _, order := range []relman.Order{relman.OrderCreated, relman.OrderID, relman.OrderUpdated} {
		for _, desc := range []bool{false, true} {
			q := relman.Query{OrderBy: order, Desc: desc}
			want := slices.Clone(all)
			slices.SortFunc(want, q.Compare)
			name := fmt.Sprintf("%s desc=%v", order, desc)
			// By cursor, in pages of a size that does not divide a chunk.
			var got []*relman.Release
			q.Limit = 97
			for {
				page, err := s.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < q.Limit {
					break
				}
				q.After = q.Cursor(page[len(page)-1])
			}
			if !slices.Equal(idsOf(got), idsOf(want)) {
				t.Errorf("%s: walking by cursor gives %d releases, not the sorted %d (or another order)", name, len(got), len(want))
			}
			// From a cursor made for a release that is not there (deleted
			// keys fall between two stored ones).
			for j := range 20 {
				k := []int{0, len(want) - 1}[j%2] // both ends, then anywhere
				if j >= 2 {
					k = rng.IntN(len(want))
				}
				ghost := want[k].Clone()
				ghost.ID += "~" // just after want[k] in either order
				q := relman.Query{OrderBy: order, Desc: desc, Limit: 5}
				q.After = q.Cursor(ghost)
				page, err := s.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var exp []*relman.Release
				if desc {
					exp = want[k:min(k+5, len(want))] // want[k] sorts before the ghost when descending
				} else {
					exp = want[k+1 : min(k+6, len(want))]
				}
				if !slices.Equal(idsOf(page), idsOf(exp)) {
					t.Errorf("%s: after a cursor between %s and the next: %v, want %v", name, want[k].ID, idsOf(page), idsOf(exp))
				}
			}
			// By offset.
			for _, off := range []int{0, 1, 255, 256, 257, len(want) - 3, len(want)} {
				page, err := s.List(ctx, relman.Query{OrderBy: order, Desc: desc, Offset: off, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if exp := want[off:min(off+10, len(want))]; !slices.Equal(idsOf(page), idsOf(exp)) {
					t.Errorf("%s: offset %d: %v, want %v", name, off, idsOf(page), idsOf(exp))
				}
			}
		}
	}
}
