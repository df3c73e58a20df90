package relman

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFoldLine(t *testing.T) {
	for _, s := range []string{
		"SUMMARY:short",
		"DESCRIPTION:" + strings.Repeat("abcdefghij", 30),
		"DESCRIPTION:" + strings.Repeat("é€😀", 60), // 2-, 3- and 4-octet sequences
	} {
		var b strings.Builder
		foldLine(&b, s)
		out := b.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no CRLF: %q", out)
		}
		phys := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for i, l := range phys {
			if len(l) > 75 {
				t.Errorf("line %d has %d octets", i, len(l))
			}
			if !utf8.ValidString(l) {
				t.Errorf("line %d splits a UTF-8 sequence: %q", i, l)
			}
			if i > 0 && l[0] != ' ' {
				t.Errorf("continuation %d does not start with a space", i)
			}
		}
		lines, _, err := unfold(strings.NewReader(out))
		if err != nil || len(lines) != 1 || lines[0] != s {
			t.Errorf("unfold(fold(s)) = %q, %v", lines, err)
		}
	}
}

func TestTextEscaping(t *testing.T) {
	in := "a\\b;c,d\ne"
	esc := escapeText(in)
	if esc != `a\\b\;c\,d\ne` {
		t.Errorf("escape = %q", esc)
	}
	if got := unescapeText(esc); got != in {
		t.Errorf("unescape = %q", got)
	}
	if got := splitText(`a\,b,c\\,d`); !slices.Equal(got, []string{"a,b", `c\`, "d"}) {
		t.Errorf("splitText = %q", got)
	}
}

func TestParseContentLine(t *testing.T) {
	p, err := parseContentLine(`dtstart;TZID="Europe/Paris";X-A=1,"b:c";X-B=:20260329T220000`, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "DTSTART" || p.param("tzid") != "Europe/Paris" || p.Value != "20260329T220000" ||
		!slices.Equal(p.Params[1].Values, []string{"1", "b:c"}) || p.Params[2].Values[0] != "" {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{"NOCOLON", ":value", "A;B:x", `A;B="x:y`, "A B:x", "A;=x:y"} {
		_, err := parseContentLine(bad, 7)
		var ie *ICalError
		if !errors.As(err, &ie) || ie.Line != 7 || !errors.Is(err, ErrInvalid) {
			t.Errorf("parseContentLine(%q) = %v", bad, err)
		}
	}
}

func TestVTimezoneParis(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	var b strings.Builder
	writeVTimezone(&b, paris, 2020, 2030)
	out := b.String()
	for _, want := range []string{
		"TZID:Europe/Paris",
		"BEGIN:DAYLIGHT\r\nDTSTART:20200329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST",
		"BEGIN:STANDARD\r\nDTSTART:20201025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("VTIMEZONE lacks %q:\n%s", want, out)
		}
	}
	// A zone without DST gets one observance.
	b.Reset()
	writeVTimezone(&b, mustLoad(t, "Asia/Kolkata"), 2020, 2030)
	if !strings.Contains(b.String(), "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530") {
		t.Errorf("Kolkata:\n%s", b.String())
	}
	// The observances we write describe the zone: expanding them gives
	// every transition Go knows.
	for _, name := range []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo"} {
		loc := mustLoad(t, name)
		b.Reset()
		b.WriteString("BEGIN:VCALENDAR\r\n")
		writeVTimezone(&b, loc, 2015, 2030)
		b.WriteString("END:VCALENDAR\r\n")
		comps, err := parseICal(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		for _, obs := range comps[0].Comps[0].Comps {
			from, _ := parseOffset(obs.prop("TZOFFSETFROM").Value)
			fixed := time.FixedZone("", from)
			start, _ := time.ParseInLocation(layoutDateTime, obs.prop("DTSTART").Value, fixed)
			rc := &Recurrence{Start: start}
			if p := obs.prop("RRULE"); p != nil {
				rc.Rule, err = ParseRRule(p.Value)
				if err != nil {
					t.Fatal(err)
				}
			}
			if p := obs.prop("RDATE"); p != nil {
				for v := range strings.SplitSeq(p.Value, ",") {
					d, _ := time.ParseInLocation(layoutDateTime, v, fixed)
					rc.RDates = append(rc.RDates, d)
				}
			}
			for o := range rc.Between(time.Time{}, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
				got = append(got, o.UTC())
			}
		}
		slices.SortFunc(got, time.Time.Compare)
		var want []time.Time
		for _, tr := range zoneTransitions(loc, time.Date(2015, 1, 1, 0, 0, 0, 0, loc), time.Date(2031, 1, 1, 0, 0, 0, 0, loc)) {
			want = append(want, tr.at.UTC())
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s: VTIMEZONE gives %d transitions, Go %d\n%v\n%v", name, len(got), len(want), got, want)
		}
	}
}

// parseOffset reads +HHMM[SS].
func parseOffset(s string) (int, bool) {
	if len(s) != 5 && len(s) != 7 {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	n := 0
	for i, c := range s[1:] {
		d := int(c - '0')
		switch i {
		case 0:
			n += d * 36000
		case 1:
			n += d * 3600
		case 2:
			n += d * 600
		case 3:
			n += d * 60
		case 4:
			n += d * 10
		case 5:
			n += d
		}
	}
	return sign * n, true
}

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
			RRule: "FREQ=MONTHLY;BYDAY=2TU"},
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
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	got, err := ImportICS(strings.NewReader(out), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(windows) {
		t.Fatalf("imported %d windows, want %d", len(got), len(windows))
	}
	for i := range windows {
		if !sameWindow(windows[i], got[i]) {
			t.Errorf("window %d:\n exported %+v\n imported %+v", i, windows[i], got[i])
		}
	}
}

func sameWindow(a, b Window) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && a.Reason == b.Reason && a.TimeZone == b.TimeZone &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.RRule == b.RRule &&
		slices.EqualFunc(a.ExDates, b.ExDates, time.Time.Equal) && slices.Equal(a.Services, b.Services)
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
	var re *RRuleError
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
		again, err := ImportICS(&out, ImportOptions{})
		if err != nil {
			t.Fatalf("re-import: %v\n%s", err, out.String())
		}
		if len(again) != len(got) {
			t.Fatalf("re-import %d windows, want %d", len(again), len(got))
		}
		for i := range got {
			if !sameWindow(got[i], again[i]) {
				t.Fatalf("window %d changed:\n %+v\n %+v", i, got[i], again[i])
			}
		}
	})
}
