package relman

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman/ical"
)

func exportWindows(t *testing.T) []Window {
	paris := mustLoad(t, "Europe/Paris")
	ny := mustLoad(t, "America/New_York")
	sun := sundayNight(t, "billing", "in,voices")
	sun.Reason = "Quiet hours; keep it short, please.\nSecond line with ünïcödé and a long tail " + strings.Repeat("x", 80)
	sun.ExDates = []time.Time{time.Date(2026, 4, 5, 22, 0, 0, 0, paris), time.Date(2026, 12, 27, 22, 0, 0, 0, paris)}
	return []Window{
		sun,
		yearEnd(t),
		{ID: "ny-patch", Name: "Patch Tuesday", Kind: WindowMaintenance, TimeZone: "America/New_York",
			Start: time.Date(2026, 1, 13, 1, 30, 0, 0, ny), End: time.Date(2026, 1, 13, 3, 0, 0, 0, ny),
			RRule: "FREQ=MONTHLY;BYDAY=2TU",
			RDates: []ical.Period{{Start: time.Date(2026, 1, 20, 1, 30, 0, 0, ny)},
				{Start: time.Date(2026, 2, 1, 4, 0, 0, 0, ny), End: time.Date(2026, 2, 1, 9, 0, 0, 0, ny)}},
			Overrides: []ical.Override{
				{RecurrenceID: time.Date(2026, 3, 10, 1, 30, 0, 0, ny), Start: time.Date(2026, 3, 11, 2, 0, 0, 0, ny), End: time.Date(2026, 3, 11, 4, 0, 0, 0, ny)},
				{RecurrenceID: time.Date(2026, 4, 14, 1, 30, 0, 0, ny), Cancelled: true},
				{RecurrenceID: time.Date(2026, 6, 9, 1, 30, 0, 0, ny), ThisAndFuture: true, Start: time.Date(2026, 6, 9, 0, 30, 0, 0, ny), End: time.Date(2026, 6, 9, 3, 30, 0, 0, ny)},
			}},
		{ID: "utc-once", Name: "Datacenter move", Kind: WindowFreeze, TimeZone: "UTC",
			Start: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 7, 3, 0, 0, 0, 0, time.UTC)},
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	windows := exportWindows(t)
	rel := &Release{ID: "inv-2.4", Title: "Faster invoices", Version: "2.4.0", Owner: "olga", Stage: StagePlanned,
		Services: []string{"invoices"}, Window: &Span{time.Date(2026, 5, 3, 20, 0, 0, 0, time.UTC), time.Date(2026, 5, 3, 22, 0, 0, 0, time.UTC)}}
	var buf bytes.Buffer
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := ExportICS(&buf, windows, []*Release{rel}, ICSOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for i, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 || strings.Contains(l, "\n") {
			t.Fatalf("line %d is not a folded content line: %q", i+1, l)
		}
	}
	for _, want := range []string{
		"BEGIN:VTIMEZONE\r\nTZID:America/New_York", "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris",
		"DTSTART;TZID=Europe/Paris:20260301T220000", "RRULE:FREQ=WEEKLY;BYDAY=SU",
		"EXDATE;TZID=Europe/Paris:20260405T220000,20261227T220000",
		"UID:window-sunday@relman", "DTSTAMP:20260301T120000Z", "DTSTART:20260701T000000Z",
		"UID:release-inv-2.4@relman", "X-RELMAN-SERVICES:billing,in\\,voices",
		"RDATE;TZID=America/New_York:20260120T013000",
		"RDATE;TZID=America/New_York;VALUE=PERIOD:20260201T040000/20260201T090000",
		"RECURRENCE-ID;TZID=America/New_York:20260310T013000\r\nDTSTART;TZID=America/New_York:20260311T020000",
		"RECURRENCE-ID;TZID=America/New_York:20260414T013000\r\nDTSTART;TZID=America/New_York:20260414T013000\r\nSTATUS:CANCELLED",
		"RECURRENCE-ID;TZID=America/New_York;RANGE=THISANDFUTURE:20260609T013000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	checkReimport(t, out, windows)
}

// checkReimport imports ics and checks that it gives back want.
func checkReimport(t testing.TB, ics string, want []Window) {
	t.Helper()
	got, err := ImportICS(strings.NewReader(ics), ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, ics)
	}
	if len(got) != len(want) {
		t.Fatalf("imported %d windows, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameWindow(want[i], got[i]) {
			t.Fatalf("window %d changed:\n %+v\n %+v", i, want[i], got[i])
		}
	}
}

