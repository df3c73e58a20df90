package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/relman-dev/relman"
)

// runSharer checks the relman.Sharer ability, if the store has it.
func runSharer(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	open := func(t *testing.T) (relman.Store, relman.Sharer) {
		s := newStore(t)
		sh, ok := s.(relman.Sharer)
		if !ok {
			t.Skip("the store is no relman.Sharer")
		}
		create(t, s, Full("rel-1"))
		return s, sh
	}
	// next returns a new version of cur as Fire makes one: a copy that
	// shares cur's lists, with a new stage, time and audit entry.
	next := func(cur *relman.Release, title string) (*relman.Release, relman.AuditEntry) {
		c := *cur
		c.Title = title
		c.UpdatedAt = cur.UpdatedAt.Add(1)
		e := c.Record(relman.AuditEntry{At: c.UpdatedAt, Actor: "u", Action: relman.ActionEdit})
		return &c, e
	}

	t.Run("Sharer/KeepsTheValue", func(t *testing.T) {
		s, sh := open(t)
		if _, err := sh.GetShared(ctx, "nope"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("GetShared(unknown) = %v, want ErrNotFound", err)
		}
		v1, err := sh.GetShared(ctx, "rel-1")
		if err != nil || v1.ID != "rel-1" {
			t.Fatalf("GetShared = %v, %v", v1, err)
		}
		r, e := next(v1, "second title")
		if err := sh.UpdateShared(ctx, r, e); err != nil {
			t.Fatalf("UpdateShared: %v", err)
		}
		if r.Revision != v1.Revision+1 {
			t.Errorf("UpdateShared left Revision %d, want %d", r.Revision, v1.Revision+1)
		}
		v2, err := sh.GetShared(ctx, "rel-1")
		if err != nil || v2.Title != "second title" || v2.Revision != r.Revision || v2.Head != r.Head {
			t.Errorf("GetShared after UpdateShared = %+v (%v), want the version given", v2, err)
		}
		if v1.Title != "Release rel-1" || v1.Revision != r.Revision-1 {
			t.Errorf("a value GetShared returned changed: %q at revision %d", v1.Title, v1.Revision)
		}
		got, err := s.Get(ctx, "rel-1")
		if err != nil || got == r || got.Title != "second title" || got.Revision != r.Revision {
			t.Errorf("Get after UpdateShared = %+v, %v: want a copy of the kept value", got, err)
		}
		if h, err := s.History(ctx, "rel-1"); err != nil || len(h) != 2 || relman.VerifyHistory(h, &got.Head) != nil {
			t.Errorf("history after UpdateShared: %d entries, %v", len(h), err)
		}
	})

	t.Run("Sharer/StaleOrBadKeepsNothing", func(t *testing.T) {
		_, sh := open(t)
		v1, _ := sh.GetShared(ctx, "rel-1")
		r, e := next(v1, "new")
		r.Revision--
		if err := sh.UpdateShared(ctx, r, e); !errors.Is(err, relman.ErrConflict) {
			t.Errorf("stale UpdateShared = %v, want ErrConflict", err)
		}
		bad, e := next(v1, "bad \xff title")
		if err := sh.UpdateShared(ctx, bad, e); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("UpdateShared with bad text = %v, want ErrInvalid", err)
		}
		// A changed list is checked too, though most of it is shared.
		bad, e = next(v1, "title")
		bad.Services = append(append([]string(nil), v1.Services...), "nul\x00")
		if err := sh.UpdateShared(ctx, bad, e); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("UpdateShared with a bad service = %v, want ErrInvalid", err)
		}
		if v, _ := sh.GetShared(ctx, "rel-1"); v.Revision != v1.Revision || v.Title != v1.Title {
			t.Errorf("a refused UpdateShared changed the stored release: %q at revision %d", v.Title, v.Revision)
		}
	})
}
