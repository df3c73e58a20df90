package relman

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Kind classifies a release by the size of the change it carries.
type Kind string

// The kinds of release.
const (
	KindMajor     Kind = "major"
	KindMinor     Kind = "minor"
	KindPatch     Kind = "patch"
	KindEmergency Kind = "emergency"
)

// ChangeModel is the ITIL change model a release follows. It decides how
// much approval the release needs before it may deploy.
type ChangeModel string

// The change models.
const (
	// ModelStandard is a pre-approved, low-risk change that follows a
	// template and may skip the approval board.
	ModelStandard ChangeModel = "standard"
	// ModelNormal is the default: approvals in proportion to the risk.
	ModelNormal ChangeModel = "normal"
	// ModelEmergency is an urgent change with expedited approvals. It may
	// deploy inside a freeze only with an explicit, audited override.
	ModelEmergency ChangeModel = "emergency"
)

// Feasibility is the outcome of the feasibility study of a need.
type Feasibility string

// The feasibility grades of a business case.
const (
	FeasibilityHigh       Feasibility = "high"
	FeasibilityMedium     Feasibility = "medium"
	FeasibilityLow        Feasibility = "low"
	FeasibilityInfeasible Feasibility = "infeasible"
)

// BusinessCase is the evaluation of a need before anyone commits to it:
// the problem it solves, what it is worth, what it costs and whether it
// can be done. The approve event requires it to be complete.
type BusinessCase struct {
	Problem       string      `json:"problem,omitempty" validate:"max=4000"`
	ExpectedValue float64     `json:"expected_value,omitempty" validate:"gte=0"`
	Cost          float64     `json:"cost,omitempty" validate:"gte=0"`
	Feasibility   Feasibility `json:"feasibility,omitempty" validate:"omitempty,oneof=high medium low infeasible"`
	Notes         string      `json:"notes,omitempty" validate:"max=4000"`
}

// Span is a half-open interval of time [Start, End).
type Span struct {
	Start time.Time `json:"start" validate:"required"`
	End   time.Time `json:"end" validate:"required,gtfield=Start"`
}

// Contains reports whether t lies in [s.Start, s.End).
func (s Span) Contains(t time.Time) bool {
	return !t.Before(s.Start) && t.Before(s.End)
}

// Overlaps reports whether s and o share at least one instant.
func (s Span) Overlaps(o Span) bool {
	return s.Start.Before(o.End) && o.Start.Before(s.End)
}

// Duration returns End - Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Task is one piece of the work of a release, owned by a team.
type Task struct {
	Name      string        `json:"name" validate:"required,notblank,max=200"`
	Team      string        `json:"team,omitempty" validate:"max=200"`
	Duration  time.Duration `json:"duration,omitempty" validate:"gte=0"`
	DependsOn []string      `json:"depends_on,omitempty" validate:"max=50,dive,required,max=200"`
}

// TestResult records one run of a test suite against the release.
type TestResult struct {
	Suite  string    `json:"suite" validate:"required,notblank,max=200"`
	Passed bool      `json:"passed"`
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail,omitempty" validate:"max=4000"`
	// Environment names the environment the suite ran in, if any; with
	// environments configured (WithEnvironments) it must be one of them.
	Environment string `json:"environment,omitempty" validate:"max=128"`
}

// Decision is an approver's verdict.
type Decision string

// The decisions an approver can give.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
)

// Approval is one approver's decision on a release. Approvals become void
// when the release's scope (services, version, change model), window or
// risks change after they were given, and stop counting when their
// validity runs out (ExpiresAt).
type Approval struct {
	Approver   string    `json:"approver" validate:"required,notblank"`
	Role       string    `json:"role,omitempty"`  // the role the decision was given in
	Roles      []string  `json:"roles,omitempty"` // every role the approver held then
	Decision   Decision  `json:"decision" validate:"required,oneof=approve reject"`
	Comment    string    `json:"comment,omitempty" validate:"max=4000"`
	At         time.Time `json:"at"`
	Void       bool      `json:"void,omitempty"`
	VoidReason string    `json:"void_reason,omitempty"`
	// ExpiresAt, when set, is when the approval stops counting: At plus
	// the validity the policy gave it (ApprovalPolicy.Validity). RunDue
	// then voids it with VoidReason "expired".
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Environment, when set, makes this an approval of the rollout to
	// that environment (ApproveEnvironment): it counts only toward the
	// environment's Approvals, not toward the authorize gate.
	Environment string `json:"environment,omitempty"`
}

// Outcome is the verdict of a post-implementation review.
type Outcome string

