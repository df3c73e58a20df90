package relman

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrRolloutState: the rollout is not in a phase that allows the request
// (resume a rollout that is not paused, start one while another runs).
var ErrRolloutState = errors.New("relman: the rollout does not allow this now")

// ActionRollout is the audit action of every rollout step, verdict and
// decision.
const ActionRollout Action = "rollout"

// Bounds of a rollout plan.
const (
	MaxRolloutSteps  = 20 // steps in a plan
	MaxProbeChecks   = 5  // checks in a verification
	MaxMeasurements  = 60 // measurement rounds of one step (Bake / Interval, or Measurements)
	DefaultProbeWait = 30 * time.Second
)

// DefaultDeployTimeout bounds one Deployer call when the plan sets none.
const DefaultDeployTimeout = 10 * time.Minute

// RolloutState is how a rollout to an environment ended, or that it runs.
type RolloutState string

// The states of an environment's rollout (EnvDeployment.State).
const (
	RolloutRunning    RolloutState = "running"
	RolloutSucceeded  RolloutState = "succeeded"
	RolloutRolledBack RolloutState = "rolled_back"
)

// RolloutPhase is what a rollout in progress is doing.
type RolloutPhase string

// The phases of a rollout.
const (
	PhaseDeploying   RolloutPhase = "deploying"    // the current step is to be deployed
	PhaseVerifying   RolloutPhase = "verifying"    // the current step bakes while its probes are measured
	PhasePaused      RolloutPhase = "paused"       // waiting for an actor (RolloutAction): a manual step, or a failure under guided failure
	PhaseRollingBack RolloutPhase = "rolling_back" // the Deployer is to roll the environment back
	PhaseWatching    RolloutPhase = "watching"     // in operation after a production rollout: the probes keep running
	PhaseDone        RolloutPhase = "done"         // finished: see the environment's EnvDeployment
)

// Verdict is the outcome of a measurement or of a step's verification, in
// Kayenta's vocabulary.
type Verdict string

// The verdicts.
const (
	VerdictPass         Verdict = "pass"
	VerdictFail         Verdict = "fail"
	VerdictInconclusive Verdict = "inconclusive"
)

// FailurePolicy says what a failed or inconclusive step does.
type FailurePolicy string

// The failure policies.
const (
	// FailureRollback rolls back at once: the Deployer rolls the
	// environment back and the rollback event fires, with the
	// measurements that decided it as its reason. The default.
	FailureRollback FailurePolicy = "rollback"
	// FailurePause is guided failure: the rollout pauses until an
	// authorized actor retries the step, skips it or aborts.
	FailurePause FailurePolicy = "pause"
)

// RolloutPlan says how a release rolls out to one environment: steps of
// growing exposure, each verified by probes before the next.
type RolloutPlan struct {
	Steps        []RolloutStep `json:"steps"`
	Verification Verification  `json:"verification"`
	// OnFailure applies to a failed step; OnInconclusive to one whose
	// probes could not tell (default: pause, so a person decides).
	OnFailure      FailurePolicy `json:"on_failure,omitempty"`
	OnInconclusive FailurePolicy `json:"on_inconclusive,omitempty"`
	// Watch, for the production environment, keeps the probes running
	// for this long after the release is complete; a breach opens an
	// incident caused by the release, and rolls it back if WatchRollback.
	Watch         time.Duration `json:"watch,omitempty"`
	WatchRollback bool          `json:"watch_rollback,omitempty"`
	// DeployTimeout bounds each Deployer call (default 10 min).
	DeployTimeout time.Duration `json:"deploy_timeout,omitempty"`
}

// RolloutStep is one step of a plan: a share of traffic (Percent), a ring
// of targets (Targets), or a manual approval (Manual: the rollout pauses
// until an authorized actor resumes it).
type RolloutStep struct {
	Name    string   `json:"name,omitempty"`
	Percent int      `json:"percent,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Manual  bool     `json:"manual,omitempty"`
	// Bake is how long the step is verified before the next one, as
	// Bake/Interval measurement rounds (default: Verification.Measurements).
	Bake time.Duration `json:"bake,omitempty"`
}

// Label names the step for people: its name, or its percentage or
// targets.
func (s RolloutStep) Label() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Manual:
		return "manual approval"
	case len(s.Targets) > 0:
		return strings.Join(s.Targets, ",")
	}
	return strconv.Itoa(s.Percent) + "%"
}

// Verification says how a step is judged: every Interval, each check's
// probe is measured; a round fails if a check's value breaks its
// threshold, and is inconclusive if a probe errs or does not answer
// within Timeout. More than FailureLimit failed rounds fail the step,
// more than InconclusiveLimit inconclusive ones make it inconclusive;
// otherwise it passes once all its rounds are in.
type Verification struct {
	Checks            []ProbeCheck  `json:"checks"`
	Interval          time.Duration `json:"interval"`
	Measurements      int           `json:"measurements"`
	FailureLimit      int           `json:"failure_limit,omitempty"`
	InconclusiveLimit int           `json:"inconclusive_limit,omitempty"`
	// Timeout bounds one probe call (default: Interval, at most 30 s).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// ProbeCheck is one thing a verification measures, with its thresholds:
// a value passes when it is at most Max and at least Min (at least one of
// them set). "The availability of what runs today must not be impacted"
// is a check on the live service's error rate with a Max.
type ProbeCheck struct {
	Name   string            `json:"name"`
	Probe  string            `json:"probe"` // registered with WithProbe
	Query  string            `json:"query,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Max    *float64          `json:"max,omitempty"`
	Min    *float64          `json:"min,omitempty"`
}

