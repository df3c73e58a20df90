package relman_test

import (
	"context"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// Example_metrics runs two releases of the invoices service through a
// week, records what happened in operation, and computes the week's
// delivery metrics.
func Example_metrics() {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday
	m, err := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	olga := relman.Actor{ID: "olga"}
	must := func(_ *relman.Release, err error) {
		if err != nil {
			panic(err)
		}
	}
	fire := func(id string, ev relman.Event, req relman.Request) {
		req.Actor = olga
		must(m.Fire(ctx, id, ev, req))
	}
	// ship approves a new release, takes it to deployment after
	// toDeploy, and completes the deployment 30 minutes later.
	ship := func(id string, toDeploy time.Duration) {
		must(m.Create(ctx, &relman.Release{
			ID: id, Title: "Invoices " + id, Version: "1.0.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
			Requester: "rita", Owner: "olga", Teams: []string{"billing"}, Services: []string{"invoices"},
			Case:         relman.BusinessCase{Problem: "slow", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh},
			RollbackPlan: "redeploy the previous version",
		}, olga))
		must(m.Fire(ctx, id, relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}})) // not the owner
		fire(id, relman.EventPlan, relman.Request{Window: &relman.Span{Start: now.Add(toDeploy), End: now.Add(toDeploy + 2*time.Hour)}})
		fire(id, relman.EventStart, relman.Request{})
		fire(id, relman.EventSubmit, relman.Request{})
		must(m.RecordTest(ctx, id, olga, relman.TestResult{Suite: "unit", Passed: true}))
		fire(id, relman.EventPass, relman.Request{})
		must(m.Assess(ctx, id, olga))
		must(m.Approve(ctx, id, relman.Actor{ID: "carl", Roles: []string{"cab"}}, "cab", "ok"))
		fire(id, relman.EventAuthorize, relman.Request{})
		now = now.Add(toDeploy)
		fire(id, relman.EventDeploy, relman.Request{})
		now = now.Add(30 * time.Minute)
		fire(id, relman.EventComplete, relman.Request{})
	}

	// Monday 9:00 → Tuesday 9:30: a good release, rated 5 and 4.
	ship("inv-1", 24*time.Hour)
	must(m.AddFeedback(ctx, "inv-1", olga, relman.Feedback{Rating: 5, Source: "survey"}))
	must(m.AddFeedback(ctx, "inv-1", olga, relman.Feedback{Rating: 4, Source: "survey"}))
	must(m.RecordReview(ctx, "inv-1", olga, relman.Review{Outcome: relman.OutcomeSuccessful}))
	fire("inv-1", relman.EventClose, relman.Request{})

	// Tuesday 9:30 → Thursday 10:00: a release that breaks invoicing.
	now = now.Add(48 * time.Hour)
	ship("inv-2", 24*time.Hour)
	now = now.Add(15 * time.Minute)
	must(m.OpenIncident(ctx, "inv-2", olga, relman.Incident{ID: "INC-42", Severity: relman.SeverityHigh, Summary: "invoices not sent"}))
	now = now.Add(45 * time.Minute)
	fire("inv-2", relman.EventRollback, relman.Request{Reason: "INC-42"})
	must(m.ResolveIncident(ctx, "inv-2", olga, "INC-42", time.Time{}))
	must(m.AddFeedback(ctx, "inv-2", olga, relman.Feedback{Rating: 2, Source: "support"}))

	week := relman.MetricsQuery{
		From: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC),
	}
	rep, err := m.Metrics(ctx, week)
	if err != nil {
		fmt.Println(err)
		return
	}
	o := rep.ByService["invoices"]
	fmt.Printf("deployments: %d (%.2f a day)\n", o.Deployments, o.DeploymentsPerDay)
	fmt.Printf("change failure rate: %.0f%%\n", 100*o.ChangeFailureRate)
	fmt.Printf("lead time from approval: median %v\n", o.LeadTimeFromApproval.Median)
	fmt.Printf("time to restore: mean %v\n", o.TimeToRestore.Mean)
	fmt.Printf("rollback after: %v\n", o.RollbackDuration.Mean)
	fmt.Printf("user rating: %.2f from %d\n", o.Rating.Mean, o.Rating.Count)
	for _, id := range []string{"inv-1", "inv-2"} {
		r, err := m.Get(ctx, id)
		if err != nil {
			fmt.Println(err)
			return
		}
		score, ok := relman.SuccessScore(r)
		fmt.Printf("%s: %s, success score %.0f (%v)\n", id, r.Stage, score, ok)
	}
	// Output:
	// deployments: 2 (0.29 a day)
	// change failure rate: 50%
	// lead time from approval: median 24h30m0s
	// time to restore: mean 45m0s
	// rollback after: 1h30m0s
	// user rating: 3.67 from 3
	// inv-1: closed, success score 100 (true)
	// inv-2: rolled_back, success score 10 (true)
}
