package relman_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

var (
	carl = relman.Actor{ID: "carl", Roles: []string{relman.RoleCAB}}
	dana = relman.Actor{ID: "dana", Roles: []string{relman.RoleCAB, relman.RoleChangeManager}}
	erin = relman.Actor{ID: "erin", Roles: []string{relman.RoleECAB}}
	rita = relman.Actor{ID: "rita", Roles: []string{relman.RoleCAB}} // the requester of newRelease
	olga = relman.Actor{ID: "olga", Roles: []string{relman.RoleCAB}} // its owner
)

// assessed marks r as assessed at level, fresh.
func assessed(r *relman.Release, l relman.Level) *relman.Release {
	r.Assessment = &relman.Assessment{Level: l, At: t0, Basis: relman.Fingerprint(r)}
	return r
}

func appr(who, role string) relman.Approval {
	return relman.Approval{Approver: who, Role: role, Decision: relman.DecisionApprove, At: t0}
}

func TestPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		p    relman.ApprovalPolicy
		want []string
	}{
		{"unknown level", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: 7}}}, []string{"rules[0].level:oneof"}},
		{"unknown model", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: "odd", Level: relman.LevelLow}}}, []string{"rules[0].change_model:oneof"}},
		{"duplicate rule", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow}, {Model: relman.ModelNormal, Level: relman.LevelLow}}}, []string{"rules[1].level:unique"}},
		{"percentage over 100", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Role: "cab", Percent: 101}}}}, Groups: map[string][]string{"cab": {"a"}}}, []string{"rules[0].requirements[0].percent:lte"}},
		{"percentage of an unlisted group", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Role: "cab", Percent: 50}}}}}, []string{"groups.cab:required"}},
		{"empty group", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow}},
			Groups: map[string][]string{"cab": {}}}, []string{"groups.cab:min"}},
		{"blank member", relman.ApprovalPolicy{Groups: map[string][]string{"cab": {" "}}}, []string{"groups.cab[0]:required"}},
		{"percentage without group", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Percent: 50}}}}}, []string{"rules[0].requirements[0].role:required_with"}},
		{"neither count nor percent", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Role: "cab"}}}}}, []string{"rules[0].requirements[0].count:required_without"}},
		{"both count and percent", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Role: "cab", Count: 1, Percent: 10}}}}, Groups: map[string][]string{"cab": {"a"}}}, []string{"rules[0].requirements[0].count:required_without"}},
		{"negative count", relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Count: -1}}}}}, []string{"rules[0].requirements[0].count:gte"}},
		{"blank excluded role", relman.ApprovalPolicy{ExcludedRoles: []string{""}}, []string{"excluded_roles[0]:required"}},
		{"negative max age", relman.ApprovalPolicy{MaxAssessmentAge: -time.Second}, []string{"max_assessment_age:gte"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fields(t, c.p.Validate()); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if _, err := relman.NewManager(memory.New(), relman.WithPolicy(c.p)); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("NewManager accepted the policy: %v", err)
			}
		})
	}
	def := relman.DefaultPolicy()
	if err := def.Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
}

