package relman

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrPromotion: a rollout to an environment was refused because the
// environments that must come before it have not all succeeded.
// *PromotionError matches it.
var ErrPromotion = errors.New("relman: promotion refused")

// Environment is a place a release is deployed to, such as test, staging
// or production. Environments are ordered (Environments.List); a release
// rolls out to them in that order.
type Environment struct {
	Name string `json:"name"`
	// Production marks the environment whose successful rollout completes
	// the release (the Manager fires complete). At most one.
	Production bool `json:"production,omitempty"`
	// Optional environments may be skipped; the others must succeed
	// before any later environment is rolled out to.
	Optional bool `json:"optional,omitempty"`
	// Approvals are the approvals, given for this environment with
	// ApproveEnvironment, that a rollout here needs before it starts
	// (production needs the CAB, staging nothing).
	Approvals []Requirement `json:"approvals,omitempty"`
}

// Environments is the ordered list of environments a Manager knows, and
// its promotion rule.
type Environments struct {
	List []Environment `json:"environments"`
	// MinBeforeProduction is the number of environments that must have
	// succeeded before a rollout to production may start, required and
	// optional ones alike.
	MinBeforeProduction int `json:"min_before_production,omitempty"`
}

// Validate returns a *ValidationError naming every bad field: a missing or
// duplicate name, more than one production environment, a production
// environment that is optional, a bad approval requirement, or a
// MinBeforeProduction below 0 or above the number of environments before
// production.
func (es *Environments) Validate() error {
	var fs []FieldError
	add := func(field, rule, param string) { fs = append(fs, FieldError{Field: field, Rule: rule, Param: param}) }
	seen := map[string]bool{}
	prod := -1
	for i, e := range es.List {
		at := fmt.Sprintf("environments[%d].", i)
		switch {
		case !validID(e.Name):
			add(at+"name", "id", e.Name)
		case seen[e.Name]:
			add(at+"name", "unique", e.Name)
		}
		seen[e.Name] = true
		if e.Production {
			if prod >= 0 {
				add(at+"production", "unique", "")
			}
			prod = i
			if e.Optional {
				add(at+"optional", "excluded_with", "production")
			}
		}
		for j, rq := range e.Approvals {
			rat := fmt.Sprintf("%sapprovals[%d].", at, j)
			switch {
			case rq.Count <= 0:
				add(rat+"count", "gt", "0")
			case rq.Percent != 0:
				add(rat+"percent", "excluded", "")
			}
		}
	}
	before := len(es.List)
	if prod >= 0 {
		before = prod
	}
	if es.MinBeforeProduction < 0 || es.MinBeforeProduction > before {
		add("min_before_production", "range", fmt.Sprintf("0..%d", before))
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

// WithEnvironments sets the environments releases roll out to. NewManager
// fails with a *ValidationError if es is invalid.
func WithEnvironments(es Environments) Option {
	return func(m *Manager) {
		m.envs = es
		m.envs.List = slices.Clone(es.List)
	}
}

// Environments returns the Manager's environments.
func (m *Manager) Environments() Environments {
	es := m.envs
	es.List = slices.Clone(es.List)
	return es
}

func (m *Manager) env(name string) (int, *Environment) {
	for i := range m.envs.List {
		if m.envs.List[i].Name == name {
			return i, &m.envs.List[i]
		}
	}
	return -1, nil
}

// EnvDeployment is what happened to a release in one environment: the
// last rollout there.
type EnvDeployment struct {
	Environment string       `json:"environment"`
	State       RolloutState `json:"state"`
	Steps       int          `json:"steps"` // steps that passed
	StartedAt   time.Time    `json:"started_at"`
	FinishedAt  time.Time    `json:"finished_at,omitzero"`
	Result      string       `json:"result,omitempty"`
}

// deployment returns r's record for env, if any.
func (r *Release) deployment(env string) *EnvDeployment {
	for i := range r.Deployments {
		if r.Deployments[i].Environment == env {
			return &r.Deployments[i]
		}
	}
	return nil
}

// succeeded reports whether r's rollout to env succeeded.
func (r *Release) succeeded(env string) bool {
	d := r.deployment(env)
	return d != nil && d.State == RolloutSucceeded
}

// PromotionError says why a release may not roll out to an environment
// yet: the required environments before it that have not succeeded, and
// how many have succeeded where MinBeforeProduction asks for more.
type PromotionError struct {
	ReleaseID   string
	Environment string
	Missing     []string // required environments before it without a successful rollout
	Succeeded   int      // environments succeeded so far (production only)
	Need        int      // MinBeforeProduction (production only)
}

// Error names what is missing.
func (e *PromotionError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "not yet rolled out successfully to "+strings.Join(e.Missing, ", "))
	}
	if e.Need > e.Succeeded {
		parts = append(parts, fmt.Sprintf("%d environment(s) succeeded, %d needed before production", e.Succeeded, e.Need))
	}
	return fmt.Sprintf("relman: %s may not roll out to %s: %s", e.ReleaseID, e.Environment, strings.Join(parts, "; "))
}

