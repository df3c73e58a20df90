package ical

import (
	"errors"
	"reflect"
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