func TestPolicyCheck(t *testing.T) {
	dflt := relman.DefaultPolicy()
	group := relman.ApprovalPolicy{
		Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Role: "cab", Percent: 50}}}},
		Groups: map[string][]string{"cab": {"a", "b", "c", "d"}},
	}
	third := group
	third.Rules = []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow, Requirements: []relman.Requirement{{Role: "cab", Percent: 34}}}}
	third.Groups = map[string][]string{"cab": {"a", "b", "c"}}
	excl := relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
		Requirements: []relman.Requirement{{Count: 1}}, ExcludedRoles: []string{"dev"}}}}
	globalExcl := relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
		Requirements: []relman.Requirement{{Count: 1}}}}, ExcludedRoles: []string{"intern"}}
	selfOK := relman.DefaultPolicy()
	selfOK.AllowSelfApproval = true
	aged := relman.DefaultPolicy()
	aged.MaxAssessmentAge = time.Hour

	type want struct {
		is      []error
		missing []relman.MissingApproval
	}
	for _, c := range []struct {
		name      string
		p         relman.ApprovalPolicy
		model     relman.ChangeModel
		level     relman.Level // 0: not assessed
		stale     bool
		now       time.Time
		approvals []relman.Approval
		want      want
	}{
		{"count met", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab"), appr("dana", "cab")}, want{}},
		{"count one short", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"same approver counts once", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab"), appr("carl", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"wrong role does not count", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab"), appr("dana", "change-manager")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"void does not count", dflt, relman.ModelNormal, relman.LevelHigh, false, t0,
			[]relman.Approval{appr("carl", "cab"), {Approver: "dana", Role: "cab", Decision: relman.DecisionApprove, Void: true}},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"low normal: anyone", dflt, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("zoe", "")}, want{}},
		{"low normal: none", dflt, relman.ModelNormal, relman.LevelLow, false, t0, nil,
			want{missing: []relman.MissingApproval{{Need: 1}}}},
		{"critical names every missing group", dflt, relman.ModelNormal, relman.LevelCritical, false, t0, []relman.Approval{appr("carl", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 3, Have: 1}, {Role: "change-manager", Need: 1}}}},
		{"emergency uses ecab", dflt, relman.ModelEmergency, relman.LevelCritical, false, t0, []relman.Approval{appr("carl", "cab"), appr("erin", "ecab")},
			want{missing: []relman.MissingApproval{{Role: "ecab", Need: 2, Have: 1}}}},
		{"emergency medium: one ecab", dflt, relman.ModelEmergency, relman.LevelMedium, false, t0, []relman.Approval{appr("erin", "ecab")}, want{}},
		{"standard low skips approvals", dflt, relman.ModelStandard, relman.LevelLow, false, t0, nil, want{}},
		{"standard above low refused", dflt, relman.ModelStandard, relman.LevelMedium, false, t0, []relman.Approval{appr("carl", "cab")},
			want{is: []error{relman.ErrModelNotAllowed}}},
		{"no rule for the model", excl, relman.ModelEmergency, relman.LevelLow, false, t0, nil, want{is: []error{relman.ErrModelNotAllowed}}},
		{"percentage met", group, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("a", "cab"), appr("c", "cab")}, want{}},
		{"percentage: outsider does not count", group, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("a", "cab"), appr("zed", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1, Percent: 50}}}},
		{"percentage rounds up", third, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("a", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1, Percent: 34}}}},
		{"rule-excluded role does not count", excl, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("dev1", "dev")},
			want{missing: []relman.MissingApproval{{Need: 1}}}},
		{"rule-excluded role, another counts", excl, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("dev1", "dev"), appr("x", "ops")}, want{}},
		{"policy-excluded role does not count", globalExcl, relman.ModelNormal, relman.LevelLow, false, t0, []relman.Approval{appr("ian", "intern")},
			want{missing: []relman.MissingApproval{{Need: 1}}}},
		{"self-approval off: requester", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab"), appr("rita", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"self-approval off: owner", dflt, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("carl", "cab"), appr("olga", "cab")},
			want{missing: []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}}},
		{"self-approval on", selfOK, relman.ModelNormal, relman.LevelHigh, false, t0, []relman.Approval{appr("rita", "cab"), appr("olga", "cab")}, want{}},
		{"rejection blocks", dflt, relman.ModelNormal, relman.LevelLow, false, t0,
			[]relman.Approval{appr("carl", "cab"), {Approver: "dana", Role: "cab", Decision: relman.DecisionReject, Comment: "no"}},
			want{is: []error{relman.ErrApprovalRejected}}},
		{"rejection and missing both reported", dflt, relman.ModelNormal, relman.LevelHigh, false, t0,
			[]relman.Approval{{Approver: "dana", Role: "cab", Decision: relman.DecisionReject, Comment: "no"}},
			want{is: []error{relman.ErrApprovalRejected}, missing: []relman.MissingApproval{{Role: "cab", Need: 2}}}},
		{"voided rejection lifts", dflt, relman.ModelNormal, relman.LevelLow, false, t0,
			[]relman.Approval{appr("carl", "cab"), {Approver: "dana", Decision: relman.DecisionReject, Void: true}}, want{}},
		{"not assessed", dflt, relman.ModelNormal, 0, false, t0, nil, want{is: []error{relman.ErrRiskNotAssessed}}},
		{"stale", dflt, relman.ModelNormal, relman.LevelLow, true, t0, []relman.Approval{appr("carl", "cab")}, want{is: []error{relman.ErrRiskStale}}},
		{"within max age", aged, relman.ModelNormal, relman.LevelLow, false, t0.Add(time.Hour), []relman.Approval{appr("carl", "cab")}, want{}},
		{"older than max age", aged, relman.ModelNormal, relman.LevelLow, false, t0.Add(time.Hour + time.Second), []relman.Approval{appr("carl", "cab")},
			want{is: []error{relman.ErrRiskStale}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRelease("p-1")
			r.Model = c.model
			if c.level != 0 {
				assessed(r, c.level)
			}
			if c.stale {
				r.Version = "2.4.1"
			}
			r.Approvals = c.approvals
			err := c.p.Check(r, c.now)
			if c.want.is == nil && c.want.missing == nil {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, target := range c.want.is {
				if !errors.Is(err, target) {
					t.Errorf("%v does not match %v", err, target)
				}
			}
			var me *relman.ApprovalsMissingError
			switch {
			case c.want.missing == nil && errors.As(err, &me):
				t.Errorf("unexpected %v", me)
			case c.want.missing != nil && !errors.As(err, &me):
				t.Errorf("%v: no *ApprovalsMissingError", err)
			case c.want.missing != nil:
				if !slices.Equal(me.Missing, c.want.missing) {
					t.Errorf("missing %+v, want %+v", me.Missing, c.want.missing)
				}
				if !errors.Is(err, relman.ErrApprovalsMissing) || me.Level != c.level || me.Model != c.model {
					t.Errorf("error %v", me)
				}
			}
		})
	}
}

