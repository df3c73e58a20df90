package ical

import (
	"testing"
	"time"

	rrulego "github.com/teambition/rrule-go"
)

// benchShapes are the rule shapes we compare with teambition/rrule-go:
// each expands over a span in Europe/Paris (so DST changes are crossed)
// and must give n occurrences on both sides.
var benchShapes = []struct {
	name     string
	rule     string
	start    time.Time
	from, to time.Time
	n        int
}{
	{"daily", "FREQ=DAILY;BYHOUR=22;BYMINUTE=0;BYSECOND=0", date(2024, 1, 1, 22), date(2025, 1, 1, 0), date(2026, 1, 1, 0), 365},
	{"weekly-byday", "FREQ=WEEKLY;BYDAY=MO,WE,FR", date(2024, 1, 1, 9), date(2025, 1, 1, 0), date(2026, 1, 1, 0), 157},
	{"monthly-bysetpos", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", date(2020, 1, 31, 17), date(2020, 1, 1, 0), date(2030, 1, 1, 0), 120},
	{"yearly-byweekno", "FREQ=YEARLY;BYWEEKNO=1,20,-1;BYDAY=MO,FR", date(2020, 1, 3, 8), date(2020, 1, 1, 0), date(2030, 1, 1, 0), 60},
	{"hourly-byhour", "FREQ=HOURLY;BYHOUR=9,12,17", date(2025, 1, 1, 9), date(2025, 1, 1, 0), date(2026, 1, 1, 0), 1095},
	{"count", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=100", date(2025, 1, 2, 20), time.Time{}, time.Time{}, 100},
}

func date(y, m, d, h int) time.Time {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return time.Date(y, time.Month(m), d, h, 0, 0, 0, paris)
}

// BenchmarkShapes runs each shape with our engine and with rrule-go in
// one run: compare ns/op of relman/X with rrule-go/X.
func BenchmarkShapes(b *testing.B) {
	for _, s := range benchShapes {
		b.Run("relman/"+s.name, func(b *testing.B) {
			r, err := ParseRule(s.rule)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for range r.Between(s.start, s.from, s.to) {
					n++
				}
				if n != s.n {
					b.Fatalf("%d occurrences, want %d", n, s.n)
				}
			}
		})
		b.Run("rrule-go/"+s.name, func(b *testing.B) {
			opt, err := rrulego.StrToROption(s.rule)
			if err != nil {
				b.Fatal(err)
			}
			opt.Dtstart = s.start
			r, err := rrulego.NewRRule(*opt)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var n int
				if s.from.IsZero() {
					n = len(r.All())
				} else {
					n = len(r.Between(s.from, s.to, true))
				}
				if n != s.n {
					b.Fatalf("%d occurrences, want %d", n, s.n)
				}
			}
		})
	}
}
