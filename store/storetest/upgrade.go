package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// Upgrade checks that upgrading a database keeps every release and its
// history. old is a handle on an empty database at an older schema
// version: Upgrade fills it with releases r1 and r2 (Full) and r3
// (Minimal), all proposed, approves r1, and notes the releases and their
// histories. upgrade then moves the database to the current version (it
// may close old and check the schema before and after) and returns a
// handle on it. On that handle the releases and their histories must be
// as before, every chain must verify, and the store must work as a new
// one: it takes window "sunday" (it must be a relman.WindowStore) and
// the approval of r2. If it is a relman.DueStore, the upgraded releases
// due are those old had due (none if its schema had no due index), and a
// release "due" with a scheduled event that it takes afterwards is; if its outbox is enabled, the approval of r2 left
// notifications.
func Upgrade(t *testing.T, old relman.Store, upgrade func(t *testing.T) relman.Store) {
	ctx := context.Background()
	m, err := relman.NewManager(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*relman.Release{Full("r1"), Full("r2"), Minimal("r3")} {
		r.Stage = relman.StageProposed
		Put(t, old, r)
	}
	if _, err := m.Fire(ctx, "r1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		t.Fatal(err)
	}
	want, err := old.List(ctx, relman.Query{OrderBy: relman.OrderID})
	if err != nil {
		t.Fatal(err)
	}
	wantDue := []string{}
	if ds, ok := old.(relman.DueStore); ok {
		if ids, err := ds.DueBefore(ctx, base.Add(100*365*24*time.Hour), 10); err == nil {
			wantDue = ids
		}
	}
	history := map[string][]relman.AuditEntry{}
	for _, r := range want {
		if history[r.ID], err = old.History(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}

	s := upgrade(t)
	got, err := s.List(ctx, relman.Query{OrderBy: relman.OrderID})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("releases changed by the upgrade (-before +after):\n%s", d)
	}
	for _, r := range want {
		h, err := s.History(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(history[r.ID], h); d != "" {
			t.Errorf("history of %s changed by the upgrade (-before +after):\n%s", r.ID, d)
		}
		if err := relman.VerifyHistory(h, &r.Head); err != nil {
			t.Errorf("history of %s no longer verifies: %v", r.ID, err)
		}
	}
	if ds, ok := s.(relman.DueStore); ok {
		if ids, err := ds.DueBefore(ctx, base.Add(100*365*24*time.Hour), 10); err != nil || !slices.Equal(ids, wantDue) {
			t.Errorf("DueBefore right after the upgrade = %v, %v; want %v, as before", ids, err, wantDue)
		}
	}
	// The upgraded database works as a new one: windows, and transitions.
	ws, ok := s.(relman.WindowStore)
	if !ok {
		t.Fatalf("%T is not a relman.WindowStore", s)
	}
	if err := ws.PutWindow(ctx, Window("sunday")); err != nil {
		t.Fatalf("PutWindow after upgrade: %v", err)
	}
	m, _ = relman.NewManager(s)
	if _, err := m.Fire(ctx, "r2", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		t.Errorf("Fire after upgrade: %v", err)
	}
	if ds, ok := s.(relman.DueStore); ok {
		Put(t, s, dueRelease("due", base.Add(-time.Hour)))
		if ids, err := ds.DueBefore(ctx, base, 10); err != nil || len(ids) != 1 || ids[0] != "due" {
			t.Errorf("DueBefore after upgrade = %v, %v; want [due]", ids, err)
		}
	}
	if ob, ok := s.(relman.Outbox); ok && ob.OutboxEnabled() {
		if ns, err := ob.ListNotifications(ctx, false, 100); err != nil || len(ns) == 0 {
			t.Errorf("ListNotifications after upgrade = %d, %v; want those of the approval of r2", len(ns), err)
		}
	}
}
