package relman

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Test for them with errors.Is: the typed errors below
// and the stores wrap them.
var (
	// ErrNotFound: no release (or window) has that id.
	ErrNotFound = errors.New("relman: not found")
	// ErrExists: a release with that id already exists.
	ErrExists = errors.New("relman: already exists")
	// ErrConflict: the release changed since it was read (stale revision).
	ErrConflict = errors.New("relman: revision conflict")
	// ErrInvalid: input failed validation. *ValidationError and
	// *LifecycleError match it.
	ErrInvalid = errors.New("relman: invalid input")
	// ErrInvalidTransition: the event cannot fire from the release's stage.
	// *TransitionError matches it.
	ErrInvalidTransition = errors.New("relman: event not allowed from this stage")
	// ErrForbidden: the Authorizer refused the actor.
	ErrForbidden = errors.New("relman: forbidden")
	// ErrReentrant: a gate or before-hook tried to change the release whose
	// transition it is checking.
	ErrReentrant = errors.New("relman: re-entrant change of a release inside its own transition")
	// ErrVetoed: a before-hook refused the transition. *VetoError matches it.
	ErrVetoed = errors.New("relman: vetoed by hook")
	// ErrCorruptHistory: the audit trail does not verify. *HistoryError
	// matches it.
	ErrCorruptHistory = errors.New("relman: audit history does not verify")
	// ErrNotYet: a gate refused for now but will allow the transition later
	// (a window that has not opened yet). *NotYetError matches it.
	ErrNotYet = errors.New("relman: not yet")
	// ErrUnavailable: the store cannot be reached or did not answer; the
	// call may succeed later. Stores wrap it (store/postgres returns it for
	// a lost connection).
	ErrUnavailable = errors.New("relman: store unavailable")
	// ErrScheduleDone: the scheduled event has already fired, failed,
	// expired or been cancelled.
	ErrScheduleDone = errors.New("relman: scheduled event is no longer pending")
)

// Sentinels of the built-in gates.
var (
	ErrBusinessCaseIncomplete = errors.New("business case incomplete")
	ErrReasonRequired         = errors.New("a reason is required")
	ErrNoFailedTest           = errors.New("no failed test result recorded in this test round")
	ErrTestsNotPassed         = errors.New("required test suites have not passed")
	ErrNoRollbackPlan         = errors.New("no rollback plan")
	ErrNoReview               = errors.New("no post-implementation review recorded")
	ErrNoWindow               = errors.New("no planned window")
	ErrTaskUnowned            = errors.New("task has no owning team")
	ErrOutsideWindow          = errors.New("outside the planned window")
)

// Sentinels of risk assessment and approvals (risk.go, approval.go).
var (
	// ErrRiskNotAssessed: the release has no risk assessment (run
	// Manager.Assess).
	ErrRiskNotAssessed = errors.New("risk not assessed")
	// ErrRiskStale: the release changed since its risk was assessed, or
	// the assessment is older than the policy allows.
	ErrRiskStale = errors.New("risk assessment is stale")
	// ErrApprovalsMissing: the policy requires approvals the release does
	// not have. *ApprovalsMissingError matches it and names them.
	ErrApprovalsMissing = errors.New("approvals missing")
	// ErrApprovalRejected: an approver rejected the release; only a
	// replan (which voids every decision) lifts it.
	ErrApprovalRejected = errors.New("rejected by an approver")
	// ErrSelfApproval: the requester or owner tried to approve their own
	// release and the policy does not allow it.
	ErrSelfApproval = errors.New("self-approval is not allowed")
	// ErrExcludedRole: the approver holds a role the policy excludes from
	// approving.
	ErrExcludedRole = errors.New("role excluded from approving")
	// ErrModelNotAllowed: the change model may not be used at the assessed
	// level (a standard change above low), or the policy has no rule for it.
	ErrModelNotAllowed = errors.New("change model not allowed at this risk level")
	// ErrApprovalExpired: an approval that would count has outlived the
	// validity the policy gives it (ApprovalPolicy.Validity, Rule.Validity).
	ErrApprovalExpired = errors.New("approval expired")
)

// MissingApproval is one requirement of the policy that is not met yet.
type MissingApproval struct {
	Role    string // the role (group) the approvals must come from; "" means anyone
	Need    int    // approvals required
	Have    int    // approvals that count
	Percent int    // when the requirement is a percentage of the group
}

