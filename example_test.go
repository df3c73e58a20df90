package relman_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// A release from need to operation on the default lifecycle.
func ExampleManager_Fire() {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, _ := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return now }))
	olga := relman.Actor{ID: "olga"}

	_, err := m.Create(ctx, &relman.Release{
		ID: "inv-2.4", Title: "Faster invoices", Version: "2.4.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal, Requester: "rita", Owner: "olga",
		Services: []string{"invoices"},
		Case: relman.BusinessCase{Problem: "invoices take 30 s", ExpectedValue: 50000,
			Cost: 12000, Feasibility: relman.FeasibilityHigh},
		RollbackPlan: "redeploy 2.3.9", RequiredSuites: []string{"unit"},
	}, olga)
	if err != nil {
		fmt.Println(err)
		return
	}
	window := relman.Span{Start: now, End: now.Add(2 * time.Hour)}
	steps := []struct {
		ev  relman.Event
		req relman.Request
	}{
		{relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}}, // the need's owner may not approve it
		{relman.EventPlan, relman.Request{Actor: olga, Window: &window}},
		{relman.EventStart, relman.Request{Actor: olga}},
		{relman.EventSubmit, relman.Request{Actor: olga}},
	}
	for _, s := range steps {
		r, err := m.Fire(ctx, "inv-2.4", s.ev, s.req)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s -> %s\n", s.ev, r.Stage)
	}
	if _, err := m.RecordTest(ctx, "inv-2.4", olga, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Fire(ctx, "inv-2.4", relman.EventPass, relman.Request{Actor: olga})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%-8s -> %s\n", relman.EventPass, r.Stage)
	// Authorization needs a risk assessment and the approvals its level
	// calls for: one, from someone who is neither requester nor owner.
	if r, err = m.Assess(ctx, "inv-2.4", olga); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("risk:", r.Assessment.Level)
	carl := relman.Actor{ID: "carl", Roles: []string{"cab"}}
	if _, err := m.Approve(ctx, "inv-2.4", carl, "cab", "looks safe"); err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range []relman.Event{relman.EventAuthorize, relman.EventDeploy, relman.EventComplete} {
		r, err := m.Fire(ctx, "inv-2.4", ev, relman.Request{Actor: olga})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s -> %s\n", ev, r.Stage)
	}
	fmt.Println("history verifies:", m.Verify(ctx, "inv-2.4") == nil)
	// Output:
	// approve  -> approved
	// plan     -> planned
	// start    -> building
	// submit   -> testing
	// pass     -> verified
	// risk: low
	// authorize -> authorized
	// deploy   -> deploying
	// complete -> operating
	// history verifies: true
}

// Catching every refusal of a transition with errors.As, and one cause
// with errors.Is.
func ExampleGateError() {
	ctx := context.Background()
	m, _ := relman.NewManager(memory.New())
	olga := relman.Actor{ID: "olga"}
	_, err := m.Create(ctx, &relman.Release{
		ID: "pay-1", Title: "New payment provider", Version: "1.0.0", Kind: relman.KindMajor,
		Model: relman.ModelNormal, Requester: "rita", Owner: "olga",
		Case: relman.BusinessCase{Problem: "fees too high"},
	}, olga)
	if err != nil {
		fmt.Println(err)
		return
	}

	err = m.Check(ctx, "pay-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}})
	var ge *relman.GateError
	if errors.As(err, &ge) {
		for _, f := range ge.Failures {
			fmt.Printf("%s: %v\n", f.Gate, f.Err)
		}
	}
	fmt.Println("incomplete case:", errors.Is(err, relman.ErrBusinessCaseIncomplete))
	// Output:
	// business-case: business case incomplete: missing expected_value, cost, feasibility
	// incomplete case: true
}

// A lifecycle of its own: a two-step change request with a sign-off gate.
func ExampleNewLifecycle() {
	spec := relman.LifecycleSpec{
		Initial:  "draft",
		Stages:   []relman.Stage{"draft", "live", "withdrawn"},
		Terminal: []relman.Stage{"withdrawn"},
		Events: []relman.EventSpec{
			{Name: "publish", From: []relman.Stage{"draft"}, To: "live"},
			{Name: "withdraw", From: []relman.Stage{"draft", "live"}, To: "withdrawn"},
		},
	}
	spec.AddGate("publish", "signed-off", relman.GateFunc(
		func(_ context.Context, r *relman.Release, _ relman.Transition) error {
			if r.Labels["signed-off-by"] == "" {
				return errors.New("nobody signed off")
			}
			return nil
		}))
	spec.AddGate("withdraw", "reason", relman.ReasonGiven())
	lc, err := relman.NewLifecycle(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(lc.Mermaid())

	// A mistake is caught when the lifecycle is built.
	spec.AddGate("archive", "x", relman.ReasonGiven())
	_, err = relman.NewLifecycle(spec)
	fmt.Println(err)
	// Output:
	// stateDiagram-v2
	//     [*] --> draft
	//     draft --> live: publish
	//     draft --> withdrawn: withdraw
	//     live --> withdrawn: withdraw
	//     withdrawn --> [*]
	// relman: invalid lifecycle: gate "x" on unknown event "archive"
}
