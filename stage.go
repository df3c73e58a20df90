package relman

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/looplab/fsm"
)

// Stage is where a release stands in its lifecycle.
type Stage string

// The stages of the default lifecycle.
const (
	StageProposed   Stage = "proposed"
	StageApproved   Stage = "approved"
	StageRejected   Stage = "rejected"
	StagePlanned    Stage = "planned"
	StageBuilding   Stage = "building"
	StageTesting    Stage = "testing"
	StageVerified   Stage = "verified"
	StageAuthorized Stage = "authorized"
	StageDeploying  Stage = "deploying"
	StageOperating  Stage = "operating"
	StageRolledBack Stage = "rolled_back"
	StageClosed     Stage = "closed"
	StageCancelled  Stage = "cancelled"
)

// Event moves a release from one stage to another.
type Event string

// The events of the default lifecycle.
const (
	EventApprove   Event = "approve"
	EventReject    Event = "reject"
	EventPlan      Event = "plan"
	EventStart     Event = "start"
	EventSubmit    Event = "submit"
	EventFail      Event = "fail"
	EventPass      Event = "pass"
	EventAuthorize Event = "authorize"
	EventDeploy    Event = "deploy"
	EventComplete  Event = "complete"
	EventRollback  Event = "rollback"
	EventClose     Event = "close"
	EventCancel    Event = "cancel"
	EventReplan    Event = "replan"
)

// AnyEvent is the wildcard event: a hook attached to it runs for every
// event of the lifecycle.
const AnyEvent Event = "*"

// EventSpec defines one event: the stages it may fire from and the stage
// it leads to.
type EventSpec struct {
	Name Event
	From []Stage
	To   Stage
	Doc  string // one line for diagrams and help
}

// GateSpec attaches a named gate to an event.
type GateSpec struct {
	Event Event
	Name  string
	Gate  Gate
}

// EffectSpec attaches an effect to an event. Effects change the release as
// part of the transition (before the gates look at it), in the same atomic
// store update.
type EffectSpec struct {
	Event  Event
	Name   string
	Effect Effect
}

// BeforeHookSpec attaches a before-hook to an event (or AnyEvent).
type BeforeHookSpec struct {
	Event Event
	Name  string
	Hook  BeforeHook
}

// AfterHookSpec attaches an after-hook to an event (or AnyEvent).
type AfterHookSpec struct {
	Event Event
	Hook  AfterHook
}

// StageHookSpec attaches an observer to entering or leaving a stage.
type StageHookSpec struct {
	Stage Stage
	Hook  AfterHook
}

// LifecycleSpec is the definition of a lifecycle: build one with
// NewLifecycle. DefaultSpec returns the default one to extend; the Add and
// On methods append to it.
type LifecycleSpec struct {
	Initial  Stage
	Stages   []Stage // every stage, in display order
	Terminal []Stage
	Events   []EventSpec
	Gates    []GateSpec
	Effects  []EffectSpec
	Before   []BeforeHookSpec
	After    []AfterHookSpec
	Enter    []StageHookSpec
	Leave    []StageHookSpec
}

// AddStage adds a stage; terminal stages end a release's life.
func (s *LifecycleSpec) AddStage(st Stage, terminal bool) {
	s.Stages = append(s.Stages, st)
	if terminal {
		s.Terminal = append(s.Terminal, st)
	}
}

// AddEvent adds an event.
func (s *LifecycleSpec) AddEvent(e EventSpec) { s.Events = append(s.Events, e) }

// AddGate adds a named gate to event ev.
func (s *LifecycleSpec) AddGate(ev Event, name string, g Gate) {
	s.Gates = append(s.Gates, GateSpec{Event: ev, Name: name, Gate: g})
}

// RemoveGate removes every gate named name from event ev, and reports
// whether there was one.
func (s *LifecycleSpec) RemoveGate(ev Event, name string) bool {
	n := len(s.Gates)
	s.Gates = slices.DeleteFunc(s.Gates, func(g GateSpec) bool { return g.Event == ev && g.Name == name })
	return len(s.Gates) != n
}

// AddEffect adds a named effect to event ev.
func (s *LifecycleSpec) AddEffect(ev Event, name string, f Effect) {
	s.Effects = append(s.Effects, EffectSpec{Event: ev, Name: name, Effect: f})
}

