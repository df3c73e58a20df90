package storedoc

import (
	"fmt"
	"strings"

	"github.com/relman-dev/relman"
)

// CheckClaim checks the arguments of relman.DueStore.ClaimDue and
// relman.Outbox.ClaimNotifications: an owner that is not blank, and n > 0.
// It returns a *relman.ValidationError naming every bad one, or nil.
func CheckClaim(owner string, n int) error {
	var fs []relman.FieldError
	if strings.TrimSpace(owner) == "" {
		fs = append(fs, relman.FieldError{Field: "owner", Rule: "required"})
	}
	if n <= 0 {
		fs = append(fs, relman.FieldError{Field: "n", Rule: "gt", Param: "0"})
	}
	if len(fs) > 0 {
		return &relman.ValidationError{Fields: fs}
	}
	return nil
}

// CheckLimit checks the n of DueBefore and ListNotifications: n > 0. It
// returns a *relman.ValidationError, or nil.
func CheckLimit(n int) error {
	if n <= 0 {
		return &relman.ValidationError{Fields: []relman.FieldError{{Field: "n", Rule: "gt", Param: "0"}}}
	}
	return nil
}

// OutboxOff is the error of an Outbox method called on a store whose
// outbox is off: store is the package ("sqlite"), op the operation ("ack
// notification"). It matches relman.ErrInvalid.
func OutboxOff(store, op string) error {
	return fmt.Errorf("%s: %s: the outbox is not enabled (Options.Outbox): %w", store, op, relman.ErrInvalid)
}
