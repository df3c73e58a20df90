package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

func loadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// WindowCases returns windows whose round trip is easy to get wrong, by
// subtest name: every field set, nanoseconds and times in other locations
// than the window's zone, a zone offset RFC 3339 cannot write, and a
// one-off window. A store adds cases of its own (text its encoding might
// mangle) before passing them to WindowsRoundTripExact.
func WindowCases(t *testing.T) map[string]relman.Window {
	paris := loadLocation(t, "Europe/Paris")
	ny := loadLocation(t, "America/New_York")

	nanos := Window("nanos")
	nanos.Start = time.Date(2026, 3, 22, 21, 0, 0, 123456789, time.UTC) // another location than the zone's
	nanos.End = time.Date(2026, 3, 22, 21, 0, 0, 0, ny)
	nanos.ExDates = []time.Time{time.Date(2026, 4, 5, 22, 0, 0, 1, time.FixedZone("", 7200)), time.Date(2026, 4, 12, 20, 0, 0, 0, time.UTC)}

	// Paris kept local mean time, UTC+0:09:21, until 1891: an offset RFC
	// 3339 cannot write.
	lmt := Window("lmt")
	lmt.Start = time.Date(1890, 6, 1, 22, 0, 0, 0, paris)
	lmt.End = time.Date(1890, 6, 2, 2, 0, 0, 0, paris)
	lmt.ExDates = []time.Time{time.Date(1890, 6, 15, 22, 0, 0, 0, paris)}

	oneOff := relman.Window{ID: "one-off", Name: "Year-end freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)}

	return map[string]relman.Window{"every field": Window("full"), "nanoseconds and other locations": nanos,
		"local mean time": lmt, "one-off": oneOff}
}

// WindowsRoundTripExact checks that the windows cases (see WindowCases)
// come back from s, an empty store, as store/memory gives them back: the
// same fields and the same instants, each time in the window's own zone.
// It checks them on s (subtest "first"), then on the handle again returns
// (subtest "second"): another handle on the same database, opened after
// the windows were written, or a reopened one; ListWindows of that handle
// must match memory's too. Run checks WindowCases on one handle (subtest
// "Windows/RoundTripExact"); call WindowsRoundTripExact for cases of the
// store's own and for a handle opened again.
func WindowsRoundTripExact(t *testing.T, s relman.WindowStore, cases map[string]relman.Window, again func(t *testing.T) relman.WindowStore) {
	ctx := context.Background()
	mem := memory.New()
	for _, w := range cases {
		if err := mem.PutWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
		if err := s.PutWindow(ctx, w); err != nil {
			t.Fatalf("PutWindow %s: %v", w.ID, err)
		}
	}
	check := func(t *testing.T, s relman.WindowStore) {
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
					t.Errorf("GetWindow differs from memory (-memory +store):\n%s", d)
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
					t.Errorf("occurrences differ (-memory +store):\n%s", d)
				}
			})
		}
	}
	t.Run("first", func(t *testing.T) { check(t, s) })
	other := again(t)
	t.Run("second", func(t *testing.T) { check(t, other) })

	list, err := other.ListWindows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mem.ListWindows(ctx)
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("ListWindows differs from memory (-memory +store):\n%s", d)
	}
}

// PutWindowInvalid checks that bad windows are relman.ErrInvalid and that
// nothing is written: a window already stored under the id stays. s must
// be empty; extra adds cases, by subtest name, that the store refuses
// beyond those every store does. Run checks the cases every store refuses
// (subtest "Windows/Invalid"); call PutWindowInvalid for extra ones.
func PutWindowInvalid(t *testing.T, s relman.WindowStore, extra map[string]relman.Window) {
	ctx := context.Background()
	edit := func(f func(w *relman.Window)) relman.Window {
		w := Window("w")
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
		"year 10000":        edit(func(w *relman.Window) { w.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"exdate year -1":    edit(func(w *relman.Window) { w.ExDates = []time.Time{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} }),
	}
	for name, w := range extra {
		cases[name] = w
	}
	orig := Window("w")
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
}

// windowsCanceled checks that each window method of s, an empty store,
// returns context.Canceled for a canceled context, and that PutWindow
// then wrote nothing.
func windowsCanceled(t *testing.T, s relman.WindowStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutWindow(ctx, Window("w")); !errors.Is(err, context.Canceled) {
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

// WindowDocs reaches past a store to the window documents it keeps, for
// WindowsNewerFields.
type WindowDocs struct {
	// AddField adds the field "from_the_future" to the stored document
	// of window "w".
	AddField func(t *testing.T)
	// Damage replaces the stored document of window "w" with
	// {"id": "w", "start": 12}.
	Damage func(t *testing.T)
	// ErrNewerSchema is the store's error for a document written by a
	// newer relman.
	ErrNewerSchema error
	// ErrCorrupt is the store's error for a damaged document; nil means
	// any error but relman.ErrNotFound.
	ErrCorrupt error
}

// WindowsNewerFields checks, on s, an empty store, that a window document
// with a field this version does not know was written by a newer relman,
// and is refused with docs.ErrNewerSchema, not truncated; and that a
// damaged document is an error.
func WindowsNewerFields(t *testing.T, s relman.WindowStore, docs WindowDocs) {
	ctx := context.Background()
	if err := s.PutWindow(ctx, Window("w")); err != nil {
		t.Fatal(err)
	}
	docs.AddField(t)
	if _, err := s.GetWindow(ctx, "w"); !errors.Is(err, docs.ErrNewerSchema) {
		t.Errorf("GetWindow: err = %v, want ErrNewerSchema", err)
	}
	if _, err := s.ListWindows(ctx); !errors.Is(err, docs.ErrNewerSchema) {
		t.Errorf("ListWindows: err = %v, want ErrNewerSchema", err)
	}
	docs.Damage(t)
	_, err := s.GetWindow(ctx, "w")
	if docs.ErrCorrupt != nil {
		if !errors.Is(err, docs.ErrCorrupt) {
			t.Errorf("GetWindow of a damaged document: err = %v, want ErrCorrupt", err)
		}
	} else if err == nil || errors.Is(err, relman.ErrNotFound) {
		t.Errorf("GetWindow of a damaged document: err = %v", err)
	}
}

// windowsOrderBytewise checks that ListWindows of s, an empty store, sorts
// ids by bytes, as release ids sort (upper case before lower case, '-'
// before digits), whatever the database's collation.
func windowsOrderBytewise(t *testing.T, s relman.WindowStore) {
	ctx := context.Background()
	for _, id := range []string{"b", "B", "a-1", "a1", "a.1", "a_1", "A", "0"} {
		if err := s.PutWindow(ctx, Window(id)); err != nil {
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
