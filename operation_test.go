package relman_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// operate drives a new release from proposed to operating.
func operate(t testing.TB, m *relman.Manager, c *clock, id string) *relman.Release {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease(id), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventApprove, relman.Request{})
	fire(t, m, id, relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(time.Hour), End: c.now.Add(3 * time.Hour)}})
	fire(t, m, id, relman.EventStart, relman.Request{})
	fire(t, m, id, relman.EventSubmit, relman.Request{})
	if _, err := m.RecordTest(ctx, id, alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventPass, relman.Request{})
	authorize(t, m, id)
	c.Advance(time.Hour)
	fire(t, m, id, relman.EventDeploy, relman.Request{})
	c.Advance(10 * time.Minute)
	return fire(t, m, id, relman.EventComplete, relman.Request{})
}

// snapshot reads a release and its history, to prove a failed call
// stored nothing.
func snapshot(t *testing.T, m *relman.Manager, id string) (*relman.Release, []relman.AuditEntry) {
	t.Helper()
	r, err := m.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r, h
}

func fieldError(err error, field, rule string) bool {
	var ve *relman.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field && f.Rule == rule {
			return true
		}
	}
	return false
}

func TestOperationRecords(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	operate(t, m, c, "rel-1")
	c.Advance(time.Hour)

	r, err := m.AddFeedback(ctx, "rel-1", alice, relman.Feedback{Rating: 4, Comment: "snappier", Source: "survey"})
	if err != nil {
		t.Fatal(err)
	}
	// Read through the Manager: a FeedbackStore keeps feedback as records.
	if fb, err := m.Feedback(ctx, "rel-1", 0, 10); err != nil || len(fb) != 1 || fb[0].At != c.now || fb[0].By != "alice" ||
		r.FeedbackSummary == nil || r.FeedbackSummary.Count != 1 {
		t.Errorf("feedback = %+v, %v (summary %+v), want one, At=now, By=alice", fb, err, r.FeedbackSummary)
	}

	opened := c.now.Add(-30 * time.Minute)
	r, err = m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "INC-1", Severity: relman.SeverityHigh, OpenedAt: opened, Summary: "timeouts"})
	if err != nil {
		t.Fatal(err)
	}
	if inc := r.Incidents[0]; inc.Relation != relman.RelationCaused || !inc.Open(c.now) || inc.By != "alice" {
		t.Errorf("incident = %+v, want caused, open, by alice", inc)
	}
	c.Advance(time.Hour)
	r, err = m.ResolveIncident(ctx, "rel-1", alice, "INC-1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if inc := r.Incidents[0]; inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(c.now) || inc.Open(c.now) {
		t.Errorf("resolved incident = %+v, want ResolvedAt=now", inc)
	}

	// Audit: three feedback entries, reasons naming what happened.
	h, _ := m.History(ctx, "rel-1")
	var reasons []string
	for _, e := range h {
		if e.Action == relman.ActionFeedback {
			reasons = append(reasons, e.Reason)
		}
	}
	want := []string{"feedback: rating 4 from survey", "incident INC-1 opened (high, caused)", "incident INC-1 resolved"}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("feedback audit reasons = %q, want %q", reasons, want)
	}
	if err := m.Verify(ctx, "rel-1"); err != nil {
		t.Error(err)
	}

	// After a rollback (terminal) incidents can still be linked and
	// resolved, feedback added and the review recorded.
	fire(t, m, "rel-1", relman.EventRollback, relman.Request{Reason: "timeouts again"})
	if _, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "INC-2", Severity: relman.SeverityLow, Relation: relman.RelationRelated}); err != nil {
		t.Errorf("incident after rollback: %v", err)
	}
	c.Advance(time.Minute)
	if _, err := m.ResolveIncident(ctx, "rel-1", alice, "INC-2", c.now); err != nil {
		t.Errorf("resolve after rollback: %v", err)
	}
	if _, err := m.AddFeedback(ctx, "rel-1", alice, relman.Feedback{Rating: 1}); err != nil {
		t.Errorf("feedback after rollback: %v", err)
	}
	r, err = m.RecordReview(ctx, "rel-1", alice, relman.Review{Outcome: relman.OutcomeFailed, Lessons: []string{"load test first"}})
	if err != nil {
		t.Fatalf("review after rollback: %v", err)
	}
	if r.Stage != relman.StageRolledBack || r.Review.Outcome != relman.OutcomeFailed {
		t.Errorf("after review: stage %s, review %+v", r.Stage, r.Review)
	}
	// Edit still refuses terminal releases.
	if _, err := m.Edit(ctx, "rel-1", alice, "x", func(r *relman.Release) error { r.Title = "y"; return nil }); !errors.Is(err, relman.ErrTerminal) {
		t.Errorf("Edit of rolled-back release: %v, want ErrTerminal", err)
	}
}