// String says how many more approvals are needed and from whom.
func (m MissingApproval) String() string {
	who := "any approver"
	if m.Role != "" {
		who = "role " + m.Role
	}
	s := fmt.Sprintf("%d more from %s (have %d of %d", m.Need-m.Have, who, m.Have, m.Need)
	if m.Percent > 0 {
		s += fmt.Sprintf(", %d%% of the group", m.Percent)
	}
	return s + ")"
}

// ApprovalsMissingError names every approval the policy still requires.
// The authorize gate returns it (inside a *GateError); it matches
// ErrApprovalsMissing.
type ApprovalsMissingError struct {
	ReleaseID   string
	Model       ChangeModel
	Level       Level
	Environment string // set when the approvals are those of a rollout to this environment
	Missing     []MissingApproval
}

// Error names every missing approval.
func (e *ApprovalsMissingError) Error() string {
	parts := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		parts[i] = m.String()
	}
	if e.Environment != "" {
		return fmt.Sprintf("approvals missing for the rollout to %s: %s", e.Environment, strings.Join(parts, "; "))
	}
	return fmt.Sprintf("approvals missing for a %s-risk %s change: %s", e.Level, e.Model, strings.Join(parts, "; "))
}

// Is reports whether target is ErrApprovalsMissing.
func (e *ApprovalsMissingError) Is(target error) bool { return target == ErrApprovalsMissing }

// FieldError is one failed validation rule.
type FieldError struct {
	Field string // JSON path, e.g. "business_case.cost" or "tasks[2].name"
	Rule  string // the rule broken, e.g. "required", "oneof", "semver"
	Param string // the rule's parameter, if any
}

// String returns "field: rule" or "field: rule=param".
func (f FieldError) String() string {
	if f.Param != "" {
		return fmt.Sprintf("%s: %s=%s", f.Field, f.Rule, f.Param)
	}
	return fmt.Sprintf("%s: %s", f.Field, f.Rule)
}

// ValidationError lists every field of an input that failed validation.
// It matches ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

// Error describes the failure in one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return "relman: invalid input: " + strings.Join(parts, "; ")
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// invalid builds a one-field *ValidationError.
// A rule written "rule=param" is split into Rule and Param, the shape the
// validator's own errors have.
func invalid(field, rule string) *ValidationError {
	rule, param, _ := strings.Cut(rule, "=")
	return invalidParam(field, rule, param)
}

// invalidParam builds a one-field *ValidationError for a rule with a
// parameter.
func invalidParam(field, rule, param string) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Rule: rule, Param: param}}}
}

// TransitionError reports an event that is not defined from the release's
// current stage (or not defined at all). Fire and Check return it; it
// matches ErrInvalidTransition.
type TransitionError struct {
	ReleaseID string
	From      Stage
	Event     Event
	Known     bool // whether the lifecycle defines the event at all
}

// Error describes the failure in one line.
func (e *TransitionError) Error() string {
	if !e.Known {
		return fmt.Sprintf("relman: release %q: unknown event %q", e.ReleaseID, e.Event)
	}
	return fmt.Sprintf("relman: release %q: event %q not allowed from stage %q", e.ReleaseID, e.Event, e.From)
}

// Is reports whether target is ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// GateFailure is one gate's refusal.
type GateFailure struct {
	Gate string
	Err  error
}

// GateError lists every gate that refused a transition. Fire and Check
// return it. Unwrap exposes each cause, so errors.Is(err, ErrNoRollbackPlan)
// finds one refusal among several.
type GateError struct {
	ReleaseID string
	Event     Event
	Failures  []GateFailure
}

// Error describes the failure in one line.
func (e *GateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "relman: release %q: %s refused by %d gate(s)", e.ReleaseID, e.Event, len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "; %s: %v", f.Gate, f.Err)
	}
	return b.String()
}

// Unwrap returns the error of every failure.
func (e *GateError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f.Err
	}
	return errs
}

