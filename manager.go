package relman

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrTerminal is returned when a release is in a terminal stage and its
// data can no longer change.
var ErrTerminal = errors.New("relman: release is in a terminal stage")

// Authorizer decides whether an actor may act on a release. action is the
// name of the event being fired or checked, or one of the Auth* actions
// below; r is the release as stored, or nil where the action concerns no
// release (AuthWindow). A non-nil error refuses: the call then returns a
// *ForbiddenError wrapping it. No lifecycle event may be named like an
// Auth* action.
type Authorizer interface {
	Authorize(ctx context.Context, a Actor, action string, r *Release) error
}

// The actions the Manager asks its Authorizer about besides the
// lifecycle's events.
const (
	// AuthCreate: Create; r is the release to be created.
	AuthCreate = "create"
	// AuthEdit: Edit, RecordTest, RecordReview, AddFeedback, OpenIncident
	// and ResolveIncident; r is the stored release.
	AuthEdit = "edit"
	// AuthApproval: Approve and RejectApproval; r is the stored release.
	AuthApproval = "approval"
	// AuthRisk: Assess, SetRisk and RemoveRisk; r is the stored release.
	AuthRisk = "risk"
	// AuthWindow: PutWindow, DeleteWindow and ImportWindows, which change
	// the calendar, not a release: r is nil.
	AuthWindow = "window"
	// AuthOverrideFreeze: a request to plan, replan or deploy an
	// emergency release inside a freeze (see ParamOverride); r is the
	// release the calendar gate is checking.
	AuthOverrideFreeze = "override-freeze"
	// AuthSchedule: Schedule and CancelScheduled; r is the stored
	// release. Schedule also asks about the event itself, and the event
	// is authorized again, for the same actor, when it fires.
	AuthSchedule = "schedule"
	// AuthRollout: StartRollout and RolloutAction; r is the stored
	// release. What the rollout does later (deploy steps, rollback, the
	// complete and rollback events) is done as the actor who started it.
	AuthRollout = "rollout"
)

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(ctx context.Context, a Actor, action string, r *Release) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, a Actor, action string, r *Release) error {
	return f(ctx, a, action, r)
}

// Request carries who fires an event, why, and with what.
type Request struct {
	Actor  Actor             `json:"actor"`
	Reason string            `json:"reason,omitempty" validate:"max=4000"`
	Params map[string]string `json:"params,omitempty" validate:"max=32,dive,keys,required,max=100,endkeys,max=4000"`
	Window *Span             `json:"window,omitempty"` // for plan and replan
}

// Option configures a Manager.
type Option func(*Manager)

// WithLifecycle sets the lifecycle (default: DefaultLifecycle()).
func WithLifecycle(lc *Lifecycle) Option { return func(m *Manager) { m.lc = lc } }

// WithClock sets the clock every time check reads (default: time.Now).
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.clock = now } }

// WithAuthorizer sets the Authorizer (default: allow everyone).
func WithAuthorizer(a Authorizer) Option { return func(m *Manager) { m.auth = a } }

// WithRetries sets how many times Fire and Edit start over, from a fresh
// read and with every gate checked again, when the store reports a
// concurrent change (ErrConflict). The default is 3; 0 returns the first
// conflict.
func WithRetries(n int) Option { return func(m *Manager) { m.retries = n } }

// WithGate adds a named gate to event ev of the lifecycle.
func WithGate(ev Event, name string, g Gate) Option {
	return func(m *Manager) { m.extra.AddGate(ev, name, g) }
}

// WithBeforeHook adds a before-hook to event ev (or AnyEvent).
func WithBeforeHook(ev Event, name string, h BeforeHook) Option {
	return func(m *Manager) { m.extra.OnBefore(ev, name, h) }
}

// WithAfterHook adds an after-hook to event ev (or AnyEvent).
func WithAfterHook(ev Event, h AfterHook) Option {
	return func(m *Manager) { m.extra.OnAfter(ev, h) }
}

