package relman_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

const benchReleases = 100_000

// benchStore holds benchReleases releases spread over 2026, each with a
// full history (create, 8 transitions to operating, then closed or rolled
// back), a review, feedback on most and an incident on some: about 13
// audit entries each. It is built once, straight through the store with
// Release.Record, not through the Manager.
var benchStore = sync.OnceValue(func() relman.Store {
	s := memory.New()
	ctx := context.Background()
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := []relman.Stage{relman.StageApproved, relman.StagePlanned, relman.StageBuilding, relman.StageTesting,
		relman.StageVerified, relman.StageAuthorized, relman.StageDeploying, relman.StageOperating}
	for i := range benchReleases {
		r := &relman.Release{
			ID: fmt.Sprintf("r%06d", i), Title: "bench", Version: "1.0.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
			Requester: "rita", Owner: "olga",
			Services: []string{fmt.Sprintf("svc-%03d", i%1000), fmt.Sprintf("svc-%03d", (i*7+1)%1000)},
			Teams:    []string{fmt.Sprintf("team-%02d", i%50)},
		}
		// Created every ~5 minutes through the year; each step takes 4h.
		at := year.Add(time.Duration(i) * 315 * time.Second)
		r.Stage, r.CreatedAt = relman.StageProposed, at
		entries := make([]relman.AuditEntry, 0, 13)
		entries = append(entries, r.Record(relman.AuditEntry{At: at, Actor: "rita", Action: relman.ActionCreate, To: r.Stage}))
		step := func(to relman.Stage) {
			at = at.Add(4 * time.Hour)
			entries = append(entries, r.Record(relman.AuditEntry{At: at, Actor: "olga", Action: relman.ActionTransition,
				Event: eventInto[to], From: r.Stage, To: to}))
			r.Stage, r.EnteredAt = to, at
		}
		for _, st := range path {
			step(st)
		}
		switch {
		case i%10 == 0: // 10 % roll back, with an incident
			opened := at.Add(time.Hour)
			resolved := opened.Add(time.Duration(i%7+1) * 30 * time.Minute)
			r.Incidents = []relman.Incident{{ID: "INC-1", Severity: relman.SeverityHigh, Relation: relman.RelationCaused, OpenedAt: opened, ResolvedAt: &resolved}}
			step(relman.StageRolledBack)
			r.Review = &relman.Review{Outcome: relman.OutcomeFailed, At: at}
		default:
			r.Review = &relman.Review{Outcome: relman.OutcomeSuccessful, At: at}
			step(relman.StageClosed)
		}
		if i%4 != 0 {
			r.Feedback = []relman.Feedback{{Rating: i%5 + 1, At: at.Add(time.Hour)}}
		}
		at = at.Add(2 * time.Hour)
		entries = append(entries, r.Record(relman.AuditEntry{At: at, Actor: "olga", Action: relman.ActionFeedback}))
		r.UpdatedAt = at
		if err := s.Create(ctx, r, entries...); err != nil {
			panic(err)
		}
	}
	return s
})

// BenchmarkMetrics computes delivery metrics over the 100 000 releases of
// benchStore (about 1.3 million audit entries): for the whole year (every
// history read) and for one month (histories outside it skipped).
func BenchmarkMetrics(b *testing.B) {
	s := benchStore()
	ctx := context.Background()
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []struct {
		name     string
		from, to time.Time
	}{
		{"year", year, year.AddDate(1, 0, 0)},
		{"month", year.AddDate(0, 5, 0), year.AddDate(0, 6, 0)},
	} {
		b.Run(p.name, func(b *testing.B) {
			var rep *relman.MetricsReport
			for b.Loop() {
				var err error
				rep, err = relman.Measure(ctx, s, relman.MetricsQuery{From: p.from, To: p.to})
				if err != nil {
					b.Fatal(err)
				}
			}
			if rep.Scanned != benchReleases {
				b.Fatalf("scanned %d", rep.Scanned)
			}
			b.ReportMetric(float64(rep.Overall.Deployments), "deployments")
			b.ReportMetric(float64(len(rep.ByService)), "services")
		})
	}
}