// OnBefore adds a before-hook to event ev (or AnyEvent).
func (s *LifecycleSpec) OnBefore(ev Event, name string, h BeforeHook) {
	s.Before = append(s.Before, BeforeHookSpec{Event: ev, Name: name, Hook: h})
}

// OnAfter adds an after-hook to event ev (or AnyEvent).
func (s *LifecycleSpec) OnAfter(ev Event, h AfterHook) {
	s.After = append(s.After, AfterHookSpec{Event: ev, Hook: h})
}

// OnEnter adds an observer called after a release enters stage st.
func (s *LifecycleSpec) OnEnter(st Stage, h AfterHook) {
	s.Enter = append(s.Enter, StageHookSpec{Stage: st, Hook: h})
}

// OnLeave adds an observer called after a release leaves stage st.
func (s *LifecycleSpec) OnLeave(st Stage, h AfterHook) {
	s.Leave = append(s.Leave, StageHookSpec{Stage: st, Hook: h})
}

// DefaultSpec returns the definition of the default lifecycle, a fresh copy
// each call, for a host to extend and pass to NewLifecycle.
//
//	event      from                       to           gates
//	approve    proposed                   approved     business-case
//	reject     proposed                   rejected     reason
//	plan       approved                   planned      window, tasks-owned, task-plan, calendar, conflicts
//	start      planned                    building
//	submit     building                   testing
//	fail       testing                    building     failed-test
//	pass       testing                    verified     tests-passed
//	authorize  verified                   authorized   rollback-plan, approvals
//	deploy     authorized                 deploying    in-window, calendar
//	complete   deploying                  operating
//	rollback   deploying, operating       rolled_back  reason
//	close      operating                  closed       review
//	cancel     proposed … authorized      cancelled    reason
//	replan     planned … authorized       planned      window, task-plan, calendar, conflicts
//
// The calendar and conflicts gates (GateCalendar, GateConflicts) are bound
// by NewManager to its calendar and planned releases: the window must be
// allowed by every maintenance window and freeze (an emergency release may
// override a freeze, see ParamOverride), and must not conflict with other
// planned releases. At deploy, the calendar gate checks the rest of the
// window from now and says "not yet" (a *NotYetError) when the calendar
// opens later inside it. Plan, replan and deploy record a freeze override
// in the audit entry.
//
// Effects: plan and replan take the window from Request.Window when given;
// plan voids the approvals in force when that changes the window; replan
// voids every approval and rejection given before it.
//
// The approvals gate (GateApprovals, see ApprovalGate) enforces
// DefaultPolicy: the risk is assessed (Manager.Assess) and not stale, the
// change model is allowed at that level, no rejection is in force and
// every required approval is given. A standard change assessed low passes
// it without approvals. WithPolicy replaces it with the Manager's policy.
func DefaultSpec() LifecycleSpec {
	beforeDeploy := []Stage{StageProposed, StageApproved, StagePlanned, StageBuilding, StageTesting, StageVerified, StageAuthorized}
	s := LifecycleSpec{
		Initial: StageProposed,
		Stages: []Stage{StageProposed, StageApproved, StagePlanned, StageBuilding, StageTesting, StageVerified,
			StageAuthorized, StageDeploying, StageOperating, StageClosed, StageRejected, StageCancelled, StageRolledBack},
		Terminal: []Stage{StageRejected, StageClosed, StageCancelled, StageRolledBack},
		Events: []EventSpec{
			{EventApprove, []Stage{StageProposed}, StageApproved, "accept the need"},
			{EventReject, []Stage{StageProposed}, StageRejected, "turn the need down"},
			{EventPlan, []Stage{StageApproved}, StagePlanned, "schedule the work"},
			{EventStart, []Stage{StagePlanned}, StageBuilding, "begin design and build"},
			{EventSubmit, []Stage{StageBuilding}, StageTesting, "hand over to testing"},
			{EventFail, []Stage{StageTesting}, StageBuilding, "send back for corrections"},
			{EventPass, []Stage{StageTesting}, StageVerified, "tests passed"},
			{EventAuthorize, []Stage{StageVerified}, StageAuthorized, "authorize deployment"},
			{EventDeploy, []Stage{StageAuthorized}, StageDeploying, "start deployment"},
			{EventComplete, []Stage{StageDeploying}, StageOperating, "deployment finished"},
			{EventRollback, []Stage{StageDeploying, StageOperating}, StageRolledBack, "undo the deployment"},
			{EventClose, []Stage{StageOperating}, StageClosed, "review done, close"},
			{EventCancel, beforeDeploy, StageCancelled, "abandon the release"},
			{EventReplan, []Stage{StagePlanned, StageBuilding, StageTesting, StageVerified, StageAuthorized}, StagePlanned, "move the release"},
		},
	}
	s.AddGate(EventApprove, "business-case", BusinessCaseComplete())
	s.AddGate(EventReject, "reason", ReasonGiven())
	s.AddGate(EventPlan, "window", WindowSet())
	s.AddGate(EventPlan, "tasks-owned", TasksOwned())
	s.AddGate(EventPlan, "task-plan", TaskPlanValid())
	s.AddGate(EventPlan, GateCalendar, unboundGate())
	s.AddGate(EventPlan, GateConflicts, unboundGate())
	s.AddGate(EventFail, "failed-test", FailedTestRecorded())
	s.AddGate(EventPass, "tests-passed", RequiredTestsPassed())
	s.AddGate(EventAuthorize, "rollback-plan", RollbackPlanPresent())
	s.AddGate(EventAuthorize, GateApprovals, ApprovalGate(DefaultPolicy()))
	s.AddGate(EventDeploy, "in-window", InsideWindow())
	s.AddGate(EventDeploy, GateApprovals, ApprovalGate(DefaultPolicy()))
	s.AddGate(EventDeploy, GateCalendar, unboundGate())
	s.AddGate(EventRollback, "reason", ReasonGiven())
	s.AddGate(EventClose, "review", ReviewRecorded())
	s.AddGate(EventCancel, "reason", ReasonGiven())
	s.AddGate(EventReplan, "window", WindowSet())
	s.AddGate(EventReplan, "task-plan", TaskPlanValid())
	s.AddGate(EventReplan, GateCalendar, unboundGate())
	s.AddGate(EventReplan, GateConflicts, unboundGate())
	s.AddEffect(EventPlan, "void-on-window-change", VoidApprovalsOnWindowChange())
	s.AddEffect(EventPlan, "set-window", SetWindow())
	s.AddEffect(EventReplan, "set-window", SetWindow())
	s.AddEffect(EventReplan, "void-approvals", VoidApprovals("replanned"))
	for _, ev := range []Event{EventPlan, EventReplan, EventDeploy} {
		s.AddEffect(ev, "freeze-override", FreezeOverrideRecorded())
	}
	return s
}