func sameWindow(a, b Window) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && a.Reason == b.Reason && a.TimeZone == b.TimeZone &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.RRule == b.RRule &&
		slices.EqualFunc(a.ExDates, b.ExDates, time.Time.Equal) && slices.Equal(a.Services, b.Services) &&
		slices.EqualFunc(a.RDates, b.RDates, func(x, y ical.Period) bool { return x.Start.Equal(y.Start) && x.End.Equal(y.End) }) &&
		slices.EqualFunc(a.Overrides, b.Overrides, func(x, y ical.Override) bool {
			return x.RecurrenceID.Equal(y.RecurrenceID) && x.Start.Equal(y.Start) && x.End.Equal(y.End) &&
				x.Cancelled == y.Cancelled && x.ThisAndFuture == y.ThisAndFuture
		})
}

func TestImportHolidayCalendar(t *testing.T) {
	ics := strings.Join([]string{
		"BEGIN:VCALENDAR",
		"VERSION:2.0",
		"PRODID:-//Some Vendor//Holidays//EN",
		"BEGIN:VEVENT",
		"UID:xmas@holidays.example",
		"DTSTAMP:20250101T000000Z",
		"DTSTART;VALUE=DATE:20251225",
		"DTEND;VALUE=DATE:20251227",
		"RRULE:FREQ=YEARLY",
		"EXDATE;VALUE=DATE:20271225",
		"SUMMARY:Christmas\\, Boxing Day",
		"CATEGORIES:HOLIDAY",
		"END:VEVENT",
		"BEGIN:VEVENT",
		"UID:patch",
		"DTSTAMP:20250101T000000Z",
		"DTSTART;TZID=America/New_York:20250311T020000",
		"DURATION:PT2H",
		"SUMMARY:Patch window",
		"CATEGORIES:MAINTENANCE",
		"END:VEVENT",
		"END:VCALENDAR",
	}, "\n") // bare LF, as some producers write
	got, err := ImportICS(strings.NewReader(ics), ImportOptions{TimeZone: "Europe/Paris", Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("windows %+v", got)
	}
	x := got[0]
	paris := mustLoad(t, "Europe/Paris")
	if x.ID != "xmas" || x.Kind != WindowFreeze || x.Name != "Christmas, Boxing Day" || x.TimeZone != "Europe/Paris" ||
		!x.Start.Equal(time.Date(2025, 12, 25, 0, 0, 0, 0, paris)) || x.End.Sub(x.Start) != 48*time.Hour ||
		len(x.ExDates) != 1 || !x.ExDates[0].Equal(time.Date(2027, 12, 25, 0, 0, 0, 0, paris)) || !slices.Equal(x.Services, []string{"web"}) {
		t.Errorf("christmas %+v", x)
	}
	cal, err := NewCalendar(got...)
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int) Span {
		s := time.Date(y, 12, 26, 10, 0, 0, 0, paris)
		return Span{s, s.Add(time.Hour)}
	}
	if err := cal.Allowed(day(2026), []string{"web"}); !errors.Is(err, ErrFreeze) {
		t.Errorf("26 Dec 2026: %v", err)
	}
	if err := cal.Allowed(day(2027), []string{"web"}); errors.Is(err, ErrFreeze) {
		t.Errorf("26 Dec 2027 is excluded: %v", err)
	}
	// 02:00 on 11 March 2025 in New York exists (the change is on the 9th).
	p := got[1]
	if p.Kind != WindowMaintenance || p.TimeZone != "America/New_York" || p.End.Sub(p.Start) != 2*time.Hour {
		t.Errorf("patch %+v", p)
	}
}