// Manager runs releases through a lifecycle on top of a Store. It is safe
// for concurrent use; several Managers may share one Store.
//
// Concurrency is optimistic: every write carries the revision it read, and
// the store refuses a stale one with ErrConflict. Fire and Edit then start
// over from a fresh read (see WithRetries), so no update is ever lost and
// gates always judge the release as it is stored.
type Manager struct {
	store   Store
	lc      *Lifecycle
	clock   func() time.Time
	auth    Authorizer
	retries int
	extra   LifecycleSpec // gates and hooks added by options

	// Risk and approvals (risk.go, approval.go).
	policy    ApprovalPolicy
	policySet bool // WithPolicy was given: replace the lifecycle's approvals gate
	matrix    Matrix
	assessors []Assessor
	graph     *DependencyGraph

	// Calendar (calendar.go, schedule.go).
	windows     []Window
	capacity    int
	blocking    []ConflictKind
	blockingSet bool
	sched       chan struct{} // the schedule lock when the store is no Locker

	// Environments and rollouts (environment.go, rollout.go).
	envs     Environments
	deployer Deployer
	probes   map[string]Probe

	// Signed audit (signed.go).
	signer *Signer
	keys   Keyring
}

// NewManager returns a Manager over store. It fails with a
// *LifecycleError if a gate or hook option names an unknown event.
func NewManager(store Store, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, invalid("store", "required")
	}
	m := &Manager{store: store, lc: DefaultLifecycle(), clock: time.Now, retries: 3, sched: make(chan struct{}, 1),
		policy: DefaultPolicy(), matrix: DefaultMatrix()}
	for i, o := range opts {
		if o == nil {
			return nil, &ValidationError{Fields: []FieldError{{Field: fmt.Sprintf("options[%d]", i), Rule: "required"}}}
		}
		o(m)
	}
	switch {
	case m.lc == nil:
		return nil, invalid("lifecycle", "required")
	case m.clock == nil:
		return nil, invalid("clock", "required")
	case m.retries < 0:
		return nil, invalid("retries", "gte=0")
	case m.signer != nil && !m.signer.valid():
		return nil, invalid("signer", "required") // a Signer not made by NewSigner
	}
	if err := m.setupRisk(); err != nil {
		return nil, err
	}
	if err := m.setupCalendar(); err != nil {
		return nil, err
	}
	if err := m.envs.Validate(); err != nil {
		return nil, err
	}
	if _, ok := m.lc.events[EventApprove]; ok && !m.lc.hasGate(EventApprove, GateSegregation) {
		m.extra.AddGate(EventApprove, GateSegregation, m.segregationGate())
	}
	if spec := m.lc.Spec(); len(m.extra.Gates)+len(m.extra.Before)+len(m.extra.After) > 0 || m.policySet || hasBoundGates(spec) {
		if m.policySet {
			replacePolicyGate(&spec, m.policy)
		}
		m.bindCalendar(&spec)
		spec.Gates = append(spec.Gates, m.extra.Gates...)
		spec.Before = append(spec.Before, m.extra.Before...)
		spec.After = append(spec.After, m.extra.After...)
		lc, err := NewLifecycle(spec)
		if err != nil {
			return nil, err
		}
		m.lc = lc
	}
	return m, nil
}

// Lifecycle returns the lifecycle the Manager runs.
func (m *Manager) Lifecycle() *Lifecycle { return m.lc }

// Store returns the Manager's store.
func (m *Manager) Store() Store { return m.store }

// Now returns the Manager's clock reading, in UTC, to the microsecond (the
// precision every store keeps).
func (m *Manager) Now() time.Time { return m.clock().UTC().Truncate(time.Microsecond) }

type inTransitionKey struct{}

type inTransition struct {
	m      *Manager
	id     string
	parent *inTransition
}

// transitionCtx is the context gates, effects and before-hooks see: their
// caller's, marked with the transition under way (one allocation, where
// context.WithValue and a marker would take two).
type transitionCtx struct {
	context.Context
	it inTransition
}

func (c *transitionCtx) Value(key any) any {
	if _, ok := key.(inTransitionKey); ok {
		return &c.it
	}
	return c.Context.Value(key)
}

// guard returns ErrReentrant if ctx comes from a gate, effect or
// before-hook of a transition of release id on this Manager.
func (m *Manager) guard(ctx context.Context, id string) error {
	for it, _ := ctx.Value(inTransitionKey{}).(*inTransition); it != nil; it = it.parent {
		if it.m == m && it.id == id {
			return fmt.Errorf("%w (release %q)", ErrReentrant, id)
		}
	}
	return nil
}

func (m *Manager) authorize(ctx context.Context, a Actor, action string, r *Release) error {
	if m.auth == nil {
		return nil
	}
	if err := m.auth.Authorize(ctx, a, action, r); err != nil {
		return &ForbiddenError{Actor: a.ID, Action: action, Err: err}
	}
	return nil
}

