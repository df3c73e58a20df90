package relman

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Roles the default approval policy names.
const (
	// RoleChangeManager approves medium-risk normal changes.
	RoleChangeManager = "change-manager"
	// RoleCAB is the change advisory board, for high and critical normal
	// changes.
	RoleCAB = "cab"
	// RoleECAB is the emergency change advisory board: the expedited
	// approvers of emergency changes.
	RoleECAB = "ecab"
)

// GateApprovals is the name of the authorize gate made by ApprovalGate in
// DefaultSpec; WithPolicy replaces the gate of that name.
const GateApprovals = "approvals"

// Requirement is one thing a Rule asks for: Count approvals from holders
// of Role (from anyone if Role is empty), or Percent of the members of
// the group Role (ApprovalPolicy.Groups), rounded up. Exactly one of Count
// and Percent is set.
type Requirement struct {
	Role    string `json:"role,omitempty"`
	Count   int    `json:"count,omitempty"`
	Percent int    `json:"percent,omitempty"`
}

// Rule says what a change model needs from Level up (until a rule of the
// same model with a higher Level): its requirements, and roles whose
// approvals do not count. Forbidden means the model may not be used at
// that level at all (a standard change above low). A rule with no
// requirements lets the release through without approvals.
type Rule struct {
	Model         ChangeModel   `json:"change_model"`
	Level         Level         `json:"level"`
	Requirements  []Requirement `json:"requirements,omitempty"`
	ExcludedRoles []string      `json:"excluded_roles,omitempty"`
	Forbidden     bool          `json:"forbidden,omitempty"`
	// Validity, when set, is how long an approval given under this rule
	// counts (overriding ApprovalPolicy.Validity).
	Validity time.Duration `json:"validity,omitempty"`
}

// ApprovalPolicy maps a release's change model and assessed risk level
// to the approvals it needs before it may be authorized.
//
// An approval counts toward a requirement when it is in force (not void),
// approves, was given in the requirement's role (and, for a percentage,
// by a member of the group), by someone other than the requester or owner
// (unless AllowSelfApproval), in a role excluded neither by the rule nor
// by ExcludedRoles. Each approver counts once per requirement; one
// approval may count toward several requirements.
type ApprovalPolicy struct {
	Rules []Rule `json:"rules"`
	// Groups lists the members of each group a percentage requirement
	// names.
	Groups map[string][]string `json:"groups,omitempty"`
	// ExcludedRoles may never approve, whatever the rule.
	ExcludedRoles []string `json:"excluded_roles,omitempty"`
	// AllowSelfApproval lets the requester or owner approve their own
	// release, both its need (the approve event) and its deployment.
	// Off by default. Everyone who has been requester or owner since the
	// release was proposed counts (Release.Parties), so swapping the owner
	// out to approve does not work.
	AllowSelfApproval bool `json:"allow_self_approval,omitempty"`
	// FoldActorCase compares actor ids ignoring case and surrounding
	// space in every check of the policy (self-approval, one vote per
	// approver, group membership), so "Olga" and "olga" are one person.
	FoldActorCase bool `json:"fold_actor_case,omitempty"`
	// MaxAssessmentAge makes an assessment older than this stale
	// (0: no limit; a changed release always makes it stale).
	MaxAssessmentAge time.Duration `json:"max_assessment_age,omitempty"`
	// Validity, when set, is how long an approval counts after it was
	// given (0: for ever), unless the rule for the release's change model
	// and assessed level sets its own. The validity is fixed when the
	// approval is given (Approval.ExpiresAt): an approval given before
	// the release was assessed gets the policy's. An expired approval
	// stops counting, the authorize gate names it (ErrApprovalExpired),
	// and the runner voids it with an audit entry when it passes.
	Validity time.Duration `json:"validity,omitempty"`
}

// voidExpired is the VoidReason of an approval whose validity ran out.
const voidExpired = "expired"

// validityFor returns how long an approval given now on r counts
// (0: for ever).
func (p *ApprovalPolicy) validityFor(r *Release, now time.Time) time.Duration {
	if p.current(r, now) == nil {
		if ru, ok := p.RuleFor(r.Model, r.Assessment.Level); ok && ru.Validity > 0 {
			return ru.Validity
		}
	}
	return p.Validity
}