var defaultLifecycle = sync.OnceValue(func() *Lifecycle {
	lc, err := NewLifecycle(DefaultSpec())
	if err != nil {
		panic("relman: default lifecycle is invalid: " + err.Error())
	}
	return lc
})

// DefaultLifecycle returns the default lifecycle (see DefaultSpec). It is
// built once and shared; it is immutable.
func DefaultLifecycle() *Lifecycle { return defaultLifecycle() }

type compiledEvent struct {
	spec    EventSpec
	from    map[Stage]bool
	to      map[Stage]Stage // the stage looplab's FSM reaches from each source
	gates   []GateSpec
	effects []EffectSpec
	before  []BeforeHookSpec
	after   []AfterHook
	books   bool // guarded by a GateConflicts gate: firing it books time
}

// Lifecycle is a checked, compiled lifecycle: stages, events, gates,
// effects and hooks. It is immutable and safe for concurrent use.
type Lifecycle struct {
	spec   LifecycleSpec
	stages map[Stage]bool // value: terminal
	events map[Event]*compiledEvent
	order  []Event // event names in definition order
	enter  map[Stage][]AfterHook
	leave  map[Stage][]AfterHook
}

// NewLifecycle checks spec and compiles it. It returns a *LifecycleError
// listing every problem: a duplicate or unknown stage or event, an event
// from or to an unknown stage, a stage that cannot be reached from the
// initial one, a non-terminal stage with no way out, and a gate, effect
// or hook on an unknown event or stage.
func NewLifecycle(spec LifecycleSpec) (*Lifecycle, error) {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	lc := &Lifecycle{
		stages: make(map[Stage]bool),
		events: make(map[Event]*compiledEvent),
		enter:  make(map[Stage][]AfterHook),
		leave:  make(map[Stage][]AfterHook),
	}
	for _, st := range spec.Stages {
		if !validID(string(st)) {
			add("invalid stage name %q (letters, digits, '.', '_', '-')", st)
			continue
		}
		if _, dup := lc.stages[st]; dup {
			add("duplicate stage %q", st)
		}
		lc.stages[st] = false
	}
	for _, st := range spec.Terminal {
		if _, ok := lc.stages[st]; !ok {
			add("terminal stage %q is not a stage", st)
			continue
		}
		lc.stages[st] = true
	}
	if _, ok := lc.stages[spec.Initial]; !ok {
		add("initial stage %q is not a stage", spec.Initial)
	}
	out := make(map[Stage][]Stage)
	for _, e := range spec.Events {
		if !validID(string(e.Name)) {
			add("invalid event name %q (letters, digits, '.', '_', '-')", e.Name)
			continue
		}
		switch e.Name {
		case AuthCreate, AuthEdit, AuthApproval, AuthRisk, AuthWindow, AuthOverrideFreeze:
			add("event name %q is reserved for an Authorizer action", e.Name)
			continue
		}
		if _, dup := lc.events[e.Name]; dup {
			add("duplicate event %q", e.Name)
			continue
		}
		ce := &compiledEvent{spec: e, from: make(map[Stage]bool)}
		ce.spec.From = slices.Clone(e.From)
		if _, ok := lc.stages[e.To]; !ok {
			add("event %q leads to unknown stage %q", e.Name, e.To)
		}
		if len(e.From) == 0 {
			add("event %q has no source stage", e.Name)
		}
		for _, f := range e.From {
			if _, ok := lc.stages[f]; !ok {
				add("event %q fires from unknown stage %q", e.Name, f)
				continue
			}
			if lc.stages[f] {
				add("event %q fires from terminal stage %q", e.Name, f)
			}
			ce.from[f] = true
			out[f] = append(out[f], e.To)
		}
		lc.events[e.Name] = ce
		lc.order = append(lc.order, e.Name)
	}
	for _, g := range spec.Gates {
		ce, ok := lc.events[g.Event]
		switch {
		case !ok:
			add("gate %q on unknown event %q", g.Name, g.Event)
		case g.Gate == nil || blank(g.Name):
			add("gate on event %q needs a name and a gate", g.Event)
		case slices.ContainsFunc(ce.gates, func(o GateSpec) bool { return o.Name == g.Name }):
			add("duplicate gate %q on event %q", g.Name, g.Event)
		default:
			ce.gates = append(ce.gates, g)
			ce.books = ce.books || g.Name == GateConflicts
		}
	}
	for _, f := range spec.Effects {
		ce, ok := lc.events[f.Event]
		switch {
		case !ok:
			add("effect %q on unknown event %q", f.Name, f.Event)
		case f.Effect == nil:
			add("effect %q on event %q is nil", f.Name, f.Event)
		default:
			ce.effects = append(ce.effects, f)
		}
	}
	for _, h := range spec.Before {
		if h.Hook == nil {
			add("before-hook %q on event %q is nil", h.Name, h.Event)
			continue
		}
		for _, ce := range lc.eventsFor(h.Event, func() { add("before-hook %q on unknown event %q", h.Name, h.Event) }) {
			ce.before = append(ce.before, h)
		}
	}
	for _, h := range spec.After {
		if h.Hook == nil {
			add("after-hook on event %q is nil", h.Event)
			continue
		}
		for _, ce := range lc.eventsFor(h.Event, func() { add("after-hook on unknown event %q", h.Event) }) {
			ce.after = append(ce.after, h.Hook)
		}
	}
	for _, pair := range []struct {
		kind  string
		specs []StageHookSpec
		into  map[Stage][]AfterHook
	}{{"enter", spec.Enter, lc.enter}, {"leave", spec.Leave, lc.leave}} {
		for _, h := range pair.specs {
			if _, ok := lc.stages[h.Stage]; !ok || h.Hook == nil {
				add("%s-hook on unknown stage %q (or nil hook)", pair.kind, h.Stage)
				continue
			}
			pair.into[h.Stage] = append(pair.into[h.Stage], h.Hook)
		}
	}
	// Reachability from the initial stage, and a way out of every
	// non-terminal stage.
	if _, ok := lc.stages[spec.Initial]; ok {
		seen := map[Stage]bool{spec.Initial: true}
		queue := []Stage{spec.Initial}
		for len(queue) > 0 {
			st := queue[0]
			queue = queue[1:]
			for _, to := range out[st] {
				if !seen[to] {
					seen[to] = true
					queue = append(queue, to)
				}
			}
		}
		for _, st := range spec.Stages {
			if !seen[st] {
				add("stage %q cannot be reached from %q", st, spec.Initial)
			}
		}
	}
	for _, st := range spec.Stages {
		if !lc.stages[st] && len(out[st]) == 0 {
			add("stage %q is not terminal but no event leaves it", st)
		}
	}
	if len(probs) > 0 {
		return nil, &LifecycleError{Problems: probs}
	}
	lc.spec = spec
	lc.spec.Stages = slices.Clone(spec.Stages)
	lc.spec.Terminal = slices.Clone(spec.Terminal)
	lc.spec.Events = make([]EventSpec, len(spec.Events))
	for i, e := range spec.Events {
		lc.spec.Events[i] = lc.events[e.Name].spec
	}
	table := make(fsm.Events, 0, len(spec.Events))
	for _, e := range lc.spec.Events {
		src := make([]string, len(e.From))
		for i, f := range e.From {
			src[i] = string(f)
		}
		table = append(table, fsm.EventDesc{Name: string(e.Name), Src: src, Dst: string(e.To)})
	}
	// looplab's FSM is the lifecycle's machine: it is built once from the
	// table, and every transition (source stage, event) is run through it
	// here, once, to learn where it leads; Fire then looks the result up
	// instead of driving an FSM per event. No callbacks: gates and hooks
	// run outside the FSM, so none of its callback defects (deadlocks when
	// a callback fires an event, races of enter callbacks) can reach us.
	f := fsm.NewFSM(string(spec.Initial), table, nil)
	ctx := context.Background()
	for _, e := range lc.spec.Events {
		ce := lc.events[e.Name]
		ce.to = make(map[Stage]Stage, len(e.From))
		for _, from := range e.From {
			f.SetState(string(from))
			err := f.Event(ctx, string(e.Name))
			if err != nil && !errors.As(err, new(fsm.NoTransitionError)) { // a self-loop is a transition for us
				return nil, &LifecycleError{Problems: []string{fmt.Sprintf("state machine refuses event %q from %q: %v", e.Name, from, err)}}
			}
			ce.to[from] = Stage(f.Current())
		}
	}
	return lc, nil
}

