package relman_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// loopLifecycle has two stages and two events that go back and forth,
// so one release can take any number of transitions.
func loopLifecycle(t testing.TB) *relman.Lifecycle {
	t.Helper()
	lc, err := relman.NewLifecycle(relman.LifecycleSpec{
		Initial: "ping", Stages: []relman.Stage{"ping", "pong", "done"}, Terminal: []relman.Stage{"done"},
		Events: []relman.EventSpec{
			{Name: "hit", From: []relman.Stage{"ping"}, To: "pong"},
			{Name: "back", From: []relman.Stage{"pong"}, To: "ping"},
			{Name: "stop", From: []relman.Stage{"ping", "pong"}, To: "done"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

// Regression (looplab/fsm #115): a cancelled or expired context must fail
// promptly and must not wedge the release: the next Fire works.
func TestFireCancelledContextDoesNotWedge(t *testing.T) {
	m, _ := newManager(t)
	if _, err := m.Create(context.Background(), newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for name, ctx := range map[string]context.Context{"cancelled": cancelled, "expired": expired} {
		_, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: alice})
		if !errors.Is(err, ctx.Err()) {
			t.Errorf("%s: Fire err = %v, want %v", name, err, ctx.Err())
		}
		if err := m.Check(ctx, "r", relman.EventApprove, relman.Request{Actor: alice}); !errors.Is(err, ctx.Err()) {
			t.Errorf("%s: Check err = %v, want %v", name, err, ctx.Err())
		}
	}
	r, _ := m.Get(context.Background(), "r")
	if r.Stage != relman.StageProposed || r.Revision != 1 {
		t.Fatalf("cancelled Fire wrote: stage %s revision %d", r.Stage, r.Revision)
	}
	if r := fire(t, m, "r", relman.EventApprove, relman.Request{}); r.Stage != relman.StageApproved {
		t.Fatalf("after cancelled fires, approve reached %s", r.Stage)
	}
}

// A gate that sees its context cancelled mid-flight makes Fire return the
// context error without writing.
func TestFireContextCancelledDuringGates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m, _ := newManager(t, relman.WithGate(relman.EventApprove, "slow", relman.GateFunc(
		func(context.Context, *relman.Release, relman.Transition) error { cancel(); return nil })))
	if _, err := m.Create(context.Background(), newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: alice}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r, _ := m.Get(context.Background(), "r"); r.Revision != 1 {
		t.Fatalf("revision %d after cancelled fire", r.Revision)
	}
}

// Regression (looplab/fsm deadlocks when a callback fires an event): a
// before-hook that fires on its own release gets ErrReentrant instead of a
// deadlock; an after-hook may fire the next event.
func TestHooksFiringEvents(t *testing.T) {
	var m *relman.Manager
	var hookErr error
	lc := loopLifecycle(t)
	spec := lc.Spec()
	spec.OnBefore("hit", "nested", func(ctx context.Context, r *relman.Release, _ relman.Transition) error {
		_, hookErr = m.Fire(ctx, r.ID, "stop", relman.Request{Actor: alice})
		if _, err := m.Edit(ctx, r.ID, alice, "x", func(*relman.Release) error { return nil }); !errors.Is(err, relman.ErrReentrant) {
			return fmt.Errorf("edit inside before-hook: %v", err)
		}
		return nil
	})
	var chained atomic.Int32
	spec.OnAfter("hit", func(ctx context.Context, ev relman.TransitionEvent) {
		if _, err := m.Fire(ctx, ev.Release.ID, "back", relman.Request{Actor: alice, Reason: "bounce"}); err == nil {
			chained.Add(1)
		}
	})
	lc2, err := relman.NewLifecycle(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = newManager(t, relman.WithLifecycle(lc2))
	if _, err := m.Create(context.Background(), newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := m.Fire(context.Background(), "r", "hit", relman.Request{Actor: alice}); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Fire: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Fire deadlocked")
	}
	if !errors.Is(hookErr, relman.ErrReentrant) {
		t.Errorf("nested Fire in before-hook: %v, want ErrReentrant", hookErr)
	}
	if chained.Load() != 1 {
		t.Errorf("after-hook chained fire did not happen")
	}
	r, _ := m.Get(context.Background(), "r")
	if r.Stage != "ping" || r.Revision != 3 {
		t.Errorf("stage %s revision %d, want ping after hit+back (revision 3)", r.Stage, r.Revision)
	}
}

// Regression (looplab/fsm races when one instance is shared): 32
// goroutines fire on the same and on different releases; every accepted
// transition is in the history exactly once and every chain verifies.
func TestConcurrentFire(t *testing.T) {
	lc := loopLifecycle(t)
	store := memory.New()
	m, err := relman.NewManager(store, relman.WithLifecycle(lc), relman.WithRetries(1000))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids := []string{"shared", "own-0", "own-1", "own-2", "own-3"}
	for _, id := range ids {
		if _, err := m.Create(ctx, newRelease(id), alice); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines, fires = 32, 20
	var ok [5]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			idx := 0
			if g%2 == 1 {
				idx = 1 + g%4
			}
			for i := range fires {
				ev := relman.Event("hit")
				if i%2 == 1 {
					ev = "back"
				}
				_, err := m.Fire(ctx, ids[idx], ev, relman.Request{Actor: relman.Actor{ID: fmt.Sprintf("g%d", g)}})
				switch {
				case err == nil:
					ok[idx].Add(1)
				case errors.Is(err, relman.ErrInvalidTransition):
				default:
					t.Errorf("Fire: %v", err)
				}
			}
		})
	}
	wg.Wait()
	total := int64(0)
	for i, id := range ids {
		r, _ := m.Get(ctx, id)
		h, _ := m.History(ctx, id)
		if r.Revision != 1+ok[i].Load() || int64(len(h)) != r.Revision {
			t.Errorf("%s: revision %d, history %d, accepted fires %d: lost update", id, r.Revision, len(h), ok[i].Load())
		}
		if err := m.Verify(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		total += ok[i].Load()
	}
	if total == 0 {
		t.Fatal("no fire succeeded")
	}
}

// conflictStore makes the first n updates fail with ErrConflict after a
// competing write, as a concurrent writer would.
type conflictStore struct {
	relman.Store
	n int
}

func (s *conflictStore) Update(ctx context.Context, r *relman.Release, es ...relman.AuditEntry) error {
	if s.n > 0 {
		s.n--
		cur, _ := s.Store.Get(ctx, r.ID)
		cur.Labels = map[string]string{"other": "writer"}
		e := cur.Record(relman.AuditEntry{At: time.Now(), Actor: "other", Action: relman.ActionEdit})
		if err := s.Store.Update(ctx, cur, e); err != nil {
			return err
		}
	}
	return s.Store.Update(ctx, r, es...)
}

func TestFireRetriesOnConflict(t *testing.T) {
	cs := &conflictStore{Store: memory.New()}
	m, err := relman.NewManager(cs, relman.WithRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	cs.n = 2
	r, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: alice})
	if err != nil {
		t.Fatalf("Fire after 2 conflicts with 2 retries: %v", err)
	}
	if r.Labels["other"] != "writer" || r.Revision != 4 {
		t.Errorf("retry did not start from a fresh read: labels %v revision %d", r.Labels, r.Revision)
	}
	cs.n = 3
	if _, err := m.Fire(ctx, "r", relman.EventReject, relman.Request{Actor: alice, Reason: "x"}); !errors.Is(err, relman.ErrInvalidTransition) {
		t.Errorf("fire from approved: %v", err)
	}
	cs.n = 3
	if _, err := m.Edit(ctx, "r", alice, "t", func(r *relman.Release) error { r.Title = "new"; return nil }); !errors.Is(err, relman.ErrConflict) {
		t.Errorf("Edit after 3 conflicts with 2 retries: %v, want ErrConflict", err)
	}
	if err := m.Verify(ctx, "r"); err != nil {
		t.Error(err)
	}
}

func TestGateErrorCollectsEveryFailure(t *testing.T) {
	m, c := newManager(t)
	ctx := context.Background()
	r := newRelease("r")
	r.Case = relman.BusinessCase{Problem: "x"}
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	err := m.Check(ctx, "r", relman.EventApprove, relman.Request{Actor: alice})
	var ge *relman.GateError
	if !errors.As(err, &ge) || !errors.Is(err, relman.ErrBusinessCaseIncomplete) {
		t.Fatalf("err = %v, want *GateError with ErrBusinessCaseIncomplete", err)
	}
	if !strings.Contains(err.Error(), "expected_value, cost, feasibility") {
		t.Errorf("message does not name the missing fields: %v", err)
	}
	// Two gates refuse plan at once: no window, an unowned task.
	if _, err := m.Edit(ctx, "r", alice, "fix case", func(r *relman.Release) error {
		r.Case = relman.BusinessCase{Problem: "x", ExpectedValue: 1, Cost: 1, Feasibility: relman.FeasibilityLow}
		r.Tasks = append(r.Tasks, relman.Task{Name: "docs"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "r", relman.EventApprove, relman.Request{})
	_, err = m.Fire(ctx, "r", relman.EventPlan, relman.Request{Actor: alice})
	if !errors.As(err, &ge) || len(ge.Failures) != 2 || !errors.Is(err, relman.ErrNoWindow) || !errors.Is(err, relman.ErrTaskUnowned) {
		t.Fatalf("plan: %v, want 2 failures (window, task)", err)
	}
	if _, ok := ge.NotYet(); ok {
		t.Errorf("NotYet true for plain refusals")
	}
	if !strings.Contains(err.Error(), "docs") {
		t.Errorf("unowned task not named: %v", err)
	}
	// Deploy before the window: "not yet", carrying the opening time.
	if _, err := m.Edit(ctx, "r", alice, "own", func(r *relman.Release) error { r.Tasks[1].Team = "docs"; return nil }); err != nil {
		t.Fatal(err)
	}
	win := relman.Span{Start: c.now.Add(48 * time.Hour), End: c.now.Add(50 * time.Hour)}
	fire(t, m, "r", relman.EventPlan, relman.Request{Window: &win})
	fire(t, m, "r", relman.EventStart, relman.Request{})
	fire(t, m, "r", relman.EventSubmit, relman.Request{})
	if _, err := m.RecordTest(ctx, "r", alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "r", relman.EventPass, relman.Request{})
	authorize(t, m, "r")
	err = m.Check(ctx, "r", relman.EventDeploy, relman.Request{Actor: alice})
	if !errors.As(err, &ge) || !errors.Is(err, relman.ErrNotYet) {
		t.Fatalf("deploy before window: %v, want not yet", err)
	}
	if at, ok := ge.NotYet(); !ok || !at.Equal(win.Start) {
		t.Errorf("NotYet = %v %v, want %v true", at, ok, win.Start)
	}
	c.Advance(60 * time.Hour)
	err = m.Check(ctx, "r", relman.EventDeploy, relman.Request{Actor: alice})
	if !errors.Is(err, relman.ErrOutsideWindow) || errors.Is(err, relman.ErrNotYet) {
		t.Errorf("deploy after window: %v, want a plain no", err)
	}
	// replan moves the window and voids the approval given at authorize.
	win2 := relman.Span{Start: c.now.Add(time.Hour), End: c.now.Add(3 * time.Hour)}
	r2 := fire(t, m, "r", relman.EventReplan, relman.Request{Window: &win2, Reason: "missed window"})
	if r2.Stage != relman.StagePlanned || !r2.Window.Start.Equal(win2.Start) || !r2.Approvals[0].Void {
		t.Errorf("replan: stage %s window %v approvals %+v", r2.Stage, r2.Window, r2.Approvals)
	}
	h, _ := m.History(ctx, "r")
	tr, void := h[len(h)-2], h[len(h)-1]
	if tr.Event != relman.EventReplan || tr.Details["voided_approvals"] != "1" || tr.Details["window"] == "" {
		t.Errorf("replan audit entry = %+v", tr)
	}
	if void.Action != relman.ActionVoid || void.Event != relman.EventReplan || void.Details["approvers"] != "alice" || void.Seq != tr.Seq+1 {
		t.Errorf("void audit entry = %+v, want approvers alice, right after the replan entry", void)
	}
	if _, err := m.Fire(ctx, "r", relman.EventReplan, relman.Request{Actor: alice, Window: &relman.Span{Start: win2.End, End: win2.Start}}); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("replan with inverted window: %v, want ErrInvalid", err)
	}
}

func TestBuiltinGates(t *testing.T) {
	now := t0
	entered := now.Add(-time.Hour)
	base := func() *relman.Release {
		r := newRelease("g")
		r.EnteredAt = entered
		return r
	}
	tr := relman.Transition{Now: now}
	cases := []struct {
		name string
		gate relman.Gate
		r    func() *relman.Release
		t    relman.Transition
		want error
	}{
		{"reason missing", relman.ReasonGiven(), base, relman.Transition{Reason: "  "}, relman.ErrReasonRequired},
		{"reason given", relman.ReasonGiven(), base, relman.Transition{Reason: "obsolete"}, nil},
		{"no failed test", relman.FailedTestRecorded(), base, tr, relman.ErrNoFailedTest},
		{"failed test of an older round", relman.FailedTestRecorded(), func() *relman.Release {
			r := base()
			r.TestResults = []relman.TestResult{{Suite: "unit", At: entered.Add(-time.Second)}}
			return r
		}, tr, relman.ErrNoFailedTest},
		{"failed test this round", relman.FailedTestRecorded(), func() *relman.Release {
			r := base()
			r.TestResults = []relman.TestResult{{Suite: "unit", At: entered}}
			return r
		}, tr, nil},
		{"required suite not run", relman.RequiredTestsPassed(), func() *relman.Release {
			r := base()
			r.RequiredSuites = []string{"unit", "e2e"}
			r.TestResults = []relman.TestResult{{Suite: "unit", Passed: true, At: now}}
			return r
		}, tr, relman.ErrTestsNotPassed},
		{"latest result failed", relman.RequiredTestsPassed(), func() *relman.Release {
			r := base()
			r.TestResults = []relman.TestResult{{Suite: "unit", Passed: true, At: now.Add(-time.Minute)}, {Suite: "unit", Passed: false, At: now}}
			return r
		}, tr, relman.ErrTestsNotPassed},
		{"corrected after failure", relman.RequiredTestsPassed(), func() *relman.Release {
			r := base()
			r.TestResults = []relman.TestResult{{Suite: "unit", Passed: false, At: now.Add(-time.Minute)}, {Suite: "unit", Passed: true, At: now}}
			return r
		}, tr, nil},
		{"no suites, no results", relman.RequiredTestsPassed(), func() *relman.Release {
			r := base()
			r.RequiredSuites = nil
			return r
		}, tr, relman.ErrTestsNotPassed},
		{"no suites, all run passed", relman.RequiredTestsPassed(), func() *relman.Release {
			r := base()
			r.RequiredSuites = nil
			r.TestResults = []relman.TestResult{{Suite: "smoke", Passed: true, At: now}}
			return r
		}, tr, nil},
		{"no rollback plan", relman.RollbackPlanPresent(), func() *relman.Release { r := base(); r.RollbackPlan = " "; return r }, tr, relman.ErrNoRollbackPlan},
		{"rollback plan", relman.RollbackPlanPresent(), base, tr, nil},
		{"no review", relman.ReviewRecorded(), base, tr, relman.ErrNoReview},
		{"review", relman.ReviewRecorded(), func() *relman.Release {
			r := base()
			r.Review = &relman.Review{Outcome: relman.OutcomeFailed}
			return r
		}, tr, nil},
		{"infeasible", relman.BusinessCaseComplete(), func() *relman.Release { r := base(); r.Case.Feasibility = relman.FeasibilityInfeasible; return r }, tr, relman.ErrBusinessCaseIncomplete},
		{"case complete", relman.BusinessCaseComplete(), base, tr, nil},
		{"no window to deploy in", relman.InsideWindow(), base, tr, relman.ErrNoWindow},
		{"inverted window", relman.WindowSet(), func() *relman.Release {
			r := base()
			r.Window = &relman.Span{Start: now, End: now}
			return r
		}, tr, relman.ErrNoWindow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.gate.Check(context.Background(), c.r(), c.t)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestCheckChangesNothing(t *testing.T) {
	m, _ := newManager(t)
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx, "r", relman.EventApprove, relman.Request{Actor: alice}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	r, _ := m.Get(ctx, "r")
	h, _ := m.History(ctx, "r")
	if r.Stage != relman.StageProposed || r.Revision != 1 || len(h) != 1 {
		t.Errorf("Check changed the release: %s rev %d history %d", r.Stage, r.Revision, len(h))
	}
}

func TestBadInput(t *testing.T) {
	m, _ := newManager(t)
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	bad := newRelease("bad id!")
	bad.Version = "v1"
	bad.Kind = "huge"
	bad.Case.Feasibility = "maybe"
	bad.Tasks = []relman.Task{{Team: "x"}}
	_, err := m.Create(ctx, bad, alice)
	var ve *relman.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) {
		t.Fatalf("Create(bad) = %v, want *ValidationError", err)
	}
	got := map[string]string{}
	for _, f := range ve.Fields {
		got[f.Field] = f.Rule
	}
	want := map[string]string{"id": "id", "version": "semver", "kind": "oneof", "business_case.feasibility": "oneof", "tasks[0].name": "required"}
	for field, rule := range want {
		if got[field] != rule {
			t.Errorf("field %s: rule %q, want %q (all: %v)", field, got[field], rule, ve.Fields)
		}
	}
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"create nil", func() error { _, err := m.Create(ctx, nil, alice); return err }(), relman.ErrInvalid},
		{"create no actor", func() error { _, err := m.Create(ctx, newRelease("x"), relman.Actor{}); return err }(), relman.ErrInvalid},
		{"create dup", func() error { _, err := m.Create(ctx, newRelease("r"), alice); return err }(), relman.ErrExists},
		{"fire empty id", func() error { _, err := m.Fire(ctx, "", relman.EventApprove, relman.Request{Actor: alice}); return err }(), relman.ErrInvalid},
		{"fire empty event", func() error { _, err := m.Fire(ctx, "r", "", relman.Request{Actor: alice}); return err }(), relman.ErrInvalid},
		{"fire no actor", func() error { _, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{}); return err }(), relman.ErrInvalid},
		{"fire bad param", func() error {
			_, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: alice, Params: map[string]string{"": "x"}})
			return err
		}(), relman.ErrInvalid},
		{"fire unknown release", func() error {
			_, err := m.Fire(ctx, "nope", relman.EventApprove, relman.Request{Actor: alice})
			return err
		}(), relman.ErrNotFound},
		{"fire unknown event", func() error { _, err := m.Fire(ctx, "r", "explode", relman.Request{Actor: alice}); return err }(), relman.ErrInvalidTransition},
		{"fire wrong stage", func() error { _, err := m.Fire(ctx, "r", relman.EventDeploy, relman.Request{Actor: alice}); return err }(), relman.ErrInvalidTransition},
		{"check unknown release", m.Check(ctx, "nope", relman.EventApprove, relman.Request{Actor: alice}), relman.ErrNotFound},
		{"get empty", func() error { _, err := m.Get(ctx, ""); return err }(), relman.ErrInvalid},
		{"history empty", func() error { _, err := m.History(ctx, ""); return err }(), relman.ErrInvalid},
		{"list bad", func() error { _, err := m.List(ctx, relman.Query{Limit: -5}); return err }(), relman.ErrInvalid},
		{"edit nil fn", func() error { _, err := m.Edit(ctx, "r", alice, "", nil); return err }(), relman.ErrInvalid},
		{"edit readonly", func() error {
			_, err := m.Edit(ctx, "r", alice, "", func(r *relman.Release) error { r.Stage = relman.StageClosed; r.Revision = 99; return nil })
			return err
		}(), relman.ErrInvalid},
		{"edit invalid", func() error {
			_, err := m.Edit(ctx, "r", alice, "", func(r *relman.Release) error { r.Version = "latest"; return nil })
			return err
		}(), relman.ErrInvalid},
		{"record bad test", func() error { _, err := m.RecordTest(ctx, "r", alice, relman.TestResult{}); return err }(), relman.ErrInvalid},
		{"record future test", func() error {
			_, err := m.RecordTest(ctx, "r", alice, relman.TestResult{Suite: "unit", Passed: true, At: t0.Add(time.Hour)})
			return err
		}(), relman.ErrInvalid},
		{"record bad review", func() error { _, err := m.RecordReview(ctx, "r", alice, relman.Review{Outcome: "great"}); return err }(), relman.ErrInvalid},
		{"list unknown stage", func() error { _, err := m.List(ctx, relman.Query{Stages: []relman.Stage{"nope"}}); return err }(), relman.ErrInvalid},
		{"list unknown kind", func() error { _, err := m.List(ctx, relman.Query{Kind: "huge"}); return err }(), relman.ErrInvalid},
		{"check inverted window", m.Check(ctx, "r", relman.EventApprove, relman.Request{Actor: alice, Window: &relman.Span{Start: t0, End: t0}}), relman.ErrInvalid},
		{"create blank title", func() error { b := newRelease("blank"); b.Title = "  "; _, err := m.Create(ctx, b, alice); return err }(), relman.ErrInvalid},
		{"nil option", func() error { _, err := relman.NewManager(memory.New(), nil); return err }(), relman.ErrInvalid},
		{"nil store", func() error { _, err := relman.NewManager(nil); return err }(), relman.ErrInvalid},
		{"negative retries", func() error { _, err := relman.NewManager(memory.New(), relman.WithRetries(-1)); return err }(), relman.ErrInvalid},
		{"gate on unknown event", func() error {
			_, err := relman.NewManager(memory.New(), relman.WithGate("nope", "g", relman.ReasonGiven()))
			return err
		}(), relman.ErrInvalid},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	var te *relman.TransitionError
	_, err = m.Fire(ctx, "r", "explode", relman.Request{Actor: alice})
	if !errors.As(err, &te) || te.Known || te.Event != "explode" {
		t.Errorf("unknown event: %#v", err)
	}
	r, _ := m.Get(ctx, "r")
	h, _ := m.History(ctx, "r")
	if r.Revision != 1 || len(h) != 1 || r.Title != "Faster invoices" {
		t.Errorf("bad input changed the stored release: revision %d history %d", r.Revision, len(h))
	}
}

func TestAuthorizerAndHooks(t *testing.T) {
	deny := relman.AuthorizerFunc(func(_ context.Context, a relman.Actor, action string, _ *relman.Release) error {
		if action == string(relman.EventApprove) && !a.HasRole("cab") {
			return errors.New("approve needs role cab")
		}
		return nil
	})
	var after []string
	veto := errors.New("change freeze in the hook")
	m, _ := newManager(t, relman.WithAuthorizer(deny),
		relman.WithAfterHook(relman.AnyEvent, func(_ context.Context, ev relman.TransitionEvent) {
			after = append(after, fmt.Sprintf("%s:%s->%s#%d", ev.Transition.Event, ev.Entry.From, ev.Entry.To, ev.Entry.Seq))
		}),
		relman.WithBeforeHook(relman.EventReject, "freeze", func(context.Context, *relman.Release, relman.Transition) error { return veto }))
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	_, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: alice})
	var fe *relman.ForbiddenError
	if !errors.As(err, &fe) || !errors.Is(err, relman.ErrForbidden) || fe.Actor != "alice" {
		t.Fatalf("approve by alice: %v, want *ForbiddenError", err)
	}
	_, err = m.Fire(ctx, "r", relman.EventReject, relman.Request{Actor: alice, Reason: "no"})
	var vt *relman.VetoError
	if !errors.As(err, &vt) || !errors.Is(err, veto) || !errors.Is(err, relman.ErrVetoed) {
		t.Fatalf("reject: %v, want *VetoError wrapping the hook's error", err)
	}
	carl := relman.Actor{ID: "carl", Roles: []string{"cab"}}
	if _, err := m.Fire(ctx, "r", relman.EventApprove, relman.Request{Actor: carl}); err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0] != "approve:proposed->approved#2" {
		t.Errorf("after-hooks saw %v", after)
	}
	h, _ := m.History(ctx, "r")
	if h[1].Actor != "carl" {
		t.Errorf("audit actor = %q", h[1].Actor)
	}
}

