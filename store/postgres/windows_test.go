package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// TestWindowsRoundTripExact checks that a window comes back from the
// database as store/memory gives it back: the same fields and the same
// instants, each time in the window's own zone, also through another
// instance.
func TestWindowsRoundTripExact(t *testing.T) {
	s := newStore(t, testPool(t), postgres.Options{})
	cases := storetest.WindowCases(t)
	// jsonb keeps strings as they are, whatever their escapes.
	text := storetest.Window("text")
	text.Name = `quotes " and \ backslash, \u0000 spelled out, tab ` + "\t, line\nbreak, ✓ 🚀 \u2028"
	text.Reason = "<script>&amp;</script> " + strings.Repeat("é", 1000)
	text.Services = []string{"a,b", "c;d", "ünï", `{"x": 1}`}
	cases["text"] = text
	storetest.WindowsRoundTripExact(t, s, cases, func(t *testing.T) relman.WindowStore {
		other, err := postgres.New(context.Background(), testPool(t), postgres.Options{Schema: s.Schema()})
		if err != nil {
			t.Fatal(err)
		}
		return other
	})
}

// TestPutWindowInvalid checks that bad windows are relman.ErrInvalid and
// that nothing is written: a window already stored under the id stays.
// PostgreSQL text cannot hold a NUL byte, so those are invalid too.
func TestPutWindowInvalid(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, testPool(t), postgres.Options{})
	nul := func(f func(w *relman.Window)) relman.Window {
		w := storetest.Window("w")
		f(&w)
		return w
	}
	storetest.PutWindowInvalid(t, s, map[string]relman.Window{
		"NUL in name":   nul(func(w *relman.Window) { w.Name = "a\x00b" }),
		"NUL in reason": nul(func(w *relman.Window) { w.Reason = "a\x00b" }),
	})
	// No stored id holds a NUL byte.
	if _, err := s.GetWindow(ctx, "w\x00"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("GetWindow(NUL id): err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteWindow(ctx, "w\x00"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("DeleteWindow(NUL id): err = %v, want ErrNotFound", err)
	}
}

// TestWindowsNewerFields: a window document with a field this version does
// not know was written by a newer relman, and is refused, not truncated.
func TestWindowsNewerFields(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	table := pgx.Identifier{s.Schema(), "relman_windows"}.Sanitize()
	exec := func(t *testing.T, set string) {
		if _, err := pool.Exec(ctx, "UPDATE "+table+" SET doc = "+set); err != nil {
			t.Fatal(err)
		}
	}
	storetest.WindowsNewerFields(t, s, storetest.WindowDocs{
		AddField:       func(t *testing.T) { exec(t, `doc || '{"from_the_future": 1}'`) },
		Damage:         func(t *testing.T) { exec(t, `'{"id": "w", "start": 12}'`) },
		ErrNewerSchema: postgres.ErrNewerSchema,
	})
}

// TestWindowsNoNotifications: writing windows sends no change
// notification; subscribers hear of releases only.
func TestWindowsNoNotifications(t *testing.T) {
	admin := testPool(t)
	a := newInstance(t, freshSchema(t, admin), postgres.Options{})
	ctx := context.Background()
	sub, err := a.store.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := a.store.PutWindow(ctx, storetest.Window("w")); err != nil {
		t.Fatal(err)
	}
	if err := a.store.DeleteWindow(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	quiet(t, sub)
	if _, err := a.m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); c.ReleaseID != "r1" {
		t.Errorf("first change %+v, want r1's creation", c)
	}
}

// TestWindowsSerializable writes one window from many connections at
// once, at the serializable isolation level: PostgreSQL would roll back
// concurrent writes of one row there, so the store must not surface that
// as an error of a create-or-replace.
func TestWindowsSerializable(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := newStore(t, pool, postgres.Options{Schema: freshSchema(t, testPool(t))})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				w := storetest.Window("same")
				w.Name = strings.Repeat("x", g+1) + strings.Repeat("y", i)
				if err := s.PutWindow(ctx, w); err != nil {
					t.Errorf("PutWindow: %v", err)
					return
				}
				if i%10 == 9 {
					if err := s.DeleteWindow(ctx, "same"); err != nil && !errors.Is(err, relman.ErrNotFound) {
						t.Errorf("DeleteWindow: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