func (lc *Lifecycle) eventsFor(ev Event, unknown func()) []*compiledEvent {
	if ev == AnyEvent {
		all := make([]*compiledEvent, len(lc.order))
		for i, name := range lc.order {
			all[i] = lc.events[name]
		}
		return all
	}
	ce, ok := lc.events[ev]
	if !ok {
		unknown()
		return nil
	}
	return []*compiledEvent{ce}
}

// Spec returns a copy of the definition the lifecycle was built from, for
// a host to extend and rebuild.
func (lc *Lifecycle) Spec() LifecycleSpec {
	s := lc.spec
	s.Stages = slices.Clone(s.Stages)
	s.Terminal = slices.Clone(s.Terminal)
	s.Events = slices.Clone(s.Events)
	for i := range s.Events {
		s.Events[i].From = slices.Clone(s.Events[i].From)
	}
	s.Gates = slices.Clone(s.Gates)
	s.Effects = slices.Clone(s.Effects)
	s.Before = slices.Clone(s.Before)
	s.After = slices.Clone(s.After)
	s.Enter = slices.Clone(s.Enter)
	s.Leave = slices.Clone(s.Leave)
	return s
}

// Initial returns the stage a new release starts in.
func (lc *Lifecycle) Initial() Stage { return lc.spec.Initial }

