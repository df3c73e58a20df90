package ical

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rrulego "github.com/teambition/rrule-go"
)

// randomRule builds a valid rule text with the parts RFC 5545 allows for
// its frequency.
func randomRule(rng *rand.Rand) string {
	freqs := []Frequency{Yearly, Yearly, Monthly, Monthly, Weekly, Weekly, Daily, Daily, Hourly, Minutely, Secondly}
	f := freqs[rng.IntN(len(freqs))]
	parts := []string{"FREQ=" + f.String()}
	// rrule-go loops for ever on sub-daily rules whose interval never meets
	// their BYHOUR/BYMINUTE/BYSECOND, so those keep INTERVAL=1 here.
	subDaily := f <= Hourly
	if rng.IntN(2) == 0 && !subDaily {
		parts = append(parts, "INTERVAL="+strconv.Itoa(1+rng.IntN(4)))
	}
	switch rng.IntN(3) {
	case 0:
		parts = append(parts, "COUNT="+strconv.Itoa(1+rng.IntN(40)))
	case 1:
		parts = append(parts, "UNTIL="+time.Date(2026+rng.IntN(6), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC).Format("20060102T150405Z"))
	}
	// Lists hold no duplicates: rrule-go counts a repeated BYHOUR twice
	// in BYSETPOS positions, RFC 5545 lists are sets.
	list := func(n, lo, hi int, signed bool) string {
		var v []string
		for range 1 + rng.IntN(n) {
			x := lo + rng.IntN(hi-lo+1)
			if signed && rng.IntN(3) == 0 {
				x = -x
			}
			if s := strconv.Itoa(x); !slices.Contains(v, s) {
				v = append(v, s)
			}
		}
		return strings.Join(v, ",")
	}
	hasBy := false
	add := func(p string) { parts = append(parts, p); hasBy = true }
	if rng.IntN(3) == 0 {
		add("BYMONTH=" + list(3, 1, 12, false))
	}
	if f == Yearly && rng.IntN(4) == 0 {
		add("BYWEEKNO=" + list(3, 1, 53, true))
		// With BYWEEKNO and no day part, rrule-go takes every day of the
		// week; we take DTSTART's weekday, as RFC 5545 derives missing
		// parts from DTSTART (and as WEEKLY does). Compare with a BYDAY.
		add("BYDAY=" + dayNames[rng.IntN(7)])
	}
	if f == Yearly && rng.IntN(4) == 0 {
		add("BYYEARDAY=" + list(3, 1, 366, true))
	}
	if f != Weekly && !subDaily && rng.IntN(3) == 0 {
		add("BYMONTHDAY=" + list(3, 1, 31, true))
	}
	if rng.IntN(2) == 0 && !strings.Contains(strings.Join(parts, ";"), "BYDAY") {
		var v []string
		ordOK := (f == Monthly || f == Yearly) && !slices.ContainsFunc(parts, func(p string) bool { return strings.HasPrefix(p, "BYWEEKNO") })
		// rrule-go requires a day to match both the plain and the numbered
		// entries of a mixed BYDAY list (FR,2MO); RFC 5545 takes their
		// union, so a list here is all plain or all numbered.
		numbered := ordOK && rng.IntN(2) == 0
		for range 1 + rng.IntN(3) {
			d := dayNames[rng.IntN(7)]
			if numbered {
				n := 1 + rng.IntN(4)
				if f == Yearly && rng.IntN(2) == 0 {
					n = 1 + rng.IntN(52)
				}
				if rng.IntN(2) == 0 {
					n = -n
				}
				d = strconv.Itoa(n) + d
			}
			v = append(v, d)
		}
		add("BYDAY=" + strings.Join(v, ","))
	}
	if f > Hourly && rng.IntN(3) == 0 || f <= Hourly && rng.IntN(4) == 0 {
		add("BYHOUR=" + list(3, 0, 23, false))
	}
	if rng.IntN(4) == 0 {
		add("BYMINUTE=" + list(2, 0, 59, false))
	}
	if f == Secondly && rng.IntN(3) == 0 {
		add("BYSECOND=" + list(2, 0, 59, false))
	}
	// rrule-go never ends a sub-daily rule whose BYSETPOS cannot match, and
	// for WEEKLY it counts BYSETPOS in a first week cut at DTSTART rather
	// than in the whole week.
	if hasBy && !subDaily && f != Weekly && rng.IntN(4) == 0 {
		parts = append(parts, "BYSETPOS="+list(2, 1, 5, true))
	}
	if rng.IntN(3) == 0 {
		parts = append(parts, "WKST="+dayNames[rng.IntN(7)])
	}
	return strings.Join(parts, ";")
}

// TestRRuleCrossCheck compares expansions with teambition/rrule-go, an
// independent implementation (a port of python-dateutil), on random rules.
// DTSTART is in UTC and in zones at times away from DST changes, where both
// libraries must agree exactly.
func TestRRuleCrossCheck(t *testing.T) {
	n := 1500
	if testing.Short() || raceEnabled {
		n = 200
	}
	rng := rand.New(rand.NewPCG(5545, 1))
	zones := []*time.Location{time.UTC, mustLoad(t, "America/New_York"), mustLoad(t, "Europe/Paris"), mustLoad(t, "Asia/Kolkata")}
	limit := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	compared, refPanics := 0, 0
	defer func() { t.Logf("compared %d rules; rrule-go panicked on %d", compared, refPanics) }()
	for i := range n {
		text := randomRule(rng)
		loc := zones[i%len(zones)]
		start := time.Date(2025+rng.IntN(3), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 9+rng.IntN(12), rng.IntN(60), rng.IntN(60), 0, loc)
		// Zoned starts (09:00–20:59 local) stay away from DST changes, where
		// rrule-go picks the second of two ambiguous times; rules that can
		// reach other hours run in UTC.
		if strings.Contains(text, "BYHOUR") || strings.Contains(text, "FREQ=HOURLY") ||
			strings.Contains(text, "FREQ=MINUTELY") || strings.Contains(text, "FREQ=SECONDLY") {
			start = start.UTC()
		}
		ours, err := ParseRule(text)
		if err != nil {
			t.Fatalf("generated rule %q: %v", text, err)
		}
		opt, err := rrulego.StrToROption(text)
		if err != nil {
			t.Fatalf("rrule-go parse %q: %v", text, err)
		}
		opt.Dtstart = start
		ref, err := rrulego.NewRRule(*opt)
		if err != nil {
			t.Fatalf("rrule-go %q: %v", text, err)
		}
		const max = 80
		want, ok := refExpand(ref, max, limit)
		if !ok {
			refPanics++
			continue
		}
		compared++
		var got []time.Time
		for v := range ours.Between(start, time.Time{}, limit) {
			got = append(got, v)
			if len(got) == max {
				break
			}
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("rule %q from %v:\n ours %v\n ref  %v", text, start, fmtTimes(got), fmtTimes(want))
			if t.Failed() && i > 50 {
				return
			}
		}
	}
}

// refExpand runs rrule-go, which panics on some valid rules (large
// negative BYDAY ordinals in YEARLY rules).
func refExpand(ref *rrulego.RRule, max int, limit time.Time) (out []time.Time, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = nil, false
		}
	}()
	next := ref.Iterator()
	for len(out) < max {
		v, more := next()
		if !more || !v.Before(limit) {
			break
		}
		out = append(out, v)
	}
	return out, true
}

func fmtTimes(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i == 8 {
			b.WriteString(" …(" + strconv.Itoa(len(ts)) + ")")
			break
		}
		b.WriteString(" " + t.Format("2006-01-02T15:04:05Z07:00"))
	}
	return b.String()
}
