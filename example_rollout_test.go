package relman_test

import (
	"context"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// exampleAuthorized returns a Manager over a memory store, a settable
// clock, and release "inv-2.4" authorized for a window that opens at
// 22:00; opts configure the Manager.
func exampleAuthorized(opts ...relman.Option) (*relman.Manager, *time.Time) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, _ := relman.NewManager(memory.New(), append([]relman.Option{relman.WithClock(func() time.Time { return now })}, opts...)...)
	olga := relman.Actor{ID: "olga"}
	_, _ = m.Create(ctx, &relman.Release{
		ID: "inv-2.4", Title: "Faster invoices", Version: "2.4.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal, Requester: "rita", Owner: "olga",
		Services: []string{"invoices"},
		Case: relman.BusinessCase{Problem: "invoices take 30 s", ExpectedValue: 50000,
			Cost: 12000, Feasibility: relman.FeasibilityHigh},
		RollbackPlan: "redeploy 2.3.9", RequiredSuites: []string{"unit"},
	}, olga)
	window := relman.Span{Start: now.Add(13 * time.Hour), End: now.Add(15 * time.Hour)}
	fire := func(ev relman.Event, req relman.Request) {
		req.Actor = olga
		if _, err := m.Fire(ctx, "inv-2.4", ev, req); err != nil {
			fmt.Println(err)
		}
	}
	if _, err := m.Fire(ctx, "inv-2.4", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		fmt.Println(err)
	}
	fire(relman.EventPlan, relman.Request{Window: &window})
	fire(relman.EventStart, relman.Request{})
	fire(relman.EventSubmit, relman.Request{})
	_, _ = m.RecordTest(ctx, "inv-2.4", olga, relman.TestResult{Suite: "unit", Passed: true})
	fire(relman.EventPass, relman.Request{})
	_, _ = m.Assess(ctx, "inv-2.4", olga)
	_, _ = m.Approve(ctx, "inv-2.4", relman.Actor{ID: "carl"}, "", "ok")
	fire(relman.EventAuthorize, relman.Request{})
	return m, &now
}

// A deploy scheduled for the opening of the release's window: RunDue
// (what the runner calls) does nothing before it and fires it then.
func ExampleManager_Schedule() {
	ctx := context.Background()
	m, now := exampleAuthorized()
	_, s, err := m.Schedule(ctx, "inv-2.4", relman.Actor{ID: "ops"}, relman.ScheduleRequest{
		Event: relman.EventDeploy, Timing: relman.TimingWindow})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scheduled", s.ID, s.Event, s.Timing)

	acts, _ := m.RunDue(ctx, "inv-2.4")
	fmt.Println("at 09:00:", len(acts), "actions")

	*now = time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC)
	acts, _ = m.RunDue(ctx, "inv-2.4")
	for _, a := range acts {
		fmt.Println("at 22:00:", a)
	}
	r, _ := m.Get(ctx, "inv-2.4")
	fmt.Println("stage:", r.Stage)
	// Output:
	// scheduled s11 deploy window
	// at 09:00: 0 actions
	// at 22:00: inv-2.4: s11 deploy fired
	// stage: deploying
}

// A canary rollout to production: the error rate breaks its limit at
// 25 %, so the Deployer rolls back and the release is rolled back, with
// the measurement as the reason.
func ExampleManager_StartRollout() {
	ctx := context.Background()
	limit := 0.05
	probe := relman.ProbeFunc(func(_ context.Context, q relman.ProbeQuery) (float64, error) {
		if q.Step >= 1 {
			return 0.12, nil // the 25 % step hurts
		}
		return 0.01, nil
	})
	deployer := exampleDeployer{}
	m, now := exampleAuthorized(
		relman.WithEnvironments(relman.Environments{List: []relman.Environment{{Name: "production", Production: true}}}),
		relman.WithDeployer(deployer), relman.WithProbe("errors", probe))
	*now = time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC)
	if _, err := m.Fire(ctx, "inv-2.4", relman.EventDeploy, relman.Request{Actor: relman.Actor{ID: "ops"}}); err != nil {
		fmt.Println(err)
		return
	}
	_, err := m.StartRollout(ctx, "inv-2.4", relman.Actor{ID: "ops"}, "production", relman.RolloutPlan{
		Steps: []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}},
		Verification: relman.Verification{Interval: time.Minute, Measurements: 2,
			Checks: []relman.ProbeCheck{{Name: "error-rate", Probe: "errors", Max: &limit}}},
		OnFailure: relman.FailureRollback,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 10 { // the runner's passes, a minute apart
		acts, _ := m.RunDue(ctx, "inv-2.4")
		for _, a := range acts {
			if a.Detail != "" {
				fmt.Println(a.Detail)
			}
		}
		*now = now.Add(time.Minute)
	}
	r, _ := m.Get(ctx, "inv-2.4")
	fmt.Println("stage:", r.Stage)
	// Output:
	// (deployer: production at 5%)
	// step 1 (5%) deployed
	// step 1 (5%): measured error-rate=0.01 pass
	//   (deployer: production at 25%)
	// step 1 (5%) passed verification: 22:02:00 error-rate=0.01 pass
	// step 2 (25%) deployed
	//   (deployer: roll production back)
	// step 2 (25%) failed verification: 1 failed rounds (limit 0): 22:03:00 error-rate=0.12 fail
	// rolled back: step 2 (25%) failed verification: 1 failed rounds (limit 0): 22:03:00 error-rate=0.12 fail
	// stage: rolled_back
}

type exampleDeployer struct{}

func (exampleDeployer) Deploy(_ context.Context, d relman.DeployRequest) error {
	fmt.Printf("  (deployer: %s at %s)\n", d.Environment, d.Plan.Label())
	return nil
}

func (exampleDeployer) Rollback(_ context.Context, d relman.DeployRequest) error {
	fmt.Printf("  (deployer: roll %s back)\n", d.Environment)
	return nil
}