// toVerified creates r and drives it to verified on the default lifecycle.
func toVerified(t testing.TB, m *relman.Manager, c *clock, r *relman.Release) *relman.Release {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, r.ID, relman.EventApprove, relman.Request{})
	fire(t, m, r.ID, relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(24 * time.Hour), End: c.now.Add(26 * time.Hour)}})
	return retest(t, m, c, r.ID)
}

// retest drives a planned release through build and test to verified.
func retest(t testing.TB, m *relman.Manager, c *clock, id string) *relman.Release {
	t.Helper()
	fire(t, m, id, relman.EventStart, relman.Request{})
	fire(t, m, id, relman.EventSubmit, relman.Request{})
	c.Advance(time.Minute)
	if _, err := m.RecordTest(context.Background(), id, alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	return fire(t, m, id, relman.EventPass, relman.Request{})
}

// authorizeErr fires authorize and returns its error.
func authorizeErr(m *relman.Manager, id string) error {
	_, err := m.Fire(context.Background(), id, relman.EventAuthorize, relman.Request{Actor: alice})
	return err
}

func TestApproveRefusals(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, relman.WithPolicy(relman.ApprovalPolicy{
		Rules: []relman.Rule{
			{Model: relman.ModelNormal, Level: relman.LevelLow, Requirements: []relman.Requirement{{Count: 1}}},
			{Model: relman.ModelNormal, Level: relman.LevelHigh, Requirements: []relman.Requirement{{Role: "cab", Count: 1}}, ExcludedRoles: []string{"dev"}},
		},
		ExcludedRoles: []string{"intern"},
	}))
	if _, err := m.Create(ctx, newRelease("x-1"), alice); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Get(ctx, "x-1")
	for _, c := range []struct {
		name    string
		call    func() error
		is      error
		invalid []string
	}{
		{"role not held", func() error { _, err := m.Approve(ctx, "x-1", alice, "cab", "ok"); return err }, nil, []string{"role:held_by_actor"}},
		{"comment too long", func() error { _, err := m.Approve(ctx, "x-1", carl, "cab", strings.Repeat("x", 4001)); return err }, nil, []string{"comment:max"}},
		{"reject without reason", func() error { _, err := m.RejectApproval(ctx, "x-1", carl, "cab", " "); return err }, nil, []string{"comment:required"}},
		{"no actor", func() error { _, err := m.Approve(ctx, "x-1", relman.Actor{}, "", "ok"); return err }, nil, []string{"actor.id:required"}},
		{"requester", func() error { _, err := m.Approve(ctx, "x-1", rita, "cab", "mine"); return err }, relman.ErrSelfApproval, nil},
		{"owner", func() error { _, err := m.Approve(ctx, "x-1", olga, "", "mine"); return err }, relman.ErrSelfApproval, nil},
		{"policy-excluded role", func() error {
			_, err := m.Approve(ctx, "x-1", relman.Actor{ID: "ian", Roles: []string{"intern"}}, "", "ok")
			return err
		}, relman.ErrExcludedRole, nil},
		{"unknown release", func() error { _, err := m.Approve(ctx, "nope", carl, "cab", "ok"); return err }, relman.ErrNotFound, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if c.invalid != nil {
				if got := fields(t, err); !slices.Equal(got, c.invalid) {
					t.Errorf("got %v, want %v", got, c.invalid)
				}
			} else if !errors.Is(err, c.is) {
				t.Errorf("got %v, want %v", err, c.is)
			}
			if after, _ := m.Get(ctx, "x-1"); after.Revision != before.Revision || len(after.Approvals) != 0 {
				t.Errorf("release changed: revision %d → %d, approvals %v", before.Revision, after.Revision, after.Approvals)
			}
		})
	}

	// A rule's exclusions depend on the level: someone holding a role a
	// rule excludes decides only on a current assessment.
	dev := relman.Actor{ID: "dev1", Roles: []string{"dev", "ops"}}
	if _, err := m.Approve(ctx, "x-1", dev, "ops", "unassessed"); !errors.Is(err, relman.ErrRiskNotAssessed) {
		t.Errorf("dev approving an unassessed release: %v, want ErrRiskNotAssessed", err)
	}
	if _, err := m.Assess(ctx, "x-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "x-1", dev, "ops", "ok at low"); err != nil {
		t.Fatalf("dev approving a low release: %v", err)
	}
	if _, err := m.SetRisk(ctx, "x-1", alice, relman.Risk{ID: "r", Title: "big", Likelihood: 4, Impact: 4, Status: relman.RiskOpen}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Assess(ctx, "x-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "x-1", dev, "ops", "again"); !errors.Is(err, relman.ErrExcludedRole) {
		t.Errorf("dev approving a high release: %v, want ErrExcludedRole", err)
	}
}