func checkActor(a Actor) error {
	if blank(a.ID) {
		return invalid("actor.id", "required")
	}
	return checkActorText(a)
}

// checkActorText checks the actor's id and roles as CheckInput would,
// without reflection (it runs on every call).
func checkActorText(a Actor) error {
	if rule := textRule(a.ID); rule != "" {
		return invalid("actor.id", rule)
	}
	if len(a.ID) > 200 {
		return invalidParam("actor.id", "max", "200")
	}
	if len(a.Roles) > MaxRoles {
		return invalidParam("actor.roles", "max", strconv.Itoa(MaxRoles))
	}
	for i, role := range a.Roles {
		if rule := textRule(role); rule != "" {
			return invalid(fmt.Sprintf("actor.roles[%d]", i), rule)
		}
		if len(role) > 100 {
			return invalidParam(fmt.Sprintf("actor.roles[%d]", i), "max", "100")
		}
	}
	return nil
}

// Create validates r and stores it as a new release in the lifecycle's
// initial stage, with a first audit entry. The Manager sets Stage,
// Revision, Head and the timestamps, and clears Approvals and Assessment
// (only Approve, RejectApproval and Assess write them); r itself is not
// modified. It returns the stored release, a *ValidationError (risks are
// also checked against the Manager's Matrix), or an error matching
// ErrExists.
func (m *Manager) Create(ctx context.Context, r *Release, by Actor) (*Release, error) {
	if err := checkActor(by); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, invalid("release", "required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("relman: create: %w", err)
	}
	c := r.Clone()
	now := m.Now()
	c.Stage = m.lc.Initial()
	c.Revision = 0
	c.Head = AuditHead{}
	c.CreatedAt, c.UpdatedAt, c.EnteredAt = now, now, now
	if err := evidenceEmpty(c); err != nil {
		return nil, err
	}
	c.Parties = addParties(nil, c.Requester, c.Owner)
	if err := m.validate(c); err != nil {
		return nil, err
	}
	if err := m.authorize(ctx, by, AuthCreate, c); err != nil {
		return nil, err
	}
	e := c.Record(AuditEntry{At: now, Actor: by.ID, Action: ActionCreate, To: c.Stage})
	if err := m.create(ctx, c, e); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the release with that id, or an error matching ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (*Release, error) {
	if blank(id) {
		return nil, invalid("id", "required")
	}
	return m.store.Get(ctx, id)
}

// List returns the releases matching q (see Query).
func (m *Manager) List(ctx context.Context, q Query) ([]*Release, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var bad []FieldError
	for i, st := range q.Stages {
		if !m.lc.IsStage(st) {
			bad = append(bad, FieldError{Field: fmt.Sprintf("stages[%d]", i), Rule: "stage", Param: string(st)})
		}
	}
	if len(bad) > 0 {
		return nil, &ValidationError{Fields: bad}
	}
	return m.store.List(ctx, q)
}

// History returns the audit trail of a release, oldest first.
func (m *Manager) History(ctx context.Context, id string) ([]AuditEntry, error) {
	if blank(id) {
		return nil, invalid("id", "required")
	}
	return m.store.History(ctx, id)
}

// Verify reads a release and its history and checks the hash chain (see
// VerifyHistory) or, when the Manager has a signer or a keyring, the
// signatures too (see VerifySigned).
func (m *Manager) Verify(ctx context.Context, id string) error {
	r, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	h, err := m.store.History(ctx, id)
	if err != nil {
		return err
	}
	if k := m.keyring(); len(k) > 0 {
		return VerifySigned(r, h, k)
	}
	return VerifyHistory(h, &r.Head)
}

// prepared is a transition that passed every check and is ready to
// commit. prepare fills one its caller holds, so that it costs no
// allocation.
type prepared struct {
	ev      *compiledEvent
	cand    *Release
	t       Transition
	details map[string]string
}

// prepare runs, in order: the actor's authorization, the event lookup, the
// effects on a copy of cur, every gate (collecting all refusals), and the
// before-hooks, and fills p.
func (m *Manager) prepare(ctx context.Context, p *prepared, cur *Release, ev Event, req Request, dry bool) error {
	if err := m.authorize(ctx, req.Actor, string(ev), cur); err != nil {
		return err
	}
	ce, err := m.lc.target(cur.ID, cur.Stage, ev)
	if err != nil {
		return err
	}
	t := Transition{Event: ev, From: cur.Stage, To: ce.spec.To, Actor: req.Actor, Reason: req.Reason,
		Params: req.Params, Window: req.Window, Now: m.Now(), Since: cur.EnteredAt, DryRun: dry}
	*p = prepared{ev: ce, cand: cur, t: t}
	// Gates, effects and before-hooks see a context that marks the
	// transition, so that one calling Fire on this release is refused
	// (ErrReentrant); events without them need none.
	ictx := ctx
	if len(ce.gates)+len(ce.effects)+len(ce.before) > 0 {
		parent, _ := ctx.Value(inTransitionKey{}).(*inTransition)
		ictx = &transitionCtx{Context: ctx, it: inTransition{m: m, id: cur.ID, parent: parent}}
	}
	if len(ce.effects) > 0 {
		p.cand = cur.Clone()
		for _, f := range ce.effects {
			d, err := f.Effect(p.cand, t)
			if err != nil {
				return fmt.Errorf("relman: release %q: %s: effect %s: %w", cur.ID, ev, f.Name, err)
			}
			if len(d) > 0 {
				if p.details == nil {
					p.details = make(map[string]string, len(d))
				}
				maps.Copy(p.details, d)
			}
		}
	}
	var ge *GateError
	for _, g := range ce.gates {
		if err := g.Gate.Check(ictx, p.cand, t); err != nil {
			if ge == nil {
				ge = &GateError{ReleaseID: cur.ID, Event: ev}
			}
			ge.Failures = append(ge.Failures, GateFailure{Gate: g.Name, Err: err})
		}
	}
	if ge != nil {
		return ge
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("relman: release %q: %s: %w", cur.ID, ev, err)
	}
	if !dry {
		for _, h := range ce.before {
			if err := h.Hook(ictx, p.cand, t); err != nil {
				return &VetoError{ReleaseID: cur.ID, Event: ev, Err: fmt.Errorf("%s: %w", h.Name, err)}
			}
		}
	}
	return nil
}

func checkRequest(id string, ev Event, req Request) error {
	var fields []FieldError
	if blank(id) {
		fields = append(fields, FieldError{Field: "id", Rule: "required"})
	}
	if blank(string(ev)) {
		fields = append(fields, FieldError{Field: "event", Rule: "required"})
	}
	if blank(req.Actor.ID) {
		fields = append(fields, FieldError{Field: "actor.id", Rule: "required"})
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	if err := checkActorText(req.Actor); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"id", id}, {"event", string(ev)}, {"reason", req.Reason}} {
		if rule := textRule(f.v); rule != "" {
			return invalid(f.name, rule)
		}
	}
	if w := req.Window; w != nil && (w.Start.IsZero() || !w.End.After(w.Start)) {
		return &ValidationError{Fields: []FieldError{{Field: "window.end", Rule: "gtfield", Param: "start"}}}
	}
	if len(req.Reason) > 4000 || len(req.Params) > 0 {
		return validateStruct(req)
	}
	return nil
}