// DefaultPolicy returns the default approval policy:
//
//	model      level      needs
//	standard   low        nothing (pre-approved)
//	standard   medium+    forbidden: use the normal model
//	normal     low        1 approval from anyone
//	normal     medium     1 from change-manager
//	normal     high       2 from cab
//	normal     critical   3 from cab and 1 from change-manager
//	emergency  low        1 from ecab
//	emergency  high       2 from ecab
//
// Self-approval is refused and no role is excluded.
func DefaultPolicy() ApprovalPolicy {
	return ApprovalPolicy{Rules: []Rule{
		{Model: ModelStandard, Level: LevelLow},
		{Model: ModelStandard, Level: LevelMedium, Forbidden: true},
		{Model: ModelNormal, Level: LevelLow, Requirements: []Requirement{{Count: 1}}},
		{Model: ModelNormal, Level: LevelMedium, Requirements: []Requirement{{Role: RoleChangeManager, Count: 1}}},
		{Model: ModelNormal, Level: LevelHigh, Requirements: []Requirement{{Role: RoleCAB, Count: 2}}},
		{Model: ModelNormal, Level: LevelCritical, Requirements: []Requirement{{Role: RoleCAB, Count: 3}, {Role: RoleChangeManager, Count: 1}}},
		{Model: ModelEmergency, Level: LevelLow, Requirements: []Requirement{{Role: RoleECAB, Count: 1}}},
		{Model: ModelEmergency, Level: LevelHigh, Requirements: []Requirement{{Role: RoleECAB, Count: 2}}},
	}}
}

