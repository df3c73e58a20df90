package relman

import (
	"context"
	"errors"
)

// ErrorClass is the kind of failure an error reports, for code that must
// answer the same way to many errors: an HTTP handler choosing a status, a
// command choosing an exit code, a client deciding whether to retry.
// Classify puts every error relman returns into one class.
type ErrorClass string

// The error classes. Their values are stable and appear in httpapi's
// problem documents.
const (
	// ClassNone is the class of a nil error.
	ClassNone ErrorClass = ""
	// ClassInvalid: the input is malformed or fails validation (ErrInvalid,
	// *ValidationError, an unknown event, a task plan with a cycle). The
	// same call will fail again.
	ClassInvalid ErrorClass = "invalid"
	// ClassNotFound: no release, window or scheduled event has that id.
	ClassNotFound ErrorClass = "not_found"
	// ClassConflict: the call raced with another change or repeats one
	// already made (ErrConflict, ErrExists, ErrScheduleDone,
	// ErrAlreadyResolved). Read again and decide.
	ClassConflict ErrorClass = "conflict"
	// ClassRefused: a gate, a policy or the release's state said no
	// (*GateError, ErrInvalidTransition, ErrVetoed, ErrTerminal, every
	// built-in gate's sentinel). Something must change first.
	ClassRefused ErrorClass = "refused"
	// ClassNotYet: refused for now, and time alone lifts it (ErrNotYet, a
	// *GateError whose every failure is a *NotYetError; see
	// GateError.NotYet for when).
	ClassNotYet ErrorClass = "not_yet"
	// ClassForbidden: the actor may not do this (ErrForbidden,
	// ErrSelfApproval, ErrExcludedRole).
	ClassForbidden ErrorClass = "forbidden"
	// ClassUnavailable: the store could not be reached, or the call was
	// cancelled or ran out of time (ErrUnavailable, context.Canceled,
	// context.DeadlineExceeded). The same call may succeed later.
	ClassUnavailable ErrorClass = "unavailable"
	// ClassInternal: anything else — a store failure relman does not
	// know, a corrupt audit history, a gate that changed its own release.
	ClassInternal ErrorClass = "internal"
)

// ErrorClasses lists every class but ClassNone, in a fixed order.
func ErrorClasses() []ErrorClass {
	return []ErrorClass{ClassInvalid, ClassNotFound, ClassConflict, ClassRefused, ClassNotYet,
		ClassForbidden, ClassUnavailable, ClassInternal}
}

// sentinelClasses places every exported sentinel of the package. Order
// matters where an error matches several: the first match wins, so a
// store that cannot be reached is unavailable whatever else it says, and
// an authorizer's refusal is forbidden whatever its cause matches.
// A test fails when a sentinel declared in the package is missing here.
var sentinelClasses = []struct {
	err   error
	class ErrorClass
}{
	{ErrUnavailable, ClassUnavailable},
	{context.Canceled, ClassUnavailable},
	{context.DeadlineExceeded, ClassUnavailable},
	{ErrOutcomeUnknown, ClassUnavailable},

	{ErrForbidden, ClassForbidden},
	{ErrSelfApproval, ClassForbidden},
	{ErrExcludedRole, ClassForbidden},

	{ErrInvalid, ClassInvalid},
	{ErrTaskCycle, ClassInvalid},
	{ErrUnknownTask, ClassInvalid},

	{ErrNotFound, ClassNotFound},

	{ErrConflict, ClassConflict},
	{ErrExists, ClassConflict},
	{ErrScheduleDone, ClassConflict},
	{ErrAlreadyResolved, ClassConflict},

	{ErrNotYet, ClassNotYet},

	{ErrInvalidTransition, ClassRefused},
	{ErrVetoed, ClassRefused},
	{ErrTerminal, ClassRefused},
	{ErrWrongStage, ClassRefused},
	{ErrPromotion, ClassRefused},
	{ErrRolloutState, ClassRefused},
	{ErrBusinessCaseIncomplete, ClassRefused},
	{ErrReasonRequired, ClassRefused},
	{ErrNoFailedTest, ClassRefused},
	{ErrTestsNotPassed, ClassRefused},
	{ErrNoRollbackPlan, ClassRefused},
	{ErrNoReview, ClassRefused},
	{ErrNoWindow, ClassRefused},
	{ErrTaskUnowned, ClassRefused},
	{ErrOutsideWindow, ClassRefused},
	{ErrRiskNotAssessed, ClassRefused},
	{ErrRiskStale, ClassRefused},
	{ErrApprovalsMissing, ClassRefused},
	{ErrApprovalRejected, ClassRefused},
	{ErrModelNotAllowed, ClassRefused},
	{ErrApprovalExpired, ClassRefused},
	{ErrFreeze, ClassRefused},
	{ErrOutsideMaintenance, ClassRefused},
	{ErrNoSlot, ClassRefused},
	{ErrSchedulingConflict, ClassRefused},
	{ErrOverrideRefused, ClassRefused},

	{ErrReentrant, ClassInternal},
	{ErrCorruptHistory, ClassInternal},
	{ErrCheckpoint, ClassInternal},
}

// Classify returns the class of err: ClassNone for nil, ClassInternal for
// an error relman does not know. It looks through wrapping (errors.Is and
// errors.As), so a store's "postgres: get: relman: not found" is
// ClassNotFound.
//
// Typed errors decide first: a *GateError is ClassNotYet when every
// failure is a *NotYetError (GateError.NotYet) and ClassRefused otherwise,
// whatever its failures match; a *TransitionError for an event the
// lifecycle does not define is ClassInvalid, for one not allowed from the
// current stage ClassRefused. Then the sentinels, in this order of
// precedence: unavailable (incl. context.Canceled and
// context.DeadlineExceeded), forbidden, invalid, not found, conflict, not
// yet, refused, internal.
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, ErrUnavailable) {
		return ClassUnavailable
	}
	var fe *ForbiddenError
	if errors.As(err, &fe) {
		return ClassForbidden
	}
	var ge *GateError
	if errors.As(err, &ge) {
		if _, ok := ge.NotYet(); ok {
			return ClassNotYet
		}
		return ClassRefused
	}
	var te *TransitionError
	if errors.As(err, &te) {
		if !te.Known {
			return ClassInvalid
		}
		return ClassRefused
	}
	for _, s := range sentinelClasses {
		if errors.Is(err, s.err) {
			return s.class
		}
	}
	return ClassInternal
}