// Measurement is one probe reading and its verdict.
type Measurement struct {
	At      time.Time `json:"at"`
	Check   string    `json:"check"`
	Value   *float64  `json:"value,omitempty"` // nil when inconclusive
	Verdict Verdict   `json:"verdict"`
	Error   string    `json:"error,omitempty"`
}

// String shows the measurement as "check=value verdict".
func (ms Measurement) String() string {
	v := "?"
	if ms.Value != nil {
		v = strconv.FormatFloat(*ms.Value, 'g', 4, 64)
	}
	s := ms.Check + "=" + v + " " + string(ms.Verdict)
	if ms.Error != "" {
		s += " (" + ms.Error + ")"
	}
	return s
}

// Rollout is the progress of a release's rollout to one environment. It
// lives in the release (Release.Rollout), so it survives restarts: a
// runner that takes over continues from the phase and step recorded, and
// never deploys again a step whose deploy was recorded.
type Rollout struct {
	Environment  string        `json:"environment"`
	Plan         RolloutPlan   `json:"plan"`
	Step         int           `json:"step"` // the current step's index
	Phase        RolloutPhase  `json:"phase"`
	NextAt       time.Time     `json:"next_at,omitzero"` // when the runner acts next
	Measurements []Measurement `json:"measurements,omitempty"`
	Reason       string        `json:"reason,omitempty"` // why it paused, failed or rolled back
	StartedBy    Actor         `json:"started_by"`
	StartedAt    time.Time     `json:"started_at"`
	WatchUntil   time.Time     `json:"watch_until,omitzero"`
	// Driver holds the rollout while a Deployer call is in flight, until
	// DriverUntil: no other runner calls the Deployer meanwhile.
	Driver      string    `json:"driver,omitempty"`
	DriverUntil time.Time `json:"driver_until,omitzero"`
}

func (ro *Rollout) clone() *Rollout {
	if ro == nil {
		return nil
	}
	c := *ro
	c.Plan = ro.Plan.clone()
	c.Measurements = slices.Clone(ro.Measurements)
	for i := range c.Measurements {
		c.Measurements[i].Value = clonePtr(c.Measurements[i].Value)
	}
	c.StartedBy.Roles = slices.Clone(ro.StartedBy.Roles)
	return &c
}

func (p RolloutPlan) clone() RolloutPlan {
	p.Steps = slices.Clone(p.Steps)
	for i := range p.Steps {
		p.Steps[i].Targets = slices.Clone(p.Steps[i].Targets)
	}
	p.Verification.Checks = slices.Clone(p.Verification.Checks)
	for i := range p.Verification.Checks {
		c := &p.Verification.Checks[i]
		c.Params = maps.Clone(c.Params)
		c.Max, c.Min = clonePtr(c.Max), clonePtr(c.Min)
	}
	return p
}