func TestOperationBadInput(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	operate(t, m, c, "rel-1")
	if _, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "INC-1", Severity: relman.SeverityMedium, OpenedAt: c.now}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, newRelease("early"), alice); err != nil {
		t.Fatal(err)
	}
	resolved := c.now.Add(-time.Minute)

	cases := []struct {
		name string
		id   string
		call func(id string) error
		ok   func(error) bool
	}{
		{"rating 0", "rel-1", func(id string) error {
			_, err := m.AddFeedback(ctx, id, alice, relman.Feedback{Rating: 0})
			return err
		}, func(err error) bool { return fieldError(err, "rating", "min") }},
		{"rating 6", "rel-1", func(id string) error {
			_, err := m.AddFeedback(ctx, id, alice, relman.Feedback{Rating: 6})
			return err
		}, func(err error) bool { return fieldError(err, "rating", "max") }},
		{"feedback on unknown release", "nope", func(id string) error {
			_, err := m.AddFeedback(ctx, id, alice, relman.Feedback{Rating: 3})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrNotFound) }},
		{"feedback before operation", "early", func(id string) error {
			_, err := m.AddFeedback(ctx, id, alice, relman.Feedback{Rating: 3})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrWrongStage) }},
		{"feedback without actor", "rel-1", func(id string) error {
			_, err := m.AddFeedback(ctx, id, relman.Actor{}, relman.Feedback{Rating: 3})
			return err
		}, func(err error) bool { return fieldError(err, "actor.id", "required") }},
		{"incident resolved before opened", "rel-1", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC-2", Severity: relman.SeverityLow, OpenedAt: c.now, ResolvedAt: &resolved})
			return err
		}, func(err error) bool { return fieldError(err, "resolved_at", "gtefield") }},
		{"incident bad severity", "rel-1", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC-2", Severity: "sev1"})
			return err
		}, func(err error) bool { return fieldError(err, "severity", "oneof") }},
		{"incident bad id", "rel-1", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC 2", Severity: relman.SeverityLow})
			return err
		}, func(err error) bool { return fieldError(err, "id", "id") }},
		{"incident duplicate id", "rel-1", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC-1", Severity: relman.SeverityLow})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrExists) }},
		{"incident on unknown release", "nope", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC-2", Severity: relman.SeverityLow})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrNotFound) }},
		{"incident before deployment", "early", func(id string) error {
			_, err := m.OpenIncident(ctx, id, alice, relman.Incident{ID: "INC-2", Severity: relman.SeverityLow})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrWrongStage) }},
		{"resolve before opened", "rel-1", func(id string) error {
			_, err := m.ResolveIncident(ctx, id, alice, "INC-1", resolved)
			return err
		}, func(err error) bool { return fieldError(err, "resolved_at", "gtefield") }},
		{"resolve unknown incident", "rel-1", func(id string) error {
			_, err := m.ResolveIncident(ctx, id, alice, "INC-9", time.Time{})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrNotFound) }},
		{"resolve on unknown release", "nope", func(id string) error {
			_, err := m.ResolveIncident(ctx, id, alice, "INC-1", time.Time{})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrNotFound) }},
		{"resolve without incident id", "rel-1", func(id string) error {
			_, err := m.ResolveIncident(ctx, id, alice, " ", time.Time{})
			return err
		}, func(err error) bool { return fieldError(err, "incident_id", "required") }},
		{"review bad outcome", "rel-1", func(id string) error {
			_, err := m.RecordReview(ctx, id, alice, relman.Review{Outcome: "great"})
			return err
		}, func(err error) bool { return fieldError(err, "outcome", "oneof") }},
		{"review before operation", "early", func(id string) error {
			_, err := m.RecordReview(ctx, id, alice, relman.Review{Outcome: relman.OutcomeSuccessful})
			return err
		}, func(err error) bool { return errors.Is(err, relman.ErrWrongStage) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before *relman.Release
			var hist []relman.AuditEntry
			if tc.id != "nope" {
				before, hist = snapshot(t, m, tc.id)
			}
			err := tc.call(tc.id)
			if err == nil || !tc.ok(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if tc.id != "nope" {
				after, hist2 := snapshot(t, m, tc.id)
				if !reflect.DeepEqual(before, after) || len(hist) != len(hist2) {
					t.Errorf("a failed call changed the stored release (revision %d → %d, history %d → %d)",
						before.Revision, after.Revision, len(hist), len(hist2))
				}
			}
		})
	}

	// Resolving twice: the second call is refused and changes nothing.
	if _, err := m.ResolveIncident(ctx, "rel-1", alice, "INC-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	before, _ := snapshot(t, m, "rel-1")
	if _, err := m.ResolveIncident(ctx, "rel-1", alice, "INC-1", time.Time{}); !errors.Is(err, relman.ErrAlreadyResolved) {
		t.Errorf("second resolve: %v, want ErrAlreadyResolved", err)
	}
	if after, _ := snapshot(t, m, "rel-1"); after.Revision != before.Revision {
		t.Error("second resolve changed the release")
	}

	// Edit cannot change operation data at all: it has its own methods.
	if _, err := m.Edit(ctx, "rel-1", alice, "x", func(r *relman.Release) error {
		r.Feedback = append(r.Feedback, relman.Feedback{Rating: 9})
		return nil
	}); !fieldError(err, "feedback", "readonly") {
		t.Errorf("Edit with rating 9: %v", err)
	}
	if _, err := m.Edit(ctx, "rel-1", alice, "x", func(r *relman.Release) error {
		r.Incidents = append(r.Incidents, r.Incidents[0])
		return nil
	}); !fieldError(err, "incidents", "readonly") {
		t.Errorf("Edit with duplicate incident: %v", err)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]relman.Severity{
		"sev1": relman.SeverityCritical, "P2": relman.SeverityHigh, " Medium ": relman.SeverityMedium, "sev4": relman.SeverityLow, "low": relman.SeverityLow,
	} {
		if got, err := relman.ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := relman.ParseSeverity("sev5"); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("ParseSeverity(sev5): %v, want ErrInvalid", err)
	}
}

