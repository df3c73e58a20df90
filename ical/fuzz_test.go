package ical

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func FuzzParseRule(f *testing.F) {
	for _, c := range rfcCases() {
		f.Add(c.rule)
	}
	for _, s := range []string{
		"", ";", "FREQ", "FREQ=", "RRULE:FREQ=DAILY", "freq=weekly;byday=mo,tu",
		"FREQ=DAILY;COUNT=99999999999999999999", "FREQ=DAILY;INTERVAL=0",
		"FREQ=YEARLY;BYWEEKNO=-53;BYDAY=SU", "FREQ=YEARLY;BYYEARDAY=-366,366",
		"FREQ=MONTHLY;BYDAY=-5FR,+5MO;BYSETPOS=-366", "FREQ=SECONDLY;BYSECOND=60",
		"FREQ=DAILY;UNTIL=99991231T235959Z", "FREQ=DAILY;UNTIL=00000101",
		"FREQ=WEEKLY;WKST=SU;WKST=MO", "FREQ=MINUTELY;BYHOUR=23;BYMINUTE=59;BYSETPOS=1",
		"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=HOURLY;INTERVAL=2147483647",
		"FREQ=DAILY;BYDAY=\u00e9\u00e9", "FREQ=DAILY;UNTIL=1997090 T000000Z",
	} {
		f.Add(s)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2025, 3, 30, 2, 30, 0, 0, paris)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("ParseRule(%q) error %T is not *RuleError: %v", s, err, err)
			}
			return
		}
		text := r.String()
		r2, err := ParseRule(text)
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, text, err)
		}
		if !reflect.DeepEqual(r, r2) || r2.String() != text {
			t.Fatalf("round trip of %q: %q → %q", s, text, r2.String())
		}
		// Expansion never panics and is strictly ascending.
		var last time.Time
		n := 0
		for o := range r.Between(start, time.Time{}, start.AddDate(20, 0, 0)) {
			if n > 0 && !o.After(last) {
				t.Fatalf("%q: %v not after %v", text, o, last)
			}
			if o.Before(start) {
				t.Fatalf("%q: %v before DTSTART", text, o)
			}
			last = o
			if n++; n == 50 {
				break
			}
		}
	})
}

// FuzzReadEvents feeds the corpus and variations to ReadEvents: it must
// not panic, every error must be an *Error, and the instances of what it
// reads come in order.
func FuzzReadEvents(f *testing.F) {
	addCorpus(f)
	f.Add(calendar("BEGIN:VTIMEZONE", "TZID:X", "BEGIN:STANDARD", "DTSTART:19700101T000000", "RDATE:19800101T000000",
		"TZOFFSETFROM:+0100", "TZOFFSETTO:+0000", "END:STANDARD", "END:VTIMEZONE",
		"BEGIN:VEVENT", "UID:u", "DTSTART;TZID=X:19750101T000000", "RRULE:FREQ=YEARLY", "END:VEVENT",
		"BEGIN:VEVENT", "UID:u", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=X:19770101T000000", "DURATION:PT1H", "END:VEVENT"))
	f.Add(calendar("BEGIN:VEVENT", "UID:p", "DTSTART:20260101T000000Z", "RDATE;VALUE=PERIOD:20260102T000000Z/PT1H", "END:VEVENT"))
	f.Fuzz(func(t *testing.T, s string) {
		evs, err := ReadEvents(strings.NewReader(s), ReadOptions{})
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			return
		}
		for _, ev := range evs {
			var prev Instance
			n := 0
			for in := range ev.Set.Between(time.Time{}, time.Time{}) {
				if n > 0 && compareInstances(prev, in) > 0 {
					t.Fatalf("%v: %v after %v", ev, in, prev)
				}
				prev = in
				if n++; n == 50 {
					break
				}
			}
		}
	})
}

// FuzzZoneFromVTimezone builds zones from every VTIMEZONE of the input:
// no panic, errors are *Error, and a zone built converts times both ways.
func FuzzZoneFromVTimezone(f *testing.F) {
	addCorpus(f)
	f.Add(calendar("BEGIN:VTIMEZONE", "TZID:Half", "BEGIN:DAYLIGHT", "DTSTART:20000101T000000",
		"RDATE:20100601T020000,20110601T020000", "TZOFFSETFROM:+0530", "TZOFFSETTO:+063015", "TZNAME:HALF", "END:DAYLIGHT", "END:VTIMEZONE"))
	f.Fuzz(func(t *testing.T, s string) {
		comps, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, cal := range comps {
			for _, c := range cal.Comps {
				if c.Name != "VTIMEZONE" {
					continue
				}
				loc, err := ZoneFromVTimezone(c)
				if err != nil {
					var ie *Error
					if !errors.As(err, &ie) {
						t.Fatalf("error %T is not an *Error: %v", err, err)
					}
					continue
				}
				for _, y := range []int{1601, 1970, 2026, 2199, 2300} {
					w := time.Date(y, 7, 1, 12, 0, 0, 0, loc)
					if back := time.Unix(w.Unix(), 0).In(loc); back.Year() != y {
						t.Fatalf("%s: %v reads back as %v", loc, w, back)
					}
				}
			}
		}
	})
}

// addCorpus seeds f with the files of testdata/corpus.
func addCorpus(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.ics")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
}
