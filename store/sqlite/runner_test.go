package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// TestOutboxOff: with Options.Outbox unset, no notification row is
// written (storetest.Run checks the Outbox methods, subtest Outbox/Off).
func TestOutboxOff(t *testing.T) {
	s := openTemp(t)
	create(t, s, "r1")
	if n := rawInt(t, s.Path(), "SELECT count(*) FROM outbox"); n != 0 {
		t.Errorf("%d notifications written with the outbox off", n)
	}
}

// TestDueSetOnEveryUpdatePath: the due time follows the release on both
// of Update's paths (a transition, and a change of kind, creation time or
// tags), and is NULL when nothing is due.
func TestDueSetOnEveryUpdatePath(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	r := storetest.Minimal("r1")
	storetest.Put(t, s, r)
	due := func() sql.NullString {
		t.Helper()
		db, err := sql.Open("sqlite", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v sql.NullString
		if err := db.QueryRow("SELECT due_at FROM releases WHERE id = 'r1'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := due(); v.Valid {
		t.Fatalf("due_at of a release with nothing due = %q, want NULL", v.String)
	}
	at := r.CreatedAt.Add(time.Hour)
	update := func(change func(r *relman.Release)) {
		t.Helper()
		r, err := s.Get(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		change(r)
		if err := s.Update(ctx, r, r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "x", Action: relman.ActionEdit})); err != nil {
			t.Fatal(err)
		}
	}
	update(func(r *relman.Release) { // the fast path
		r.Scheduled = []relman.ScheduledEvent{{ID: "s1", Event: relman.EventApprove, Timing: relman.TimingAt, At: at,
			Actor: relman.Actor{ID: "t"}, State: relman.SchedulePending, ScheduledAt: r.CreatedAt}}
	})
	if v := due(); v.String != at.UTC().Format("2006-01-02T15:04:05.000000000Z") {
		t.Errorf("due_at after scheduling = %q, want %s", v.String, at.UTC())
	}
	update(func(r *relman.Release) { // tags change: the full update
		r.Services = append(r.Services, "new-service")
		r.Scheduled[0].At = at.Add(time.Hour)
	})
	if v := due(); v.String != at.Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z") {
		t.Errorf("due_at after moving it with a tag change = %q, want %s", v.String, at.Add(time.Hour).UTC())
	}
	update(func(r *relman.Release) { r.Scheduled[0].State = relman.ScheduleCancelled })
	if v := due(); v.Valid {
		t.Errorf("due_at after cancelling = %q, want NULL", v.String)
	}
}

// TestRunnerQueryPlans: the claims read the indexes in order instead of
// scanning and sorting the tables.
func TestRunnerQueryPlans(t *testing.T) {
	s := openTemp(t)
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := "2026-01-01T00:00:00.000000000Z"
	for _, c := range []struct {
		name, query, index string
		args               []any
	}{
		{"ClaimDue", sqlite.ClaimDueSQL, "releases_due", []any{now, "a", 10}},
		{"DueBefore", sqlite.DueBeforeSQL, "releases_due", []any{now, 10}},
		{"ClaimNotifications", sqlite.ClaimNotesSQL, "outbox_pending", []any{now, "a", 10}},
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p+" ", "INDEX "+c.index+" ") && !strings.Contains(p, "INDEX "+c.index+";") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q does not read %s in order", c.name, p, c.index)
		}
	}
}

// TestClaimsAcrossStores: two stores on one file (as two processes) never
// hold the same release or notification at once.
func TestClaimsAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relman.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(path, sqlite.Options{Outbox: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"r1", "r2", "r3"} {
		r := storetest.Minimal(id)
		r.Scheduled = []relman.ScheduledEvent{{ID: "s1", Event: relman.EventApprove, Timing: relman.TimingAt, At: base,
			Actor: relman.Actor{ID: "t"}, State: relman.SchedulePending, ScheduledAt: base}}
		storetest.Put(t, a, r)
	}
	now := base.Add(time.Minute)
	got := map[string]bool{}
	for i, s := range []*sqlite.Store{a, b, a} {
		ids, err := s.ClaimDue(ctx, []string{"a", "b", "c"}[i], now, now.Add(time.Minute), 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if got[id] {
				t.Errorf("%s claimed twice", id)
			}
			got[id] = true
		}
	}
	if len(got) != 3 {
		t.Errorf("claimed %v, want all three", got)
	}
	na, err := a.ClaimNotifications(ctx, "a", now, now.Add(time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := b.ClaimNotifications(ctx, "b", now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(na) != 2 || len(nb) != 1 || nb[0].Key() == na[0].Key() || nb[0].Key() == na[1].Key() {
		t.Errorf("a claimed %v, b claimed %v; want two and the third", na, nb)
	}
}

// TestConcurrentNotificationClaims: two stores on one file, as two
// processes, deliver every notification once and in order per release.
func TestConcurrentNotificationClaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relman.db")
	var hs []relman.Store
	for range 2 {
		s, err := sqlite.Open(path, sqlite.Options{Outbox: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hs = append(hs, s)
	}
	storetest.ConcurrentNotificationClaims(t, hs...)
}