func clonePtr(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

// Active reports whether the rollout still has something to do or waits
// for an actor.
func (ro *Rollout) Active() bool { return ro != nil && ro.Phase != PhaseDone }

// due reports whether the runner has something to do on the rollout, and
// when.
func (ro *Rollout) due() (time.Time, bool) {
	if ro == nil {
		return time.Time{}, false
	}
	switch ro.Phase {
	case PhaseDeploying, PhaseVerifying, PhaseRollingBack, PhaseWatching:
		return ro.NextAt, true
	}
	return time.Time{}, false
}

// rounds is how many measurement rounds step i takes.
func (p *RolloutPlan) rounds(i int) int {
	v := p.Verification
	if b := p.Steps[i].Bake; b > 0 && v.Interval > 0 {
		return max(1, int(b/v.Interval))
	}
	return v.Measurements
}

// WithDeployer sets the Deployer that performs rollout steps.
func WithDeployer(d Deployer) Option { return func(m *Manager) { m.deployer = d } }

// WithProbe registers a Probe under name, for ProbeCheck.Probe.
func WithProbe(name string, p Probe) Option {
	return func(m *Manager) {
		if m.probes == nil {
			m.probes = map[string]Probe{}
		}
		m.probes[name] = p
	}
}

// ValidatePlan returns a *ValidationError naming every bad field of p:
// no steps, more than MaxRolloutSteps, a step that is not exactly one of
// a percentage, targets or manual, percentages that do not increase or
// are outside 1..100, a negative bake or one shorter than the interval,
// no checks, a check without a threshold or with an unregistered probe,
// an interval or number of measurements that is not positive, negative
// limits or timeouts, an unknown failure policy.
func (m *Manager) ValidatePlan(p RolloutPlan) error {
	var fs []FieldError
	add := func(field, rule, param string) { fs = append(fs, FieldError{Field: field, Rule: rule, Param: param}) }
	switch {
	case len(p.Steps) == 0:
		add("steps", "min", "1")
	case len(p.Steps) > MaxRolloutSteps:
		add("steps", "max", strconv.Itoa(MaxRolloutSteps))
	}
	last, deploys := 0, 0
	v := p.Verification
	for i, s := range p.Steps {
		at := fmt.Sprintf("steps[%d].", i)
		kinds := 0
		if s.Percent != 0 {
			kinds++
		}
		if len(s.Targets) > 0 {
			kinds++
		}
		if s.Manual {
			kinds++
		}
		if kinds != 1 {
			add(at+"percent", "one_of", "percent targets manual")
			continue
		}
		if !s.Manual {
			deploys++
		}
		switch {
		case s.Percent < 0 || s.Percent > 100:
			add(at+"percent", "range", "1..100")
		case s.Percent > 0 && s.Percent <= last:
			add(at+"percent", "gt", strconv.Itoa(last))
		case s.Percent > 0:
			last = s.Percent
		}
		for j, t := range s.Targets {
			if blank(t) {
				add(fmt.Sprintf("%stargets[%d]", at, j), "required", "")
			}
		}
		switch {
		case s.Bake < 0:
			add(at+"bake", "gt", "0")
		case s.Bake > 0 && v.Interval > 0 && s.Bake < v.Interval:
			add(at+"bake", "gtefield", "verification.interval")
		case s.Bake > 0 && v.Interval > 0 && s.Bake/v.Interval > MaxMeasurements:
			add(at+"bake", "max", fmt.Sprintf("%d intervals", MaxMeasurements))
		}
		if len(s.Name) > 200 {
			add(at+"name", "max", "200")
		}
	}
	if deploys > 0 {
		switch {
		case len(v.Checks) == 0:
			add("verification.checks", "min", "1")
		case len(v.Checks) > MaxProbeChecks:
			add("verification.checks", "max", strconv.Itoa(MaxProbeChecks))
		}
		if v.Interval <= 0 {
			add("verification.interval", "gt", "0")
		}
		if v.Measurements <= 0 || v.Measurements > MaxMeasurements {
			add("verification.measurements", "range", fmt.Sprintf("1..%d", MaxMeasurements))
		}
	}
	names := map[string]bool{}
	for i, c := range v.Checks {
		at := fmt.Sprintf("verification.checks[%d].", i)
		switch {
		case !validID(c.Name):
			add(at+"name", "id", c.Name)
		case names[c.Name]:
			add(at+"name", "unique", c.Name)
		}
		names[c.Name] = true
		if _, ok := m.probes[c.Probe]; !ok {
			add(at+"probe", "registered", c.Probe)
		}
		if c.Max == nil && c.Min == nil {
			add(at+"max", "required_without", "min")
		}
		for _, b := range []*float64{c.Max, c.Min} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				add(at+"max", "finite", "")
			}
		}
		if c.Max != nil && c.Min != nil && *c.Min > *c.Max {
			add(at+"min", "ltefield", "max")
		}
		if len(c.Query) > 4000 {
			add(at+"query", "max", "4000")
		}
	}
	if v.FailureLimit < 0 {
		add("verification.failure_limit", "gte", "0")
	}
	if v.InconclusiveLimit < 0 {
		add("verification.inconclusive_limit", "gte", "0")
	}
	if v.Timeout < 0 {
		add("verification.timeout", "gte", "0")
	}
	for _, f := range []struct {
		name string
		p    FailurePolicy
	}{{"on_failure", p.OnFailure}, {"on_inconclusive", p.OnInconclusive}} {
		if f.p != "" && f.p != FailureRollback && f.p != FailurePause {
			add(f.name, "oneof", "rollback pause")
		}
	}
	if p.Watch < 0 {
		add("watch", "gte", "0")
	}
	if p.DeployTimeout < 0 {
		add("deploy_timeout", "gte", "0")
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

// StartRollout starts the release's rollout to environment env under plan,
// as by (who needs AuthRollout; the rollout's deploys, rollback and the
// complete event are done in their name). The release must be deploying
// (ErrWrongStage), with no other rollout under way (ErrRolloutState). The
// runner then drives it (Manager.RunDue): each step is deployed by the
// Deployer, verified by its probes for its bake time, and followed by the
// next; the last step of the production environment completes the
// release.
//
// It returns a *ValidationError for a bad plan (ValidatePlan), an unknown
// environment ("environment") or a Manager without a Deployer
// ("deployer"); a *PromotionError when the environments that must come
// first have not succeeded; an *ApprovalsMissingError when the
// environment's approvals are missing; a *CalendarError (ErrFreeze …)
// when a window scoped to env forbids now. Nothing is stored on error.
func (m *Manager) StartRollout(ctx context.Context, id string, by Actor, env string, plan RolloutPlan) (*Release, error) {
	i, e := m.env(env)
	switch {
	case e == nil:
		return nil, invalidParam("environment", "oneof", m.envNames())
	case m.deployer == nil:
		return nil, invalid("deployer", "required")
	}
	if err := m.ValidatePlan(plan); err != nil {
		return nil, err
	}
	plan = plan.clone()
	if plan.OnFailure == "" {
		plan.OnFailure = FailureRollback
	}
	if plan.OnInconclusive == "" {
		plan.OnInconclusive = FailurePause
	}
	if plan.DeployTimeout == 0 {
		plan.DeployTimeout = DefaultDeployTimeout
	}
	if !e.Production {
		plan.Watch = 0
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionRollout, authAction: AuthRollout, managed: true,
		allow:   inStages("start a rollout", []Stage{StageDeploying}),
		reasonf: func(*Release) string { return "rollout to " + env + " started" },
		details: func(*Release) map[string]string {
			return map[string]string{"environment": env, "steps": strconv.Itoa(len(plan.Steps)), "phase": string(PhaseDeploying)}
		},
	}, func(r *Release) error {
		if r.Rollout.Active() {
			return fmt.Errorf("%w: %q is rolling out to %s (%s)", ErrRolloutState, id, r.Rollout.Environment, r.Rollout.Phase)
		}
		if err := m.checkPromotion(r, i); err != nil {
			return err
		}
		now := m.Now()
		if err := m.checkEnvApprovals(r, e, now); err != nil {
			return err
		}
		cal, err := m.envCalendar(ctx, env)
		if err != nil {
			return err
		}
		if err := cal.Allowed(Span{Start: now, End: now.Add(time.Second)}, r.Services); err != nil {
			return err
		}
		r.Rollout = &Rollout{Environment: env, Plan: plan, Phase: PhaseDeploying, NextAt: now,
			StartedBy: Actor{ID: by.ID, Roles: slices.Clone(by.Roles)}, StartedAt: now}
		d := EnvDeployment{Environment: env, State: RolloutRunning, StartedAt: now}
		if old := r.deployment(env); old != nil {
			*old = d
		} else {
			r.Deployments = append(r.Deployments, d)
		}
		return nil
	})
}

