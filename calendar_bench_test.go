package relman

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchReleases makes n planned releases over days days on services
// services: 1–2 services and a team each, windows of 1–4 hours.
func benchReleases(n, services int, days ...int) []*Release {
	span := 365
	if len(days) > 0 {
		span = days[0]
	}
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*Release, n)
	for i := range out {
		start := base.Add(time.Duration(rng.IntN(span*24*60)) * time.Minute)
		svcs := []string{fmt.Sprintf("svc-%d", rng.IntN(services))}
		if rng.IntN(4) == 0 {
			svcs = append(svcs, fmt.Sprintf("svc-%d", rng.IntN(services)))
		}
		out[i] = &Release{ID: fmt.Sprintf("rel-%06d", i), Services: svcs, Teams: []string{fmt.Sprintf("team-%d", rng.IntN(services/5))},
			Stage: StagePlanned, Window: &Span{start, start.Add(time.Duration(60+rng.IntN(180)) * time.Minute)}}
	}
	return out
}

func benchGraph(services int) *DependencyGraph {
	rng := rand.New(rand.NewPCG(3, 4))
	deps := map[string][]string{}
	for i := range services {
		if rng.IntN(3) == 0 {
			deps[fmt.Sprintf("svc-%d", i)] = []string{fmt.Sprintf("svc-%d", rng.IntN(services))}
		}
	}
	return NewDependencyGraph(deps)
}

// BenchmarkConflicts finds every conflict among n planned releases on
// 1 000 services, with a dependency graph and a capacity; compare the
// n=200000 and n=100000 figures for the n log n target (≤ 2.3×).
//
// "same-year" puts every release in one year, so doubling n doubles the
// density and quadruples the conflicts (the output, k, grows as n²);
// "same-density" lengthens the schedule with n (100 000 releases a year),
// so k grows with n and the ratio shows the O(n log n) sweep.
func BenchmarkConflicts(b *testing.B) {
	graph := benchGraph(1000)
	for _, shape := range []string{"same-density", "same-year"} {
		for _, n := range []int{100_000, 200_000} {
			days := 365
			if shape == "same-density" {
				days = 365 * n / 100_000
			}
			rs := benchReleases(n, 1000, days)
			b.Run(fmt.Sprintf("%s/n=%d", shape, n), func(b *testing.B) {
				b.ReportAllocs()
				var found int
				for b.Loop() {
					found = len(FindConflicts(rs, ConflictOptions{Capacity: 60, Graph: graph}))
				}
				b.ReportMetric(float64(found), "conflicts")
			})
		}
	}
}

// BenchmarkConflictsWithCalendar adds a calendar: a weekly maintenance
// window for half the services and a yearly freeze.
func BenchmarkConflictsWithCalendar(b *testing.B) {
	paris := mustLoad(b, "Europe/Paris")
	var scoped []string
	for i := range 500 {
		scoped = append(scoped, fmt.Sprintf("svc-%d", i))
	}
	cal, err := NewCalendar(
		Window{ID: "m", Name: "nightly", Kind: WindowMaintenance, TimeZone: "Europe/Paris", Services: scoped,
			Start: time.Date(2026, 1, 1, 20, 0, 0, 0, paris), End: time.Date(2026, 1, 2, 6, 0, 0, 0, paris), RRule: "FREQ=DAILY"},
		Window{ID: "f", Name: "year end", Kind: WindowFreeze, TimeZone: "Europe/Paris",
			Start: time.Date(2026, 12, 20, 0, 0, 0, 0, paris), End: time.Date(2027, 1, 3, 0, 0, 0, 0, paris), RRule: "FREQ=YEARLY"},
	)
	if err != nil {
		b.Fatal(err)
	}
	rs := benchReleases(100_000, 1000)
	b.ReportAllocs()
	var found int
	for b.Loop() {
		found = len(FindConflicts(rs, ConflictOptions{Capacity: 60, Calendar: cal}))
	}
	b.ReportMetric(float64(found), "conflicts")
}

// BenchmarkNextSlot finds a 2-hour slot for one service among 10 000
// planned releases, with a nightly maintenance window, a freeze and a
// capacity.
func BenchmarkNextSlot(b *testing.B) {
	paris := mustLoad(b, "Europe/Paris")
	cal, err := NewCalendar(
		Window{ID: "m", Name: "nightly", Kind: WindowMaintenance, TimeZone: "Europe/Paris",
			Start: time.Date(2026, 1, 1, 20, 0, 0, 0, paris), End: time.Date(2026, 1, 2, 6, 0, 0, 0, paris), RRule: "FREQ=DAILY"},
		Window{ID: "f", Name: "year end", Kind: WindowFreeze, TimeZone: "Europe/Paris",
			Start: time.Date(2026, 12, 20, 0, 0, 0, 0, paris), End: time.Date(2027, 1, 3, 0, 0, 0, 0, paris), RRule: "FREQ=YEARLY"},
	)
	if err != nil {
		b.Fatal(err)
	}
	// 10 000 releases on 20 services over the year: the service is busy
	// about 500 times.
	rs := benchReleases(10_000, 20)
	after := time.Date(2026, 6, 1, 9, 0, 0, 0, paris)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cal.NextSlot(after, 2*time.Hour, []string{"svc-3"}, SlotOptions{Planned: rs, Capacity: 3}); err != nil {
			b.Fatal(err)
		}
	}
}
