package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/ical"
)

// Window returns a valid recurring window with every field set.
func Window(id string) relman.Window {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return relman.Window{
		ID:       id,
		Name:     "Sunday night " + id,
		Kind:     relman.WindowMaintenance,
		Reason:   "low traffic; ünïcödé, commas; semicolons",
		TimeZone: "Europe/Paris",
		Start:    time.Date(2026, 3, 22, 22, 0, 0, 0, paris),
		End:      time.Date(2026, 3, 23, 2, 0, 0, 0, paris),
		RRule:    "FREQ=WEEKLY;BYDAY=SU",
		RDates: []ical.Period{
			{Start: time.Date(2026, 3, 25, 22, 0, 0, 0, paris)},
			{Start: time.Date(2026, 3, 28, 20, 0, 0, 0, paris), End: time.Date(2026, 3, 28, 23, 0, 0, 0, paris)},
		},
		ExDates: []time.Time{time.Date(2026, 4, 5, 22, 0, 0, 0, paris)},
		Overrides: []ical.Override{
			{RecurrenceID: time.Date(2026, 4, 12, 22, 0, 0, 0, paris), Start: time.Date(2026, 4, 13, 21, 0, 0, 0, paris), End: time.Date(2026, 4, 14, 1, 0, 0, 0, paris)},
			{RecurrenceID: time.Date(2026, 4, 19, 22, 0, 0, 0, paris), Cancelled: true},
		},
		Services: []string{"billing", "invoices"},
	}
}

// runWindows checks the relman.WindowStore contract on stores that have
// it, and skips the others.
func runWindows(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	windowStore := func(t *testing.T) relman.WindowStore {
		ws, ok := newStore(t).(relman.WindowStore)
		if !ok {
			t.Skip("store does not implement relman.WindowStore")
		}
		return ws
	}
	// Times compare as instants: a store may hand them back in another
	// location.
	same := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

	t.Run("Windows/RoundTrip", func(t *testing.T) {
		s := windowStore(t)
		w := Window("w1")
		if err := s.PutWindow(ctx, w); err != nil {
			t.Fatalf("PutWindow: %v", err)
		}
		got, err := s.GetWindow(ctx, "w1")
		if err != nil {
			t.Fatalf("GetWindow: %v", err)
		}
		if d := cmp.Diff(w, got, same); d != "" {
			t.Errorf("GetWindow differs (-want +got):\n%s", d)
		}
		// The stored window still expands to the same occurrences.
		a, _ := relman.NewCalendar(w)
		b, err := relman.NewCalendar(got)
		if err != nil {
			t.Fatal(err)
		}
		span := relman.Span{Start: w.Start, End: w.Start.AddDate(0, 3, 0)}
		if d := cmp.Diff(a.Occurrences(span, nil), b.Occurrences(span, nil), same); d != "" {
			t.Errorf("occurrences differ:\n%s", d)
		}
	})
	t.Run("Windows/NotFound", func(t *testing.T) {
		s := windowStore(t)
		if _, err := s.GetWindow(ctx, "nope"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("GetWindow unknown: %v, want ErrNotFound", err)
		}
		if err := s.DeleteWindow(ctx, "nope"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("DeleteWindow unknown: %v, want ErrNotFound", err)
		}
	})
	t.Run("Windows/ReplaceListDelete", func(t *testing.T) {
		s := windowStore(t)
		for _, id := range []string{"c", "a", "b"} {
			if err := s.PutWindow(ctx, Window(id)); err != nil {
				t.Fatal(err)
			}
		}
		w := Window("a")
		w.Kind, w.RRule, w.ExDates, w.Services = relman.WindowFreeze, "", nil, nil
		w.RDates, w.Overrides = nil, nil
		if err := s.PutWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListWindows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		if d := cmp.Diff([]string{"a", "b", "c"}, ids); d != "" {
			t.Errorf("ListWindows ids (-want +got):\n%s", d)
		}
		if list[0].Kind != relman.WindowFreeze || list[0].RRule != "" || len(list[0].Services) != 0 {
			t.Errorf("replaced window not stored: %+v", list[0])
		}
		if err := s.DeleteWindow(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetWindow(ctx, "b"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("deleted window still there: %v", err)
		}
		if list, _ := s.ListWindows(ctx); len(list) != 2 {
			t.Errorf("after delete %d windows, want 2", len(list))
		}
	})
	t.Run("Windows/CopiesNotShared", func(t *testing.T) {
		s := windowStore(t)
		w := Window("w")
		if err := s.PutWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
		w.Services[0] = "changed"
		got, _ := s.GetWindow(ctx, "w")
		got.ExDates[0] = time.Time{}
		again, _ := s.GetWindow(ctx, "w")
		if again.Services[0] != "billing" || again.ExDates[0].IsZero() {
			t.Errorf("store shares memory with callers: %+v", again)
		}
	})
	t.Run("Windows/Concurrent", func(t *testing.T) {
		s := windowStore(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("w%d", i)
				if err := s.PutWindow(ctx, Window(id)); err != nil {
					t.Error(err)
				}
				if _, err := s.ListWindows(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if list, _ := s.ListWindows(ctx); len(list) != 8 {
			t.Errorf("%d windows, want 8", len(list))
		}
	})
}
