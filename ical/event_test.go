package ical

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func calendar(lines ...string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n"
}

func instances(t *testing.T, ev *Event, from, to time.Time) []string {
	t.Helper()
	var out []string
	for in := range ev.Set.Between(from, to) {
		out = append(out, in.Start.Format("01-02T15:04")+"/"+in.End.Format("15:04"))
	}
	return out
}

func TestReadEventsOverrides(t *testing.T) {
	in := calendar(
		"BEGIN:VEVENT", "UID:s", "DTSTART;TZID=Europe/Paris:20260302T100000", "DTEND;TZID=Europe/Paris:20260302T110000",
		"RRULE:FREQ=DAILY;COUNT=8",
		"RDATE;VALUE=PERIOD;TZID=Europe/Paris:20260301T080000/20260301T083000,20260228T080000/PT2H",
		"RDATE;VALUE=DATE-TIME;TZID=Europe/Paris:20260312T100000",
		"EXDATE;VALUE=DATE:20260303", "END:VEVENT",
		// moved and shortened
		"BEGIN:VEVENT", "UID:s", "RECURRENCE-ID;TZID=Europe/Paris:20260304T100000",
		"DTSTART;TZID=Europe/Paris:20260304T140000", "DTEND;TZID=Europe/Paris:20260304T143000", "END:VEVENT",
		// cancelled
		"BEGIN:VEVENT", "UID:s", "RECURRENCE-ID:20260305T090000Z", "STATUS:CANCELLED", "END:VEVENT",
		// from the 7th on: two hours later, two hours long
		"BEGIN:VEVENT", "UID:s", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Paris:20260307T100000",
		"DTSTART;TZID=Europe/Paris:20260307T120000", "DURATION:PT2H", "END:VEVENT",
	)
	evs, err := ReadEvents(strings.NewReader(in), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || len(evs[0].Overrides) != 3 {
		t.Fatalf("events %v", evs)
	}
	got := instances(t, evs[0], time.Time{}, time.Time{})
	want := []string{
		"02-28T08:00/10:00", "03-01T08:00/08:30", "03-02T10:00/11:00", "03-04T14:00/14:30",
		"03-06T10:00/11:00", "03-07T12:00/14:00", "03-08T12:00/14:00", "03-09T12:00/14:00", "03-12T12:00/14:00",
	}
	if !slices.Equal(got, want) {
		t.Errorf("instances\n got %v\nwant %v", got, want)
	}
	// A range query sees moved instances by their new span.
	paris := evs[0].Set.Start.Location()
	got = instances(t, evs[0], time.Date(2026, 3, 4, 14, 10, 0, 0, paris), time.Date(2026, 3, 7, 12, 30, 0, 0, paris))
	if want := []string{"03-04T14:00/14:30", "03-06T10:00/11:00", "03-07T12:00/14:00"}; !slices.Equal(got, want) {
		t.Errorf("range\n got %v\nwant %v", got, want)
	}
}

func TestReadEventsRepeatedOverride(t *testing.T) {
	in := calendar(
		"BEGIN:VEVENT", "UID:s", "DTSTART:20260302T100000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=2", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s", "SEQUENCE:2", "RECURRENCE-ID:20260303T100000Z", "DTSTART:20260303T120000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s", "SEQUENCE:1", "RECURRENCE-ID:20260303T100000Z", "DTSTART:20260303T110000Z", "END:VEVENT",
	)
	evs, err := ReadEvents(strings.NewReader(in), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := instances(t, evs[0], time.Time{}, time.Time{}); !slices.Equal(got, []string{"03-02T10:00/11:00", "03-03T12:00/13:00"}) {
		t.Errorf("instances %v", got)
	}
}

func TestReadEventsAllDayAndFloating(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	in := calendar(
		"BEGIN:VEVENT", "UID:a", "DTSTART;VALUE=DATE:20261225", "RRULE:FREQ=YEARLY;COUNT=2", "END:VEVENT",
		"BEGIN:VEVENT", "UID:f", "DTSTART:20260601T090000", "DURATION:PT1H", "END:VEVENT",
	)
	evs, err := ReadEvents(strings.NewReader(in), ReadOptions{Floating: ny})
	if err != nil {
		t.Fatal(err)
	}
	if !evs[0].AllDay || evs[0].Set.Duration != 24*time.Hour || evs[0].Set.Start.Location() != ny {
		t.Errorf("all-day %+v", evs[0])
	}
	if got := instances(t, evs[0], time.Time{}, time.Time{}); !slices.Equal(got, []string{"12-25T00:00/00:00", "12-25T00:00/00:00"}) {
		t.Errorf("all-day instances %v", got)
	}
	if !evs[1].Floating || !evs[1].Set.Start.Equal(time.Date(2026, 6, 1, 9, 0, 0, 0, ny)) {
		t.Errorf("floating %+v", evs[1])
	}
}

func TestReadEventsByteOrderMark(t *testing.T) {
	in := "\ufeff" + calendar("BEGIN:VEVENT", "UID:b", "DTSTART:20260101T000000Z", "END:VEVENT")
	if evs, err := ReadEvents(strings.NewReader(in), ReadOptions{}); err != nil || len(evs) != 1 {
		t.Errorf("%v, %v", evs, err)
	}
}

func TestLoadZone(t *testing.T) {
	for tzid, want := range map[string]string{
		"Europe/Berlin":           "Europe/Berlin",
		"W. Europe Standard Time": "Europe/Berlin",
		"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna": "Europe/Berlin",
		"Eastern Standard Time":                                 "America/New_York",
		"/mozilla.org/20070129_1/Europe/Berlin":                 "Europe/Berlin",
		"/softwarestudio.org/Olson_20011030_5/America/New_York": "America/New_York",
		"UTC": "UTC",
	} {
		loc, ok := LoadZone(tzid)
		if !ok || loc.String() != want {
			t.Errorf("LoadZone(%q) = %v, %v; want %s", tzid, loc, ok, want)
		}
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "Customized Time Zone"} {
		if loc, ok := LoadZone(bad); ok {
			t.Errorf("LoadZone(%q) = %v", bad, loc)
		}
	}
	if windowsZonesVersion == "" || len(windowsZones) < 100 {
		t.Errorf("windows zone table: %q, %d names", windowsZonesVersion, len(windowsZones))
	}
}

// TestReadEventsErrors checks that bad input gives an *Error naming the
// line at fault, and no events.
func TestReadEventsErrors(t *testing.T) {
	ev := func(lines ...string) []string {
		return append(append([]string{"BEGIN:VEVENT", "UID:x"}, lines...), "END:VEVENT")
	}
	cases := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"unknown zone", calendar(ev("DTSTART;TZID=Mars/Base:20260101T000000")...), 5, "unknown time zone"},
		{"vtimezone without rules", calendar("BEGIN:VTIMEZONE", "TZID:Custom", "END:VTIMEZONE"), 3, "no STANDARD or DAYLIGHT"},
		{"observance without offset", calendar("BEGIN:VTIMEZONE", "TZID:Custom", "BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE",
			"BEGIN:VEVENT", "UID:x", "DTSTART;TZID=Custom:20260101T000000", "END:VEVENT"), 5, "without TZOFFSETFROM"},
		{"recurrence-id of nothing", calendar(append(ev("DTSTART:20260105T090000Z", "RRULE:FREQ=WEEKLY;COUNT=3"),
			"BEGIN:VEVENT", "UID:x", "RECURRENCE-ID:20260106T090000Z", "DTSTART:20260107T090000Z", "END:VEVENT")...), 10, "no instance starts at"},
		{"rdate bad value", calendar(ev("DTSTART:20260105T090000Z", "RDATE:2026-01-09")...), 6, "bad DATE-TIME"},
		{"rdate period without value", calendar(ev("DTSTART:20260105T090000Z", "RDATE:20260109T090000Z/PT1H")...), 6, "PERIOD without VALUE=PERIOD"},
		{"rdate period bad end", calendar(ev("DTSTART:20260105T090000Z", "RDATE;VALUE=PERIOD:20260109T090000Z/20260109T080000Z")...), 6, "ends before it starts"},
		{"rdate date for timed event", calendar(ev("DTSTART:20260105T090000Z", "RDATE;VALUE=DATE:20260109")...), 6, "must be a DATE-TIME"},
		{"bad rrule", calendar(ev("DTSTART:20260105T090000Z", "RRULE:FREQ=DAILY;BYHOUR=25")...), 6, "BYHOUR"},
		{"bad range", calendar(append(ev("DTSTART:20260105T090000Z", "RRULE:FREQ=DAILY"),
			"BEGIN:VEVENT", "UID:x", "RECURRENCE-ID;RANGE=THISANDPRIOR:20260106T090000Z", "END:VEVENT")...), 10, "RANGE"},
		{"two masters", calendar(append(ev("DTSTART:20260105T090000Z"), ev("DTSTART:20260106T090000Z")...)...), 7, "second VEVENT"},
		{"unclosed", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", 2, "never closed"},
	}
	for _, c := range cases {
		evs, err := ReadEvents(strings.NewReader(c.in), ReadOptions{})
		var ie *Error
		if !errors.As(err, &ie) || ie.Line != c.line || !strings.Contains(err.Error(), c.msg) || evs != nil {
			t.Errorf("%s: %v (line %v), %d events; want line %d, %q", c.name, err, ie, len(evs), c.line, c.msg)
		}
	}
	// A bad rule is also a *RuleError.
	_, err := ReadEvents(strings.NewReader(cases[8].in), ReadOptions{})
	var re *RuleError
	if !errors.As(err, &re) || re.Part != "BYHOUR" {
		t.Errorf("bad rrule: %v", err)
	}
}