// Check is a dry run of Fire: it answers whether ev could fire on the
// release now, and if not, why. It runs authorization and every gate (not
// the before-hooks) and changes nothing. It returns nil, a
// *TransitionError, a *ForbiddenError or a *GateError listing every
// refusal (GateError.NotYet tells "not yet" from "no").
func (m *Manager) Check(ctx context.Context, id string, ev Event, req Request) error {
	if err := checkRequest(id, ev, req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("relman: check %s on %q: %w", ev, id, err)
	}
	cur, _, err := m.read(ctx, id)
	if err != nil {
		return err
	}
	var p prepared
	return m.prepare(ctx, &p, cur, ev, req, true)
}

// read returns the release for Fire and Check to judge: the store's own
// value if it is a Sharer (shared is then true, and cur must not change),
// else a copy.
func (m *Manager) read(ctx context.Context, id string) (cur *Release, shared bool, err error) {
	if sh, ok := m.store.(Sharer); ok {
		cur, err = sh.GetShared(ctx, id)
		return cur, err == nil, err
	}
	cur, err = m.store.Get(ctx, id)
	return cur, false, err
}

// Fire fires ev on the release and returns the release as committed. In
// order it runs: authorization, the event's effects (on a copy), every
// gate (all refusals collected in one *GateError), the before-hooks (a
// refusal is a *VetoError), the state machine step, one atomic store
// update carrying the audit entry, then the after-hooks and stage
// observers, which cannot undo it.
//
// On ErrConflict (another writer got there first) Fire starts over from a
// fresh read, up to the Manager's retry count, so gates always judge the
// stored state; after that the conflict is returned. Starting over runs
// the effects, gates and before-hooks again, so they must be repeatable
// (a before-hook that notifies someone may do so more than once). Events
// guarded by the conflicts gate (plan, replan) run under the schedule lock
// (see Locker), so that two releases cannot book one slot at once. A cancelled context
// returns promptly with its error and nothing is written. Gates, effects
// and before-hooks must not change the release they are checking: Fire
// called from them on the same release returns ErrReentrant. Gates and
// before-hooks must not modify the *Release they receive either (effects
// work on a copy): on a store that lends its values (Sharer) it is the
// stored value itself. After-hooks may fire further events.
func (m *Manager) Fire(ctx context.Context, id string, ev Event, req Request) (*Release, error) {
	if err := checkRequest(id, ev, req); err != nil {
		return nil, err
	}
	if err := m.guard(ctx, id); err != nil {
		return nil, err
	}
	r, ce, t, e, err := m.commit(ctx, id, ev, req)
	if err != nil {
		return nil, err
	}
	m.notify(ctx, ce, r, t, e)
	return r, nil
}

