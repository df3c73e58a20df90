package relman_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/ical"
)

// fieldErr reports whether err is a *ValidationError naming field with
// rule.
func fieldErr(err error, field, rule string) bool {
	var ve *relman.ValidationError
	return errors.As(err, &ve) && errors.Is(err, relman.ErrInvalid) &&
		slices.ContainsFunc(ve.Fields, func(f relman.FieldError) bool { return f.Field == field && f.Rule == rule })
}

func TestTextAtTheDoor(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	r := newRelease("rel-1")
	r.Title = "Faster\x00invoices"
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "title", "nonul") {
		t.Errorf("NUL in the title: %v", err)
	}
	r = newRelease("rel-1")
	r.Labels = map[string]string{"team": "bill\xffing"}
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "labels.team", "utf8") {
		t.Errorf("invalid UTF-8 in a label: %v", err)
	}
	r = newRelease("rel-1")
	r.Case.ExpectedValue = math.Inf(1)
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "business_case.expected_value", "finite") {
		t.Errorf("+Inf value: %v", err)
	}
	r = newRelease("rel-1")
	r.Window = &relman.Span{Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(10000, 1, 2, 0, 0, 0, 0, time.UTC)}
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "window.start", "year") {
		t.Errorf("year 10000: %v", err)
	}
	if _, err := m.Create(ctx, newRelease("rel-1"), relman.Actor{ID: "ali\xc3ce"}); !fieldErr(err, "actor.id", "utf8") {
		t.Errorf("invalid actor id: %v", err)
	}
	if _, err := m.Create(ctx, newRelease("rel-1"), alice); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"fire reason": func() error {
			_, err := m.Fire(ctx, "rel-1", relman.EventReject, relman.Request{Actor: alice, Reason: "no\x00"})
			return err
		},
		"actor role": func() error {
			_, err := m.Fire(ctx, "rel-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl", Roles: []string{"c\xffab"}}})
			return err
		},
		"approval comment": func() error {
			_, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "ok\x00")
			return err
		},
		"edit reason": func() error {
			_, err := m.Edit(ctx, "rel-1", alice, "\xff", func(r *relman.Release) error { r.Title = "x"; return nil })
			return err
		},
		"window name": func() error {
			return m.PutWindow(ctx, alice, relman.Window{ID: "w", Name: "Fr\x00eeze", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Hour)})
		},
	} {
		if err := call(); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if r, _ := m.Get(ctx, "rel-1"); r.Revision != 1 {
		t.Errorf("refused calls changed the release: revision %d", r.Revision)
	}
}

