package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// instance is one host program: its own pool, store and manager on the
// shared schema.
type instance struct {
	app   string // application_name of its connections
	store *postgres.Store
	m     *relman.Manager
}

func newInstance(t *testing.T, schema string, opts postgres.Options) *instance {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	app := fmt.Sprintf("relman-test-%d", time.Now().UnixNano())
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts.Schema = schema
	s, err := postgres.New(context.Background(), pool, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	if err != nil {
		t.Fatal(err)
	}
	return &instance{app: app, store: s, m: m}
}

func next(t *testing.T, sub *postgres.Subscription) postgres.Change {
	t.Helper()
	select {
	case c, ok := <-sub.Changes():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change delivered within 10 s")
	}
	panic("unreachable")
}

func quiet(t *testing.T, sub *postgres.Subscription) {
	t.Helper()
	select {
	case c := <-sub.Changes():
		t.Errorf("unexpected change %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestSubscribeAcrossInstances: a transition made in instance A reaches a
// subscriber in instance B with its audit entry, and B's hook-like reader
// sees exactly A's history.
func TestSubscribeAcrossInstances(t *testing.T) {
	admin := testPool(t)
	schema := freshSchema(t, admin)
	a, b := newInstance(t, schema, postgres.Options{}), newInstance(t, schema, postgres.Options{})
	ctx := context.Background()
	sub, err := b.store.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Close()

	// B's "after hook": every transition made anywhere.
	seen := make(chan relman.AuditEntry, 16)
	go func() {
		for c := range sub.Changes() {
			for _, e := range c.Entries {
				seen <- e
			}
		}
		close(seen)
	}()

	if _, err := a.m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r, err := storetest.FireNext(ctx, a.m, "r1", "alice"); err != nil || r == nil {
			t.Fatalf("fire in A: %v", err)
		}
	}
	if r, err := storetest.FireNext(ctx, b.m, "r1", "bob"); err != nil || r == nil { // B's own change too
		t.Fatalf("fire in B: %v", err)
	}
	want, err := a.store.History(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var got []relman.AuditEntry
	for len(got) < len(want) {
		select {
		case e := <-seen:
			got = append(got, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("B saw %d of %d entries", len(got), len(want))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries seen by B differ from the history (-want +got):\n%s", diff)
	}
	if got[1].Action != relman.ActionTransition || got[1].Event != "go" || got[1].From != "a" || got[1].To != "b" || got[1].Actor != "alice" {
		t.Errorf("first transition seen as %+v", got[1])
	}
	if err := relman.VerifyHistory(got, nil); err != nil {
		t.Errorf("entries seen by B do not verify: %v", err)
	}
	sub.Close()
	if _, ok := <-seen; ok {
		t.Errorf("reader still running after Close")
	}
	if sub.Err() != nil {
		t.Errorf("Err after Close = %v", sub.Err())
	}
}

func TestSubscribeChangeFields(t *testing.T) {
	admin := testPool(t)
	schema := freshSchema(t, admin)
	a := newInstance(t, schema, postgres.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := a.store.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	c := next(t, sub)
	if c.ReleaseID != "r1" || c.Revision != 1 || c.Stage != "a" || len(c.Entries) != 1 || c.Entries[0].Action != relman.ActionCreate || c.Resync {
		t.Errorf("create change = %+v", c)
	}
	if _, err := storetest.FireNext(ctx, a.m, "r1", "alice"); err != nil {
		t.Fatal(err)
	}
	c = next(t, sub)
	if c.Revision != 2 || c.Stage != "b" || len(c.Entries) != 1 || c.Entries[0].Seq != 2 {
		t.Errorf("transition change = %+v", c)
	}
	// A stale update is not announced.
	r, _ := a.store.Get(ctx, "r1")
	r.Revision = 1
	if err := a.store.Update(ctx, r); err == nil {
		t.Fatal("stale update succeeded")
	}
	quiet(t, sub)
	// Cancelling the context ends the subscription.
	cancel()
	select {
	case _, ok := <-sub.Changes():
		if ok {
			t.Errorf("change after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end with its context")
	}
	sub.Close() // no-op, no hang
}

func TestSubscribeNoNotify(t *testing.T) {
	admin := testPool(t)
	schema := freshSchema(t, admin)
	a, silent := newInstance(t, schema, postgres.Options{}), newInstance(t, schema, postgres.Options{NoNotify: true})
	ctx := context.Background()
	sub, err := a.store.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := silent.m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	quiet(t, sub)
}

// TestSubscribeResync: when the listening connection is lost, the
// subscription reconnects, says Resync, and goes on delivering.
func TestSubscribeResync(t *testing.T) {
	admin := testPool(t)
	schema := freshSchema(t, admin)
	a, b := newInstance(t, schema, postgres.Options{}), newInstance(t, schema, postgres.Options{})
	ctx := context.Background()
	sub, err := b.store.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := a.m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); c.ReleaseID != "r1" {
		t.Fatalf("first change = %+v", c)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", b.app); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); !c.Resync || c.ReleaseID != "" {
		t.Fatalf("after connection loss: change = %+v, want Resync", c)
	}
	if _, err := storetest.FireNext(ctx, a.m, "r1", "alice"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); c.ReleaseID != "r1" || c.Revision != 2 {
		t.Errorf("after reconnect: change = %+v", c)
	}
}