// An approver holding a role a rule excludes never gets an approval
// counted, whether they approve before or after the assessment.
func TestExcludedRoleWhateverTheOrder(t *testing.T) {
	ctx := context.Background()
	p := relman.ApprovalPolicy{
		Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow,
			Requirements: []relman.Requirement{{Count: 1}}, ExcludedRoles: []string{"developer"}}},
		ExcludedRoles: []string{"intern"},
	}
	dan := relman.Actor{ID: "dan", Roles: []string{"developer"}}
	ian := relman.Actor{ID: "ian", Roles: []string{"intern"}}
	for _, c := range []struct {
		name   string
		assess bool
		by     relman.Actor
		reject bool
		want   error
	}{
		{"rule-excluded before assessment", false, dan, false, relman.ErrRiskNotAssessed},
		{"rule-excluded after assessment", true, dan, false, relman.ErrExcludedRole},
		{"rule-excluded rejects before assessment", false, dan, true, relman.ErrRiskNotAssessed},
		{"policy-excluded before assessment", false, ian, false, relman.ErrExcludedRole},
		{"policy-excluded after assessment", true, ian, false, relman.ErrExcludedRole},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newManager(t, relman.WithPolicy(p))
			if _, err := m.Create(ctx, newRelease("x-1"), alice); err != nil {
				t.Fatal(err)
			}
			if c.assess {
				if _, err := m.Assess(ctx, "x-1", alice); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if c.reject {
				_, err = m.RejectApproval(ctx, "x-1", c.by, "", "no")
			} else {
				_, err = m.Approve(ctx, "x-1", c.by, "", "ok")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("decision: %v, want %v", err, c.want)
			}
			if _, err := m.Assess(ctx, "x-1", alice); err != nil {
				t.Fatal(err)
			}
			r, _ := m.Get(ctx, "x-1")
			if len(r.Approvals) != 0 {
				t.Errorf("approvals recorded: %v", r.Approvals)
			}
			if err := p.Check(r, r.Assessment.At); !errors.Is(err, relman.ErrApprovalsMissing) {
				t.Errorf("Check: %v, want ErrApprovalsMissing", err)
			}
		})
	}
}

