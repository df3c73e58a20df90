package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// TestWindowsRoundTripExact checks that a window comes back from the file
// as store/memory gives it back: the same fields and the same instants,
// each time in the window's own zone, also after reopening.
func TestWindowsRoundTripExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relman.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := storetest.WindowCases(t)
	text := storetest.Window("text")
	text.Name = `quotes " and \ backslash, ` + "tab \t, line\nbreak, ✓ 🚀" // NUL is refused at the door (storetest Write/BadText)
	text.Reason = "<script>&amp;</script> " + strings.Repeat("é", 1000)
	text.Services = []string{"a,b", "c;d", "ünï"}
	cases["text"] = text
	storetest.WindowsRoundTripExact(t, s, cases, func(t *testing.T) relman.WindowStore {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPutWindowInvalid checks that bad windows are relman.ErrInvalid and
// that nothing is written: a window already stored under the id stays.
func TestPutWindowInvalid(t *testing.T) {
	storetest.PutWindowInvalid(t, openTemp(t), nil)
}

// TestWindowsNewerFields: a window document with a field this version does
// not know was written by a newer relman, and is refused, not truncated.
func TestWindowsNewerFields(t *testing.T) {
	s := openTemp(t)
	storetest.WindowsNewerFields(t, s, storetest.WindowDocs{
		AddField: func(t *testing.T) {
			rawExec(t, s.Path(), `UPDATE windows SET doc = json_set(doc, '$.from_the_future', 1) WHERE id = 'w'`)
		},
		Damage: func(t *testing.T) {
			rawExec(t, s.Path(), `UPDATE windows SET doc = '{"id": "w", "start": 12}' WHERE id = 'w'`)
		},
		ErrNewerSchema: sqlite.ErrNewerSchema,
		ErrCorrupt:     sqlite.ErrCorrupt,
	})
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
	freeze.Kind, freeze.RRule, freeze.ExDates, freeze.RDates, freeze.Overrides = relman.WindowFreeze, "FREQ=YEARLY", nil, nil, nil
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