func TestVerifyHistory(t *testing.T) {
	m, c := newManager(t)
	walk(t, m, c, "r")
	ctx := context.Background()
	r, _ := m.Get(ctx, "r")
	h, _ := m.History(ctx, "r")
	if err := relman.VerifyHistory(h, &r.Head); err != nil {
		t.Fatalf("clean history: %v", err)
	}
	tamper := []struct {
		name  string
		edit  func(h []relman.AuditEntry) []relman.AuditEntry
		index int
		head  bool
	}{
		{"edited reason", func(h []relman.AuditEntry) []relman.AuditEntry { h[5].Reason = "nothing to see"; return h }, 5, false},
		{"edited actor", func(h []relman.AuditEntry) []relman.AuditEntry { h[2].Actor = "mallory"; return h }, 2, false},
		{"edited details", func(h []relman.AuditEntry) []relman.AuditEntry { h[3].Details = map[string]string{"x": "y"}; return h }, 3, false},
		{"removed", func(h []relman.AuditEntry) []relman.AuditEntry { return append(h[:4:4], h[5:]...) }, 4, false},
		{"inserted", func(h []relman.AuditEntry) []relman.AuditEntry {
			extra := h[3]
			return append(append(h[:4:4], extra), h[4:]...)
		}, 4, false},
		{"reordered", func(h []relman.AuditEntry) []relman.AuditEntry { h[6], h[7] = h[7], h[6]; return h }, 6, false},
		{"truncated", func(h []relman.AuditEntry) []relman.AuditEntry { return h[:len(h)-2] }, len(h) - 2, true},
		{"other release", func(h []relman.AuditEntry) []relman.AuditEntry { h[1].ReleaseID = "other"; return h }, 1, false},
		{"re-sealed edit", func(h []relman.AuditEntry) []relman.AuditEntry {
			// An attacker who rewrites an entry and its hash still breaks the next link.
			fake := &relman.Release{ID: "r", Head: relman.AuditHead{Seq: 2, Hash: h[1].Hash}}
			h[2] = fake.Record(relman.AuditEntry{At: h[2].At, Actor: "mallory", Action: h[2].Action})
			return h
		}, 3, false},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			cp := tc.edit(append([]relman.AuditEntry(nil), h...))
			head := &r.Head
			err := relman.VerifyHistory(cp, head)
			var he *relman.HistoryError
			if !errors.As(err, &he) || !errors.Is(err, relman.ErrCorruptHistory) {
				t.Fatalf("err = %v, want *HistoryError", err)
			}
			if he.Index != tc.index {
				t.Errorf("reported index %d, want %d: %v", he.Index, tc.index, err)
			}
		})
	}
	if err := relman.VerifyHistory(nil, nil); err != nil {
		t.Errorf("empty history: %v", err)
	}
}