func TestSelfApprovalAllowedByPolicy(t *testing.T) {
	ctx := context.Background()
	p := relman.DefaultPolicy()
	p.AllowSelfApproval = true
	m, c := newManager(t, relman.WithPolicy(p))
	toVerified(t, m, c, newRelease("s-1"))
	if _, err := m.Assess(ctx, "s-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "s-1", rita, "", "my own"); err != nil {
		t.Fatalf("self-approval under a permissive policy: %v", err)
	}
	if err := authorizeErr(m, "s-1"); err != nil {
		t.Errorf("authorize: %v", err)
	}
}

func TestApprovalAudit(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	if _, err := m.Create(ctx, newRelease("au-1"), alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "au-1", carl, "cab", "looks fine"); err != nil {
		t.Fatal(err)
	}
	r, err := m.RejectApproval(ctx, "au-1", carl, "cab", "on second thought")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Approvals) != 2 || !r.Approvals[0].Void || r.Approvals[0].VoidReason != "superseded" || r.Approvals[1].Decision != relman.DecisionReject || r.Approvals[1].Void {
		t.Errorf("approvals %+v", r.Approvals)
	}
	h, _ := m.History(ctx, "au-1")
	var got []string
	for _, e := range h {
		if e.Action == relman.ActionApproval {
			got = append(got, e.Details["approver"]+"/"+e.Details["role"]+"/"+e.Details["roles"]+"/"+e.Details["decision"]+"/"+e.Reason)
		}
	}
	if want := []string{"carl/cab/cab/approve/looks fine", "carl/cab/cab/reject/on second thought"}; !slices.Equal(got, want) {
		t.Errorf("approval entries %v, want %v", got, want)
	}
	if err := m.Verify(ctx, "au-1"); err != nil {
		t.Error(err)
	}
}

