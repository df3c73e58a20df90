package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// dueRelease returns a release with one pending scheduled event at at.
func dueRelease(id string, at time.Time) *relman.Release {
	r := Minimal(id)
	r.Stage = relman.StagePlanned
	r.Scheduled = []relman.ScheduledEvent{{ID: "s2", Event: relman.EventStart, Timing: relman.TimingAt, At: at,
		Actor: relman.Actor{ID: "olga"}, State: relman.SchedulePending, ScheduledAt: base}}
	return r
}

// runDue checks the relman.DueStore ability, if the store has it.
func runDue(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	open := func(t *testing.T) (relman.Store, relman.DueStore) {
		s := newStore(t)
		ds, ok := s.(relman.DueStore)
		if !ok {
			t.Skip("the store is no relman.DueStore")
		}
		return s, ds
	}

	t.Run("Due/Index", func(t *testing.T) {
		s, ds := open(t)
		create(t, s, dueRelease("late", base.Add(3*time.Hour)))
		create(t, s, dueRelease("early", base.Add(time.Hour)))
		create(t, s, Minimal("idle"))
		ap := Minimal("expiring")
		ap.Approvals = []relman.Approval{{Approver: "carl", Decision: relman.DecisionApprove, At: base, ExpiresAt: base.Add(2 * time.Hour)}}
		create(t, s, ap)
		got, err := ds.DueBefore(ctx, base.Add(24*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"early", "expiring", "late"}; !slices.Equal(got, want) {
			t.Errorf("DueBefore = %v, want %v (earliest first, idle left out)", got, want)
		}
		if got, _ := ds.DueBefore(ctx, base.Add(time.Hour), 10); len(got) != 0 {
			t.Errorf("DueBefore(the first due time) = %v, want none (strictly before)", got)
		}
		if got, _ := ds.DueBefore(ctx, base.Add(24*time.Hour), 2); !slices.Equal(got, []string{"early", "expiring"}) {
			t.Errorf("DueBefore with n=2 = %v", got)
		}
		// An update that finishes the event takes the release out of the index.
		r, _ := s.Get(ctx, "early")
		r.Scheduled[0].State = relman.ScheduleFired
		if err := s.Update(ctx, r, r.Record(relman.AuditEntry{At: base, Actor: "x", Action: relman.ActionSchedule})); err != nil {
			t.Fatal(err)
		}
		// And one that moves it reorders it.
		r, _ = s.Get(ctx, "late")
		r.Scheduled[0].At = base.Add(30 * time.Minute)
		if err := s.Update(ctx, r, r.Record(relman.AuditEntry{At: base, Actor: "x", Action: relman.ActionSchedule})); err != nil {
			t.Fatal(err)
		}
		if got, _ := ds.DueBefore(ctx, base.Add(24*time.Hour), 10); !slices.Equal(got, []string{"late", "expiring"}) {
			t.Errorf("DueBefore after updates = %v, want [late expiring]", got)
		}
	})

	t.Run("Due/Leases", func(t *testing.T) {
		s, ds := open(t)
		for i := range 5 {
			create(t, s, dueRelease(fmt.Sprintf("rel-%d", i), base.Add(time.Duration(i)*time.Minute)))
		}
		create(t, s, dueRelease("future", base.Add(time.Hour)))
		now := base.Add(10 * time.Minute)
		a, err := ds.ClaimDue(ctx, "runner-a", now, now.Add(time.Minute), 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"rel-0", "rel-1", "rel-2"}; !slices.Equal(a, want) {
			t.Fatalf("A claimed %v, want %v", a, want)
		}
		b, err := ds.ClaimDue(ctx, "runner-b", now, now.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"rel-3", "rel-4"}; !slices.Equal(b, want) {
			t.Fatalf("B claimed %v, want %v (A's leases skipped, future not due)", b, want)
		}
		if err := ds.ReleaseDue(ctx, "runner-a", "rel-0"); err != nil {
			t.Fatal(err)
		}
		if err := ds.ReleaseDue(ctx, "runner-b", "rel-1"); err != nil { // not B's: ignored
			t.Fatal(err)
		}
		c, _ := ds.ClaimDue(ctx, "runner-c", now, now.Add(time.Minute), 10)
		if want := []string{"rel-0"}; !slices.Equal(c, want) {
			t.Errorf("C claimed %v after A released rel-0, want %v", c, want)
		}
		// Leases run out: a runner that died is taken over.
		later := now.Add(2 * time.Minute)
		d, _ := ds.ClaimDue(ctx, "runner-d", later, later.Add(time.Minute), 10)
		if want := []string{"rel-0", "rel-1", "rel-2", "rel-3", "rel-4"}; !slices.Equal(d, want) {
			t.Errorf("D claimed %v after every lease ran out, want %v", d, want)
		}
		// The holder may claim again (renew).
		d2, _ := ds.ClaimDue(ctx, "runner-d", later, later.Add(time.Minute), 10)
		if len(d2) != 5 {
			t.Errorf("D renewing its own leases claimed %v", d2)
		}
	})

	t.Run("Due/ConcurrentClaims", func(t *testing.T) {
		s, ds := open(t)
		const n = 60
		for i := range n {
			create(t, s, dueRelease(fmt.Sprintf("rel-%03d", i), base))
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		var errs []error
		for w := range 6 {
			wg.Go(func() {
				for i := 0; ; i++ {
					owner := fmt.Sprintf("w%d-%d", w, i) // a fresh owner each time: no renewals
					ids, err := ds.ClaimDue(ctx, owner, base.Add(time.Minute), base.Add(time.Hour), 4)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, id := range ids {
						if prev, dup := seen[id]; dup {
							errs = append(errs, fmt.Errorf("%s claimed by %s and %s", id, prev, owner))
						}
						seen[id] = owner
					}
					mu.Unlock()
					if len(ids) == 0 || err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Error(err)
		}
		if len(seen) != n {
			t.Errorf("%d releases claimed, want %d", len(seen), n)
		}
	})

	t.Run("Due/BadInput", func(t *testing.T) {
		_, ds := open(t)
		for _, c := range []struct {
			owner string
			n     int
		}{{"", 1}, {" ", 1}, {"a", 0}, {"a", -1}} {
			if _, err := ds.ClaimDue(ctx, c.owner, base, base.Add(time.Minute), c.n); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("ClaimDue(owner %q, n %d) = %v, want ErrInvalid", c.owner, c.n, err)
			}
		}
		if _, err := ds.DueBefore(ctx, base, 0); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("DueBefore(n 0) = %v, want ErrInvalid", err)
		}
	})
}

// runOutbox checks the relman.Outbox ability, if the store has it enabled.
func runOutbox(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	open := func(t *testing.T) (relman.Store, relman.Outbox) {
		s := newStore(t)
		ob, ok := s.(relman.Outbox)
		if !ok || !ob.OutboxEnabled() {
			t.Skip("the store has no relman.Outbox enabled")
		}
		return s, ob
	}
	keys := func(ns []relman.Notification) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.Key()
		}
		return out
	}
	update := func(t *testing.T, s relman.Store, id string, n int) []relman.AuditEntry {
		t.Helper()
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var es []relman.AuditEntry
		for i := range n {
			es = append(es, r.Record(relman.AuditEntry{At: base.Add(time.Duration(r.Head.Seq+int64(i)) * time.Second), Actor: "x", Action: relman.ActionEdit,
				Details: map[string]string{"i": fmt.Sprint(i)}}))
		}
		if err := s.Update(ctx, r, es...); err != nil {
			t.Fatal(err)
		}
		return es
	}

	t.Run("Outbox/WrittenWithTheChange", func(t *testing.T) {
		s, ob := open(t)
		r := create(t, s, Full("rel-1"))
		h0, _ := s.History(ctx, "rel-1")
		es := update(t, s, "rel-1", 2)
		// A stale update writes no notification.
		stale := r.Clone()
		stale.Revision = 1
		if err := s.Update(ctx, stale, stale.Record(relman.AuditEntry{At: base, Actor: "x", Action: relman.ActionEdit})); !errors.Is(err, relman.ErrConflict) {
			t.Fatalf("stale Update = %v", err)
		}
		got, err := ob.ListNotifications(ctx, false, 10)
		if err != nil {
			t.Fatal(err)
		}
		var want []relman.AuditEntry
		want = append(append(want, h0...), es...)
		var entries []relman.AuditEntry
		for _, n := range got {
			entries = append(entries, n.Entry)
			if n.Attempts != 0 || n.Dead || n.LastError != "" {
				t.Errorf("new notification %s: %+v", n.Key(), n)
			}
		}
		if diff := cmp.Diff(want, entries); diff != "" {
			t.Errorf("notifications differ from the history (-want +got):\n%s", diff)
		}
		if k := got[0].Key(); k != "rel-1/1" {
			t.Errorf("Key() = %q, want rel-1/1", k)
		}
	})

	t.Run("Outbox/InOrderPerRelease", func(t *testing.T) {
		s, ob := open(t)
		create(t, s, Minimal("a"))
		update(t, s, "a", 2)
		create(t, s, Minimal("b"))
		now := base.Add(time.Hour)
		got, err := ob.ClaimNotifications(ctx, "r1", now, now.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a/1", "b/1"}; !slices.Equal(keys(got), want) {
			t.Fatalf("first claim = %v, want %v (one per release, oldest first)", keys(got), want)
		}
		if got, _ := ob.ClaimNotifications(ctx, "r2", now, now.Add(time.Minute), 10); len(got) != 0 {
			t.Errorf("a second owner claimed %v while the heads are leased", keys(got))
		}
		for _, k := range []int64{1} {
			if err := ob.AckNotification(ctx, "a", k); err != nil {
				t.Fatal(err)
			}
		}
		if err := ob.AckNotification(ctx, "a", 1); err != nil {
			t.Errorf("a second Ack = %v, want nil", err)
		}
		got, _ = ob.ClaimNotifications(ctx, "r2", now, now.Add(time.Minute), 10)
		if want := []string{"a/2"}; !slices.Equal(keys(got), want) {
			t.Errorf("after acking a/1, r2 claimed %v, want %v", keys(got), want)
		}
		// r1's lease on b/1 runs out: r2 takes it over.
		later := now.Add(2 * time.Minute)
		got, _ = ob.ClaimNotifications(ctx, "r2", later, later.Add(time.Minute), 10)
		if want := []string{"b/1", "a/2"}; !slices.Equal(keys(got), want) { // by entry time: b/1 was written at base
			t.Errorf("after the leases ran out, r2 claimed %v, want %v", keys(got), want)
		}
	})

	t.Run("Outbox/RetryDeadReplay", func(t *testing.T) {
		s, ob := open(t)
		create(t, s, Minimal("a"))
		update(t, s, "a", 1)
		now := base.Add(time.Hour)
		if _, err := ob.ClaimNotifications(ctx, "r1", now, now.Add(time.Minute), 10); err != nil {
			t.Fatal(err)
		}
		if err := ob.FailNotification(ctx, "a", 1, now.Add(10*time.Second), "HTTP 500", false); err != nil {
			t.Fatal(err)
		}
		if got, _ := ob.ClaimNotifications(ctx, "r1", now, now.Add(time.Minute), 10); len(got) != 0 {
			t.Errorf("claimed %v before its back-off ran out (later ones must wait: in order)", keys(got))
		}
		got, _ := ob.ClaimNotifications(ctx, "r1", now.Add(10*time.Second), now.Add(time.Minute), 10)
		if len(got) != 1 || got[0].Key() != "a/1" || got[0].Attempts != 1 || got[0].LastError != "HTTP 500" {
			t.Fatalf("after the back-off got %+v", got)
		}
		if err := ob.FailNotification(ctx, "a", 1, now, "HTTP 500 again", true); err != nil {
			t.Fatal(err)
		}
		// Dead: out of the way of the next one.
		got, _ = ob.ClaimNotifications(ctx, "r1", now.Add(time.Hour), now.Add(2*time.Hour), 10)
		if want := []string{"a/2"}; !slices.Equal(keys(got), want) {
			t.Errorf("after a/1 died, claimed %v, want %v", keys(got), want)
		}
		dead, err := ob.ListNotifications(ctx, true, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].Key() != "a/1" || !dead[0].Dead || dead[0].Attempts != 2 || dead[0].LastError != "HTTP 500 again" {
			t.Errorf("dead letters = %+v", dead)
		}
		if pend, _ := ob.ListNotifications(ctx, false, 10); !slices.Equal(keys(pend), []string{"a/2"}) {
			t.Errorf("pending = %v, want [a/2]", keys(pend))
		}
		if err := ob.ReplayNotification(ctx, "a", 2, now); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("Replay of a live notification = %v, want ErrNotFound", err)
		}
		if err := ob.ReplayNotification(ctx, "a", 1, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := ob.AckNotification(ctx, "a", 2); err != nil {
			t.Fatal(err)
		}
		got, _ = ob.ClaimNotifications(ctx, "r3", now.Add(time.Hour), now.Add(2*time.Hour), 10)
		if len(got) != 1 || got[0].Key() != "a/1" || got[0].Attempts != 0 || got[0].Dead {
			t.Errorf("after replay claimed %+v, want a/1 afresh", got)
		}
		if err := ob.FailNotification(ctx, "zz", 9, now, "x", false); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("Fail of an unknown notification = %v, want ErrNotFound", err)
		}
	})

	t.Run("Outbox/BadInput", func(t *testing.T) {
		_, ob := open(t)
		if _, err := ob.ClaimNotifications(ctx, "", base, base, 1); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Claim with no owner = %v, want ErrInvalid", err)
		}
		if _, err := ob.ClaimNotifications(ctx, "a", base, base, 0); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Claim of 0 = %v, want ErrInvalid", err)
		}
		if _, err := ob.ListNotifications(ctx, false, 0); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("List of 0 = %v, want ErrInvalid", err)
		}
	})
}
