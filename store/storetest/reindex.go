package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// updateReindexes checks that List on s, an empty store, sees the
// services, teams, kind and times an Update changes, and not those a
// refused Update carried: for stores that index releases apart from
// their documents.
func updateReindexes(t *testing.T, s relman.Store) {
	ctx := context.Background()
	r := Full("r1")
	e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "c", Action: relman.ActionCreate, To: r.Stage})
	if err := s.Create(ctx, r, e); err != nil {
		t.Fatal(err)
	}
	other := Minimal("r2")
	other.CreatedAt = r.CreatedAt.Add(time.Hour)
	other.UpdatedAt = other.CreatedAt
	if err := s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	list := func(q relman.Query) []string {
		t.Helper()
		got, err := s.List(ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		return ids
	}
	update := func(r *relman.Release) error {
		e := r.Clone().Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "u", Action: relman.ActionEdit})
		r.Head = relman.AuditHead{Seq: e.Seq, Hash: e.Hash}
		return s.Update(ctx, r, e)
	}
	stale := r.Clone()

	r.Services = []string{"search"}
	r.Teams = []string{"dba"}
	r.Tasks = []relman.Task{{Name: "t", Team: "qa"}}
	r.Kind = relman.KindPatch
	r.CreatedAt = r.CreatedAt.Add(2 * time.Hour) // now after r2
	r.UpdatedAt = r.UpdatedAt.Add(time.Hour)
	if err := update(r); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		q    relman.Query
		want []string
	}{
		{relman.Query{Service: "billing"}, nil},
		{relman.Query{Service: "search"}, []string{"r1"}},
		{relman.Query{Team: "web"}, nil},
		{relman.Query{Team: "dba"}, []string{"r1"}},
		{relman.Query{Team: "qa"}, []string{"r1"}},
		{relman.Query{Kind: relman.KindPatch}, []string{"r1"}},
		{relman.Query{Kind: relman.KindMinor}, []string{"r2"}},
		{relman.Query{}, []string{"r2", "r1"}},
	}
	for _, c := range checks {
		if got := list(c.q); !slices.Equal(got, c.want) {
			t.Errorf("after update: List(%+v) = %v, want %v", c.q, got, c.want)
		}
	}
	// A stale update carrying other tags changes nothing.
	stale.Services = []string{"ghost"}
	if err := update(stale); !errors.Is(err, relman.ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	if got := list(relman.Query{Service: "ghost"}); got != nil {
		t.Errorf("stale update indexed its service: %v", got)
	}
	// An update that keeps the tags keeps them indexed.
	r.Title = "renamed"
	if err := update(r); err != nil {
		t.Fatal(err)
	}
	if got := list(relman.Query{Service: "search", Team: "qa"}); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("after a title change: %v", got)
	}
}
