package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

func loadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// windowCases are windows whose round trip is easy to get wrong.
func windowCases(t *testing.T) map[string]relman.Window {
	paris := loadLocation(t, "Europe/Paris")
	ny := loadLocation(t, "America/New_York")

	nanos := storetest.Window("nanos")
	nanos.Start = time.Date(2026, 3, 22, 21, 0, 0, 123456789, time.UTC) // another location than the zone's
	nanos.End = time.Date(2026, 3, 22, 21, 0, 0, 0, ny)
	nanos.ExDates = []time.Time{time.Date(2026, 4, 5, 22, 0, 0, 1, time.FixedZone("", 7200)), time.Date(2026, 4, 12, 20, 0, 0, 0, time.UTC)}

	// Paris kept local mean time, UTC+0:09:21, until 1891: an offset RFC
	// 3339 cannot write.
	lmt := storetest.Window("lmt")
	lmt.Start = time.Date(1890, 6, 1, 22, 0, 0, 0, paris)
	lmt.End = time.Date(1890, 6, 2, 2, 0, 0, 0, paris)
	lmt.ExDates = []time.Time{time.Date(1890, 6, 15, 22, 0, 0, 0, paris)}

	oneOff := relman.Window{ID: "one-off", Name: "Year-end freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)}

	// jsonb keeps strings as they are, whatever their escapes.
	text := storetest.Window("text")
	text.Name = `quotes " and \ backslash, \u0000 spelled out, tab ` + "\t, line\nbreak, ✓ 🚀 \u2028"
	text.Reason = "<script>&amp;</script> " + strings.Repeat("é", 1000)
	text.Services = []string{"a,b", "c;d", "ünï", `{"x": 1}`}

	return map[string]relman.Window{"every field": storetest.Window("full"), "nanoseconds and other locations": nanos,
		"local mean time": lmt, "one-off": oneOff, "text": text}
}

// TestWindowsRoundTripExact checks that a window comes back from the
// database as store/memory gives it back: the same fields and the same
// instants, each time in the window's own zone, also through another
// instance.
func TestWindowsRoundTripExact(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	mem := memory.New()
	cases := windowCases(t)
	for _, w := range cases {
		if err := mem.PutWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
		if err := s.PutWindow(ctx, w); err != nil {
			t.Fatalf("PutWindow %s: %v", w.ID, err)
		}
	}
	other, err := postgres.New(ctx, testPool(t), postgres.Options{Schema: s.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*postgres.Store{s, other} {
		for name, w := range cases {
			t.Run(name, func(t *testing.T) {
				want, err := mem.GetWindow(ctx, w.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.GetWindow(ctx, w.ID)
				if err != nil {
					t.Fatalf("GetWindow: %v", err)
				}
				// cmp compares times with their Equal method: instants.
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("GetWindow differs from memory (-memory +postgres):\n%s", d)
				}
				times := append([]time.Time{got.Start, got.End}, got.ExDates...)
				for i, tm := range times {
					if tm.Location().String() != w.TimeZone {
						t.Errorf("time %d (%v) in %v, want %s", i, tm, tm.Location(), w.TimeZone)
					}
				}
				a, err := relman.NewCalendar(want)
				if err != nil {
					t.Fatal(err)
				}
				b, err := relman.NewCalendar(got)
				if err != nil {
					t.Fatal(err)
				}
				span := relman.Span{Start: w.Start.AddDate(0, -1, 0), End: w.Start.AddDate(1, 0, 0)}
				if d := cmp.Diff(a.Occurrences(span, nil), b.Occurrences(span, nil)); d != "" {
					t.Errorf("occurrences differ (-memory +postgres):\n%s", d)
				}
			})
		}
	}
	list, err := other.ListWindows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mem.ListWindows(ctx)
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("ListWindows differs from memory (-memory +postgres):\n%s", d)
	}
}

// TestPutWindowInvalid checks that bad windows are relman.ErrInvalid and
// that nothing is written: a window already stored under the id stays.
func TestPutWindowInvalid(t *testing.T) {
	ctx := context.Background()
	edit := func(f func(w *relman.Window)) relman.Window {
		w := storetest.Window("w")
		f(&w)
		return w
	}
	cases := map[string]relman.Window{
		"zero window":       {},
		"empty id":          edit(func(w *relman.Window) { w.ID = "" }),
		"bad id":            edit(func(w *relman.Window) { w.ID = "w/../x" }),
		"no name":           edit(func(w *relman.Window) { w.Name = "" }),
		"unknown kind":      edit(func(w *relman.Window) { w.Kind = "holiday" }),
		"unknown zone":      edit(func(w *relman.Window) { w.TimeZone = "Mars/Olympus_Mons" }),
		"Local zone":        edit(func(w *relman.Window) { w.TimeZone = "Local" }),
		"end before start":  edit(func(w *relman.Window) { w.End = w.Start.Add(-time.Hour) }),
		"bad rule":          edit(func(w *relman.Window) { w.RRule = "FREQ=SOMETIMES" }),
		"empty service":     edit(func(w *relman.Window) { w.Services = []string{"billing", ""} }),
		"name not UTF-8":    edit(func(w *relman.Window) { w.Name = "caf\xe9" }),
		"service not UTF-8": edit(func(w *relman.Window) { w.Services = []string{"\xff"} }),
		"NUL in name":       edit(func(w *relman.Window) { w.Name = "a\x00b" }),
		"NUL in reason":     edit(func(w *relman.Window) { w.Reason = "a\x00b" }),
		"year 10000":        edit(func(w *relman.Window) { w.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"exdate year -1":    edit(func(w *relman.Window) { w.ExDates = []time.Time{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} }),
	}
	s := newStore(t, testPool(t), postgres.Options{})
	orig := storetest.Window("w")
	if err := s.PutWindow(ctx, orig); err != nil {
		t.Fatal(err)
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.PutWindow(ctx, w)
			if !errors.Is(err, relman.ErrInvalid) {
				t.Fatalf("PutWindow: err = %v, want ErrInvalid", err)
			}
			list, err := s.ListWindows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]relman.Window{orig}, list); d != "" {
				t.Errorf("refused PutWindow changed the store (-want +got):\n%s", d)
			}
		})
	}
	// No stored id holds a NUL byte.
	if _, err := s.GetWindow(ctx, "w\x00"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("GetWindow(NUL id): err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteWindow(ctx, "w\x00"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("DeleteWindow(NUL id): err = %v, want ErrNotFound", err)
	}
}

func TestWindowsCanceled(t *testing.T) {
	s := newStore(t, testPool(t), postgres.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutWindow(ctx, storetest.Window("w")); !errors.Is(err, context.Canceled) {
		t.Errorf("PutWindow: err = %v, want context.Canceled", err)
	}
	if _, err := s.GetWindow(ctx, "w"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetWindow: err = %v, want context.Canceled", err)
	}
	if err := s.DeleteWindow(ctx, "w"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteWindow: err = %v, want context.Canceled", err)
	}
	if _, err := s.ListWindows(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListWindows: err = %v, want context.Canceled", err)
	}
	if _, err := s.GetWindow(context.Background(), "w"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("PutWindow with a canceled context wrote: %v", err)
	}
}

// TestWindowsNewerFields: a window document with a field this version does
// not know was written by a newer relman, and is refused, not truncated.
func TestWindowsNewerFields(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	if err := s.PutWindow(ctx, storetest.Window("w")); err != nil {
		t.Fatal(err)
	}
	table := pgx.Identifier{s.Schema(), "relman_windows"}.Sanitize()
	if _, err := pool.Exec(ctx, "UPDATE "+table+` SET doc = doc || '{"from_the_future": 1}'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWindow(ctx, "w"); !errors.Is(err, postgres.ErrNewerSchema) {
		t.Errorf("GetWindow: err = %v, want ErrNewerSchema", err)
	}
	if _, err := s.ListWindows(ctx); !errors.Is(err, postgres.ErrNewerSchema) {
		t.Errorf("ListWindows: err = %v, want ErrNewerSchema", err)
	}
	if _, err := pool.Exec(ctx, "UPDATE "+table+` SET doc = '{"id": "w", "start": 12}'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWindow(ctx, "w"); err == nil || errors.Is(err, relman.ErrNotFound) {
		t.Errorf("GetWindow of a damaged document: err = %v", err)
	}
}

// TestWindowsOrderBytewise: ids sort by bytes, as release ids do (upper
// case before lower case, '-' before digits), whatever the database's
// collation.
func TestWindowsOrderBytewise(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, testPool(t), postgres.Options{})
	for _, id := range []string{"b", "B", "a-1", "a1", "a.1", "a_1", "A", "0"} {
		if err := s.PutWindow(ctx, storetest.Window(id)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListWindows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range list {
		got = append(got, w.ID)
	}
	if d := cmp.Diff([]string{"0", "A", "B", "a-1", "a.1", "a1", "a_1", "b"}, got); d != "" {
		t.Errorf("ListWindows order (-want +got):\n%s", d)
	}
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