// NotYet reports whether every failure is a "not yet" (see NotYetError),
// and if so the earliest time at which all of them may be satisfied.
func (e *GateError) NotYet() (time.Time, bool) {
	var at time.Time
	for _, f := range e.Failures {
		var ny *NotYetError
		if !errors.As(f.Err, &ny) {
			return time.Time{}, false
		}
		if ny.Until.After(at) {
			at = ny.Until
		}
	}
	return at, len(e.Failures) > 0
}

// NotYetError is a gate's "not yet, but from Until on": a refusal that time
// alone will lift, distinct from a plain "no". It matches ErrNotYet and
// whatever Err matches.
type NotYetError struct {
	Until time.Time
	Err   error
}

// Error describes the failure in one line.
func (e *NotYetError) Error() string {
	return fmt.Sprintf("not yet: %v (from %s)", e.Err, e.Until.Format(time.RFC3339))
}

// Unwrap returns ErrNotYet and the cause.
func (e *NotYetError) Unwrap() []error { return []error{ErrNotYet, e.Err} }

// VetoError reports a before-hook that refused a transition. It matches
// ErrVetoed and whatever the hook's error matches.
type VetoError struct {
	ReleaseID string
	Event     Event
	Err       error
}

// Error describes the failure in one line.
func (e *VetoError) Error() string {
	return fmt.Sprintf("relman: release %q: %s vetoed: %v", e.ReleaseID, e.Event, e.Err)
}

// Unwrap returns ErrVetoed and the hook's error.
func (e *VetoError) Unwrap() []error { return []error{ErrVetoed, e.Err} }

// ForbiddenError reports an actor the Authorizer refused. It matches
// ErrForbidden and whatever the Authorizer's error matches.
type ForbiddenError struct {
	Actor  string
	Action string // the event, or "create", "edit"
	Err    error
}

// Error describes the failure in one line.
func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("relman: %s may not %s: %v", e.Actor, e.Action, e.Err)
}

// Unwrap returns ErrForbidden and the cause.
func (e *ForbiddenError) Unwrap() []error { return []error{ErrForbidden, e.Err} }

// HistoryError reports where an audit trail fails to verify. It matches
// ErrCorruptHistory.
type HistoryError struct {
	ReleaseID string
	Index     int   // position in the slice given to VerifyHistory
	Seq       int64 // the entry's recorded sequence number
	Fault     HistoryFault
	Problem   string
}

// HistoryFault names what kind of tampering a HistoryError found.
type HistoryFault string

// The faults VerifyHistory, VerifySigned and VerifyCheckpoint report.
const (
	FaultRelease    HistoryFault = "release"     // an entry of another release
	FaultSequence   HistoryFault = "sequence"    // a sequence number out of order: entry removed, inserted or reordered
	FaultLink       HistoryFault = "link"        // a previous-hash link broken: entry removed, inserted or reordered
	FaultEdited     HistoryFault = "edited"      // an entry's content does not match its hash
	FaultHead       HistoryFault = "head"        // the history does not end at the release's head, or the head's signature does not verify (moved back)
	FaultResealed   HistoryFault = "resealed"    // a signature does not verify: entry or head rewritten and resealed
	FaultUnsigned   HistoryFault = "unsigned"    // a signature is missing where one is required
	FaultUnknownKey HistoryFault = "unknown-key" // signed by a key the keyring does not hold
	FaultDocument   HistoryFault = "document"    // the release document does not match its signed digest: row edited
	FaultTruncated  HistoryFault = "truncated"   // the history is shorter than a checkpoint recorded
	FaultForked     HistoryFault = "forked"      // the history differs from a checkpoint at the checkpoint's head
)

// Error describes the failure in one line.
func (e *HistoryError) Error() string {
	return fmt.Sprintf("relman: history of %q: entry %d (seq %d): %s", e.ReleaseID, e.Index, e.Seq, e.Problem)
}

// Is reports whether target is ErrCorruptHistory.
func (e *HistoryError) Is(target error) bool { return target == ErrCorruptHistory }

// LifecycleError lists every problem found when a lifecycle is built.
// It matches ErrInvalid.
type LifecycleError struct {
	Problems []string
}

// Error describes the failure in one line.
func (e *LifecycleError) Error() string {
	return "relman: invalid lifecycle: " + strings.Join(e.Problems, "; ")
}

// Is reports whether target is ErrInvalid.
func (e *LifecycleError) Is(target error) bool { return target == ErrInvalid }