// commit is Fire up to the store update: it holds the schedule lock for
// events that book time, and retries on ErrConflict. It returns the
// release as committed, the event, the transition and its audit entry.
func (m *Manager) commit(ctx context.Context, id string, ev Event, req Request) (*Release, *compiledEvent, Transition, AuditEntry, error) {
	if ce, ok := m.lc.events[ev]; ok && ce.books && ctx.Value(scheduleHeldKey{}) == nil {
		unlock, err := m.lockSchedule(ctx)
		if err != nil {
			return nil, nil, Transition{}, AuditEntry{}, fmt.Errorf("relman: fire %s on %q: schedule lock: %w", ev, id, err)
		}
		defer unlock()
		ctx = context.WithValue(ctx, scheduleHeldKey{}, true)
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, Transition{}, AuditEntry{}, fmt.Errorf("relman: fire %s on %q: %w", ev, id, err)
		}
		cur, shared, err := m.read(ctx, id)
		if err != nil {
			return nil, nil, Transition{}, AuditEntry{}, err
		}
		var p prepared
		if err := m.prepare(ctx, &p, cur, ev, req, false); err != nil {
			return nil, nil, Transition{}, AuditEntry{}, err
		}
		to, err := m.lc.step(id, cur.Stage, ev)
		if err != nil {
			return nil, nil, Transition{}, AuditEntry{}, err
		}
		r := p.cand
		if r == cur && shared {
			// The store's own value: the new version is a copy of it
			// that shares its lists, which neither side changes.
			c := *cur
			r = &c
		}
		r.Stage = to
		r.UpdatedAt, r.EnteredAt = p.t.Now, p.t.Now
		e := r.Record(AuditEntry{At: p.t.Now, Actor: req.Actor.ID, Action: ActionTransition, Event: ev,
			From: p.t.From, To: to, Reason: req.Reason, Details: p.details})
		entries := append([]AuditEntry{e}, sideEntries(r, p.t, p.details)...)
		if err := ctx.Err(); err != nil {
			return nil, nil, Transition{}, AuditEntry{}, fmt.Errorf("relman: fire %s on %q: %w", ev, id, err)
		}
		err = m.write(ctx, r, shared, entries)
		if errors.Is(err, ErrConflict) && attempt < m.retries {
			continue
		}
		if err != nil {
			return nil, nil, Transition{}, AuditEntry{}, err
		}
		if shared {
			r = r.Clone() // the store keeps r; the caller gets its own
		}
		return r, p.ev, p.t, entries[0], nil
	}
}

// sideEntries records, after a transition's own entry, what its effects
// did that deserves an entry of its own: a gate override (ActionOverride)
// and voided approvals (ActionVoid). They are saved in the same update.
func sideEntries(r *Release, t Transition, details map[string]string) []AuditEntry {
	var out []AuditEntry
	if kind := details["override"]; kind != "" {
		out = append(out, r.Record(AuditEntry{At: t.Now, Actor: t.Actor.ID, Action: ActionOverride, Event: t.Event,
			Reason: t.Reason, Details: map[string]string{"override": kind}}))
	}
	if n := details["voided_approvals"]; n != "" && n != "0" {
		d := map[string]string{"voided_approvals": n}
		if who := details["approvers"]; who != "" {
			d["approvers"] = who
		}
		out = append(out, r.Record(AuditEntry{At: t.Now, Actor: t.Actor.ID, Action: ActionVoid, Event: t.Event,
			Reason: "voided by " + string(t.Event), Details: d}))
	}
	return out
}

