package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/sqlite"
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

	text := storetest.Window("text")
	text.Name = `quotes " and \ backslash, NUL ` + "\x00, tab \t, line\nbreak, ✓ 🚀"
	text.Reason = "<script>&amp;</script> " + strings.Repeat("é", 1000)
	text.Services = []string{"a,b", "c;d", "ünï"}

	return map[string]relman.Window{"every field": storetest.Window("full"), "nanoseconds and other locations": nanos,
		"local mean time": lmt, "one-off": oneOff, "text": text}
}

// TestWindowsRoundTripExact checks that a window comes back from the file
// as store/memory gives it back: the same fields and the same instants,
// each time in the window's own zone, also after reopening.
func TestWindowsRoundTripExact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relman.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
	check := func(t *testing.T, s *sqlite.Store) {
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
					t.Errorf("GetWindow differs from memory (-memory +sqlite):\n%s", d)
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
					t.Errorf("occurrences differ (-memory +sqlite):\n%s", d)
				}
			})
		}
	}
	t.Run("open", func(t *testing.T) { check(t, s) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Run("reopened", func(t *testing.T) { check(t, s) })

	list, err := s.ListWindows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mem.ListWindows(ctx)
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("ListWindows differs from memory (-memory +sqlite):\n%s", d)
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
		"year 10000":        edit(func(w *relman.Window) { w.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"exdate year -1":    edit(func(w *relman.Window) { w.ExDates = []time.Time{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} }),
	}
	s := openTemp(t)
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
}

func TestWindowsCanceled(t *testing.T) {
	s := openTemp(t)
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
	s := openTemp(t)
	if err := s.PutWindow(ctx, storetest.Window("w")); err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), `UPDATE windows SET doc = json_set(doc, '$.from_the_future', 1) WHERE id = 'w'`)
	if _, err := s.GetWindow(ctx, "w"); !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Errorf("GetWindow: err = %v, want ErrNewerSchema", err)
	}
	if _, err := s.ListWindows(ctx); !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Errorf("ListWindows: err = %v, want ErrNewerSchema", err)
	}
	rawExec(t, s.Path(), `UPDATE windows SET doc = '{"id": "w", "start": 12}' WHERE id = 'w'`)
	if _, err := s.GetWindow(ctx, "w"); !errors.Is(err, sqlite.ErrCorrupt) {
		t.Errorf("GetWindow of a damaged document: err = %v, want ErrCorrupt", err)
	}
}

// TestWindowsOrderBytewise: ids sort by bytes, as release ids do (upper
// case before lower case, '-' before digits).
func TestWindowsOrderBytewise(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	ids := []string{"b", "B", "a-1", "a1", "a.1", "a_1", "A", "0"}
	for _, id := range ids {
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

// TestManagerWindowsPersist: windows a Manager saves are in the calendar
// of a Manager opened on the file later.
func TestManagerWindowsPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relman.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	freeze := storetest.Window("year-end")
	freeze.Kind, freeze.RRule, freeze.ExDates = relman.WindowFreeze, "FREQ=YEARLY", nil
	for _, w := range []relman.Window{storetest.Window("sunday"), freeze} {
		if err := m.PutWindow(ctx, relman.Actor{ID: "olga"}, w); err != nil {
			t.Fatalf("Manager.PutWindow: %v", err)
		}
	}
	if err := m.DeleteWindow(ctx, relman.Actor{ID: "olga"}, "sunday"); err != nil {
		t.Fatalf("Manager.DeleteWindow: %v", err)
	}
	s.Close()

	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err = relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := m.Calendar(ctx)
	if err != nil {
		t.Fatalf("Calendar: %v", err)
	}
	if d := cmp.Diff([]relman.Window{freeze}, cal.Windows()); d != "" {
		t.Errorf("calendar after reopening (-want +got):\n%s", d)
	}
}