// Validate returns a *ValidationError naming every bad field, or nil:
// an unknown change model or level ("rules[2].level"), a duplicate rule,
// a requirement with neither or both of count and percent, a negative
// count, a percentage over 100 ("rules[1].requirements[0].percent"), a
// percentage of a group that is not listed or is empty ("groups.cab"),
// and a negative MaxAssessmentAge or Validity.
func (p *ApprovalPolicy) Validate() error {
	var fs []FieldError
	add := func(field, rule, param string) { fs = append(fs, FieldError{Field: field, Rule: rule, Param: param}) }
	type key struct {
		m ChangeModel
		l Level
	}
	seen := make(map[key]bool)
	for i, ru := range p.Rules {
		at := fmt.Sprintf("rules[%d].", i)
		switch ru.Model {
		case ModelStandard, ModelNormal, ModelEmergency:
		default:
			add(at+"change_model", "oneof", "standard normal emergency")
		}
		if !ru.Level.Valid() {
			add(at+"level", "oneof", "low medium high critical")
		}
		if seen[key{ru.Model, ru.Level}] {
			add(at+"level", "unique", "")
		}
		seen[key{ru.Model, ru.Level}] = true
		for j, rq := range ru.Requirements {
			rat := fmt.Sprintf("%srequirements[%d].", at, j)
			switch {
			case rq.Count < 0:
				add(rat+"count", "gte", "0")
			case rq.Percent < 0:
				add(rat+"percent", "gte", "0")
			case rq.Percent > 100:
				add(rat+"percent", "lte", "100")
			case (rq.Count > 0) == (rq.Percent > 0):
				add(rat+"count", "required_without", "percent")
			case rq.Percent > 0 && blank(rq.Role):
				add(rat+"role", "required_with", "percent")
			case rq.Percent > 0 && len(p.Groups[rq.Role]) == 0:
				add("groups."+rq.Role, "required", "")
			}
		}
		for j, role := range ru.ExcludedRoles {
			if blank(role) {
				add(fmt.Sprintf("%sexcluded_roles[%d]", at, j), "required", "")
			}
		}
		if ru.Validity < 0 {
			add(at+"validity", "gte", "0")
		}
	}
	for _, g := range slices.Sorted(maps.Keys(p.Groups)) {
		if blank(g) {
			add("groups", "keys,required", "")
			continue
		}
		if len(p.Groups[g]) == 0 {
			add("groups."+g, "min", "1")
		}
		for j, mem := range p.Groups[g] {
			if blank(mem) {
				add(fmt.Sprintf("groups.%s[%d]", g, j), "required", "")
			}
		}
	}
	for j, role := range p.ExcludedRoles {
		if blank(role) {
			add(fmt.Sprintf("excluded_roles[%d]", j), "required", "")
		}
	}
	if p.MaxAssessmentAge < 0 {
		add("max_assessment_age", "gte", "0")
	}
	if p.Validity < 0 {
		add("validity", "gte", "0")
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

func (p ApprovalPolicy) clone() ApprovalPolicy {
	c := p
	c.Rules = slices.Clone(p.Rules)
	for i := range c.Rules {
		c.Rules[i].Requirements = slices.Clone(c.Rules[i].Requirements)
		c.Rules[i].ExcludedRoles = slices.Clone(c.Rules[i].ExcludedRoles)
	}
	c.Groups = maps.Clone(p.Groups)
	for k, v := range c.Groups {
		c.Groups[k] = slices.Clone(v)
	}
	c.ExcludedRoles = slices.Clone(p.ExcludedRoles)
	return c
}

// RuleFor returns the rule that applies to a release of change model
// model assessed at level: the rule of that model with the highest Level
// not above level. ok is false when there is none.
func (p *ApprovalPolicy) RuleFor(model ChangeModel, level Level) (rule Rule, ok bool) {
	for _, ru := range p.Rules {
		if ru.Model == model && ru.Level <= level && (!ok || ru.Level > rule.Level) {
			rule, ok = ru, true
		}
	}
	return rule, ok
}

func (p *ApprovalPolicy) self(r *Release, approver string) bool {
	return !p.AllowSelfApproval && p.party(r, approver)
}

// party reports whether actor is, or has been since the release was
// proposed, its requester or owner.
func (p *ApprovalPolicy) party(r *Release, actor string) bool {
	return p.same(actor, r.Requester) || p.same(actor, r.Owner) || slices.ContainsFunc(r.Parties, func(s string) bool { return p.same(actor, s) })
}

// same compares two actor ids as the policy does: exactly, or ignoring
// case and surrounding space with FoldActorCase.
func (p *ApprovalPolicy) same(a, b string) bool {
	if p.FoldActorCase {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return a == b
}

// actorKey is the form of an actor id under which the policy counts it.
func (p *ApprovalPolicy) actorKey(id string) string {
	if p.FoldActorCase {
		return strings.ToLower(strings.TrimSpace(id))
	}
	return id
}

func (p *ApprovalPolicy) excluded(ru Rule, roles ...string) (string, bool) {
	for _, role := range roles {
		if slices.Contains(p.ExcludedRoles, role) || slices.Contains(ru.ExcludedRoles, role) {
			return role, true
		}
	}
	return "", false
}

// excludedByRule returns a role among roles that a rule of change model
// model excludes at some level, if there is one.
func (p *ApprovalPolicy) excludedByRule(model ChangeModel, roles []string) (string, bool) {
	for _, ru := range p.Rules {
		if ru.Model != model {
			continue
		}
		for _, role := range roles {
			if slices.Contains(ru.ExcludedRoles, role) {
				return role, true
			}
		}
	}
	return "", false
}

// current returns nil if r has an assessment that is neither stale nor
// older than MaxAssessmentAge at now; otherwise an error matching
// ErrRiskNotAssessed or ErrRiskStale.
func (p *ApprovalPolicy) current(r *Release, now time.Time) error {
	a := r.Assessment
	switch {
	case a == nil:
		return ErrRiskNotAssessed
	case a.Stale(r):
		return fmt.Errorf("%w: the release changed since it was assessed on %s", ErrRiskStale, a.At.UTC().Format(time.RFC3339))
	case p.MaxAssessmentAge > 0 && now.Sub(a.At) > p.MaxAssessmentAge:
		return fmt.Errorf("%w: assessed on %s, more than %s ago", ErrRiskStale, a.At.UTC().Format(time.RFC3339), p.MaxAssessmentAge)
	}
	return nil
}

// Check reports whether r may be authorized at time now under p. It
// returns nil, or an error listing every problem (errors.Join): no
// assessment (ErrRiskNotAssessed), a stale one (ErrRiskStale), a change
// model the policy does not allow at the level (ErrModelNotAllowed), a
// rejection in force (ErrApprovalRejected), and the approvals still
// missing (*ApprovalsMissingError). A nil r is a *ValidationError.
func (p *ApprovalPolicy) Check(r *Release, now time.Time) error {
	if r == nil {
		return invalid("release", "required")
	}
	if err := p.current(r, now); err != nil {
		return err
	}
	a := r.Assessment
	ru, ok := p.RuleFor(r.Model, a.Level)
	if !ok {
		return fmt.Errorf("%w: the policy has no rule for a %s-risk %s change", ErrModelNotAllowed, a.Level, r.Model)
	}
	if ru.Forbidden {
		return fmt.Errorf("%w: a %s change may not be %s risk", ErrModelNotAllowed, r.Model, a.Level)
	}
	var errs []error
	for _, ap := range r.Approvals {
		if !ap.Void && ap.Decision == DecisionReject && ap.Environment == "" {
			errs = append(errs, fmt.Errorf("%w: %s (%s): %s", ErrApprovalRejected, ap.Approver, cmp.Or(ap.Role, "no role"), ap.Comment))
		}
	}
	var missing []MissingApproval
	expired := func(ap Approval) bool {
		return (!ap.Void && !ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt)) || (ap.Void && ap.VoidReason == voidExpired)
	}
	for _, rq := range ru.Requirements {
		need := rq.Count
		var members []string
		if rq.Percent > 0 {
			members = p.Groups[rq.Role]
			need = (rq.Percent*len(members) + 99) / 100
		}
		have := make(map[string]bool)
		for _, ap := range r.Approvals {
			if ap.Void || ap.Decision != DecisionApprove || p.self(r, ap.Approver) || expired(ap) || ap.Environment != "" {
				continue
			}
			// Exclusion is about who approved: the role given and every
			// role the approver held then.
			if _, ex := p.excluded(ru, append([]string{ap.Role}, ap.Roles...)...); ex {
				continue
			}
			if rq.Role != "" && ap.Role != rq.Role {
				continue
			}
			if members != nil && !slices.ContainsFunc(members, func(m string) bool { return p.same(m, ap.Approver) }) {
				continue
			}
			have[p.actorKey(ap.Approver)] = true
		}
		if len(have) < need {
			missing = append(missing, MissingApproval{Role: rq.Role, Need: need, Have: len(have), Percent: rq.Percent})
		}
	}
	if len(missing) > 0 {
		// Name the approvals that would have counted but expired, unless
		// their approver has decided again since.
		for i, ap := range r.Approvals {
			if ap.Decision != DecisionApprove || !expired(ap) || ap.Environment != "" || slices.ContainsFunc(r.Approvals[i+1:], func(b Approval) bool { return p.same(b.Approver, ap.Approver) }) {
				continue
			}
			errs = append(errs, fmt.Errorf("%w: %s (%s) approved on %s; it counted until %s", ErrApprovalExpired,
				ap.Approver, cmp.Or(ap.Role, "no role"), ap.At.UTC().Format(time.RFC3339), ap.ExpiresAt.UTC().Format(time.RFC3339)))
		}
		errs = append(errs, &ApprovalsMissingError{ReleaseID: r.ID, Model: r.Model, Level: a.Level, Missing: missing})
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// ApprovalGate returns the authorize gate that enforces p (see
// ApprovalPolicy.Check): the risk is assessed and the assessment is not
// stale, the change model is allowed at the assessed level, no rejection
// is in force, and every required approval is there. DefaultSpec adds it
// as GateApprovals with DefaultPolicy; WithPolicy replaces it. p is
// copied.
func ApprovalGate(p ApprovalPolicy) Gate {
	p = p.clone()
	return GateFunc(func(_ context.Context, r *Release, t Transition) error { return p.Check(r, t.Now) })
}

// WithPolicy sets the approval policy: the one Approve and RejectApproval
// enforce, and the one of the lifecycle's authorize gate named
// GateApprovals, which NewManager replaces (a lifecycle without that gate
// gets none). NewManager fails with a *ValidationError if p is invalid.
// Default: DefaultPolicy().
func WithPolicy(p ApprovalPolicy) Option {
	return func(m *Manager) { m.policy, m.policySet = p.clone(), true }
}

// WithMatrix sets the risk matrix the register is scored on and checked
// against (default: DefaultMatrix()). NewManager fails with a
// *ValidationError if it is invalid.
func WithMatrix(mx Matrix) Option { return func(m *Manager) { m.matrix = mx } }

// WithAssessors sets the assessors Manager.Assess runs, replacing the
// default ones (RegisterAssessor() and the zero FactorModel).
func WithAssessors(as ...Assessor) Option {
	return func(m *Manager) { m.assessors = slices.Clone(as) }
}

// WithDependencies gives the Manager's assessors the host's service
// dependency graph: deps maps each service to the services it depends on.
func WithDependencies(deps map[string][]string) Option {
	return func(m *Manager) { m.graph = NewDependencyGraph(deps) }
}

// Policy returns a copy of the approval policy the Manager enforces.
func (m *Manager) Policy() ApprovalPolicy { return m.policy.clone() }

// Matrix returns the Manager's risk matrix.
func (m *Manager) Matrix() Matrix { return m.matrix }

// setupRisk checks and completes the risk configuration in NewManager
// and returns the lifecycle spec change WithPolicy asks for.
func (m *Manager) setupRisk() error {
	if err := m.matrix.Validate(); err != nil {
		return err
	}
	if err := m.policy.Validate(); err != nil {
		return err
	}
	if m.assessors == nil {
		m.assessors = []Assessor{RegisterAssessor(), FactorModel{}}
	}
	for i, a := range m.assessors {
		if a == nil {
			return invalid(fmt.Sprintf("assessors[%d]", i), "required")
		}
		if f, ok := a.(FactorModel); ok {
			if err := f.Validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

// replacePolicyGate swaps the gate named GateApprovals on the authorize
// event for one enforcing p, in place, and reports whether there was one.
func replacePolicyGate(spec *LifecycleSpec, p ApprovalPolicy) bool {
	found := false
	for i, g := range spec.Gates {
		if g.Name == GateApprovals {
			spec.Gates[i].Gate = ApprovalGate(p)
			found = true
		}
	}
	return found
}

// Env returns what the Manager's assessors consult: its clock, store,
// matrix and dependency graph.
func (m *Manager) Env() Env {
	return Env{Now: m.Now(), Store: m.store, Matrix: m.matrix, Graph: m.graph}
}

// Evaluate assesses r with the Manager's assessors without saving
// anything (see Assess).
func (m *Manager) Evaluate(ctx context.Context, r *Release) (*Assessment, error) {
	return Assess(ctx, r, m.Env(), m.assessors...)
}

// Assess assesses the stored release with the Manager's assessors and
// records the result as the release's Assessment, with an audit entry
// (action risk, the level and the fingerprint in its details). Assess
// again whenever the release changes: the authorize gate refuses a stale
// assessment.
func (m *Manager) Assess(ctx context.Context, id string, by Actor) (*Release, error) {
	return m.editWith(ctx, id, by, editOpts{action: ActionRisk, managed: true, authAction: AuthRisk,
		reasonf: func(r *Release) string { return "risk assessed: " + r.Assessment.Level.String() },
		details: func(r *Release) map[string]string {
			return map[string]string{"level": r.Assessment.Level.String(), "basis": r.Assessment.Basis}
		},
	}, func(r *Release) error {
		a, err := Assess(ctx, r, m.Env(), m.assessors...)
		if err != nil {
			return err
		}
		r.Assessment = a
		return nil
	})
}

// checkRisk validates one register entry against the Manager's matrix,
// naming fields as Risk's JSON names.
func (m *Manager) checkRisk(rk Risk) error {
	if err := validateStruct(rk); err != nil {
		return err
	}
	_, _, err := m.matrix.RiskScore(rk)
	return err
}

// SetRisk adds rk to the release's risk register, or replaces the entry
// with the same id, with an audit entry (action risk). A bad entry is a
// *ValidationError naming the field ("likelihood", "impact", …) and
// nothing is saved. Approvals in force are voided (see Edit).
func (m *Manager) SetRisk(ctx context.Context, id string, by Actor, rk Risk) (*Release, error) {
	if err := m.checkRisk(rk); err != nil {
		return nil, err
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionRisk, authAction: AuthRisk, reason: "risk " + rk.ID + ": " + rk.Title,
		details: func(*Release) map[string]string {
			return map[string]string{"risk": rk.ID, "op": "set", "status": string(rk.Status)}
		},
	}, func(r *Release) error {
		if i := slices.IndexFunc(r.Risks, func(x Risk) bool { return x.ID == rk.ID }); i >= 0 {
			r.Risks[i] = rk
		} else {
			r.Risks = append(r.Risks, rk)
		}
		return nil
	})
}

// RemoveRisk deletes the register entry riskID (a *ValidationError on
// field "risk_id" if it is blank, ErrNotFound if there is none), with an
// audit entry (action risk). Prefer closing a risk (status closed) to
// keep its record.
func (m *Manager) RemoveRisk(ctx context.Context, id string, by Actor, riskID string) (*Release, error) {
	if blank(riskID) {
		return nil, invalid("risk_id", "required")
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionRisk, authAction: AuthRisk, reason: "risk " + riskID + " removed",
		details: func(*Release) map[string]string { return map[string]string{"risk": riskID, "op": "remove"} },
	}, func(r *Release) error {
		i := slices.IndexFunc(r.Risks, func(x Risk) bool { return x.ID == riskID })
		if i < 0 {
			return fmt.Errorf("relman: release %q: risk %q: %w", id, riskID, ErrNotFound)
		}
		r.Risks = slices.Delete(r.Risks, i, i+1)
		return nil
	})
}

// Approve records by's approval of the release, given in role (which by
// must hold; "" approves without a role and counts only toward
// requirements of anyone), with an audit entry (action approval; its
// details name the decision, the approver, the role and every role the
// approver held, comma-separated, as "roles"). An earlier decision of
// the same approver still in force is voided ("superseded").
//
// It refuses, saving nothing: a role by does not hold (*ValidationError
// on field "role"), a comment over 4000 bytes, the requester or owner
// approving their own release unless the policy allows it
// (ErrSelfApproval), and an approver holding a role the policy excludes
// (ErrExcludedRole). The policy's ExcludedRoles are refused whatever the
// release's state. A rule's exclusions depend on the assessed level, so an
// approver holding a role that some rule of the release's change model
// excludes is refused until the release has a current assessment
// (ErrRiskNotAssessed, ErrRiskStale), then refused if the rule for its
// level excludes that role. The same holds for RejectApproval.
func (m *Manager) Approve(ctx context.Context, id string, by Actor, role, comment string) (*Release, error) {
	return m.decide(ctx, id, by, role, comment, DecisionApprove)
}

// RejectApproval records by's rejection of the release, in role, with
// reason (required: a *ValidationError on field "comment" otherwise) and
// an audit entry (action approval). A rejection in force blocks the
// authorize gate until the release is replanned, which voids every
// decision; scope changes do not void it.
func (m *Manager) RejectApproval(ctx context.Context, id string, by Actor, role, reason string) (*Release, error) {
	if blank(reason) {
		return nil, invalid("comment", "required")
	}
	return m.decide(ctx, id, by, role, reason, DecisionReject)
}

func (m *Manager) decide(ctx context.Context, id string, by Actor, role, comment string, d Decision) (*Release, error) {
	return m.decideFor(ctx, id, by, "", role, comment, d)
}

// decideFor records a decision on the release, or on its rollout to env
// when env is set.
func (m *Manager) decideFor(ctx context.Context, id string, by Actor, env, role, comment string, d Decision) (*Release, error) {
	if err := checkActor(by); err != nil {
		return nil, err
	}
	if role != "" && !by.HasRole(role) {
		return nil, &ValidationError{Fields: []FieldError{{Field: "role", Rule: "held_by_actor", Param: role}}}
	}
	if len(comment) > MaxReason {
		return nil, &ValidationError{Fields: []FieldError{{Field: "comment", Rule: "max", Param: "4000"}}}
	}
	if err := CheckInput("", struct {
		Role    string `json:"role"`
		Comment string `json:"comment"`
	}{role, comment}); err != nil {
		return nil, err
	}
	p := &m.policy
	if ex, ok := p.excluded(Rule{}, by.Roles...); ok {
		return nil, fmt.Errorf("relman: %s may not decide on %q: %w: %s", by.ID, id, ErrExcludedRole, ex)
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionApproval, managed: true, authAction: AuthApproval, reason: comment,
		details: func(*Release) map[string]string {
			det := map[string]string{"decision": string(d), "approver": by.ID, "role": role, "roles": strings.Join(by.Roles, ",")}
			if env != "" {
				det["environment"] = env
			}
			return det
		},
	}, func(r *Release) error {
		if d == DecisionApprove && p.self(r, by.ID) {
			return fmt.Errorf("relman: %s may not approve %q: %w (requester %s, owner %s)", by.ID, id, ErrSelfApproval, r.Requester, r.Owner)
		}
		// Whether a rule excludes one of by's roles depends on the level, so
		// someone holding a role some rule of the model excludes may decide
		// only on a current assessment. (The Approval records the role it
		// was given in, not every role its approver holds, so the
		// exclusion cannot be checked later.)
		if role, ok := p.excludedByRule(r.Model, by.Roles); ok {
			if err := p.current(r, m.Now()); err != nil {
				return fmt.Errorf("relman: %s holds %s, excluded at some risk levels of a %s change, and may decide on %q only on a current assessment: %w", by.ID, role, r.Model, id, err)
			}
			if ru, ok := p.RuleFor(r.Model, r.Assessment.Level); ok {
				if ex, bad := p.excluded(ru, by.Roles...); bad {
					return fmt.Errorf("relman: %s may not decide on a %s-risk %s change: %w: %s", by.ID, r.Assessment.Level, r.Model, ErrExcludedRole, ex)
				}
			}
		}
		for i := range r.Approvals {
			if ap := &r.Approvals[i]; p.same(ap.Approver, by.ID) && !ap.Void && ap.Environment == env {
				ap.Void, ap.VoidReason = true, "superseded"
			}
		}
		now := m.Now()
		ap := Approval{Approver: by.ID, Role: role, Roles: slices.Clone(by.Roles), Decision: d, Comment: comment, At: now, Environment: env}
		if v := p.validityFor(r, now); v > 0 && d == DecisionApprove {
			ap.ExpiresAt = now.Add(v)
		}
		r.Approvals = append(r.Approvals, ap)
		return nil
	})
}

// VoidApprovalsOnWindowChange is an effect for plan: when the request
// carries a window different from the release's, every approval in force
// is voided (rejections stay), and the count goes into the transition's
// audit details. Add it before SetWindow. (Replan voids every decision
// anyway, see VoidApprovals.)
func VoidApprovalsOnWindowChange() Effect {
	return func(r *Release, t Transition) (map[string]string, error) {
		if t.Window == nil || sameSpan(r.Window, t.Window) {
			return nil, nil
		}
		n := 0
		for i := range r.Approvals {
			if ap := &r.Approvals[i]; !ap.Void && ap.Decision == DecisionApprove {
				ap.Void, ap.VoidReason = true, "changed after approval: window"
				n++
			}
		}
		if n == 0 {
			return nil, nil
		}
		return map[string]string{"voided_approvals": strconv.Itoa(n)}, nil
	}
}

// voidOnScopeChange voids the approvals in force that were given before
// an edit (those already in old) when the edit changed the release's
// scope (services, version), change model (which decides the rule, so
// who may approve), window or risk register. It returns the
// audit entry to record, or nil. Rejections stay in force: only a replan
// lifts them.
func voidOnScopeChange(old, r *Release, at time.Time, by string) *AuditEntry {
	var what []string
	if !sameSet(old.Services, r.Services) {
		what = append(what, "services")
	}
	if old.Version != r.Version {
		what = append(what, "version")
	}
	if old.Model != r.Model {
		what = append(what, "change_model")
	}
	if !sameSpan(old.Window, r.Window) {
		what = append(what, "window")
	}
	if !slices.Equal(old.Risks, r.Risks) {
		what = append(what, "risks")
	}
	if old.Requester != r.Requester {
		what = append(what, "requester")
	}
	if old.Owner != r.Owner {
		what = append(what, "owner")
	}
	if len(what) == 0 {
		return nil
	}
	reason := "changed after approval: " + strings.Join(what, ", ")
	var voided []string
	for i := range min(len(old.Approvals), len(r.Approvals)) {
		ap := &r.Approvals[i]
		if !ap.Void && ap.Decision == DecisionApprove {
			ap.Void, ap.VoidReason = true, reason
			voided = append(voided, ap.Approver)
		}
	}
	if len(voided) == 0 {
		return nil
	}
	return &AuditEntry{At: at, Actor: by, Action: ActionVoid, Reason: reason,
		Details: map[string]string{"voided_approvals": strconv.Itoa(len(voided)), "approvers": strings.Join(voided, ","), "changed": strings.Join(what, ",")}}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sameSpan(a, b *Span) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Start.Equal(b.Start) && a.End.Equal(b.End)
}