// Edit may set the window before it is booked; once planned, the window
// moves only by replan, past the calendar and conflict gates. Evidence and
// approvals have methods of their own, and Create refuses them pre-filled.
func TestEditGuardsBookedWindowAndEvidence(t *testing.T) {
	m, c := newManager(t)
	ctx := context.Background()
	pre := newRelease("pre")
	pre.TestResults = []relman.TestResult{{Suite: "unit", Passed: true, At: t0}}
	pre.Approvals = []relman.Approval{{Approver: "carl", Decision: relman.DecisionApprove}}
	_, err := m.Create(ctx, pre, alice)
	var ve *relman.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "approvals" || ve.Fields[1].Field != "test_results" {
		t.Fatalf("Create with evidence: %v, want readonly approvals and test_results", err)
	}
	if _, err := m.Get(ctx, "pre"); !errors.Is(err, relman.ErrNotFound) {
		t.Fatalf("refused Create stored the release: %v", err)
	}
	if _, err := m.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	w1 := relman.Span{Start: c.now.Add(24 * time.Hour), End: c.now.Add(26 * time.Hour)}
	setWindow := func(w relman.Span) error {
		_, err := m.Edit(ctx, "r", alice, "move", func(r *relman.Release) error { r.Window = &w; return nil })
		return err
	}
	if err := setWindow(w1); err != nil {
		t.Fatalf("window edit while proposed: %v", err)
	}
	fire(t, m, "r", relman.EventApprove, relman.Request{})
	if err := setWindow(relman.Span{Start: w1.Start.Add(time.Hour), End: w1.End.Add(time.Hour)}); err != nil {
		t.Fatalf("window edit while approved: %v", err)
	}
	fire(t, m, "r", relman.EventPlan, relman.Request{})
	err = setWindow(w1)
	if !errors.As(err, &ve) || ve.Fields[0].Field != "window" || ve.Fields[0].Rule != "readonly" {
		t.Fatalf("window edit while planned: %v, want window readonly", err)
	}
	_, err = m.Edit(ctx, "r", alice, "x", func(r *relman.Release) error {
		r.TestResults = append(r.TestResults, relman.TestResult{Suite: "unit", Passed: true, At: t0})
		return nil
	})
	if !errors.As(err, &ve) || ve.Fields[0].Field != "test_results" {
		t.Errorf("test result through Edit: %v, want test_results readonly", err)
	}
	r := fire(t, m, "r", relman.EventReplan, relman.Request{Reason: "later", Window: &w1})
	if !r.Window.Start.Equal(w1.Start) {
		t.Errorf("replan did not move the window: %v", r.Window)
	}
}
