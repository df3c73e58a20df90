package ical

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// naiveBetween is Set.Between the slow, obvious way: every original
// start, each override applied, filtered and sorted.
func naiveBetween(s *Set, from, to time.Time) []Instance {
	var out []Instance
	exact := map[int64]Override{}
	var future []Override
	for _, o := range s.Overrides {
		if o.ThisAndFuture {
			future = append(future, o)
		} else {
			exact[o.RecurrenceID.Unix()] = o
		}
	}
	slices.SortFunc(future, func(a, b Override) int { return a.RecurrenceID.Compare(b.RecurrenceID) })
	periods := map[int64]time.Duration{}
	for _, p := range s.RDates {
		if !p.End.IsZero() {
			periods[p.Start.Unix()] = p.End.Sub(p.Start)
		}
	}
	for id := range s.Starts(time.Time{}, time.Time{}) {
		in := Instance{RecurrenceID: id, Start: id, End: id.Add(s.Duration)}
		if d, ok := periods[id.Unix()]; ok {
			in.End = id.Add(d)
		}
		if o, ok := exact[id.Unix()]; ok {
			if o.Cancelled {
				continue
			}
			in.Start, in.End = o.Start, o.End
		} else {
			var cur *Override
			for i := range future {
				if !future[i].RecurrenceID.After(id) {
					cur = &future[i]
				}
			}
			if cur != nil {
				if cur.Cancelled {
					continue
				}
				in.Start = id.Add(cur.Start.Sub(cur.RecurrenceID))
				in.End = in.Start.Add(cur.End.Sub(cur.Start))
			}
		}
		if !to.IsZero() && !in.Start.Before(to) {
			continue
		}
		if !from.IsZero() && !in.End.After(from) && !(in.End.Equal(in.Start) && !in.Start.Before(from)) {
			continue
		}
		out = append(out, in)
	}
	slices.SortFunc(out, compareInstances)
	return out
}

// TestSetBetweenMatchesNaive compares the lazy expansion, which holds
// back only what a shifted instance could still precede, with the naive
// one on random sets.
func TestSetBetweenMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 5545))
	paris, _ := time.LoadLocation("Europe/Paris")
	rules := []string{"FREQ=DAILY;COUNT=30", "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=25", "FREQ=DAILY;INTERVAL=3;COUNT=20", "FREQ=HOURLY;INTERVAL=7;COUNT=40"}
	for i := range 3000 {
		start := time.Date(2026, 3, 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, paris)
		r, err := ParseRule(rules[rng.IntN(len(rules))])
		if err != nil {
			t.Fatal(err)
		}
		s := &Set{Start: start, Duration: time.Duration(rng.IntN(50)) * time.Hour, Rule: r}
		for range rng.IntN(3) {
			p := Period{Start: start.Add(time.Duration(rng.IntN(900)) * time.Hour)}
			if rng.IntN(2) == 0 {
				p.End = p.Start.Add(time.Duration(rng.IntN(80)) * time.Hour)
			}
			s.RDates = append(s.RDates, p)
		}
		var ids []time.Time
		for id := range s.Starts(time.Time{}, time.Time{}) {
			ids = append(ids, id)
		}
		for range rng.IntN(3) {
			s.ExDates = append(s.ExDates, ids[rng.IntN(len(ids))])
		}
		for range rng.IntN(5) {
			id := ids[rng.IntN(len(ids))]
			o := Override{RecurrenceID: id, ThisAndFuture: rng.IntN(3) == 0, Cancelled: rng.IntN(4) == 0}
			if !o.Cancelled {
				o.Start = id.Add(time.Duration(rng.IntN(240)-120) * time.Hour)
				o.End = o.Start.Add(time.Duration(rng.IntN(30)) * time.Hour)
			}
			if !slices.ContainsFunc(s.Overrides, func(p Override) bool { return p.RecurrenceID.Equal(id) }) {
				s.Overrides = append(s.Overrides, o)
			}
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var from, to time.Time
		if rng.IntN(4) > 0 {
			from = start.Add(time.Duration(rng.IntN(1200)-200) * time.Hour)
		}
		if rng.IntN(4) > 0 {
			to = start.Add(time.Duration(rng.IntN(1400)-100) * time.Hour)
		}
		want := naiveBetween(s, from, to)
		var got []Instance
		for in := range s.Between(from, to) {
			got = append(got, in)
		}
		eq := func(a, b Instance) bool {
			return a.RecurrenceID.Equal(b.RecurrenceID) && a.Start.Equal(b.Start) && a.End.Equal(b.End)
		}
		if !slices.EqualFunc(got, want, eq) {
			t.Fatalf("case %d: %+v from %v to %v\n got %v\nwant %v", i, s, from, to, got, want)
		}
	}
}

// TestSetValidateBounded: an override far into a counted series is not
// searched for ever.
func TestSetValidateBounded(t *testing.T) {
	r, _ := ParseRule("FREQ=SECONDLY;COUNT=2000000000")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Set{Start: start, Rule: r, Overrides: []Override{
		{RecurrenceID: start.Add(10 * time.Second), Cancelled: true},
		{RecurrenceID: start.AddDate(0, 6, 0), Cancelled: true},
	}}
	begin := time.Now()
	err := s.Validate()
	var se *SetError
	if !errors.As(err, &se) || se.Index != 1 || !strings.Contains(err.Error(), "not checked") {
		t.Errorf("Validate = %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Validate took %v", d)
	}
}
