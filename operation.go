package relman

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of the operation methods (AddFeedback, OpenIncident,
// ResolveIncident, RecordReview).
var (
	// ErrWrongStage: the release is not at a stage where this operation
	// data can be recorded (e.g. feedback on a release not yet deployed).
	ErrWrongStage = errors.New("relman: not allowed at the release's stage")
	// ErrAlreadyResolved: the incident is already resolved.
	ErrAlreadyResolved = errors.New("relman: incident already resolved")
)

// Feedback is one piece of user feedback on a release in operation.
type Feedback struct {
	// Rating is the user's satisfaction from 1 (very poor) to 5
	// (excellent).
	Rating  int    `json:"rating" validate:"min=1,max=5"`
	Comment string `json:"comment,omitempty" validate:"max=4000"`
	// Source says where the feedback came from: "app-store", "survey",
	// "support", "nps" … free text.
	Source string    `json:"source,omitempty" validate:"max=200"`
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty" validate:"max=200"` // the user, or who recorded it
	// Seq numbers the release's feedback 1, 2, … in the order it was
	// added; the Manager sets it.
	Seq int64 `json:"seq,omitempty"`
}

// FeedbackSummary is the aggregate of a release's feedback that the
// release document keeps, however many pieces there are.
type FeedbackSummary struct {
	Count  int64     `json:"count"`         // pieces of feedback, and the last Seq
	Counts [5]int64  `json:"counts"`        // Counts[i]: ratings of i+1
	Last   time.Time `json:"last,omitzero"` // the latest At
}

// Mean returns the mean rating, or 0 without feedback.
func (s *FeedbackSummary) Mean() float64 {
	if s == nil || s.Count == 0 {
		return 0
	}
	var sum, n int64
	for i, c := range s.Counts {
		sum += int64(i+1) * c
		n += c
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

func (s *FeedbackSummary) add(f Feedback) {
	s.Count++
	if f.Rating >= 1 && f.Rating <= 5 {
		s.Counts[f.Rating-1]++
	}
	if f.At.After(s.Last) {
		s.Last = f.At
	}
}

// summarizeFeedback gives r a FeedbackSummary if it has none, counting the
// feedback in its document (data written before summaries existed) and
// numbering it.
func summarizeFeedback(r *Release) {
	if r.FeedbackSummary != nil {
		return
	}
	s := &FeedbackSummary{}
	for i := range r.Feedback {
		s.add(r.Feedback[i])
		r.Feedback[i].Seq = s.Count
	}
	r.FeedbackSummary = s
}

// Severity grades an incident. relman uses four levels, the same words as
// the risk levels; the common numbered scales map onto them as
// sev1/P1 = critical, sev2/P2 = high, sev3/P3 = medium, sev4/P4 = low
// (see ParseSeverity).
type Severity string

// The incident severities, worst first.
const (
	SeverityCritical Severity = "critical" // sev1: outage or data loss for many users
	SeverityHigh     Severity = "high"     // sev2: major function degraded
	SeverityMedium   Severity = "medium"   // sev3: minor function degraded, workaround exists
	SeverityLow      Severity = "low"      // sev4: cosmetic or very limited impact
)

// ParseSeverity reads a severity: one of critical, high, medium, low, or
// the numbered forms sev1..sev4 and p1..p4 (case-insensitive). Anything
// else is a *ValidationError.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "sev1", "p1":
		return SeverityCritical, nil
	case "high", "sev2", "p2":
		return SeverityHigh, nil
	case "medium", "sev3", "p3":
		return SeverityMedium, nil
	case "low", "sev4", "p4":
		return SeverityLow, nil
	}
	return "", &ValidationError{Fields: []FieldError{{Field: "severity", Rule: "oneof", Param: "critical high medium low sev1 sev2 sev3 sev4"}}}
}

// Relation says how an incident is linked to a release.
type Relation string

// The relations of an incident to a release.
const (
	// RelationCaused: the release caused the incident. Such an incident
	// makes the release's deployment a change failure and counts in time
	// to restore (see DeliveryMetrics).
	RelationCaused Relation = "caused"
	// RelationRelated: the incident is linked to the release (found
	// during it, touches the same service) but was not caused by it. It
	// weighs half in SuccessScore and nothing in the delivery metrics.
	RelationRelated Relation = "related"
)

// Incident is an incident caused by, or linked to, a release. It is open
// until ResolvedAt is set.
type Incident struct {
	// ID is the incident's id in the host's incident system (e.g.
	// "INC0012345"); unique within the release.
	ID       string   `json:"id" validate:"required,max=128,id"`
	Severity Severity `json:"severity" validate:"required,oneof=critical high medium low"`
	Relation Relation `json:"relation" validate:"required,oneof=caused related"`
	Summary  string   `json:"summary,omitempty" validate:"max=4000"`
	// OpenedAt is when the incident started (service degraded).
	OpenedAt time.Time `json:"opened_at" validate:"required"`
	// ResolvedAt is when service was restored; nil while open. It is
	// never before OpenedAt.
	ResolvedAt *time.Time `json:"resolved_at,omitempty" validate:"omitempty,gtefield=OpenedAt"`
	By         string     `json:"by,omitempty" validate:"max=200"` // who recorded it
}

// Open reports whether the incident is still open at t: opened at or
// before t and not resolved at or before t.
func (i Incident) Open(t time.Time) bool {
	return !i.OpenedAt.After(t) && (i.ResolvedAt == nil || i.ResolvedAt.After(t))
}

// Stages at which operation data may be recorded. They are stages of the
// default lifecycle; a custom lifecycle that reuses these names gets the
// same behaviour.
var (
	// feedbackStages: users see the release once it is in operation; they
	// may still comment after it is closed or rolled back.
	feedbackStages = []Stage{StageOperating, StageRolledBack, StageClosed}
	// incidentStages: an incident can start as soon as deployment starts,
	// and is often linked to a release after it was rolled back or closed.
	incidentStages = []Stage{StageDeploying, StageOperating, StageRolledBack, StageClosed}
	// reviewStages: the post-implementation review is done in operation
	// (close requires it) or after a rollback.
	reviewStages = []Stage{StageOperating, StageRolledBack}
)

// inStages returns an editWith stage check allowing only stages.
func inStages(what string, stages []Stage) func(r *Release) error {
	return func(r *Release) error {
		if slices.Contains(stages, r.Stage) {
			return nil
		}
		names := make([]string, len(stages))
		for i, s := range stages {
			names[i] = string(s)
		}
		return fmt.Errorf("%w: cannot %s on %q at stage %s (needs %s)", ErrWrongStage, what, r.ID, r.Stage, strings.Join(names, ", "))
	}
}

// AddFeedback records user feedback on a release that is operating,
// closed or rolled back. A zero At is set to the Manager's clock and an
// empty By to the actor; times are kept in UTC to the microsecond. The audit entry has action feedback.
//
// Errors: a *ValidationError for bad feedback (a rating outside 1..5), an
// error matching ErrNotFound for an unknown release, ErrWrongStage before
// the release is in operation. On error nothing is stored.
func (m *Manager) AddFeedback(ctx context.Context, id string, by Actor, f Feedback) (*Release, error) {
	if err := m.stamp(&f.At, &f.By, by, "at"); err != nil {
		return nil, err
	}
	if err := validateStruct(f); err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("feedback: rating %d", f.Rating)
	if f.Source != "" {
		reason += " from " + f.Source
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionFeedback, reason: reason, allow: inStages("add feedback", feedbackStages)}, func(r *Release) error {
		summarizeFeedback(r)
		r.FeedbackSummary.add(f)
		f.Seq = r.FeedbackSummary.Count
		r.Feedback = append(r.Feedback, f)
		return nil
	})
}