// RolloutCommand is what an actor tells a paused (or running) rollout.
type RolloutCommand string

// The rollout commands of RolloutAction.
const (
	// RolloutResume continues past a manual step.
	RolloutResume RolloutCommand = "resume"
	// RolloutRetry deploys and verifies the current step again, after a
	// failure paused it.
	RolloutRetry RolloutCommand = "retry"
	// RolloutSkip treats the current step as passed and moves on.
	RolloutSkip RolloutCommand = "skip"
	// RolloutAbort rolls the environment back (the rollback event fires).
	RolloutAbort RolloutCommand = "abort"
)

// RolloutAction applies an actor's decision to the release's rollout:
// resume a manual step, retry or skip a step that failed under guided
// failure, or abort (from any phase but done). by needs AuthRollout;
// reason goes into the audit entry (required for skip and abort). A
// command the rollout's phase does not allow returns an error matching
// ErrRolloutState; an unknown command a *ValidationError.
func (m *Manager) RolloutAction(ctx context.Context, id string, by Actor, cmd RolloutCommand, reason string) (*Release, error) {
	switch cmd {
	case RolloutResume, RolloutRetry, RolloutSkip, RolloutAbort:
	default:
		return nil, invalidParam("command", "oneof", "resume retry skip abort")
	}
	if (cmd == RolloutSkip || cmd == RolloutAbort) && blank(reason) {
		return nil, invalid("reason", "required")
	}
	if len(reason) > 4000 {
		return nil, invalidParam("reason", "max", "4000")
	}
	var step int
	r, err := m.editWith(ctx, id, by, editOpts{action: ActionRollout, authAction: AuthRollout, managed: true, reason: reason,
		allow: func(*Release) error { return nil },
		details: func(r *Release) map[string]string {
			return map[string]string{"environment": r.Rollout.Environment, "command": string(cmd), "step": strconv.Itoa(step), "phase": string(r.Rollout.Phase)}
		},
	}, func(r *Release) error {
		ro := r.Rollout
		if !ro.Active() {
			return fmt.Errorf("%w: %q has no rollout under way", ErrRolloutState, id)
		}
		step = ro.Step
		now := m.Now()
		manual := ro.Phase == PhasePaused && ro.Plan.Steps[ro.Step].Manual
		switch {
		case cmd == RolloutAbort:
			if ro.Phase == PhaseRollingBack {
				return fmt.Errorf("%w: already rolling back", ErrRolloutState)
			}
			ro.Phase, ro.NextAt, ro.Reason = PhaseRollingBack, now, "aborted by "+by.ID+": "+reason
		case ro.Phase != PhasePaused:
			return fmt.Errorf("%w: %s needs a paused rollout; it is %s", ErrRolloutState, cmd, ro.Phase)
		case cmd == RolloutResume && !manual:
			return fmt.Errorf("%w: resume continues a manual step; the rollout paused on a failure (retry, skip or abort)", ErrRolloutState)
		case cmd == RolloutRetry && manual:
			return fmt.Errorf("%w: retry follows a failure; this is a manual step (resume)", ErrRolloutState)
		case cmd == RolloutRetry:
			ro.Phase, ro.NextAt, ro.Measurements, ro.Reason = PhaseDeploying, now, nil, ""
		default: // resume a manual step, skip any paused one
			m.stepPassed(r, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := m.completeIfDone(ctx, id, r.Rollout.Environment); err != nil {
		return nil, err
	}
	return m.store.Get(ctx, id)
}

// stepPassed moves r's rollout past its current step: to the next one,
// or to the end of the environment (success).
func (m *Manager) stepPassed(r *Release, now time.Time) {
	ro := r.Rollout
	if d := r.deployment(ro.Environment); d != nil {
		d.Steps = ro.Step + 1
	}
	ro.Measurements, ro.Reason = nil, ""
	if ro.Step+1 < len(ro.Plan.Steps) {
		ro.Step++
		ro.Phase, ro.NextAt = PhaseDeploying, now
		return
	}
	d := r.deployment(ro.Environment)
	d.State, d.FinishedAt, d.Result = RolloutSucceeded, now, "all steps passed"
	ro.Phase, ro.NextAt = PhaseDone, time.Time{}
	if _, e := m.env(ro.Environment); e != nil && e.Production && ro.Plan.Watch > 0 {
		ro.Phase, ro.NextAt, ro.WatchUntil = PhaseWatching, now.Add(ro.Plan.Verification.Interval), now.Add(ro.Plan.Watch)
	}
}

// driveRollout does what is due on the release's rollout (see RunDue),
// one phase at a time, until nothing more is due now.
func (m *Manager) driveRollout(ctx context.Context, id string) ([]DueAction, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	var out []DueAction
	for range 4*MaxRolloutSteps + 4 {
		act, err := m.rolloutStep(ctx, id, token)
		if act != nil {
			out = append(out, *act)
		}
		if err != nil || act == nil {
			return out, err
		}
	}
	return out, nil
}

// rolloutStep does the next due thing of the release's rollout, if any.
func (m *Manager) rolloutStep(ctx context.Context, id, token string) (*DueAction, error) {
	cur, err := m.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	ro := cur.Rollout
	now := m.Now()
	if at, ok := ro.due(); !ok || at.After(now) {
		return nil, nil
	}
	act := &DueAction{ReleaseID: id, Rollout: ro.Environment}
	switch ro.Phase {
	case PhaseDeploying:
		step := ro.Plan.Steps[ro.Step]
		if step.Manual {
			act.Detail = fmt.Sprintf("step %d (%s): paused for a manual approval", ro.Step+1, step.Label())
			_, err := m.rolloutWrite(ctx, cur, token, false, func(r *Release) string {
				r.Rollout.Phase, r.Rollout.NextAt, r.Rollout.Reason = PhasePaused, time.Time{}, "waiting for a manual approval: "+step.Label()
				return act.Detail
			})
			return act, err
		}
		cal, err := m.envCalendar(ctx, ro.Environment)
		if err != nil {
			return nil, err
		}
		if cerr := cal.Allowed(Span{Start: now, End: now.Add(time.Second)}, cur.Services); cerr != nil {
			next, ok := retryAt(now, cerr)
			if !ok {
				next = now.Add(ro.Plan.Verification.Interval)
			}
			act.Detail = fmt.Sprintf("step %d (%s) deferred to %s: %s", ro.Step+1, step.Label(), next.UTC().Format(time.RFC3339), cerr)
			_, err := m.rolloutWrite(ctx, cur, token, false, func(r *Release) string { r.Rollout.NextAt = next; return act.Detail })
			return act, err
		}
		return act, m.rolloutCall(ctx, cur, token, act, false)
	case PhaseRollingBack:
		return act, m.rolloutCall(ctx, cur, token, act, true)
	case PhaseVerifying, PhaseWatching:
		return act, m.measure(ctx, cur, token, act)
	}
	return nil, nil
}

// rolloutWrite applies fn to a copy of cur and saves it, with an audit
// entry carrying the reason fn returns (none for ""), if the rollout is
// still where cur had it (same phase and step) and, with claimed, still
// held by token. A concurrent change wins: the write is dropped, and
// reason is "".
func (m *Manager) rolloutWrite(ctx context.Context, cur *Release, token string, claimed bool, fn func(r *Release) string) (reason string, err error) {
	for attempt := 0; ; attempt++ {
		r := cur.Clone()
		reason = fn(r)
		now := m.Now()
		r.UpdatedAt = now
		var entries []AuditEntry
		if reason != "" {
			d := map[string]string{"environment": cur.Rollout.Environment, "step": strconv.Itoa(cur.Rollout.Step), "phase": string(r.Rollout.Phase)}
			entries = append(entries, r.Record(AuditEntry{At: now, Actor: RunnerActor, Action: ActionRollout, Reason: reason, Details: d}))
		}
		err = m.update(ctx, r, entries...)
		if err == nil {
			return reason, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= m.retries {
			return "", err
		}
		fresh, gerr := m.store.Get(ctx, cur.ID)
		if gerr != nil {
			return "", gerr
		}
		if o, n := cur.Rollout, fresh.Rollout; n == nil || n.Phase != o.Phase || n.Step != o.Step || n.Environment != o.Environment ||
			!n.NextAt.Equal(o.NextAt) || len(n.Measurements) != len(o.Measurements) || (claimed && n.Driver != token) {
			return "", nil // someone else moved it on (another runner's round, a command)
		}
		cur = fresh
	}
}

// rolloutCall deploys the current step (or, with back, rolls back) through
// the Deployer: it claims the rollout for the call, makes it, and records
// the result.
func (m *Manager) rolloutCall(ctx context.Context, cur *Release, token string, act *DueAction, back bool) error {
	ro := cur.Rollout
	if ro.Driver != "" && ro.Driver != token && m.Now().Before(ro.DriverUntil) {
		return nil // another runner is calling the Deployer
	}
	if m.deployer == nil {
		return fmt.Errorf("relman: release %q is rolling out to %s but this Manager has no Deployer (WithDeployer): %w", cur.ID, ro.Environment, ErrInvalid)
	}
	step := ro.Plan.Steps[ro.Step]
	what := fmt.Sprintf("step %d (%s)", ro.Step+1, step.Label())
	if back {
		what = "rollback"
	}
	// Claim: record that a call is in flight, so that no one else makes it.
	claimAt := m.Now()
	claim := cur.Clone()
	claim.Rollout.Driver, claim.Rollout.DriverUntil = token, claimAt.Add(ro.Plan.DeployTimeout)
	claim.Rollout.NextAt = claim.Rollout.DriverUntil
	claim.UpdatedAt = claimAt
	e := claim.Record(AuditEntry{At: claimAt, Actor: RunnerActor, Action: ActionRollout, Reason: what + " started",
		Details: map[string]string{"environment": ro.Environment, "step": strconv.Itoa(ro.Step), "phase": string(ro.Phase)}})
	if err := m.update(ctx, claim, e); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil // someone else got there first
		}
		return err
	}
	req := DeployRequest{Release: claim.Clone(), Environment: ro.Environment, Step: ro.Step, Plan: step}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ro.Plan.DeployTimeout)
	var callErr error
	if back {
		callErr = m.deployer.Rollback(cctx, req)
	} else {
		callErr = m.deployer.Deploy(cctx, req)
	}
	cancel()
	now := m.Now()
	apply := func(r *Release) (reason string) {
		rr := r.Rollout
		rr.Driver, rr.DriverUntil = "", time.Time{}
		switch {
		case callErr != nil && back:
			rr.NextAt = now.Add(rr.Plan.Verification.Interval) // try the rollback again
			reason = "rollback failed, will retry: " + callErr.Error()
		case callErr != nil:
			reason = what + " failed to deploy: " + callErr.Error()
			m.stepFailed(r, now, VerdictFail, reason)
		case back:
			d := r.deployment(rr.Environment)
			d.State, d.FinishedAt, d.Result = RolloutRolledBack, now, rr.Reason
			rr.Phase, rr.NextAt = PhaseDone, time.Time{}
			reason = "rolled back: " + rr.Reason
		default:
			rr.Phase, rr.NextAt, rr.Measurements = PhaseVerifying, now.Add(rr.Plan.Verification.Interval), nil
			reason = what + " deployed"
		}
		return reason
	}
	// Record it, unless the rollout moved on meanwhile (an abort).
	reason, err := m.rolloutWrite(ctx, claim, token, true, apply)
	if err != nil {
		return err
	}
	act.Detail = reason
	if back && callErr == nil && reason != "" {
		return m.fireFromRollout(ctx, cur.ID, EventRollback, reason)
	}
	return nil
}

// fireFromRollout fires ev as the rollout's starter, if the lifecycle
// allows it from the release's stage; a refusal is recorded in the
// audit trail rather than returned.
func (m *Manager) fireFromRollout(ctx context.Context, id string, ev Event, reason string) error {
	r, err := m.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if _, err := m.lc.target(id, r.Stage, ev); err != nil {
		return nil // e.g. a rollback after the release was already rolled back
	}
	if len(reason) > 4000 {
		reason = clip(reason, 4000)
	}
	_, err = m.Fire(ctx, id, ev, Request{Actor: r.Rollout.StartedBy, Reason: reason})
	if err != nil && !isStoreError(err) {
		r, gerr := m.store.Get(ctx, id)
		if gerr != nil {
			return gerr
		}
		_, err = m.rolloutWrite(ctx, r, "", false, func(*Release) string { return fmt.Sprintf("%s could not fire: %s", ev, err) })
	}
	return err
}

// stepFailed applies the plan's failure policy to a step that failed or
// was inconclusive.
func (m *Manager) stepFailed(r *Release, now time.Time, v Verdict, reason string) {
	ro := r.Rollout
	policy := ro.Plan.OnFailure
	if v == VerdictInconclusive {
		policy = ro.Plan.OnInconclusive
	}
	ro.Reason = reason
	if policy == FailurePause {
		ro.Phase, ro.NextAt = PhasePaused, time.Time{}
		return
	}
	ro.Phase, ro.NextAt = PhaseRollingBack, now
}

// measure takes one round of measurements of the rollout's checks and
// judges the step (or the watch).
func (m *Manager) measure(ctx context.Context, cur *Release, token string, act *DueAction) error {
	ro := cur.Rollout
	v := ro.Plan.Verification
	now := m.Now()
	step := -1
	if ro.Phase == PhaseVerifying {
		step = ro.Step
	}
	// The checks are measured at once, so a round takes at most one
	// wait, however many checks there are.
	round := make([]Measurement, len(v.Checks))
	wait := cmp.Or(v.Timeout, min(v.Interval, DefaultProbeWait))
	var wg sync.WaitGroup
	for i, c := range v.Checks {
		wg.Go(func() { round[i] = m.probeOnce(ctx, cur, c, step, now, wait) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("relman: measure %q: %w", cur.ID, err) // a round cut short is not recorded
	}
	var incident *Incident
	reason, err := m.rolloutWrite(ctx, cur, token, false, func(r *Release) (reason string) {
		incident = nil
		rr := r.Rollout
		rr.Measurements = append(rr.Measurements, round...)
		fails, inconc, rounds := tally(rr.Measurements, len(v.Checks))
		summary := summarize(rr.Measurements, len(v.Checks))
		switch {
		case rr.Phase == PhaseWatching && fails > v.FailureLimit:
			reason = fmt.Sprintf("watch in %s breached: %d failed rounds: %s", rr.Environment, fails, summary)
			n := 1
			for _, inc := range r.Incidents {
				if strings.HasPrefix(inc.ID, "watch-") {
					n++
				}
			}
			incident = &Incident{ID: fmt.Sprintf("watch-%d", n), Severity: SeverityHigh, Relation: RelationCaused,
				Summary: clip(reason, 4000), OpenedAt: now, By: RunnerActor}
			r.Incidents = append(r.Incidents, *incident)
			rr.Reason = reason
			if rr.Plan.WatchRollback {
				rr.Phase, rr.NextAt = PhaseRollingBack, now
			} else {
				rr.Phase, rr.NextAt = PhaseDone, time.Time{}
			}
		case rr.Phase == PhaseWatching && !now.Before(rr.WatchUntil):
			reason = fmt.Sprintf("watch in %s ended healthy: %s", rr.Environment, summary)
			rr.Phase, rr.NextAt, rr.Reason = PhaseDone, time.Time{}, ""
		case rr.Phase == PhaseWatching:
			rr.NextAt = now.Add(v.Interval)
			if len(rr.Measurements) > MaxMeasurements*len(v.Checks) {
				rr.Measurements = rr.Measurements[len(v.Checks):] // a sliding window while watching
			}
		case fails > v.FailureLimit:
			reason = fmt.Sprintf("step %d (%s) failed verification: %d failed rounds (limit %d): %s", rr.Step+1, rr.Plan.Steps[rr.Step].Label(), fails, v.FailureLimit, summary)
			m.stepFailed(r, now, VerdictFail, reason)
		case inconc > v.InconclusiveLimit:
			reason = fmt.Sprintf("step %d (%s) inconclusive: %d rounds without an answer (limit %d): %s", rr.Step+1, rr.Plan.Steps[rr.Step].Label(), inconc, v.InconclusiveLimit, summary)
			m.stepFailed(r, now, VerdictInconclusive, reason)
		case rounds >= rr.Plan.rounds(rr.Step):
			reason = fmt.Sprintf("step %d (%s) passed verification: %s", rr.Step+1, rr.Plan.Steps[rr.Step].Label(), summary)
			m.stepPassed(r, now)
		default:
			rr.NextAt = now.Add(v.Interval)
		}
		return reason
	})
	if err != nil {
		return err
	}
	if reason == "" {
		parts := make([]string, len(round))
		for i, ms := range round {
			parts[i] = ms.String()
		}
		what := "watch"
		if step >= 0 {
			what = fmt.Sprintf("step %d (%s)", step+1, ro.Plan.Steps[step].Label())
		}
		act.Detail = fmt.Sprintf("%s: measured %s", what, strings.Join(parts, ", "))
		return nil
	}
	act.Detail = reason
	if incident != nil {
		act.Detail += "; incident " + incident.ID + " opened"
	}
	return m.completeIfDone(ctx, cur.ID, ro.Environment)
}

// completeIfDone fires complete when the rollout to the production
// environment env has just succeeded.
func (m *Manager) completeIfDone(ctx context.Context, id, env string) error {
	if _, e := m.env(env); e == nil || !e.Production {
		return nil
	}
	r, err := m.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if d := r.deployment(env); d == nil || d.State != RolloutSucceeded || r.Stage != StageDeploying {
		return nil
	}
	return m.fireFromRollout(ctx, id, EventComplete, "rollout to "+env+" succeeded")
}

// probeOnce asks one check's probe for a value, bounded by wait.
func (m *Manager) probeOnce(ctx context.Context, r *Release, c ProbeCheck, step int, now time.Time, wait time.Duration) Measurement {
	ms := Measurement{At: now, Check: c.Name, Verdict: VerdictInconclusive}
	p := m.probes[c.Probe]
	if p == nil {
		ms.Error = "probe " + c.Probe + " is not registered"
		return ms
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	type answer struct {
		v   float64
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		defer func() {
			if rec := recover(); rec != nil {
				ch <- answer{err: fmt.Errorf("probe panicked: %v", rec)}
			}
		}()
		v, err := p.Measure(pctx, ProbeQuery{Release: r.Clone(), Environment: r.Rollout.Environment, Step: step,
			Query: c.Query, Params: maps.Clone(c.Params), At: now})
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		switch {
		case a.err != nil:
			ms.Error = clip(a.err.Error(), 500)
		case math.IsNaN(a.v) || math.IsInf(a.v, 0):
			ms.Error = "not a finite number"
		default:
			v := a.v
			ms.Value = &v
			ms.Verdict = VerdictPass
			if (c.Max != nil && v > *c.Max) || (c.Min != nil && v < *c.Min) {
				ms.Verdict = VerdictFail
			}
		}
	case <-pctx.Done():
		ms.Error = "no answer within " + wait.String()
		if ctx.Err() != nil {
			ms.Error = "cancelled"
		}
	}
	return ms
}

// tally counts the rounds of ms (checks measurements each) that failed
// (a check failed) and that were inconclusive (none failed, one could not
// tell), and the rounds in all.
func tally(ms []Measurement, checks int) (fails, inconc, rounds int) {
	for i := 0; i+checks <= len(ms); i += checks {
		rounds++
		var f, u bool
		for _, x := range ms[i : i+checks] {
			f = f || x.Verdict == VerdictFail
			u = u || x.Verdict == VerdictInconclusive
		}
		switch {
		case f:
			fails++
		case u:
			inconc++
		}
	}
	return fails, inconc, rounds
}

// summarize lists the measurements that decided a verdict: every failed
// or inconclusive one, and the last round.
func summarize(ms []Measurement, checks int) string {
	var parts []string
	for i, x := range ms {
		if x.Verdict != VerdictPass || i >= len(ms)-checks {
			parts = append(parts, x.At.UTC().Format("15:04:05")+" "+x.String())
		}
	}
	if len(parts) > 20 {
		parts = append(parts[:20], fmt.Sprintf("… %d more", len(parts)-20))
	}
	return strings.Join(parts, "; ")
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
