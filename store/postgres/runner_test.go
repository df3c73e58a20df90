package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// TestErrUnavailableIsTheRoots: code that knows only the root package
// can tell a lost database.
func TestErrUnavailableIsTheRoots(t *testing.T) {
	if postgres.ErrUnavailable != relman.ErrUnavailable {
		t.Fatal("postgres.ErrUnavailable is not relman.ErrUnavailable")
	}
	err := &postgres.ConnectError{Target: "x", Err: errors.New("refused")}
	if !errors.Is(err, relman.ErrUnavailable) {
		t.Errorf("a *ConnectError does not match relman.ErrUnavailable")
	}
}

// TestOutboxOff: with Options.Outbox unset, no notification row is
// written (storetest.Run checks the Outbox methods, subtest Outbox/Off).
func TestOutboxOff(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	storetest.Put(t, s, storetest.Minimal("r1"))
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.Schema(), "relman_outbox"}.Sanitize()).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d notifications written with the outbox off (%v)", n, err)
	}
}

// TestFailNotificationBadText: an error text PostgreSQL cannot store is
// kept as far as it can be.
func TestFailNotificationBadText(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, testPool(t), postgres.Options{Outbox: true})
	storetest.Put(t, s, storetest.Minimal("r1"))
	if err := s.FailNotification(ctx, "r1", 1, time.Now(), "bad\x00byte \xff", true); err != nil {
		t.Fatal(err)
	}
	dead, err := s.ListNotifications(ctx, true, 1)
	if err != nil || len(dead) != 1 || dead[0].LastError != "badbyte \uFFFD" {
		t.Errorf("dead = %+v, %v", dead, err)
	}
	if err := s.FailNotification(ctx, "x\x00y", 1, time.Now(), "", false); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("Fail of an id with a NUL byte = %v, want ErrNotFound", err)
	}
}

// TestRunnerQueryPlans: the claims can read the indexes in order, without
// a sort.
func TestRunnerQueryPlans(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{Outbox: true})
	claimDue, dueBefore, claimNotes := s.RunnerSQL()
	now := time.Now()
	for _, c := range []struct {
		name, query, index string
		args               []any
	}{
		{"ClaimDue", claimDue, "relman_releases_due", []any{"a", now, now, 10}},
		{"DueBefore", dueBefore, "relman_releases_due", []any{now, 10}},
		{"ClaimNotifications", claimNotes, "relman_outbox_pending", []any{"a", now, now, 10}},
	} {
		var plan []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			// Tables this small are cheaper to scan: ask whether the
			// index can serve the query at all.
			if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off"); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN "+c.query, c.args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// A Sort at the top, of the at most n rows claimed, is fine.
		if len(plan) > 1 && strings.HasPrefix(plan[0], "Sort") && strings.Contains(plan[1], "Sort Key") {
			plan = plan[2:]
		}
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, c.index) || strings.Contains(p, "Sort") {
			t.Errorf("%s does not read %s in order:\n%s", c.name, c.index, p)
		}
	}
}

// TestConcurrentNotificationClaims: two stores on one schema, each with
// its own pool, as two instances, deliver every notification once and in
// order per release.
func TestConcurrentNotificationClaims(t *testing.T) {
	admin := testPool(t)
	schema := freshSchema(t, admin)
	var hs []relman.Store
	for range 2 {
		hs = append(hs, newStore(t, testPool(t), postgres.Options{Schema: schema, Outbox: true}))
	}
	storetest.ConcurrentNotificationClaims(t, hs...)
}
