package relman_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

var (
	t0    = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	alice = relman.Actor{ID: "alice", Roles: []string{"release-manager"}}
)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func newRelease(id string) *relman.Release {
	return &relman.Release{
		ID: id, Title: "Faster invoices", Version: "2.4.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "rita", Owner: "olga", Teams: []string{"billing"}, Services: []string{"invoices"},
		Case:         relman.BusinessCase{Problem: "invoices take 30s", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh},
		Tasks:        []relman.Task{{Name: "build", Team: "billing", Duration: 4 * time.Hour}},
		RollbackPlan: "redeploy 2.3.9", RequiredSuites: []string{"unit"},
	}
}

func newManager(t testing.TB, opts ...relman.Option) (*relman.Manager, *clock) {
	t.Helper()
	c := &clock{now: t0}
	m, err := relman.NewManager(memory.New(), append([]relman.Option{relman.WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func fire(t testing.TB, m *relman.Manager, id string, ev relman.Event, req relman.Request) *relman.Release {
	t.Helper()
	if req.Actor.ID == "" {
		req.Actor = alice
	}
	r, err := m.Fire(context.Background(), id, ev, req)
	if err != nil {
		t.Fatalf("Fire %s: %v", ev, err)
	}
	return r
}

// walk drives a release from proposed to closed on the default lifecycle.
func walk(t testing.TB, m *relman.Manager, c *clock, id string) *relman.Release {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease(id), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventApprove, relman.Request{})
	fire(t, m, id, relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(24 * time.Hour), End: c.now.Add(26 * time.Hour)}})
	fire(t, m, id, relman.EventStart, relman.Request{})
	fire(t, m, id, relman.EventSubmit, relman.Request{})
	c.Advance(time.Minute)
	if _, err := m.RecordTest(ctx, id, alice, relman.TestResult{Suite: "unit", Passed: false}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventFail, relman.Request{Reason: "unit tests red"})
	fire(t, m, id, relman.EventSubmit, relman.Request{})
	c.Advance(time.Minute)
	if _, err := m.RecordTest(ctx, id, alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventPass, relman.Request{})
	authorize(t, m, id)
	c.Advance(24 * time.Hour)
	fire(t, m, id, relman.EventDeploy, relman.Request{})
	fire(t, m, id, relman.EventComplete, relman.Request{})
	if _, err := m.RecordReview(ctx, id, alice, relman.Review{Outcome: relman.OutcomeSuccessful}); err != nil {
		t.Fatal(err)
	}
	return fire(t, m, id, relman.EventClose, relman.Request{})
}

func TestFullLifecycle(t *testing.T) {
	m, c := newManager(t)
	r := walk(t, m, c, "rel-1")
	if r.Stage != relman.StageClosed {
		t.Fatalf("stage = %s, want closed", r.Stage)
	}
	h, err := m.History(context.Background(), "rel-1")
	if err != nil {
		t.Fatal(err)
	}
	// create + 3 edits (2 test results, review) + assessment + approval
	// + 11 transitions
	if len(h) != 17 || r.Revision != 17 {
		t.Errorf("history %d entries, revision %d; want 17 and 17", len(h), r.Revision)
	}
	if err := m.Verify(context.Background(), "rel-1"); err != nil {
		t.Errorf("Verify: %v", err)
	}
	var events []relman.Event
	for _, e := range h {
		if e.Action == relman.ActionTransition {
			events = append(events, e.Event)
		}
	}
	want := []relman.Event{"approve", "plan", "start", "submit", "fail", "submit", "pass", "authorize", "deploy", "complete", "close"}
	if len(events) != len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %v, want %v", events, want)
		}
	}
	if _, err := m.Edit(context.Background(), "rel-1", alice, "late", func(r *relman.Release) error { r.Title = "x"; return nil }); !errors.Is(err, relman.ErrTerminal) {
		t.Errorf("edit of closed release: %v, want ErrTerminal", err)
	}
}

// authorize assesses the release, approves it and fires authorize: the
// default policy needs an assessment and, for a low-risk normal change, one
// approval from someone other than the requester or owner.
func authorize(t testing.TB, m *relman.Manager, id string) *relman.Release {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Assess(ctx, id, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, id, alice, "release-manager", "go"); err != nil {
		t.Fatal(err)
	}
	return fire(t, m, id, relman.EventAuthorize, relman.Request{})
}