// Feedback returns up to n (1..MaxPage) pieces of the release's feedback
// with Seq greater than after, by Seq: pass the last Seq of a page as
// after to read the next. On a FeedbackStore it reads the records; on
// other stores, the release document. Errors: a *ValidationError for a
// blank id ("id") or n outside 1..MaxPage ("n"), an error matching
// ErrNotFound for an unknown release.
func (m *Manager) Feedback(ctx context.Context, id string, after int64, n int) ([]Feedback, error) {
	switch {
	case blank(id):
		return nil, invalid("id", "required")
	case n < 1 || n > MaxPage:
		return nil, invalidParam("n", "range", "1..1000")
	}
	r, err := m.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Feedback
	if len(r.Feedback) > 0 || r.FeedbackSummary == nil {
		// Kept in the document: on a store without records, or not yet
		// moved into them.
		summarizeFeedback(r)
		for _, f := range r.Feedback {
			if f.Seq > after && len(out) < n {
				out = append(out, f)
			}
		}
		return out, nil
	}
	fs, ok := m.store.(FeedbackStore)
	if !ok {
		return out, nil
	}
	return fs.Feedback(ctx, id, after, n)
}

// OpenIncident links an incident to a release that is deploying,
// operating, rolled back or closed. A zero OpenedAt is set to the
// Manager's clock, an empty Relation to RelationCaused and an empty By to
// the actor; times are kept in UTC to the microsecond. An incident already resolved may be recorded in one go by
// setting ResolvedAt. The audit entry has action feedback.
//
// Errors: a *ValidationError for a bad incident (unknown severity,
// ResolvedAt before OpenedAt, a bad id), an error matching ErrExists if
// the release already has an incident with that id, ErrNotFound for an
// unknown release, ErrWrongStage before deployment. On error nothing is
// stored.
func (m *Manager) OpenIncident(ctx context.Context, id string, by Actor, inc Incident) (*Release, error) {
	if inc.Relation == "" {
		inc.Relation = RelationCaused
	}
	if err := m.stamp(&inc.OpenedAt, &inc.By, by, "opened_at"); err != nil {
		return nil, err
	}
	if inc.ResolvedAt != nil {
		t := *inc.ResolvedAt // not shared with the caller
		if err := m.stamp(&t, nil, by, "resolved_at"); err != nil {
			return nil, err
		}
		inc.ResolvedAt = &t
	}
	if err := validateStruct(inc); err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("incident %s opened (%s, %s)", inc.ID, inc.Severity, inc.Relation)
	return m.editWith(ctx, id, by, editOpts{action: ActionFeedback, reason: reason, allow: inStages("open an incident", incidentStages)}, func(r *Release) error {
		if slices.ContainsFunc(r.Incidents, func(i Incident) bool { return i.ID == inc.ID }) {
			return fmt.Errorf("%w: incident %q on release %q", ErrExists, inc.ID, r.ID)
		}
		r.Incidents = append(r.Incidents, inc)
		return nil
	})
}