type scheduleHeldKey struct{}

// lockSchedule takes the schedule lock: through the store when it is a
// Locker (so that it holds across processes), else within this Manager.
func (m *Manager) lockSchedule(ctx context.Context) (func(), error) {
	if l, ok := m.store.(Locker); ok {
		return l.Lock(ctx, ScheduleLock)
	}
	select {
	case m.sched <- struct{}{}:
		return func() { <-m.sched }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// observed reports whether a transition of ce from from to to has
// after-hooks or stage observers to run.
func (m *Manager) observed(ce *compiledEvent, from, to Stage) bool {
	return len(ce.after)+len(m.lc.leave[from])+len(m.lc.enter[to]) > 0
}

// notify runs the after-hooks of a committed transition, then the leave
// observers of the old stage and the enter observers of the new one.
func (m *Manager) notify(ctx context.Context, ce *compiledEvent, r *Release, t Transition, e AuditEntry) {
	if !m.observed(ce, t.From, r.Stage) {
		return
	}
	t.To = r.Stage
	te := TransitionEvent{Release: r, Transition: t, Entry: e}
	for _, h := range ce.after {
		h(ctx, te)
	}
	for _, h := range m.lc.leave[t.From] {
		h(ctx, te)
	}
	for _, h := range m.lc.enter[r.Stage] {
		h(ctx, te)
	}
}

// Edit changes a release's data: fn receives a copy of the stored release
// and modifies it; the result is validated and saved with an audit entry
// (action edit, reason, and the JSON names of the fields that changed).
// fn must not change the fields the Manager owns (id, stage, revision,
// history head, timestamps, approvals, assessment): that is a
// *ValidationError. Risks are also checked against the Manager's Matrix.
// Releases in a terminal stage cannot be edited (ErrTerminal). On
// ErrConflict Edit reads again and calls fn again, up to the retry count,
// so fn must be repeatable. An error from fn is returned as is and nothing
// is saved.
//
// When the edit changes the release's services, version, change model, window or risk
// register, every approval in force is voided in the same update, with a
// second audit entry (action void) naming the approvers and what changed.
func (m *Manager) Edit(ctx context.Context, id string, by Actor, reason string, fn func(r *Release) error) (*Release, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionEdit, reason: reason, host: true}, fn)
}

// addParties adds the ids to parties, each once.
func addParties(parties []string, ids ...string) []string {
	for _, id := range ids {
		if id != "" && !slices.Contains(parties, id) {
			parties = append(parties, id)
		}
	}
	return parties
}

// segregationGate refuses the need's approval by someone who is, or has
// been, its requester or owner, unless the policy allows self-approval.
func (m *Manager) segregationGate() Gate {
	return GateFunc(func(_ context.Context, r *Release, t Transition) error {
		if m.policy.AllowSelfApproval || !m.policy.party(r, t.Actor.ID) {
			return nil
		}
		return fmt.Errorf("%w: %s is or was requester or owner of %q", ErrSelfApproval, t.Actor.ID, r.ID)
	})
}

// GateSegregation is the name of the gate that keeps a need's requester
// and owner from approving it (see ApprovalPolicy.AllowSelfApproval); the
// Manager adds it to the approve event of lifecycles that have one.
const GateSegregation = "segregation"

// checkReason checks a free-text reason: at most MaxReason bytes of text.
func checkReason(reason string) error {
	if len(reason) > MaxReason {
		return invalidParam("reason", "max", strconv.Itoa(MaxReason))
	}
	if rule := textRule(reason); rule != "" {
		return invalid("reason", rule)
	}
	return nil
}

// Bounds on what a caller can send. Every list and text that enters
// relman has a maximum; input over it is refused with a *ValidationError
// naming the field and rule "max". Those of a release's fields are in its
// validate tags (labels 64, teams and services 100 each, tasks 200,
// required suites 50, risks 100, review lessons and follow-ups 50,
// parties 64, test results and incidents 1,000 each); a request carries
// at most 32 params. User feedback has no bound: on a FeedbackStore it is
// kept as records, the release carrying only its summary.
const (
	// MaxReason is the longest reason or comment relman keeps, in bytes.
	MaxReason = 4000
	// MaxRoles is the most roles an Actor may carry.
	MaxRoles = 32
)