// The outcomes of a post-implementation review.
const (
	OutcomeSuccessful           Outcome = "successful"
	OutcomeSuccessfulWithIssues Outcome = "successful_with_issues"
	OutcomeFailed               Outcome = "failed"
)

// Review is the post-implementation review of a release in operation.
// The close event requires one.
type Review struct {
	Outcome  Outcome   `json:"outcome" validate:"required,oneof=successful successful_with_issues failed"`
	Summary  string    `json:"summary,omitempty" validate:"max=4000"`
	Lessons  []string  `json:"lessons,omitempty" validate:"max=50,dive,max=1000"`
	FollowUp []string  `json:"follow_up,omitempty" validate:"max=50,dive,max=1000"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at"`
}

// AuditHead is the tip of a release's hash-chained history: the number of
// entries and the hash of the last one. A Manager with a signer (see
// WithSigner) also signs it, with the digest of the release document
// (DocDigest), on every write.
type AuditHead struct {
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash,omitempty"`
	DocDigest string `json:"doc_digest,omitempty"` // signed: DocDigest of the release as written
	KeyID     string `json:"key_id,omitempty"`     // signed: the signing key's id
	Sig       string `json:"sig,omitempty"`        // signed: Ed25519 signature, base64
}

// Release is a change to an IT product on its way from a proposed need to
// users, and after. The Manager owns Stage, Revision, Head and the
// timestamps, and writes Approvals and Assessment only through Approve,
// RejectApproval and Assess; in operation the release collects user
// feedback, linked incidents and its post-implementation review (see
// Manager.AddFeedback, OpenIncident, RecordReview). The rest is the host's
// data, validated on every write.
type Release struct {
	ID        string      `json:"id" validate:"required,max=128,id"`
	Title     string      `json:"title" validate:"required,notblank,max=200"`
	Version   string      `json:"version" validate:"required,semver"`
	Kind      Kind        `json:"kind" validate:"required,oneof=major minor patch emergency"`
	Model     ChangeModel `json:"change_model" validate:"required,oneof=standard normal emergency"`
	Requester string      `json:"requester" validate:"required,notblank,max=200"`
	Owner     string      `json:"owner" validate:"required,notblank,max=200"`
	Teams     []string    `json:"teams,omitempty" validate:"max=100,dive,required,notblank,max=200"`
	Services  []string    `json:"services,omitempty" validate:"max=100,dive,required,notblank,max=200"`

	Case           BusinessCase `json:"business_case"`
	Window         *Span        `json:"window,omitempty"`
	Tasks          []Task       `json:"tasks,omitempty" validate:"max=200,dive"`
	RollbackPlan   string       `json:"rollback_plan,omitempty" validate:"max=8000"`
	RequiredSuites []string     `json:"required_suites,omitempty" validate:"max=50,dive,required,max=200"`
	TestResults    []TestResult `json:"test_results,omitempty" validate:"max=1000,dive"`
	Approvals      []Approval   `json:"approvals,omitempty" validate:"dive"`
	Risks          []Risk       `json:"risks,omitempty" validate:"max=100,dive"`
	Assessment     *Assessment  `json:"assessment,omitempty"` // written only by Manager.Assess
	Review         *Review      `json:"review,omitempty"`
	// Feedback holds user feedback kept in the document, on a store that
	// is not a FeedbackStore; a FeedbackStore keeps it as records (see
	// Manager.Feedback) and this stays empty. FeedbackSummary counts it
	// all, wherever it is kept.
	Feedback        []Feedback        `json:"feedback,omitempty" validate:"dive"`
	FeedbackSummary *FeedbackSummary  `json:"feedback_summary,omitempty"`
	Incidents       []Incident        `json:"incidents,omitempty" validate:"max=1000,unique=ID,dive"`
	Labels          map[string]string `json:"labels,omitempty" validate:"max=64,dive,keys,required,max=100,endkeys,max=1000"`
	// Scheduled holds the events the runner will fire, and the last ones
	// it fired, failed or abandoned; written only by Schedule,
	// CancelScheduled and RunDue.
	Scheduled []ScheduledEvent `json:"scheduled,omitempty"`
	// Parties lists everyone who has been the release's requester or
	// owner since it was proposed; the Manager keeps it, and the approval
	// policy refuses their approvals (see AllowSelfApproval).
	Parties []string `json:"parties,omitempty" validate:"max=64"`
	// Deployments records, per environment, the last rollout there and
	// how it ended; Rollout is the rollout in progress, or the last one.
	// Both are written only by StartRollout, RolloutAction and RunDue.
	Deployments []EnvDeployment `json:"deployments,omitempty"`
	Rollout     *Rollout        `json:"rollout,omitempty"`

	Stage     Stage     `json:"stage"`
	EnteredAt time.Time `json:"entered_at"` // when the release entered its current stage
	Revision  int64     `json:"revision"`
	Head      AuditHead `json:"history_head"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Clone returns a deep copy of r: no slice, map or pointer is shared.
func (r *Release) Clone() *Release {
	if r == nil {
		return nil
	}
	// One allocation holds the release and its window, and one the
	// string lists: a clone is made on every read and write.
	box := &struct {
		r Release
		w Span
	}{r: *r}
	c := &box.r
	if r.Window != nil {
		box.w = *r.Window
		c.Window = &box.w
	}
	cloneStrings(&c.Teams, &c.Services, &c.RequiredSuites, &c.Parties)
	if r.Tasks != nil {
		c.Tasks = make([]Task, len(r.Tasks))
		for i, t := range r.Tasks {
			t.DependsOn = slices.Clone(t.DependsOn)
			c.Tasks[i] = t
		}
	}
	c.TestResults = slices.Clone(r.TestResults)
	if r.Approvals != nil {
		c.Approvals = make([]Approval, len(r.Approvals))
		for i, a := range r.Approvals {
			a.Roles = slices.Clone(a.Roles)
			c.Approvals[i] = a
		}
	}
	c.Risks = slices.Clone(r.Risks)
	c.Assessment = r.Assessment.clone()
	if r.Review != nil {
		v := *r.Review
		v.Lessons = slices.Clone(v.Lessons)
		v.FollowUp = slices.Clone(v.FollowUp)
		c.Review = &v
	}
	c.Feedback = slices.Clone(r.Feedback)
	if r.FeedbackSummary != nil {
		fs := *r.FeedbackSummary
		c.FeedbackSummary = &fs
	}
	if r.Incidents != nil {
		c.Incidents = make([]Incident, len(r.Incidents))
		for i, inc := range r.Incidents {
			if inc.ResolvedAt != nil {
				t := *inc.ResolvedAt
				inc.ResolvedAt = &t
			}
			c.Incidents[i] = inc
		}
	}
	c.Labels = maps.Clone(r.Labels)
	if r.Scheduled != nil {
		c.Scheduled = make([]ScheduledEvent, len(r.Scheduled))
		for i, s := range r.Scheduled {
			c.Scheduled[i] = s.clone()
		}
	}
	c.Deployments = slices.Clone(r.Deployments)
	c.Rollout = r.Rollout.clone()
	return c
}

// cloneStrings replaces each list with a copy, all copies sharing one new
// backing array (each capped, so that appending to one cannot overwrite
// the next). nil stays nil, empty stays empty.
func cloneStrings(lists ...*[]string) {
	n := 0
	for _, l := range lists {
		n += len(*l)
	}
	if n == 0 {
		for _, l := range lists {
			*l = slices.Clone(*l)
		}
		return
	}
	buf := make([]string, 0, n)
	for _, l := range lists {
		if *l == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, *l...)
		*l = buf[start:len(buf):len(buf)]
	}
}

// Validate checks r's fields and returns a *ValidationError listing every
// failing field by its JSON name, or nil.
func (r *Release) Validate() error {
	if r == nil {
		return &ValidationError{Fields: []FieldError{{Field: "release", Rule: "required"}}}
	}
	return validateStruct(r)
}

// HasService reports whether the release touches service s.
func (r *Release) HasService(s string) bool { return r != nil && slices.Contains(r.Services, s) }

// HasTeam reports whether team is involved in the release, either listed
// in Teams or owning one of its tasks.
func (r *Release) HasTeam(team string) bool {
	if r == nil {
		return false
	}
	if slices.Contains(r.Teams, team) {
		return true
	}
	return slices.ContainsFunc(r.Tasks, func(t Task) bool { return t.Team == team })
}

// InvolvedTeams returns the teams involved in the release (those HasTeam
// reports), each once: Teams, then the teams owning tasks, in order.
func (r *Release) InvolvedTeams() []string {
	if r == nil {
		return nil
	}
	var teams []string
	for _, t := range r.Teams {
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	for _, t := range r.Tasks {
		if t.Team != "" && !slices.Contains(teams, t.Team) {
			teams = append(teams, t.Team)
		}
	}
	return teams
}

// Actor is a person or a program acting on releases.
type Actor struct {
	ID    string   `json:"id" validate:"required,notblank,max=200"`
	Roles []string `json:"roles,omitempty"`
}

// HasRole reports whether a holds role.
func (a Actor) HasRole(role string) bool { return slices.Contains(a.Roles, role) }

// String returns the actor's id.
func (a Actor) String() string { return a.ID }

func blank(s string) bool { return strings.TrimSpace(s) == "" }