// Stages returns every stage in display order.
func (lc *Lifecycle) Stages() []Stage { return slices.Clone(lc.spec.Stages) }

// IsStage reports whether st is a stage of the lifecycle.
func (lc *Lifecycle) IsStage(st Stage) bool { _, ok := lc.stages[st]; return ok }

// Terminal reports whether st ends a release's life.
func (lc *Lifecycle) Terminal(st Stage) bool { return lc.stages[st] }

// Events returns every event definition in order.
func (lc *Lifecycle) Events() []EventSpec { return lc.Spec().Events }

// Gates returns the names of the gates of event ev, in the order they run.
func (lc *Lifecycle) Gates(ev Event) []string {
	ce, ok := lc.events[ev]
	if !ok {
		return nil
	}
	names := make([]string, len(ce.gates))
	for i, g := range ce.gates {
		names[i] = g.Name
	}
	return names
}

// Available returns the events that may fire from stage st, in order.
func (lc *Lifecycle) Available(st Stage) []Event {
	var evs []Event
	for _, e := range lc.spec.Events {
		if lc.events[e.Name].from[st] {
			evs = append(evs, e.Name)
		}
	}
	return evs
}

// target returns the destination of ev from stage from, or a
// *TransitionError.
func (lc *Lifecycle) target(id string, from Stage, ev Event) (*compiledEvent, error) {
	ce, ok := lc.events[ev]
	if !ok {
		return nil, &TransitionError{ReleaseID: id, From: from, Event: ev, Known: false}
	}
	if !ce.from[from] {
		return nil, &TransitionError{ReleaseID: id, From: from, Event: ev, Known: true}
	}
	return ce, nil
}