func TestSegregationOfDuties(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	if _, err := m.Create(ctx, newRelease("rel-1"), alice); err != nil {
		t.Fatal(err)
	}
	// The need's requester and owner may not approve it.
	for _, who := range []string{"rita", "olga"} {
		_, err := m.Fire(ctx, "rel-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: who}})
		var ge *relman.GateError
		if !errors.As(err, &ge) || !errors.Is(err, relman.ErrSelfApproval) || ge.Failures[0].Gate != relman.GateSegregation {
			t.Errorf("%s approving her own need: %v", who, err)
		}
	}
	// Swapping the owner out does not make her a stranger.
	swap := func(owner string) *relman.Release {
		r, err := m.Edit(ctx, "rel-1", alice, "owner moved", func(r *relman.Release) error { r.Owner = owner; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := swap("oscar")
	if !slices.Equal(r.Parties, []string{"rita", "olga", "oscar"}) {
		t.Errorf("parties %v", r.Parties)
	}
	if _, err := m.Fire(ctx, "rel-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "olga"}}); !errors.Is(err, relman.ErrSelfApproval) {
		t.Errorf("former owner approving the need: %v", err)
	}
	swap("olga")
	if _, err := m.Edit(ctx, "rel-1", alice, "sneak", func(r *relman.Release) error { r.Parties = nil; return nil }); !fieldErr(err, "parties", "readonly") {
		t.Errorf("Edit of parties: %v", err)
	}
	fire(t, m, "rel-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}})
	fire(t, m, "rel-1", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(24 * time.Hour), End: c.now.Add(26 * time.Hour)}})
	retest(t, m, c, "rel-1")
	if _, err := m.Assess(ctx, "rel-1", alice); err != nil {
		t.Fatal(err)
	}
	// oscar, a former owner, may not approve the deployment either.
	if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "oscar"}, "", "mine"); !errors.Is(err, relman.ErrSelfApproval) {
		t.Errorf("former owner approving: %v", err)
	}
	if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "fine"); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "rel-1", relman.EventAuthorize, relman.Request{})
	// A change of owner after authorization voids the approvals (audited)
	// and deploy re-checks them.
	swap("dave")
	voids := entries(t, m, "rel-1", relman.ActionVoid)
	if len(voids) != 1 || !strings.Contains(voids[0].Details["changed"], "owner") || voids[0].Details["approvers"] != "carl" {
		t.Errorf("void entries %+v", voids)
	}
	c.now = c.now.Add(24 * time.Hour)
	_, err := m.Fire(ctx, "rel-1", relman.EventDeploy, relman.Request{Actor: alice})
	var ge *relman.GateError
	if !errors.As(err, &ge) || !errors.Is(err, relman.ErrApprovalsMissing) {
		t.Fatalf("deploy after the approvals were voided: %v", err)
	}
	if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "still fine"); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "rel-1", relman.EventDeploy, relman.Request{})

	// Self-approval allowed by policy.
	p := relman.DefaultPolicy()
	p.AllowSelfApproval = true
	m2, _ := newManager(t, relman.WithPolicy(p))
	if _, err := m2.Create(ctx, newRelease("rel-2"), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m2, "rel-2", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "olga"}})
}

func TestFoldActorCase(t *testing.T) {
	ctx := context.Background()
	p := relman.DefaultPolicy()
	p.FoldActorCase = true
	for i := range p.Rules {
		if p.Rules[i].Model == relman.ModelNormal && p.Rules[i].Level == relman.LevelLow {
			p.Rules[i].Requirements = []relman.Requirement{{Count: 2}}
		}
	}
	m, c := newManager(t, relman.WithPolicy(p))
	r := newRelease("rel-1")
	r.Owner = "Olga"
	toVerified(t, m, c, r)
	if _, err := m.Assess(ctx, "rel-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: " olga"}, "", ""); !errors.Is(err, relman.ErrSelfApproval) {
		t.Errorf("owner in another case: %v", err)
	}
	for _, who := range []string{"carl", "CARL"} {
		if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: who}, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	var me *relman.ApprovalsMissingError
	if err := authorizeErr(m, "rel-1"); !errors.As(err, &me) || me.Missing[0].Have != 1 {
		t.Errorf("carl and CARL count once: %v", err)
	}
}

func TestAuthorizerBeforeStage(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, relman.WithAuthorizer(relman.AuthorizerFunc(func(_ context.Context, a relman.Actor, _ string, _ *relman.Release) error {
		if a.ID == "mallory" {
			return errors.New("not you")
		}
		return nil
	})))
	if _, err := m.Create(ctx, newRelease("rel-1"), alice); err != nil {
		t.Fatal(err)
	}
	// Recording a review needs an operating release: a denied actor must
	// not learn that it is not.
	_, err := m.RecordReview(ctx, "rel-1", relman.Actor{ID: "mallory"}, relman.Review{Outcome: relman.OutcomeSuccessful})
	if !errors.Is(err, relman.ErrForbidden) || errors.Is(err, relman.ErrWrongStage) || strings.Contains(err.Error(), "proposed") {
		t.Errorf("review by a denied actor: %v", err)
	}
}