// Is reports whether target is ErrPromotion.
func (e *PromotionError) Is(target error) bool { return target == ErrPromotion }

// checkPromotion returns a *PromotionError if r may not roll out to the
// environment at index i yet.
func (m *Manager) checkPromotion(r *Release, i int) error {
	env := m.envs.List[i]
	pe := &PromotionError{ReleaseID: r.ID, Environment: env.Name}
	for _, before := range m.envs.List[:i] {
		if !before.Optional && !r.succeeded(before.Name) {
			pe.Missing = append(pe.Missing, before.Name)
		}
	}
	if env.Production {
		for _, d := range r.Deployments {
			if d.State == RolloutSucceeded && d.Environment != env.Name {
				pe.Succeeded++
			}
		}
		pe.Need = m.envs.MinBeforeProduction
	}
	if len(pe.Missing) > 0 || pe.Need > pe.Succeeded {
		return pe
	}
	return nil
}

// checkEnvApprovals returns an *ApprovalsMissingError if the approvals
// given for env do not meet its requirements.
func (m *Manager) checkEnvApprovals(r *Release, env *Environment, now time.Time) error {
	var missing []MissingApproval
	for _, rq := range env.Approvals {
		have := map[string]bool{}
		for _, ap := range r.Approvals {
			if ap.Environment != env.Name || ap.Void || ap.Decision != DecisionApprove || m.policy.self(r, ap.Approver) ||
				(!ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt)) || (rq.Role != "" && ap.Role != rq.Role) {
				continue
			}
			have[m.policy.actorKey(ap.Approver)] = true
		}
		if len(have) < rq.Count {
			missing = append(missing, MissingApproval{Role: rq.Role, Need: rq.Count, Have: len(have)})
		}
	}
	if len(missing) > 0 {
		return &ApprovalsMissingError{ReleaseID: r.ID, Model: r.Model, Environment: env.Name, Missing: missing}
	}
	return nil
}

// ApproveEnvironment records by's approval of the release's rollout to
// environment env, in role, with an audit entry (action approval). It
// counts only toward that environment's Approvals, never toward the
// authorize gate's policy. The same refusals as Approve apply
// (self-approval, excluded roles); an unknown environment is a
// *ValidationError on field "environment".
func (m *Manager) ApproveEnvironment(ctx context.Context, id string, by Actor, env, role, comment string) (*Release, error) {
	if _, e := m.env(env); e == nil {
		return nil, invalidParam("environment", "oneof", m.envNames())
	}
	return m.decideFor(ctx, id, by, env, role, comment, DecisionApprove)
}

func (m *Manager) envNames() string {
	names := make([]string, len(m.envs.List))
	for i, e := range m.envs.List {
		names[i] = e.Name
	}
	return strings.Join(names, " ")
}

// envCalendar returns the calendar that applies to a rollout in env: the
// windows scoped to env.
func (m *Manager) envCalendar(ctx context.Context, env string) (*Calendar, error) {
	cal, err := m.Calendar(ctx)
	if err != nil {
		return nil, err
	}
	var ws []Window
	for _, w := range cal.Windows() {
		if slices.Contains(w.Environments, env) {
			w.Environments = nil // in force here
			ws = append(ws, w)
		}
	}
	return NewCalendar(ws...)
}