// evidenceEmpty refuses a new release that arrives with what only the
// Manager's own methods may record.
func evidenceEmpty(r *Release) error {
	var fields []FieldError
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"approvals", len(r.Approvals) == 0}, {"assessment", r.Assessment == nil},
		{"test_results", len(r.TestResults) == 0}, {"review", r.Review == nil},
		{"feedback", len(r.Feedback) == 0}, {"feedback_summary", r.FeedbackSummary == nil}, {"incidents", len(r.Incidents) == 0},
		{"scheduled", len(r.Scheduled) == 0}, {"parties", len(r.Parties) == 0}, {"deployments", len(r.Deployments) == 0}, {"rollout", r.Rollout == nil},
	} {
		if !f.empty {
			fields = append(fields, FieldError{Field: f.name, Rule: "readonly"})
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// editOpts describes a change made through editWith.
type editOpts struct {
	action     Action
	reason     string
	reasonf    func(r *Release) string            // overrides reason, given the changed release
	details    func(r *Release) map[string]string // extra audit details, given the changed release
	managed    bool                               // fn may write approvals and assessment
	authAction string                             // the action the Authorizer is asked about ("" = "edit")
	allow      func(r *Release) error             // stage check of the stored release (nil = not terminal)
	host       bool                               // Edit: evidence, and a booked window, are read-only
	system     bool                               // a change the Manager makes on its own (RunDue): no Authorizer
}

// validate checks r's fields and its risk register against the matrix.
func (m *Manager) validate(r *Release) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return m.matrix.CheckRisks(r.Risks)
}

// notTerminal is the stage check of Edit: terminal releases are frozen.
func (m *Manager) notTerminal(r *Release) error {
	if m.lc.Terminal(r.Stage) {
		return fmt.Errorf("%w: %q is %s", ErrTerminal, r.ID, r.Stage)
	}
	return nil
}

// editWith is the one write path of Edit and the evidence, risk and
// approval methods: read, stage check (o.allow, on every attempt), fn on a
// copy, read-only and validation checks, one revision-checked update with
// its audit entries, retried on ErrConflict.
func (m *Manager) editWith(ctx context.Context, id string, by Actor, o editOpts, fn func(r *Release) error) (*Release, error) {
	switch {
	case blank(id):
		return nil, invalid("id", "required")
	case fn == nil:
		return nil, invalid("fn", "required")
	}
	if err := checkActor(by); err != nil {
		return nil, err
	}
	if err := m.guard(ctx, id); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("relman: edit %q: %w", id, err)
		}
		cur, err := m.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		// The Authorizer first: a refused actor learns nothing of the
		// release, not even its stage.
		if !o.system {
			if err := m.authorize(ctx, by, cmp.Or(o.authAction, AuthEdit), cur); err != nil {
				return nil, err
			}
		}
		allow := o.allow
		if allow == nil {
			allow = m.notTerminal
		}
		if err := allow(cur); err != nil {
			return nil, err
		}
		r := cur.Clone()
		if err := fn(r); err != nil {
			return nil, err
		}
		if err := m.ownedUnchanged(cur, r, o.managed, o.host); err != nil {
			return nil, err
		}
		if r.Requester != cur.Requester || r.Owner != cur.Owner {
			r.Parties = addParties(r.Parties, cur.Requester, cur.Owner, r.Requester, r.Owner)
		}
		if err := m.validate(r); err != nil {
			return nil, err
		}
		changed := changedFields(cur, r)
		if len(changed) == 0 {
			return cur, nil
		}
		now := m.Now()
		r.UpdatedAt = now
		details := map[string]string{}
		if o.details != nil {
			details = o.details(r)
		}
		details["fields"] = strings.Join(changed, ",")
		reason := o.reason
		if o.reasonf != nil {
			reason = o.reasonf(r)
		}
		entries := []AuditEntry{r.Record(AuditEntry{At: now, Actor: by.ID, Action: o.action, Reason: reason, Details: details})}
		if v := voidOnScopeChange(cur, r, now, by.ID); v != nil {
			entries = append(entries, r.Record(*v))
		}
		err = m.update(ctx, r, entries...)
		if errors.Is(err, ErrConflict) && attempt < m.retries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

func (m *Manager) ownedUnchanged(old, r *Release, managed, host bool) error {
	var fields []FieldError
	ro := func(name string, same bool) {
		if !same {
			fields = append(fields, FieldError{Field: name, Rule: "readonly"})
		}
	}
	ro("id", old.ID == r.ID)
	ro("stage", old.Stage == r.Stage)
	ro("revision", old.Revision == r.Revision)
	ro("history_head", old.Head == r.Head)
	ro("created_at", old.CreatedAt.Equal(r.CreatedAt))
	ro("updated_at", old.UpdatedAt.Equal(r.UpdatedAt))
	ro("entered_at", old.EnteredAt.Equal(r.EnteredAt))
	if !managed {
		ro("approvals", reflect.DeepEqual(old.Approvals, r.Approvals))
		ro("assessment", reflect.DeepEqual(old.Assessment, r.Assessment))
		ro("scheduled", reflect.DeepEqual(old.Scheduled, r.Scheduled))
		ro("parties", slices.Equal(old.Parties, r.Parties))
		ro("deployments", reflect.DeepEqual(old.Deployments, r.Deployments))
		ro("rollout", reflect.DeepEqual(old.Rollout, r.Rollout))
	}
	if host {
		// Evidence has its own methods (RecordTest, RecordReview,
		// AddFeedback, OpenIncident, ResolveIncident) with their checks.
		ro("test_results", reflect.DeepEqual(old.TestResults, r.TestResults))
		ro("review", reflect.DeepEqual(old.Review, r.Review))
		ro("feedback", reflect.DeepEqual(old.Feedback, r.Feedback))
		ro("feedback_summary", reflect.DeepEqual(old.FeedbackSummary, r.FeedbackSummary))
		ro("incidents", reflect.DeepEqual(old.Incidents, r.Incidents))
		if !m.lc.windowEditable(old.Stage) {
			// A booked window moves only through the lifecycle (replan),
			// past the calendar and conflict gates.
			ro("window", reflect.DeepEqual(old.Window, r.Window))
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// changedFields lists the JSON names of the top-level fields that differ.
func changedFields(a, b *Release) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	var out []string
	for i := range t.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, jsonFieldName(t.Field(i)))
		}
	}
	return out
}

