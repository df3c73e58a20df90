package relman

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Transition describes an event being fired on a release: what gates,
// effects and hooks are asked about.
type Transition struct {
	Event  Event
	From   Stage
	To     Stage
	Actor  Actor
	Reason string
	Params map[string]string
	Window *Span     // the window asked for (plan, replan), if any
	Now    time.Time // the Manager's clock when the event fired
	Since  time.Time // when the release entered From (its EnteredAt before the event)
	DryRun bool      // true when called from Check
}

// Gate decides whether a transition may happen. It returns nil to allow
// it, or an error saying why not; a *NotYetError means "not yet, but from
// then on". Gates must not modify the release. All gates of an event run,
// and every refusal is reported in one *GateError.
type Gate interface {
	Check(ctx context.Context, r *Release, t Transition) error
}

// GateFunc adapts a function to the Gate interface.
type GateFunc func(ctx context.Context, r *Release, t Transition) error

// Check calls f.
func (f GateFunc) Check(ctx context.Context, r *Release, t Transition) error { return f(ctx, r, t) }

// Effect changes the release as part of a transition: it runs on the
// candidate release before the gates, and its changes are saved in the
// same atomic update as the stage change. Details it returns go into the
// audit entry. An error aborts the transition.
type Effect func(r *Release, t Transition) (details map[string]string, err error)

// BeforeHook runs after every gate has passed and may veto the transition
// by returning an error (reported as *VetoError). It must not modify the
// release, nor fire events on it (that returns ErrReentrant).
type BeforeHook func(ctx context.Context, r *Release, t Transition) error

// TransitionEvent is what after-hooks observe: the release as committed,
// the transition and its audit entry.
type TransitionEvent struct {
	Release    *Release
	Transition Transition
	Entry      AuditEntry
}

// AfterHook observes a committed transition. It runs after the store
// update, synchronously, in the firing goroutine, and cannot undo it. It
// may fire further events (on the same release too).
type AfterHook func(ctx context.Context, ev TransitionEvent)

// BusinessCaseComplete is the approve gate: the business case states the
// problem, a positive expected value, the cost and a feasibility other
// than infeasible.
func BusinessCaseComplete() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		var missing []string
		c := r.Case
		if blank(c.Problem) {
			missing = append(missing, "problem")
		}
		if c.ExpectedValue <= 0 {
			missing = append(missing, "expected_value")
		}
		if c.Cost <= 0 {
			missing = append(missing, "cost")
		}
		if c.Feasibility == "" {
			missing = append(missing, "feasibility")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: missing %s", ErrBusinessCaseIncomplete, strings.Join(missing, ", "))
		}
		if c.Feasibility == FeasibilityInfeasible {
			return fmt.Errorf("%w: assessed infeasible", ErrBusinessCaseIncomplete)
		}
		return nil
	})
}

// ReasonGiven requires a non-blank Request.Reason (reject, cancel,
// rollback).
func ReasonGiven() Gate {
	return GateFunc(func(_ context.Context, _ *Release, t Transition) error {
		if blank(t.Reason) {
			return ErrReasonRequired
		}
		return nil
	})
}

// FailedTestRecorded is the fail gate: a failed test result was recorded
// since the release entered its current stage (this test round).
func FailedTestRecorded() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		for _, tr := range r.TestResults {
			if !tr.Passed && !tr.At.Before(r.EnteredAt) {
				return nil
			}
		}
		return ErrNoFailedTest
	})
}

// RequiredTestsPassed is the pass gate: in this test round (results at or
// after EnteredAt), the latest result of every suite in RequiredSuites
// passed. With no required suites, at least one suite must have been run
// and the latest result of each suite run must have passed.
func RequiredTestsPassed() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		latest := make(map[string]TestResult)
		for _, tr := range r.TestResults {
			if tr.At.Before(r.EnteredAt) {
				continue
			}
			if prev, ok := latest[tr.Suite]; !ok || !tr.At.Before(prev.At) {
				latest[tr.Suite] = tr
			}
		}
		suites := r.RequiredSuites
		if len(suites) == 0 {
			if len(latest) == 0 {
				return fmt.Errorf("%w: no test result in this round", ErrTestsNotPassed)
			}
			for s := range latest {
				suites = append(suites, s)
			}
		}
		var bad []string
		for _, s := range suites {
			tr, ok := latest[s]
			switch {
			case !ok:
				bad = append(bad, s+" (not run)")
			case !tr.Passed:
				bad = append(bad, s+" (failed)")
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return fmt.Errorf("%w: %s", ErrTestsNotPassed, strings.Join(bad, ", "))
		}
		return nil
	})
}

// RollbackPlanPresent is an authorize gate: the release has a rollback
// plan.
func RollbackPlanPresent() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		if blank(r.RollbackPlan) {
			return ErrNoRollbackPlan
		}
		return nil
	})
}

// ReviewRecorded is the close gate: a post-implementation review with an
// outcome is recorded.
func ReviewRecorded() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		if r.Review == nil || r.Review.Outcome == "" {
			return ErrNoReview
		}
		return nil
	})
}

// WindowSet is a plan gate: the release has a planned window with End
// after Start.
func WindowSet() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		if r.Window == nil || r.Window.Start.IsZero() || !r.Window.End.After(r.Window.Start) {
			return ErrNoWindow
		}
		return nil
	})
}

// TasksOwned is a plan gate: every task has an owning team.
func TasksOwned() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		var unowned []string
		for _, t := range r.Tasks {
			if blank(t.Team) {
				unowned = append(unowned, t.Name)
			}
		}
		if len(unowned) > 0 {
			return fmt.Errorf("%w: %s", ErrTaskUnowned, strings.Join(unowned, ", "))
		}
		return nil
	})
}

// InsideWindow is the deploy gate: now is inside the planned window. Before
// the window it answers *NotYetError carrying the window's start.
func InsideWindow() Gate {
	return GateFunc(func(_ context.Context, r *Release, t Transition) error {
		if r.Window == nil {
			return ErrNoWindow
		}
		if t.Now.Before(r.Window.Start) {
			return &NotYetError{Until: r.Window.Start, Err: ErrOutsideWindow}
		}
		if !r.Window.Contains(t.Now) {
			return fmt.Errorf("%w: window ended at %s", ErrOutsideWindow, r.Window.End.Format(time.RFC3339))
		}
		return nil
	})
}

// SetWindow is an effect for plan and replan: when the request carries a
// window, it becomes the release's planned window.
func SetWindow() Effect {
	return func(r *Release, t Transition) (map[string]string, error) {
		if t.Window == nil {
			return nil, nil
		}
		if t.Window.Start.IsZero() || !t.Window.End.After(t.Window.Start) {
			return nil, invalid("window.end", "gtfield=Start")
		}
		w := *t.Window
		r.Window = &w
		return map[string]string{"window": w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)}, nil
	}
}

// VoidApprovals is an effect that voids every approval still in force,
// giving reason.
func VoidApprovals(reason string) Effect {
	return func(r *Release, _ Transition) (map[string]string, error) {
		var who []string
		for i := range r.Approvals {
			if !r.Approvals[i].Void {
				r.Approvals[i].Void = true
				r.Approvals[i].VoidReason = reason
				who = append(who, r.Approvals[i].Approver)
			}
		}
		if len(who) == 0 {
			return nil, nil
		}
		return map[string]string{"voided_approvals": fmt.Sprint(len(who)), "approvers": strings.Join(who, ",")}, nil
	}
}