func TestVoidOnChange(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		edit    func(r *relman.Release)
		changed string // "" means nothing is voided
	}{
		{"services", func(r *relman.Release) { r.Services = append(r.Services, "payments") }, "services"},
		{"version", func(r *relman.Release) { r.Version = "2.5.0" }, "version"},
		{"window", func(r *relman.Release) { r.Window.End = r.Window.End.Add(time.Hour) }, "window"},
		{"window removed", func(r *relman.Release) { r.Window = nil }, "window"},
		{"risk added", func(r *relman.Release) {
			r.Risks = append(r.Risks, relman.Risk{ID: "n", Title: "new", Likelihood: 1, Impact: 1, Status: relman.RiskOpen})
		}, "risks"},
		{"risk status", func(r *relman.Release) { r.Risks[0].Status = relman.RiskAccepted }, "risks"},
		{"several", func(r *relman.Release) { r.Version, r.Services = "3.0.0", []string{"other"} }, "services,version"},
		{"change model", func(r *relman.Release) { r.Model = relman.ModelEmergency }, "change_model"},
		{"services reordered", func(r *relman.Release) { r.Services = []string{"mail", "invoices"} }, ""},
		{"title", func(r *relman.Release) { r.Title = "renamed" }, ""},
		{"labels", func(r *relman.Release) { r.Labels = map[string]string{"a": "b"} }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, clk := newManager(t)
			r := newRelease("v-1")
			r.Services = []string{"invoices", "mail"}
			r.Window = &relman.Span{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}
			r.Risks = []relman.Risk{{ID: "db", Title: "db", Likelihood: 2, Impact: 2, Status: relman.RiskOpen}}
			if _, err := m.Create(ctx, r, alice); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Approve(ctx, "v-1", carl, "cab", "ok"); err != nil {
				t.Fatal(err)
			}
			if _, err := m.RejectApproval(ctx, "v-1", dana, "cab", "not now"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			got, err := m.Edit(ctx, "v-1", alice, "change", func(r *relman.Release) error { c.edit(r); return nil })
			if err != nil {
				t.Fatal(err)
			}
			h, _ := m.History(ctx, "v-1")
			last := h[len(h)-1]
			if c.changed == "" {
				if got.Approvals[0].Void || last.Action != relman.ActionEdit {
					t.Errorf("approval voided by an unrelated change: %+v, last entry %s", got.Approvals[0], last.Action)
				}
				return
			}
			if !got.Approvals[0].Void || !strings.Contains(got.Approvals[0].VoidReason, strings.ReplaceAll(c.changed, ",", ", ")) {
				t.Errorf("approval %+v, want void naming %s", got.Approvals[0], c.changed)
			}
			if got.Approvals[1].Void {
				t.Error("a rejection was voided by a scope change; only a replan lifts it")
			}
			prev := h[len(h)-2]
			if last.Action != relman.ActionVoid || prev.Action != relman.ActionEdit || last.Details["changed"] != c.changed ||
				last.Details["approvers"] != "carl" || last.Details["voided_approvals"] != "1" || !last.At.Equal(clk.now) {
				t.Errorf("entries %+v then %+v", prev, last)
			}
			if err := m.Verify(ctx, "v-1"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestVoidViaSetRisk(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	if _, err := m.Create(ctx, newRelease("vr-1"), alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "vr-1", carl, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	r, err := m.SetRisk(ctx, "vr-1", alice, relman.Risk{ID: "x", Title: "x", Likelihood: 1, Impact: 1, Status: relman.RiskOpen})
	if err != nil || !r.Approvals[0].Void {
		t.Fatalf("SetRisk: %v, approvals %+v", err, r.Approvals)
	}
	h, _ := m.History(ctx, "vr-1")
	if h[len(h)-1].Action != relman.ActionVoid || h[len(h)-2].Action != relman.ActionRisk {
		t.Errorf("last entries %s, %s", h[len(h)-2].Action, h[len(h)-1].Action)
	}
}

func TestAuthorizeGate(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := newRelease("g-1")
	r.Risks = []relman.Risk{{ID: "db", Title: "migration", Likelihood: 4, Impact: 3, Status: relman.RiskOpen}}
	toVerified(t, m, c, r)
	if got := m.Lifecycle().Gates(relman.EventAuthorize); !slices.Equal(got, []string{"rollback-plan", relman.GateApprovals}) {
		t.Errorf("authorize gates %v", got)
	}

	// Not assessed.
	if err := authorizeErr(m, "g-1"); !errors.Is(err, relman.ErrRiskNotAssessed) {
		t.Fatalf("authorize unassessed: %v", err)
	}
	// Assessed high (register 12): two cab approvals needed; Check names them.
	if _, err := m.Assess(ctx, "g-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "g-1", carl, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	err := m.Check(ctx, "g-1", relman.EventAuthorize, relman.Request{Actor: alice})
	var ge *relman.GateError
	var me *relman.ApprovalsMissingError
	if !errors.As(err, &ge) || len(ge.Failures) != 1 || ge.Failures[0].Gate != relman.GateApprovals || !errors.As(err, &me) {
		t.Fatalf("Check: %v", err)
	}
	if want := []relman.MissingApproval{{Role: "cab", Need: 2, Have: 1}}; !slices.Equal(me.Missing, want) || me.Level != relman.LevelHigh {
		t.Errorf("missing %+v at %s", me.Missing, me.Level)
	}
	if !strings.Contains(err.Error(), "1 more from role cab (have 1 of 2)") {
		t.Errorf("message %q", err)
	}
	// A change of the register voids carl's approval and makes the
	// assessment stale.
	if _, err := m.SetRisk(ctx, "g-1", alice, relman.Risk{ID: "db", Title: "migration", Likelihood: 4, Impact: 3, Status: relman.RiskAccepted, Mitigation: "accepted by the board"}); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "g-1"); !errors.Is(err, relman.ErrRiskStale) {
		t.Fatalf("authorize with a stale assessment: %v", err)
	}
	if _, err := m.Assess(ctx, "g-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "g-1", dana, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "g-1"); !errors.Is(err, relman.ErrApprovalsMissing) {
		t.Fatalf("authorize with one live approval: %v", err)
	}
	if _, err := m.Approve(ctx, "g-1", carl, "cab", "still ok"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "g-1"); err != nil {
		t.Fatalf("authorize: %v", err)
	}
}

func TestRejectionBlocksUntilReplan(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	toVerified(t, m, c, newRelease("rj-1"))
	if _, err := m.Assess(ctx, "rj-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "rj-1", carl, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RejectApproval(ctx, "rj-1", dana, "cab", "conflicts with the audit"); err != nil {
		t.Fatal(err)
	}
	err := authorizeErr(m, "rj-1")
	if !errors.Is(err, relman.ErrApprovalRejected) || errors.Is(err, relman.ErrApprovalsMissing) {
		t.Fatalf("authorize after a rejection: %v", err)
	}
	// Approvals by others do not lift it.
	if _, err := m.Approve(ctx, "rj-1", erin, "", "fine by me"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "rj-1"); !errors.Is(err, relman.ErrApprovalRejected) {
		t.Fatalf("authorize: %v", err)
	}
	// Replan voids every decision; the release goes round again.
	r := fire(t, m, "rj-1", relman.EventReplan, relman.Request{Window: &relman.Span{Start: c.now.Add(48 * time.Hour), End: c.now.Add(50 * time.Hour)}})
	for _, ap := range r.Approvals {
		if !ap.Void || ap.VoidReason != "replanned" {
			t.Errorf("after replan: %+v", ap)
		}
	}
	retest(t, m, c, "rj-1")
	if err := authorizeErr(m, "rj-1"); !errors.Is(err, relman.ErrRiskStale) {
		t.Fatalf("authorize after replan, before reassessing: %v", err)
	}
	if _, err := m.Assess(ctx, "rj-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "rj-1", dana, "cab", "ok now"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "rj-1"); err != nil {
		t.Fatalf("authorize after replan: %v", err)
	}
}

func TestStandardAndEmergencyModels(t *testing.T) {
	ctx := context.Background()
	// The three releases share a window, a service and a team: let them.
	m, c := newManager(t, relman.WithBlockingConflicts())
	std := newRelease("std-1")
	std.Model = relman.ModelStandard
	toVerified(t, m, c, std)
	if _, err := m.Assess(ctx, "std-1", alice); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "std-1"); err != nil {
		t.Fatalf("low standard change without approvals: %v", err)
	}

	std2 := newRelease("std-2")
	std2.Model = relman.ModelStandard
	std2.Risks = []relman.Risk{{ID: "r", Title: "r", Likelihood: 3, Impact: 2, Status: relman.RiskOpen}}
	toVerified(t, m, c, std2)
	if _, err := m.Assess(ctx, "std-2", alice); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "std-2"); !errors.Is(err, relman.ErrModelNotAllowed) {
		t.Fatalf("medium standard change: %v", err)
	}

	em := newRelease("em-1")
	em.Model, em.Kind = relman.ModelEmergency, relman.KindEmergency
	toVerified(t, m, c, em)
	r, err := m.Assess(ctx, "em-1", alice)
	if err != nil {
		t.Fatal(err)
	}
	if r.Assessment.Level != relman.LevelMedium {
		t.Fatalf("emergency assessed %s, want medium", r.Assessment.Level)
	}
	if _, err := m.Approve(ctx, "em-1", carl, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "em-1"); !errors.Is(err, relman.ErrApprovalsMissing) {
		t.Fatalf("emergency with a cab approval only: %v", err)
	}
	if _, err := m.Approve(ctx, "em-1", erin, relman.RoleECAB, "expedited"); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "em-1"); err != nil {
		t.Fatalf("emergency with an ecab approval: %v", err)
	}
}

func TestWithPolicyReplacesGate(t *testing.T) {
	ctx := context.Background()
	p := relman.ApprovalPolicy{Rules: []relman.Rule{{Model: relman.ModelNormal, Level: relman.LevelLow}}}
	m, c := newManager(t, relman.WithPolicy(p))
	if got := m.Lifecycle().Gates(relman.EventAuthorize); !slices.Equal(got, []string{"rollback-plan", relman.GateApprovals}) {
		t.Errorf("authorize gates %v", got)
	}
	toVerified(t, m, c, newRelease("wp-1"))
	if _, err := m.Assess(ctx, "wp-1", alice); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m, "wp-1"); err != nil {
		t.Fatalf("authorize under a policy needing no approvals: %v", err)
	}
	if got := m.Policy(); len(got.Rules) != 1 {
		t.Errorf("Policy() = %+v", got)
	}
	// The default lifecycle is untouched.
	m2, c2 := newManager(t)
	toVerified(t, m2, c2, newRelease("wp-2"))
	if _, err := m2.Assess(ctx, "wp-2", alice); err != nil {
		t.Fatal(err)
	}
	if err := authorizeErr(m2, "wp-2"); !errors.Is(err, relman.ErrApprovalsMissing) {
		t.Fatalf("default policy: %v", err)
	}
}

func TestPlanVoidsApprovalsOnWindowChange(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	if _, err := m.Create(ctx, newRelease("pw-1"), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "pw-1", relman.EventApprove, relman.Request{})
	if _, err := m.Approve(ctx, "pw-1", carl, "cab", "early"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RejectApproval(ctx, "pw-1", dana, "cab", "not yet"); err != nil {
		t.Fatal(err)
	}
	r := fire(t, m, "pw-1", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(time.Hour), End: c.now.Add(2 * time.Hour)}})
	if !r.Approvals[0].Void || r.Approvals[1].Void {
		t.Errorf("approvals after plan: %+v", r.Approvals)
	}
	h, _ := m.History(ctx, "pw-1")
	if last := h[len(h)-1]; last.Event != relman.EventPlan || last.Details["voided_approvals"] != "1" {
		t.Errorf("plan entry %+v", last)
	}
}