func TestSuccessScore(t *testing.T) {
	inc := func(s relman.Severity, rel relman.Relation) relman.Incident {
		return relman.Incident{ID: "i", Severity: s, Relation: rel, OpenedAt: t0}
	}
	review := func(o relman.Outcome) *relman.Review { return &relman.Review{Outcome: o} }
	cases := []struct {
		name      string
		stage     relman.Stage
		review    *relman.Review
		incidents []relman.Incident
		want      float64
		ok        bool
	}{
		{"nothing to judge yet", relman.StageOperating, nil, nil, 0, false},
		{"incidents but no review", relman.StageOperating, nil, []relman.Incident{inc(relman.SeverityLow, relman.RelationCaused)}, 0, false},
		{"successful", relman.StageClosed, review(relman.OutcomeSuccessful), nil, 100, true},
		{"with issues", relman.StageClosed, review(relman.OutcomeSuccessfulWithIssues), nil, 70, true},
		{"failed", relman.StageClosed, review(relman.OutcomeFailed), nil, 30, true},
		{"rolled back, no review", relman.StageRolledBack, nil, nil, 30, true},
		{"rolled back, review says successful", relman.StageRolledBack, review(relman.OutcomeSuccessful), nil, 30, true},
		{"doc example: 70-20-5-5", relman.StageClosed, review(relman.OutcomeSuccessfulWithIssues), []relman.Incident{
			inc(relman.SeverityHigh, relman.RelationCaused), inc(relman.SeverityLow, relman.RelationCaused), inc(relman.SeverityMedium, relman.RelationRelated)}, 40, true},
		{"related critical halves", relman.StageClosed, review(relman.OutcomeSuccessful), []relman.Incident{inc(relman.SeverityCritical, relman.RelationRelated)}, 80, true},
		{"floor at zero", relman.StageClosed, review(relman.OutcomeSuccessful), []relman.Incident{
			inc(relman.SeverityCritical, relman.RelationCaused), inc(relman.SeverityCritical, relman.RelationCaused), inc(relman.SeverityCritical, relman.RelationCaused)}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &relman.Release{Stage: tc.stage, Review: tc.review, Incidents: tc.incidents}
			got, ok := relman.SuccessScore(r)
			if got != tc.want || ok != tc.ok {
				t.Errorf("SuccessScore = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := relman.SuccessScore(nil); ok {
		t.Error("SuccessScore(nil) ok")
	}
}

// TestOperationConcurrent: feedback and incidents recorded at once by
// several goroutines are all kept (the revision check and retries of the
// Manager), and the history verifies.
func TestOperationConcurrent(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, relman.WithRetries(100))
	operate(t, m, c, "rel-1")
	const n = 6
	errs := make(chan error, 2*n)
	for i := range n {
		go func() {
			_, err := m.AddFeedback(ctx, "rel-1", alice, relman.Feedback{Rating: i%5 + 1})
			errs <- err
		}()
		go func() {
			_, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: fmt.Sprintf("INC-%d", i), Severity: relman.SeverityLow})
			errs <- err
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	r, _ := m.Get(ctx, "rel-1")
	fb, err := m.Feedback(ctx, "rel-1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fb) != n || len(r.Incidents) != n || r.FeedbackSummary.Count != n {
		t.Errorf("kept %d feedback (summary %d) and %d incidents, want %d each", len(fb), r.FeedbackSummary.Count, len(r.Incidents), n)
	}
	if err := m.Verify(ctx, "rel-1"); err != nil {
		t.Error(err)
	}
}

func TestOperationTimesNormalized(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	operate(t, m, c, "rel-1")
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.FixedZone("CET", 3600)
	}
	local := c.now.In(paris).Add(-time.Hour + 1500) // 1.5 µs past
	if _, err := m.AddFeedback(ctx, "rel-1", alice, relman.Feedback{Rating: 3, At: local}); err != nil {
		t.Fatal(err)
	}
	fb, err := m.Feedback(ctx, "rel-1", 0, 10)
	if err != nil || len(fb) != 1 {
		t.Fatalf("Feedback = %v, %v; want one", fb, err)
	}
	want := c.now.Add(-time.Hour + time.Microsecond)
	if got := fb[0].At; got != want {
		t.Errorf("feedback At = %v, want %v (UTC, µs)", got, want)
	}
	r, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "I", Severity: relman.SeverityLow, OpenedAt: local, ResolvedAt: &local})
	if err != nil {
		t.Fatal(err)
	}
	if inc := r.Incidents[0]; inc.OpenedAt != want || *inc.ResolvedAt != want {
		t.Errorf("incident times %v, %v; want %v", inc.OpenedAt, *inc.ResolvedAt, want)
	}
	stored, _ := m.Get(ctx, "rel-1")
	if !reflect.DeepEqual(stored, r) {
		t.Error("stored release differs from the one returned")
	}
}

// A release keeps at most 1,000 incidents: the next is refused, naming
// the field and the rule, and nothing is stored.
func TestIncidentsBounded(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	operate(t, m, c, "rel-1")
	for i := range 1000 {
		if _, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: fmt.Sprintf("INC-%d", i), Severity: relman.SeverityLow, OpenedAt: c.now}); err != nil {
			t.Fatalf("incident %d: %v", i, err)
		}
	}
	_, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "INC-1000", Severity: relman.SeverityLow, OpenedAt: c.now})
	if !fieldError(err, "incidents", "max") {
		t.Fatalf("incident 1001: %v, want a *ValidationError for incidents, max", err)
	}
	if r, _ := m.Get(ctx, "rel-1"); len(r.Incidents) != 1000 {
		t.Errorf("%d incidents stored", len(r.Incidents))
	}
}
