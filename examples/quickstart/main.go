// Quickstart is the smallest program that embeds relman: it creates one
// release in an in-memory store and walks it through the default lifecycle
// from proposed to closed, including a failed test round and its
// correction, printing one line per step.
//
// Run it from the repository root:
//
//	go run ./examples/quickstart
//
// Output (times come from a simulated clock that starts at the real time,
// so the run takes no time and only the timestamps vary):
//
//	09:18  create     —          → proposed    by olga  need: invoices take 30 s to render
//	09:19  approve    proposed   → approved    by cab   business case accepted
//	09:20  plan       approved   → planned     by olga  window booked
//	…
//	09:44  test       (evidence recorded)      by qa    integration FAILED: PDF totals off by one cent
//	09:45  fail       testing    → building    by qa    integration: PDF totals off by one cent
//	…
//	10:21  close      operating  → closed      by olga  review: successful
//	invoices-2.4.0 is closed; its history of 17 entries verifies.
//
// Transitions are printed by an after-hook (relman.WithAfterHook), the
// way a host would notify a chat channel or a ticket system.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

func main() {
	if err := run(context.Background(), os.Stdout, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// clock is the simulated time the Manager reads: the program advances it
// to stand for the hours and days between steps.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// run walks one release from proposed to closed, starting the simulated
// clock at start, and prints each step to w.
func run(ctx context.Context, w io.Writer, start time.Time) error {
	clk := &clock{now: start.UTC().Truncate(time.Minute)}
	m, err := relman.NewManager(memory.New(), relman.WithClock(clk.Now),
		// Print every accepted transition, as a host would notify a chat
		// channel or a ticket system.
		relman.WithAfterHook(relman.AnyEvent, func(_ context.Context, ev relman.TransitionEvent) {
			t := ev.Transition
			fmt.Fprintf(w, "%s  %-9s  %-10s → %-10s  by %-4s  %s\n",
				t.Now.Format("15:04"), t.Event, t.From, t.To, t.Actor, t.Reason)
		}))
	if err != nil {
		return err
	}

	olga := relman.Actor{ID: "olga", Roles: []string{"release-manager"}}
	cab := relman.Actor{ID: "cab", Roles: []string{"change-advisory-board"}}
	dev := relman.Actor{ID: "dev", Roles: []string{"developer"}}
	qa := relman.Actor{ID: "qa", Roles: []string{"tester"}}
	ops := relman.Actor{ID: "ops", Roles: []string{"operator"}}

	r, err := m.Create(ctx, &relman.Release{
		ID: "invoices-2.4.0", Title: "Faster invoices", Version: "2.4.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "rita", Owner: olga.ID,
		Teams: []string{"billing"}, Services: []string{"invoices"},
		Case: relman.BusinessCase{
			Problem:       "invoices take 30 s to render",
			ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh,
		},
		Tasks:          []relman.Task{{Name: "cache templates", Team: "billing", Duration: 4 * time.Hour}},
		RollbackPlan:   "redeploy 2.3.9",
		RequiredSuites: []string{"unit", "integration"},
	}, olga)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s  %-9s  %-10s → %-10s  by %-4s  need: %s\n",
		r.CreatedAt.Format("15:04"), "create", "—", r.Stage, olga.ID, r.Case.Problem)

	id := r.ID
	fire := func(ev relman.Event, by relman.Actor, reason string, window *relman.Span) error {
		_, err := m.Fire(ctx, id, ev, relman.Request{Actor: by, Reason: reason, Window: window})
		return err
	}
	test := func(suite string, passed bool, detail string) error {
		clk.Advance(10 * time.Minute)
		_, err := m.RecordTest(ctx, id, qa, relman.TestResult{Suite: suite, Passed: passed, Detail: detail})
		verdict := "passed"
		if !passed {
			verdict = "FAILED: " + detail
		}
		fmt.Fprintf(w, "%s  %-9s  %-23s  by %-4s  %s %s\n", m.Now().Format("15:04"), "test", "(evidence recorded)", qa.ID, suite, verdict)
		return err
	}
	window := &relman.Span{Start: clk.now.Add(time.Hour), End: clk.now.Add(3 * time.Hour)}

	steps := []func() error{
		func() error { return fire(relman.EventApprove, cab, "business case accepted", nil) },
		func() error { return fire(relman.EventPlan, olga, "window booked", window) },
		func() error { return fire(relman.EventStart, dev, "build begins", nil) },
		func() error { return fire(relman.EventSubmit, dev, "build ready for testing", nil) },
		func() error { return test("unit", true, "") },
		func() error { return test("integration", false, "PDF totals off by one cent") },
		func() error { return fire(relman.EventFail, qa, "integration: PDF totals off by one cent", nil) },
		func() error { return fire(relman.EventSubmit, dev, "rounding fixed", nil) },
		func() error { return test("unit", true, "") },
		func() error { return test("integration", true, "") },
		func() error { return fire(relman.EventPass, qa, "all required suites green", nil) },
		func() error {
			r, err := m.Assess(ctx, id, olga)
			if err == nil {
				fmt.Fprintf(w, "%s  %-9s  %-23s  by %-4s  risk %s\n", m.Now().Format("15:04"), "assess", "(risk assessed)", olga.ID, r.Assessment.Level)
			}
			return err
		},
		func() error {
			_, err := m.Approve(ctx, id, cab, "change-advisory-board", "rollback plan checked")
			fmt.Fprintf(w, "%s  %-9s  %-23s  by %-4s  %s\n", m.Now().Format("15:04"), "approval", "(approval recorded)", cab.ID, "rollback plan checked")
			return err
		},
		func() error { return fire(relman.EventAuthorize, cab, "risk low, approval in", nil) },
		func() error {
			clk.now = window.Start // wait for the window to open
			return fire(relman.EventDeploy, ops, "window open", nil)
		},
		func() error { return fire(relman.EventComplete, ops, "deployed, smoke tests green", nil) },
		func() error {
			_, err := m.RecordReview(ctx, id, olga, relman.Review{Outcome: relman.OutcomeSuccessful,
				Summary: "render time down to 2 s"})
			fmt.Fprintf(w, "%s  %-9s  %-23s  by %-4s  %s\n", m.Now().Format("15:04"), "review", "(evidence recorded)", olga.ID, "successful: render time down to 2 s")
			return err
		},
		func() error { return fire(relman.EventClose, olga, "review: successful", nil) },
	}
	for _, step := range steps {
		clk.Advance(time.Minute)
		if err := step(); err != nil {
			return err
		}
	}
	if err := m.Verify(ctx, id); err != nil {
		return err
	}
	h, err := m.History(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s is closed; its history of %d entries verifies.\n", id, len(h))
	return nil
}
