package relman_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

func TestClassify(t *testing.T) {
	notYet := &relman.NotYetError{Until: time.Now(), Err: relman.ErrOutsideWindow}
	cases := []struct {
		name string
		err  error
		want relman.ErrorClass
	}{
		{"nil", nil, relman.ClassNone},
		{"unknown", errors.New("disk on fire"), relman.ClassInternal},
		{"wrapped not found", fmt.Errorf("postgres: get %q: %w", "r1", relman.ErrNotFound), relman.ClassNotFound},
		{"validation", &relman.ValidationError{Fields: []relman.FieldError{{Field: "id", Rule: "required"}}}, relman.ClassInvalid},
		{"lifecycle", &relman.LifecycleError{Problems: []string{"x"}}, relman.ClassInvalid},
		{"exists", relman.ErrExists, relman.ClassConflict},
		{"stale revision", fmt.Errorf("sqlite: %w", relman.ErrConflict), relman.ClassConflict},
		{"schedule done", relman.ErrScheduleDone, relman.ClassConflict},
		{"unknown event", &relman.TransitionError{ReleaseID: "r", Event: "fly"}, relman.ClassInvalid},
		{"event not allowed", &relman.TransitionError{ReleaseID: "r", Event: "deploy", From: relman.StageProposed, Known: true}, relman.ClassRefused},
		{"gate refusal", &relman.GateError{Failures: []relman.GateFailure{{Gate: "rollback", Err: relman.ErrNoRollbackPlan}}}, relman.ClassRefused},
		{"gate not yet", &relman.GateError{Failures: []relman.GateFailure{{Gate: "window", Err: notYet}}}, relman.ClassNotYet},
		{"gate mixed", &relman.GateError{Failures: []relman.GateFailure{{Gate: "window", Err: notYet}, {Gate: "rollback", Err: relman.ErrNoRollbackPlan}}}, relman.ClassRefused},
		{"gate holding a forbidden override", &relman.GateError{Failures: []relman.GateFailure{{Gate: "calendar", Err: relman.ErrOverrideRefused}}}, relman.ClassRefused},
		{"not yet alone", notYet, relman.ClassNotYet},
		{"approvals missing", &relman.ApprovalsMissingError{ReleaseID: "r"}, relman.ClassRefused},
		{"approval expired", relman.ErrApprovalExpired, relman.ClassRefused},
		{"promotion", &relman.PromotionError{ReleaseID: "r", Environment: "production"}, relman.ClassRefused},
		{"rollout state", relman.ErrRolloutState, relman.ClassRefused},
		{"forbidden", &relman.ForbiddenError{Actor: "a", Action: "deploy", Err: relman.ErrNotFound}, relman.ClassForbidden},
		{"self approval", relman.ErrSelfApproval, relman.ClassForbidden},
		{"veto", &relman.VetoError{Err: errors.New("no")}, relman.ClassRefused},
		{"terminal", relman.ErrTerminal, relman.ClassRefused},
		{"unavailable", fmt.Errorf("postgres: %w", relman.ErrUnavailable), relman.ClassUnavailable},
		{"unavailable beats not found", errors.Join(relman.ErrNotFound, relman.ErrUnavailable), relman.ClassUnavailable},
		{"cancelled", fmt.Errorf("get: %w", context.Canceled), relman.ClassUnavailable},
		{"deadline", context.DeadlineExceeded, relman.ClassUnavailable},
		{"corrupt history", &relman.HistoryError{ReleaseID: "r"}, relman.ClassInternal},
		{"reentrant", relman.ErrReentrant, relman.ClassInternal},
	}
	for _, c := range cases {
		if got := relman.Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %q, want %q", c.name, c.err, got, c.want)
		}
	}
}

// The class of a real refusal from the Manager.
func TestClassifyManager(t *testing.T) {
	ctx := context.Background()
	m, err := relman.NewManager(memory.New())
	if err != nil {
		t.Fatal(err)
	}
	err = m.Check(ctx, "nope", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "a"}})
	if got := relman.Classify(err); got != relman.ClassNotFound {
		t.Fatalf("Check on a missing release: %v is %q, want not_found", err, got)
	}
}