// step returns the stage ev leads to from stage from, as the lifecycle's
// FSM computed it when the lifecycle was built, or a *TransitionError.
func (lc *Lifecycle) step(id string, from Stage, ev Event) (Stage, error) {
	ce, err := lc.target(id, from, ev)
	if err != nil {
		return from, err
	}
	return ce.to[from], nil
}

// windowEditable reports whether Edit may change the planned window of a
// release at stage st: always when no event books time (no conflicts
// gate); otherwise only before the window is booked, at the initial stage
// and at the stages a booking event fires from, except those of a
// re-booking event (one that may fire from its own target, like replan).
func (lc *Lifecycle) windowEditable(st Stage) bool {
	booking := false
	for _, name := range lc.order {
		ce := lc.events[name]
		if !ce.books {
			continue
		}
		booking = true
		if ce.from[st] && !ce.from[ce.spec.To] {
			return true
		}
	}
	return !booking || st == lc.spec.Initial
}

// Mermaid renders the lifecycle as a Mermaid state diagram.
func (lc *Lifecycle) Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", lc.spec.Initial)
	for _, e := range lc.spec.Events {
		for _, f := range e.From {
			fmt.Fprintf(&b, "    %s --> %s: %s\n", f, e.To, e.Name)
		}
	}
	for _, st := range lc.spec.Stages {
		if lc.stages[st] {
			fmt.Fprintf(&b, "    %s --> [*]\n", st)
		}
	}
	return b.String()
}

// DOT renders the lifecycle as a Graphviz digraph.
func (lc *Lifecycle) DOT() string {
	var b strings.Builder
	b.WriteString("digraph lifecycle {\n    rankdir=LR;\n    node [shape=box, style=rounded];\n")
	for _, st := range lc.spec.Stages {
		shape := ""
		if lc.stages[st] {
			shape = ", peripheries=2"
		}
		fmt.Fprintf(&b, "    %q [label=%q%s];\n", st, st, shape)
	}
	for _, e := range lc.spec.Events {
		for _, f := range e.From {
			fmt.Fprintf(&b, "    %q -> %q [label=%q];\n", f, e.To, e.Name)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// hasGate reports whether event ev has a gate named name.
func (l *Lifecycle) hasGate(ev Event, name string) bool {
	ce, ok := l.events[ev]
	return ok && slices.ContainsFunc(ce.gates, func(g GateSpec) bool { return g.Name == name })
}