// ResolveIncident marks incident incidentID of a release resolved at at
// (the Manager's clock if zero): service was restored then. The release
// may be deploying, operating, rolled back or closed. The audit entry has
// action feedback.
//
// Errors: an error matching ErrNotFound for an unknown release or
// incident, ErrAlreadyResolved if it is resolved already, a
// *ValidationError (field resolved_at, rule gtefield) if at is before the
// incident was opened, ErrWrongStage at another stage. On error nothing
// is stored.
func (m *Manager) ResolveIncident(ctx context.Context, id string, by Actor, incidentID string, at time.Time) (*Release, error) {
	if blank(incidentID) {
		return nil, invalid("incident_id", "required")
	}
	if err := m.stamp(&at, nil, by, "resolved_at"); err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("incident %s resolved", incidentID)
	return m.editWith(ctx, id, by, editOpts{action: ActionFeedback, reason: reason, allow: inStages("resolve an incident", incidentStages)}, func(r *Release) error {
		i := slices.IndexFunc(r.Incidents, func(i Incident) bool { return i.ID == incidentID })
		switch {
		case i < 0:
			return fmt.Errorf("relman: release %q: incident %q: %w", r.ID, incidentID, ErrNotFound)
		case r.Incidents[i].ResolvedAt != nil:
			return fmt.Errorf("%w: %q on release %q at %s", ErrAlreadyResolved, incidentID, r.ID, r.Incidents[i].ResolvedAt.Format(time.RFC3339))
		case at.Before(r.Incidents[i].OpenedAt):
			return &ValidationError{Fields: []FieldError{{Field: "resolved_at", Rule: "gtefield", Param: "opened_at"}}}
		}
		r.Incidents[i].ResolvedAt = &at
		return nil
	})
}

// The weights of SuccessScore.
const (
	scoreSuccessful           = 100
	scoreSuccessfulWithIssues = 70
	scoreFailed               = 30
)

// severityPenalty is what one incident caused by a release takes off its
// success score.
var severityPenalty = map[Severity]float64{
	SeverityCritical: 40,
	SeverityHigh:     20,
	SeverityMedium:   10,
	SeverityLow:      5,
}

// SuccessScore rates how well a release went, from 0 (worst) to 100, in
// the spirit of the change success scores of ITSM tools:
//
//	base    = 100 if the review outcome is successful,
//	           70 if successful_with_issues,
//	           30 if failed;
//	          a rolled-back release scores at most 30 (a rollback is a
//	          failed change, whatever the review says), and without a
//	          review a rolled-back release has base 30
//	penalty = Σ over the release's incidents, open or resolved, of
//	          w(severity) × (1 if caused by the release, ½ if only related)
//	          with w = critical 40, high 20, medium 10, low 5
//	score   = max(0, base − penalty)
//
// For example a release reviewed successful_with_issues that caused one
// high and one low incident and is related to a medium one scores
// 70 − 20 − 5 − 5 = 40.
//
// ok is false, and score 0, when there is nothing to judge yet: the
// release has no review and was not rolled back (incidents alone do not
// make a score, since the release's outcome is still open).
func SuccessScore(r *Release) (score float64, ok bool) {
	if r == nil {
		return 0, false
	}
	var base float64
	switch {
	case r.Review != nil && r.Review.Outcome == OutcomeSuccessful:
		base = scoreSuccessful
	case r.Review != nil && r.Review.Outcome == OutcomeSuccessfulWithIssues:
		base = scoreSuccessfulWithIssues
	case r.Review != nil && r.Review.Outcome == OutcomeFailed:
		base = scoreFailed
	case r.Stage == StageRolledBack:
		base = scoreFailed
	default:
		return 0, false
	}
	if r.Stage == StageRolledBack {
		base = min(base, scoreFailed)
	}
	for _, inc := range r.Incidents {
		p := severityPenalty[inc.Severity]
		if inc.Relation != RelationCaused {
			p /= 2
		}
		base -= p
	}
	return max(0, base), true
}
