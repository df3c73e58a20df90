package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// ConcurrentNotificationClaims checks relman.Outbox claims under
// contention: workers on every handle (handles on one database, as
// several processes would have; each must have its outbox enabled)
// claim, each time under a new owner, and acknowledge, until every
// notification is delivered. No notification may be claimed twice while
// its lease runs, and each release's notifications must go out in order:
// one is claimed only after the one before it was acknowledged. Run
// checks it with one handle (subtest "Outbox/ConcurrentClaims"); call
// ConcurrentNotificationClaims with several handles on one database.
func ConcurrentNotificationClaims(t *testing.T, handles ...relman.Store) {
	ctx := context.Background()
	const releases, perRelease = 12, 4
	for i := range releases {
		r := create(t, handles[0], Minimal(fmt.Sprintf("rel-%02d", i)))
		var es []relman.AuditEntry
		for j := range perRelease - 1 {
			es = append(es, r.Record(relman.AuditEntry{At: base.Add(time.Duration(j) * time.Second), Actor: "x", Action: relman.ActionEdit}))
		}
		if err := handles[0].Update(ctx, r, es...); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		acked = map[string]int64{} // release id → the last seq acknowledged (or about to be)
		done  int
		errs  []error
		wg    sync.WaitGroup
	)
	now := base.Add(time.Hour)
	deadline := time.Now().Add(30 * time.Second)
	for w := range 3 * len(handles) {
		ob, ok := handles[w%len(handles)].(relman.Outbox)
		if !ok || !ob.OutboxEnabled() {
			t.Fatalf("handle %d has no outbox enabled", w%len(handles))
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				finished := done == releases*perRelease || len(errs) > 0
				mu.Unlock()
				if finished {
					return
				}
				if time.Now().After(deadline) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("worker %d: %d of %d delivered after 30 s", w, done, releases*perRelease))
					mu.Unlock()
					return
				}
				ns, err := ob.ClaimNotifications(ctx, fmt.Sprintf("w%d-%d", w, i), now, now.Add(time.Hour), 3)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(ns) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				for _, n := range ns {
					id, seq := n.Entry.ReleaseID, n.Entry.Seq
					mu.Lock()
					if last := acked[id]; seq != last+1 {
						errs = append(errs, fmt.Errorf("worker %d claimed %s after %s/%d was acknowledged: out of order or twice", w, n.Key(), id, last))
					}
					acked[id] = seq
					done++
					mu.Unlock()
					if err := ob.AckNotification(ctx, id, seq); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	ob := handles[0].(relman.Outbox)
	if left, err := ob.ListNotifications(ctx, false, 10); err != nil || len(left) != 0 {
		t.Errorf("after delivering all, %d pending (%v)", len(left), err)
	}
}