func TestAuthorizerActions(t *testing.T) {
	ctx := context.Background()
	var asked []string
	auth := relman.AuthorizerFunc(func(_ context.Context, a relman.Actor, action string, _ *relman.Release) error {
		asked = append(asked, action)
		if a.ID == "mallory" {
			return errors.New("not on the board")
		}
		return nil
	})
	m, _ := newManager(t, relman.WithAuthorizer(auth))
	if _, err := m.Create(ctx, newRelease("az-1"), alice); err != nil {
		t.Fatal(err)
	}
	asked = nil
	if _, err := m.Approve(ctx, "az-1", carl, "cab", "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Assess(ctx, "az-1", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetRisk(ctx, "az-1", alice, relman.Risk{ID: "x", Title: "x", Likelihood: 1, Impact: 1, Status: relman.RiskOpen}); err != nil {
		t.Fatal(err)
	}
	if want := []string{relman.AuthApproval, relman.AuthRisk, relman.AuthRisk}; !slices.Equal(asked, want) {
		t.Errorf("actions %v, want %v", asked, want)
	}
	_, err := m.Approve(ctx, "az-1", relman.Actor{ID: "mallory"}, "", "ok")
	var fe *relman.ForbiddenError
	if !errors.As(err, &fe) || fe.Action != "approval" {
		t.Errorf("mallory: %v", err)
	}
}
