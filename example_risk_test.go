package relman_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// exampleRelease returns a release ready for the authorize event once it
// has been driven to verified.
func exampleRelease(id string) *relman.Release {
	return &relman.Release{
		ID: id, Title: "New invoice engine", Version: "3.0.0", Kind: relman.KindMajor, Model: relman.ModelNormal,
		Requester: "rita", Owner: "olga", Services: []string{"invoices"},
		Case:           relman.BusinessCase{Problem: "invoices take 30s", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh},
		Tasks:          []relman.Task{{Name: "build", Team: "billing"}, {Name: "migrate", Team: "dba"}},
		RollbackPlan:   "redeploy 2.9.4",
		RequiredSuites: []string{"unit"},
		Risks: []relman.Risk{{ID: "lock", Title: "schema migration locks the invoices table", Category: "data",
			Likelihood: 4, Impact: 4, Mitigation: "online migration tool", Owner: "dba", Status: relman.RiskOpen}},
	}
}

// exampleToVerified drives a release from proposed to verified.
func exampleToVerified(ctx context.Context, m *relman.Manager, id string) error {
	pm := relman.Actor{ID: "pat", Roles: []string{"release-manager"}}
	now := m.Now()
	steps := []struct {
		ev  relman.Event
		req relman.Request
	}{
		{relman.EventApprove, relman.Request{}},
		{relman.EventPlan, relman.Request{Window: &relman.Span{Start: now.Add(24 * time.Hour), End: now.Add(26 * time.Hour)}}},
		{relman.EventStart, relman.Request{}},
		{relman.EventSubmit, relman.Request{}},
	}
	for _, st := range steps {
		st.req.Actor = pm
		if _, err := m.Fire(ctx, id, st.ev, st.req); err != nil {
			return err
		}
	}
	if _, err := m.RecordTest(ctx, id, pm, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		return err
	}
	_, err := m.Fire(ctx, id, relman.EventPass, relman.Request{Actor: pm})
	return err
}

// Assess a release and print why it is as risky as it is: every
// assessor's level and each reason with its points.
func ExampleManager_Assess() {
	ctx := context.Background()
	fixed := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, err := relman.NewManager(memory.New(),
		relman.WithClock(func() time.Time { return fixed }),
		relman.WithDependencies(map[string][]string{
			"checkout": {"payments"}, "payments": {"invoices"}, "reports": {"invoices"},
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := exampleRelease("rel-1")
	r.Services = append(r.Services, "mail")
	r.RollbackPlan = ""
	if _, err := m.Create(ctx, r, relman.Actor{ID: "rita"}); err != nil {
		fmt.Println(err)
		return
	}
	r, err = m.Assess(ctx, "rel-1", relman.Actor{ID: "rita"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("level:", r.Assessment.Level)
	for _, res := range r.Assessment.Results {
		fmt.Printf("%s: %s\n", res.Assessor, res.Level)
		for _, why := range res.Reasons {
			fmt.Printf("  %-14s %2d  %s\n", why.Factor, why.Points, why.Explanation)
		}
	}
	// Output:
	// level: high
	// register: high
	//   risk:lock      16  schema migration locks the invoices table: likelihood 4 × impact 4 = 16 (high), open
	// factors: high
	//   services        9  touches 2 service(s) (invoices, mail) on which 3 other service(s) depend (checkout, payments, reports)
	//   size            2  2 task(s)
	//   major           5  major release
	//   rollback       15  no rollback plan
	//   tests-missing  10  no test result for unit
}

// A high-risk normal change needs two approvals of the change advisory
// board (role cab) under the default policy: authorize is refused, naming
// what is missing, until both are given.
func Example_advisoryBoard() {
	ctx := context.Background()
	fixed := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, err := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return fixed }))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Create(ctx, exampleRelease("rel-2"), relman.Actor{ID: "rita"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := exampleToVerified(ctx, m, "rel-2"); err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Assess(ctx, "rel-2", relman.Actor{ID: "pat"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("assessed:", r.Assessment.Level)

	authorize := func() {
		_, err := m.Fire(ctx, "rel-2", relman.EventAuthorize, relman.Request{Actor: relman.Actor{ID: "pat"}})
		var missing *relman.ApprovalsMissingError
		switch {
		case err == nil:
			fmt.Println("authorized")
		case errors.As(err, &missing):
			fmt.Println("refused:", missing.Missing[0])
		default:
			fmt.Println("error:", err)
		}
	}
	authorize()
	for _, who := range []string{"carl", "dana"} {
		if _, err := m.Approve(ctx, "rel-2", relman.Actor{ID: who, Roles: []string{relman.RoleCAB}}, relman.RoleCAB, "reviewed"); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("approved by", who)
		authorize()
	}
	// Output:
	// assessed: high
	// refused: 2 more from role cab (have 0 of 2)
	// approved by carl
	// refused: 1 more from role cab (have 1 of 2)
	// approved by dana
	// authorized
}

// The requester (or owner) of a release may not approve it, whatever
// roles they hold, unless the policy sets AllowSelfApproval.
func ExampleManager_Approve_selfApproval() {
	ctx := context.Background()
	m, err := relman.NewManager(memory.New())
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Create(ctx, exampleRelease("rel-3"), relman.Actor{ID: "rita"}); err != nil {
		fmt.Println(err)
		return
	}
	rita := relman.Actor{ID: "rita", Roles: []string{relman.RoleCAB}}
	_, err = m.Approve(ctx, "rel-3", rita, relman.RoleCAB, "my own change, looks good")
	fmt.Println(errors.Is(err, relman.ErrSelfApproval))
	r, err := m.Get(ctx, "rel-3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("approvals stored:", len(r.Approvals))
	// Output:
	// true
	// approvals stored: 0
}