// stamp fills in the time and author of a piece of evidence: a zero *at
// becomes the Manager's clock and an empty *author the actor. Times are
// kept in UTC to the microsecond. Evidence from the future is refused
// (a *ValidationError for field, rule lte, param now): a runner with a
// skewed clock must not make an old result outrank a newer one.
func (m *Manager) stamp(at *time.Time, author *string, by Actor, field string) error {
	now := m.Now()
	if at.IsZero() {
		*at = now
	}
	*at = at.UTC().Truncate(time.Microsecond)
	if at.After(now) {
		return &ValidationError{Fields: []FieldError{{Field: field, Rule: "lte", Param: "now"}}}
	}
	if author != nil && *author == "" {
		*author = by.ID
	}
	return nil
}

// RecordTest adds a test result to a release (the evidence the fail and
// pass gates read). A zero At is set to the Manager's clock.
func (m *Manager) RecordTest(ctx context.Context, id string, by Actor, tr TestResult) (*Release, error) {
	if err := m.stamp(&tr.At, &tr.By, by, "at"); err != nil {
		return nil, err
	}
	if err := validateStruct(tr); err != nil {
		return nil, err
	}
	if tr.Environment != "" && len(m.envs.List) > 0 {
		if _, e := m.env(tr.Environment); e == nil {
			return nil, invalidParam("environment", "oneof", m.envNames())
		}
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionEdit, reason: "test result: " + tr.Suite}, func(r *Release) error {
		r.TestResults = append(r.TestResults, tr)
		return nil
	})
}

// RecordReview records the post-implementation review the close gate
// requires, replacing any earlier one. A zero At is set to the Manager's
// clock. The release must be operating or rolled back (a rolled-back
// release gets its review too); otherwise the error matches
// ErrWrongStage.
func (m *Manager) RecordReview(ctx context.Context, id string, by Actor, rv Review) (*Release, error) {
	if err := m.stamp(&rv.At, &rv.By, by, "at"); err != nil {
		return nil, err
	}
	if err := validateStruct(rv); err != nil {
		return nil, err
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionFeedback, reason: "post-implementation review", allow: inStages("record a review", reviewStages)}, func(r *Release) error {
		r.Review = &rv
		return nil
	})
}