func TestImportErrors(t *testing.T) {
	wrap := func(lines ...string) string {
		return "BEGIN:VCALENDAR\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n"
	}
	ev := func(lines ...string) string {
		return wrap(append(append([]string{"BEGIN:VEVENT", "UID:x", "SUMMARY:s", "CATEGORIES:FREEZE"}, lines...), "END:VEVENT")...)
	}
	cases := map[string]string{
		"unclosed":      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
		"stray END":     "BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
		"outside":       "SUMMARY:x\r\n",
		"no dtstart":    ev("DTEND:20260101T000000Z"),
		"bad date":      ev("DTSTART:2026-01-01", "DTEND:20260101T000000Z"),
		"bad zone":      ev("DTSTART;TZID=Mars/Base:20260101T000000", "DURATION:PT1H"),
		"bad duration":  ev("DTSTART:20260101T000000Z", "DURATION:1H"),
		"ends early":    ev("DTSTART:20260101T000000Z", "DTEND:20251231T000000Z"),
		"no end":        ev("DTSTART:20260101T000000Z"),
		"bad rrule":     ev("DTSTART:20260101T000000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;BYHOUR=25"),
		"not vcalendar": "BEGIN:VTODO\r\nEND:VTODO\r\n",
	}
	for name, in := range cases {
		_, err := ImportICS(strings.NewReader(in), ImportOptions{})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var re *ical.RuleError
	if _, err := ImportICS(strings.NewReader(cases["bad rrule"]), ImportOptions{}); !errors.As(err, &re) || re.Part != "BYHOUR" {
		t.Errorf("bad rrule: %v", err)
	}
	// Without a kind, an unlabelled event is refused unless a default is given.
	plain := wrap("BEGIN:VEVENT", "UID:x", "DTSTART:20260101T000000Z", "DURATION:P1D", "END:VEVENT")
	if _, err := ImportICS(strings.NewReader(plain), ImportOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unlabelled: %v", err)
	}
	if ws, err := ImportICS(strings.NewReader(plain), ImportOptions{Kind: WindowFreeze}); err != nil || ws[0].Kind != WindowFreeze || ws[0].Name == "" {
		t.Errorf("default kind: %v %v", ws, err)
	}
}

func FuzzImportICS(f *testing.F) {
	var buf bytes.Buffer
	paris, _ := time.LoadLocation("Europe/Paris")
	ws := []Window{{ID: "w", Name: "Sunday, night; \\ é", Kind: WindowMaintenance, TimeZone: "Europe/Paris", Reason: "r\nx",
		Start: time.Date(2026, 3, 1, 22, 0, 0, 0, paris), End: time.Date(2026, 3, 2, 2, 0, 0, 0, paris),
		RRule: "FREQ=WEEKLY;BYDAY=SU", ExDates: []time.Time{time.Date(2026, 3, 8, 22, 0, 0, 0, paris)}, Services: []string{"a", "b,c"}}}
	_ = ExportICS(&buf, ws, nil, ICSOptions{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	f.Add(buf.String())
	f.Add("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20251225\nRRULE:FREQ=YEARLY\nCATEGORIES:HOLIDAY\nEND:VEVENT\nEND:VCALENDAR\n")
	f.Add("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=\"America/New_York\":20261101T013000\r\nDURATION:-PT1H\r\n X-FOLD:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	f.Add("BEGIN:VCALENDAR\r\nX;A=\"unterminated:\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ImportICS(strings.NewReader(s), ImportOptions{Kind: WindowFreeze})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T does not match ErrInvalid: %v", err, err)
			}
			return
		}
		// What was imported exports and imports back to the same windows.
		var out bytes.Buffer
		if err := ExportICS(&out, got, nil, ICSOptions{Now: time.Unix(0, 0)}); err != nil {
			t.Fatalf("export of imported windows: %v", err)
		}
		checkReimport(t, out.String(), got)
	})
}

// TestImportLoneOverride: an occurrence whose series is not in the file
// is a one-off window.
func TestImportLoneOverride(t *testing.T) {
	in := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:series@x\r\nRECURRENCE-ID:20260310T090000Z\r\n" +
		"DTSTART:20260311T090000Z\r\nDTEND:20260311T100000Z\r\nSUMMARY:moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	ws, err := ImportICS(strings.NewReader(in), ImportOptions{Kind: WindowFreeze})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].ID != "series" || len(ws[0].Overrides) != 0 || ws[0].RRule != "" ||
		!ws[0].Start.Equal(time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("windows %+v", ws)
	}
}

// TestImportErrorsNameTheLine checks the root boundary: what package ical
// refuses comes back matching ErrInvalid, as an *ical.Error with the line,
// and no window is returned.
func TestImportErrorsNameTheLine(t *testing.T) {
	cal := func(lines ...string) string {
		return "BEGIN:VCALENDAR\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n"
	}
	good := []string{"BEGIN:VEVENT", "UID:ok", "DTSTART:20260105T090000Z", "DURATION:PT1H", "CATEGORIES:FREEZE", "END:VEVENT"}
	cases := []struct {
		name string
		in   string
		line int
	}{
		{"unknown zone", cal(append(good, "BEGIN:VEVENT", "UID:x", "DTSTART;TZID=Mars/Base:20260101T000000", "DURATION:PT1H", "END:VEVENT")...), 10},
		{"vtimezone without rules", cal(append([]string{"BEGIN:VTIMEZONE", "TZID:Custom", "END:VTIMEZONE"}, good...)...), 2},
		{"recurrence-id of nothing", cal(append(append(good[:len(good)-1:len(good)-1], "RRULE:FREQ=DAILY;COUNT=2", "END:VEVENT"),
			"BEGIN:VEVENT", "UID:ok", "RECURRENCE-ID:20260109T090000Z", "DTSTART:20260109T100000Z", "END:VEVENT")...), 11},
		{"bad rdate", cal(append(good[:len(good)-1:len(good)-1], "RDATE:20260109", "END:VEVENT")...), 7},
	}
	for _, c := range cases {
		ws, err := ImportICS(strings.NewReader(c.in), ImportOptions{})
		var ie *ical.Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || ie.Line != c.line || ws != nil {
			t.Errorf("%s: %v (%#v), %d windows; want line %d", c.name, err, ie, len(ws), c.line)
		}
	}
}
