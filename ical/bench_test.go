package ical

import (
	"testing"
	"time"

	rrulego "github.com/teambition/rrule-go"
)

// BenchmarkRRuleDailyYear expands a daily 22:00 Europe/Paris window over a
// year (365 occurrences, two DST changes), with our engine and with
// teambition/rrule-go on the same rule.
func BenchmarkRRuleDailyYear(b *testing.B) {
	paris := mustLoad(b, "Europe/Paris")
	start := time.Date(2024, 1, 1, 22, 0, 0, 0, paris)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, paris)
	to := time.Date(2026, 1, 1, 0, 0, 0, 0, paris)
	const text = "FREQ=DAILY;BYHOUR=22;BYMINUTE=0;BYSECOND=0"

	b.Run("relman", func(b *testing.B) {
		r, err := ParseRule(text)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for range r.Between(start, from, to) {
				n++
			}
			if n != 365 {
				b.Fatalf("%d occurrences", n)
			}
		}
	})
	b.Run("relman-from-dtstart", func(b *testing.B) {
		r, _ := ParseRule(text)
		s := time.Date(2025, 1, 1, 22, 0, 0, 0, paris)
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for range r.Between(s, time.Time{}, to) {
				n++
			}
			if n != 365 {
				b.Fatalf("%d occurrences", n)
			}
		}
	})
	b.Run("rrule-go", func(b *testing.B) {
		opt, err := rrulego.StrToROption(text)
		if err != nil {
			b.Fatal(err)
		}
		opt.Dtstart = start
		r, err := rrulego.NewRRule(*opt)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if n := len(r.Between(from, to, true)); n != 365 {
				b.Fatalf("%d occurrences", n)
			}
		}
	})
	b.Run("rrule-go-from-dtstart", func(b *testing.B) {
		opt, _ := rrulego.StrToROption(text)
		opt.Dtstart = time.Date(2025, 1, 1, 22, 0, 0, 0, paris)
		r, _ := rrulego.NewRRule(*opt)
		b.ReportAllocs()
		for b.Loop() {
			if n := len(r.Between(opt.Dtstart, to, true)); n != 365 {
				b.Fatalf("%d occurrences", n)
			}
		}
	})
}
