package storedoc

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// Planned reports whether r holds a window that relman.PlanIndex finds:
// it is in one of relman.PlannedStages and has a window.
func Planned(r *relman.Release) bool {
	return r.Window != nil && slices.Contains(relman.PlannedStages, r.Stage)
}

// Overlaps reports whether r belongs in the result of
// relman.PlanIndex.Overlapping(from, to, match): it is planned, its
// window overlaps [from, to) (a zero from: no start, a zero to: no end),
// and match selects it. The stores' indexes keep
// coarser keys (whole seconds, or PostgreSQL's microseconds) and select
// a superset; this exact check on the decoded release decides.
func Overlaps(r *relman.Release, from, to time.Time, match relman.PlanMatch) bool {
	if !Planned(r) {
		return false
	}
	if !from.IsZero() && !r.Window.End.After(from) {
		return false
	}
	if !to.IsZero() && !r.Window.Start.Before(to) {
		return false
	}
	return match.Matches(r)
}

// CallPlanned calls fn, in the order of relman.PlanIndex.Overlapping (by
// window start, then id), with the releases of found that Overlaps
// keeps, and stops at the first error fn returns. It reorders found.
func CallPlanned(found []*relman.Release, from, to time.Time, match relman.PlanMatch, fn func(*relman.Release) error) error {
	hits := found[:0]
	for _, r := range found {
		if Overlaps(r, from, to, match) {
			hits = append(hits, r)
		}
	}
	slices.SortFunc(hits, func(a, b *relman.Release) int {
		return cmp.Or(a.Window.Start.Compare(b.Window.Start), strings.Compare(a.ID, b.ID))
	})
	for _, r := range hits {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// FloorUnix returns t in whole Unix seconds, rounded down.
func FloorUnix(t time.Time) int64 { return t.Unix() }

// CeilUnix returns t in whole Unix seconds, rounded up.
func CeilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// CheckFeedbackPage checks the n of relman.FeedbackStore.Feedback:
// 1..relman.MaxPage. It returns a *relman.ValidationError, or nil.
func CheckFeedbackPage(n int) error {
	if n < 1 || n > relman.MaxPage {
		return &relman.ValidationError{Fields: []relman.FieldError{{Field: "n", Rule: "range", Param: "1..1000"}}}
	}
	return nil
}

// CheckFeedback checks the records UpdateFeedback appends: text another
// store could keep alike (relman.CheckInput), and a Seq above 0. It
// returns a *relman.ValidationError, or nil.
func CheckFeedback(fs []relman.Feedback) error {
	for i, f := range fs {
		if f.Seq <= 0 {
			return &relman.ValidationError{Fields: []relman.FieldError{{Field: fmt.Sprintf("feedback[%d].seq", i), Rule: "gt", Param: "0"}}}
		}
	}
	return relman.CheckInput("feedback", fs)
}