func TestBounds(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	r := newRelease("rel-1")
	r.Labels = map[string]string{}
	for i := range 65 {
		r.Labels[fmt.Sprint("k", i)] = "v"
	}
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "labels", "max") {
		t.Errorf("65 labels: %v", err)
	}
	r = newRelease("rel-1")
	r.RequiredSuites = make([]string, 51)
	for i := range r.RequiredSuites {
		r.RequiredSuites[i] = fmt.Sprint("s", i)
	}
	if _, err := m.Create(ctx, r, alice); !fieldErr(err, "required_suites", "max") {
		t.Errorf("51 suites: %v", err)
	}
	roles := make([]string, relman.MaxRoles+1)
	for i := range roles {
		roles[i] = fmt.Sprint("r", i)
	}
	if _, err := m.Create(ctx, newRelease("rel-1"), relman.Actor{ID: "a", Roles: roles}); !fieldErr(err, "actor.roles", "max") {
		t.Errorf("33 roles: %v", err)
	}
	if _, err := m.Edit(ctx, "rel-1", alice, strings.Repeat("x", relman.MaxReason+1), func(*relman.Release) error { return nil }); !fieldErr(err, "reason", "max") {
		t.Errorf("long edit reason: %v", err)
	}
	// A window may not recur more often than hourly.
	for _, rule := range []string{"FREQ=MINUTELY", "FREQ=SECONDLY;INTERVAL=30"} {
		w := relman.Window{ID: "w", Name: "W", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Second), RRule: rule}
		if err := w.Validate(); !fieldErr(err, "rrule", "min_frequency") {
			t.Errorf("%s: %v", rule, err)
		}
	}
	// An hourly freeze over a year: the refusal lists 100 occurrences and
	// counts the rest.
	hourly := relman.Window{ID: "h", Name: "Hourly", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Minute), RRule: "FREQ=HOURLY"}
	cal, err := relman.NewCalendar(hourly)
	if err != nil {
		t.Fatal(err)
	}
	err = cal.Allowed(relman.Span{Start: t0, End: t0.AddDate(1, 0, 0)}, nil)
	var ce *relman.CalendarError
	if !errors.As(err, &ce) || len(ce.Reasons) != relman.MaxCalendarReasons || ce.More != 8760-relman.MaxCalendarReasons {
		t.Fatalf("a year of an hourly freeze: %d reasons, %d more", len(ce.Reasons), ce.More)
	}
	if len(err.Error()) > 64<<10 || !strings.Contains(err.Error(), "and 8660 more freeze occurrence(s)") {
		t.Errorf("message of %d bytes", len(err.Error()))
	}
	if n := len(cal.Occurrences(relman.Span{Start: t0, End: t0.AddDate(2, 0, 0)}, nil)); n != relman.MaxOccurrences {
		t.Errorf("two years of an hourly window: %d occurrences, want the cap %d", n, relman.MaxOccurrences)
	}
}

func TestNilReceivers(t *testing.T) {
	var a *relman.Assessment
	var r *relman.Release
	var rule *ical.Rule
	var set *ical.Set
	if a.Reasons() != nil || r.HasService("x") || r.HasTeam("x") || relman.Fingerprint(nil) != "" || rule.String() != "" {
		t.Error("a nil receiver gave something")
	}
	for range set.Between(t0, t0.Add(time.Hour)) {
		t.Error("a nil set has instances")
	}
	if err := set.Validate(); err == nil {
		t.Error("a nil set validates")
	}
}

// BenchmarkAllowedHourlyYear: Allowed over a year against the finest
// window relman accepts (hourly), time and allocations bounded.
func BenchmarkAllowedHourlyYear(b *testing.B) {
	hourly := relman.Window{ID: "h", Name: "Hourly", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Minute), RRule: "FREQ=HOURLY"}
	cal, err := relman.NewCalendar(hourly)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if cal.Allowed(relman.Span{Start: t0, End: t0.AddDate(1, 0, 0)}, nil) == nil {
			b.Fatal("allowed")
		}
	}
}
