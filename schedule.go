package relman

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WindowStore is an optional ability of a Store: persisting calendar
// windows. The Manager detects it with a type assertion; store/storetest
// checks it for every store that has it.
type WindowStore interface {
	// PutWindow creates or replaces the window with w.ID.
	PutWindow(ctx context.Context, w Window) error
	// GetWindow returns the window, or an error matching ErrNotFound.
	GetWindow(ctx context.Context, id string) (Window, error)
	// DeleteWindow removes the window, or returns an error matching
	// ErrNotFound.
	DeleteWindow(ctx context.Context, id string) error
	// ListWindows returns every window, ordered by id.
	ListWindows(ctx context.Context) ([]Window, error)
}

// Names of the calendar gates of DefaultSpec. NewManager binds the gates
// with these names to its calendar (its WithWindows windows and those of a
// WindowStore) and to its planned releases.
const (
	GateCalendar  = "calendar"  // plan, replan, deploy: the calendar allows the window (and now)
	GateConflicts = "conflicts" // plan, replan: no blocking conflict with other planned releases
)

// Freeze overrides. An emergency release may plan or deploy inside a
// freeze when the request carries Params[ParamOverride] = OverrideFreeze
// and a reason, and the actor holds RoleFreezeOverride and the Authorizer
// allows the action AuthOverrideFreeze. The override is recorded in the
// transition's audit entry.
const (
	ParamOverride      = "override"
	OverrideFreeze     = "freeze"
	RoleFreezeOverride = "freeze-override"
)

// ActionOverrideFreeze is the former name of AuthOverrideFreeze.
//
// Deprecated: use AuthOverrideFreeze (Action is the type of audit
// actions; this is an Authorizer action).
const ActionOverrideFreeze = AuthOverrideFreeze

// PlannedStages are the stages in which a release holds its window: the
// releases conflicts are looked for among.
var PlannedStages = []Stage{StagePlanned, StageBuilding, StageTesting, StageVerified, StageAuthorized, StageDeploying}

// WithWindows adds fixed windows to the Manager's calendar, besides those
// of a WindowStore. NewManager fails with a *ValidationError or
// an error matching ErrInvalid that unwraps to an *ical.RuleError if one is invalid.
func WithWindows(ws ...Window) Option {
	return func(m *Manager) {
		for _, w := range ws {
			m.windows = append(m.windows, w.Clone())
		}
	}
}

// WithCapacity sets the most deployments whose windows may overlap (0, the
// default: no limit). The conflicts gate and NextSlot enforce it.
func WithCapacity(n int) Option { return func(m *Manager) { m.capacity = n } }

// WithBlockingConflicts sets the kinds of conflict that stop plan and
// replan (default: same-service, dependent-service, team and capacity).
func WithBlockingConflicts(kinds ...ConflictKind) Option {
	return func(m *Manager) { m.blocking = slices.Clone(kinds); m.blockingSet = true }
}

var defaultBlocking = []ConflictKind{ConflictService, ConflictDependency, ConflictTeam, ConflictCapacity}

// unboundGate stands in DefaultSpec for the gates NewManager binds.
func unboundGate() Gate {
	return GateFunc(func(context.Context, *Release, Transition) error { return nil })
}

// TaskPlanValid is a plan gate: the release's tasks have no dependency
// cycle, no unknown dependency and no duplicate name (a *TaskPlanError).
func TaskPlanValid() Gate {
	return GateFunc(func(_ context.Context, r *Release, _ Transition) error {
		if len(r.Tasks) == 0 {
			return nil
		}
		_, err := PlanTasks(time.Time{}, r.Tasks)
		return err
	})
}

// FreezeOverrideRecorded is an effect for plan, replan and deploy: when
// the request asks for a freeze override, the audit entry records it with
// its reason (the calendar gate decides whether it is granted).
func FreezeOverrideRecorded() Effect {
	return func(_ *Release, t Transition) (map[string]string, error) {
		if t.Params[ParamOverride] != OverrideFreeze {
			return nil, nil
		}
		return map[string]string{"override": OverrideFreeze, "override_reason": t.Reason, "override_by": t.Actor.ID}, nil
	}
}

func hasBoundGates(spec LifecycleSpec) bool {
	return slices.ContainsFunc(spec.Gates, func(g GateSpec) bool { return g.Name == GateCalendar || g.Name == GateConflicts })
}

// bindCalendar swaps the gates named GateCalendar and GateConflicts for
// ones bound to m.
func (m *Manager) bindCalendar(spec *LifecycleSpec) {
	for i, g := range spec.Gates {
		switch g.Name {
		case GateCalendar:
			spec.Gates[i].Gate = m.calendarGate()
		case GateConflicts:
			spec.Gates[i].Gate = m.conflictGate()
		}
	}
}

// setupCalendar checks the calendar options in NewManager.
func (m *Manager) setupCalendar() error {
	if m.capacity < 0 {
		return invalidParam("capacity", "gte", "0")
	}
	if !m.blockingSet {
		m.blocking = defaultBlocking
	}
	if _, err := NewCalendar(m.windows...); err != nil {
		return err
	}
	return nil
}

// Calendar returns the calendar in force: the WithWindows windows and,
// if the store is a WindowStore, the stored ones.
func (m *Manager) Calendar(ctx context.Context) (*Calendar, error) {
	ws := m.windows
	if s, ok := m.store.(WindowStore); ok {
		stored, err := s.ListWindows(ctx)
		if err != nil {
			return nil, err
		}
		ws = append(slices.Clip(ws), stored...)
	}
	return NewCalendar(ws...)
}

func (m *Manager) windowStore() (WindowStore, error) {
	s, ok := m.store.(WindowStore)
	if !ok {
		return nil, fmt.Errorf("relman: the store does not persist windows: %w", errors.ErrUnsupported)
	}
	return s, nil
}

// PutWindow validates w and saves it in the store (a WindowStore), adding
// or replacing the window with its id. The Authorizer is asked for
// AuthWindow with a nil release. Errors: *ValidationError (also for the id
// of a WithWindows window), an error matching ErrInvalid that unwraps to an *ical.RuleError, *ForbiddenError,
// errors.ErrUnsupported for a store without windows.
func (m *Manager) PutWindow(ctx context.Context, by Actor, w Window) error {
	if err := checkActor(by); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	if err := m.notFixed("id", w.ID); err != nil {
		return err
	}
	s, err := m.windowStore()
	if err != nil {
		return err
	}
	if err := m.authorize(ctx, by, AuthWindow, nil); err != nil {
		return err
	}
	return s.PutWindow(ctx, w.Clone())
}

// notFixed refuses to store a window with the id of a WithWindows window:
// the calendar could not be built with both.
func (m *Manager) notFixed(field, id string) error {
	if slices.ContainsFunc(m.windows, func(w Window) bool { return w.ID == id }) {
		return invalid(field, "unique")
	}
	return nil
}

// DeleteWindow removes a stored window: a *ValidationError for a blank
// id, ErrNotFound if there is none. The Authorizer is asked for AuthWindow
// with a nil release.
func (m *Manager) DeleteWindow(ctx context.Context, by Actor, id string) error {
	if err := checkActor(by); err != nil {
		return err
	}
	if blank(id) {
		return invalid("id", "required")
	}
	s, err := m.windowStore()
	if err != nil {
		return err
	}
	if err := m.authorize(ctx, by, AuthWindow, nil); err != nil {
		return err
	}
	return s.DeleteWindow(ctx, id)
}

// Planned returns the releases holding a window (see PlannedStages).
func (m *Manager) Planned(ctx context.Context) ([]*Release, error) {
	rs, err := m.plannedIn(ctx, time.Time{}, time.Time{}, PlanMatch{})
	if _, shared := m.store.(PlanIndex); shared {
		for i, r := range rs {
			rs[i] = r.Clone() // the caller's to change
		}
	}
	return rs, err
}

// plannedIn returns the planned releases whose window overlaps [from, to)
// (a zero to: no end) and that match: through the store's PlanIndex if it
// has one, else by scanning every planned release. They are read-only
// (see PlanIndex).
func (m *Manager) plannedIn(ctx context.Context, from, to time.Time, match PlanMatch) ([]*Release, error) {
	if pi, ok := m.store.(PlanIndex); ok {
		var out []*Release
		err := pi.Overlapping(ctx, from, to, match, func(r *Release) error {
			out = append(out, r)
			return nil
		})
		return out, err
	}
	all, err := m.scanPlanned(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(r *Release) bool {
		return !r.Window.End.After(from) || !to.IsZero() && !r.Window.Start.Before(to) || !match.Matches(r)
	}), nil
}

// scanPlanned reads every planned release.
func (m *Manager) scanPlanned(ctx context.Context) ([]*Release, error) {
	var out []*Release
	err := scanAll(ctx, m.store, Query{Stages: PlannedStages}, func(r *Release) error {
		if r.Window != nil {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// Conflicts returns every conflict among the planned releases, including
// freeze and maintenance conflicts with the calendar (see FindConflicts).
func (m *Manager) Conflicts(ctx context.Context) ([]Conflict, error) {
	cal, err := m.Calendar(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := m.Planned(ctx)
	if err != nil {
		return nil, err
	}
	return FindConflicts(rs, ConflictOptions{Capacity: m.capacity, Graph: m.graph, Calendar: cal}), nil
}

// NextSlot returns the earliest span of length d from after that the
// calendar allows for services and that fits among the planned releases
// (other than exclude) and the capacity, searching up to horizon ahead
// (0: 90 days). It returns a *NoSlotError when there is none, and a
// *ValidationError for a zero after ("after"), a d that is not positive
// ("duration"), a horizon that is negative or over MaxHorizon
// ("horizon"), or more than MaxSlotServices services ("services").
//
// NextSlot knows services, not teams: to place a release that has teams,
// use NextSlotFor, which also keeps clear of the releases its teams are
// booked on, as the conflicts gate of plan does.
func (m *Manager) NextSlot(ctx context.Context, after time.Time, d time.Duration, services []string, exclude string, horizon time.Duration) (Span, error) {
	return m.nextSlot(ctx, after, d, services, nil, exclude, horizon)
}

// NextSlotFor returns the earliest span of length d from after in which
// release id could be planned, searching up to horizon ahead (0: 90
// days): the calendar allows it for the release's services, and it
// overlaps no other planned release that shares a service or a
// dependency with it or, when team conflicts block (the default, see
// WithBlockingConflicts), one of its teams; nor does it exceed the
// capacity. A window it returns passes the conflicts gate of plan and
// replan as the releases stand. Errors are NextSlot's, a *ValidationError
// for a blank id ("id"), and ErrNotFound.
func (m *Manager) NextSlotFor(ctx context.Context, id string, after time.Time, d time.Duration, horizon time.Duration) (Span, error) {
	if blank(id) {
		return Span{}, invalid("id", "required")
	}
	if err := checkSlot(after, d, nil, SlotOptions{Horizon: horizon}); err != nil {
		return Span{}, err
	}
	r, _, err := m.read(ctx, id)
	if err != nil {
		return Span{}, err
	}
	var teams []string
	if slices.Contains(m.blocking, ConflictTeam) {
		teams = r.InvolvedTeams()
	}
	return m.nextSlot(ctx, after, d, r.Services, teams, id, horizon)
}

// nextSlot is NextSlot, also clear of the planned releases involving one
// of teams.
func (m *Manager) nextSlot(ctx context.Context, after time.Time, d time.Duration, services, teams []string, exclude string, horizon time.Duration) (Span, error) {
	if err := checkSlot(after, d, services, SlotOptions{Horizon: horizon}); err != nil {
		return Span{}, err
	}
	cal, err := m.Calendar(ctx)
	if err != nil {
		return Span{}, err
	}
	if horizon == 0 {
		horizon = 90 * 24 * time.Hour
	}
	// Only releases of services that could block these, or of the teams,
	// matter, unless a capacity makes every release count.
	var match PlanMatch
	if m.capacity == 0 {
		affected := append(slices.Clone(services), m.graph.Dependents(services)...)
		if len(affected) > 0 {
			match.Services = append(affected, m.graph.Dependencies(affected)...)
		}
		match.Teams = teams
		if match.All() {
			return cal.NextSlot(after, d, services, SlotOptions{Horizon: horizon, Exclude: exclude, Graph: m.graph})
		}
	}
	// search looks for a slot starting within h of after, reading the
	// planned releases a slot that late could overlap.
	search := func(h time.Duration) (Span, error) {
		rs, err := m.plannedIn(ctx, after, after.Add(h).Add(d).Add(time.Second), match)
		if err != nil {
			return Span{}, err
		}
		return cal.NextSlot(after, d, services, SlotOptions{Horizon: h, Planned: rs, Exclude: exclude, Capacity: m.capacity,
			Graph: m.graph, Teams: teams})
	}
	// Most searches end soon after they start: look a day ahead first,
	// then a week, then the whole horizon, so that the cost follows the
	// releases near the slot found rather than all those in the horizon.
	for _, h := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		if h >= horizon {
			break
		}
		span, err := search(h)
		if !errors.Is(err, ErrNoSlot) {
			return span, err
		}
	}
	return search(horizon)
}

// freezeOverride reports whether t asks for a freeze override that is
// granted, or an error matching ErrOverrideRefused (or a *ForbiddenError).
func (m *Manager) freezeOverride(ctx context.Context, r *Release, t Transition) (bool, error) {
	if t.Params[ParamOverride] != OverrideFreeze {
		return false, nil
	}
	var why []string
	if r.Model != ModelEmergency {
		why = append(why, "only emergency changes may override a freeze")
	}
	if blank(t.Reason) {
		why = append(why, "a reason is required")
	}
	if !t.Actor.HasRole(RoleFreezeOverride) {
		why = append(why, fmt.Sprintf("%s does not hold role %s", t.Actor.ID, RoleFreezeOverride))
	}
	if len(why) > 0 {
		return false, fmt.Errorf("%w: %s", ErrOverrideRefused, strings.Join(why, "; "))
	}
	if err := m.authorize(ctx, t.Actor, AuthOverrideFreeze, r); err != nil {
		return false, fmt.Errorf("%w: %w", ErrOverrideRefused, err)
	}
	return true, nil
}

// calendarGate checks the planned window against the calendar (plan,
// replan) or what remains of it from now (deploy). At deploy, a refusal
// that time will lift within the window is a *NotYetError carrying the
// time the calendar opens.
func (m *Manager) calendarGate() Gate {
	return GateFunc(func(ctx context.Context, r *Release, t Transition) error {
		if r.Window == nil || !r.Window.End.After(r.Window.Start) {
			return nil // the window gate reports it
		}
		cal, err := m.Calendar(ctx)
		if err != nil {
			return err
		}
		override, err := m.freezeOverride(ctx, r, t)
		if err != nil {
			return err
		}
		span := *r.Window
		if t.Event == EventDeploy {
			if !t.Now.Before(span.End) {
				return nil // in-window reports it
			}
			span.Start = maxTime(span.Start, t.Now)
		}
		err = cal.allowed(span, r.Services, cal.direct, override)
		if err == nil || t.Event != EventDeploy || t.Now.Before(r.Window.Start) {
			return err
		}
		if at, ok := cal.opensAt(span, r.Services, override); ok {
			return &NotYetError{Until: at, Err: err}
		}
		return err
	})
}

// opensAt returns the earliest time at which [at, span.End) is allowed, if
// there is one before span.End.
func (c *Calendar) opensAt(span Span, services []string, override bool) (time.Time, bool) {
	t := span.Start
	for range 64 {
		err := c.allowed(Span{Start: t, End: span.End}, services, c.direct, override)
		if err == nil {
			return t, t.After(span.Start)
		}
		next, ok := retryAt(t, err)
		if !ok || !next.Before(span.End) {
			return time.Time{}, false
		}
		t = next
	}
	return time.Time{}, false
}

// conflictGate refuses a window that has a blocking conflict with another
// planned release.
func (m *Manager) conflictGate() Gate {
	return GateFunc(func(ctx context.Context, r *Release, t Transition) error {
		if r.Window == nil || !r.Window.End.After(r.Window.Start) {
			return nil
		}
		// Without a capacity, only a release sharing a service (or a
		// dependency) or a team with r can conflict with it: FindConflicts
		// needs no others, and the plan index finds just those.
		var match PlanMatch // the zero match: every overlapping release
		if m.capacity == 0 {
			match.Services = append(slices.Clone(r.Services), m.graph.Dependents(r.Services)...)
			match.Services = append(match.Services, m.graph.Dependencies(r.Services)...)
			match.Teams = r.InvolvedTeams()
			if match.All() {
				return nil // nothing it shares with anyone
			}
		}
		others, err := m.plannedIn(ctx, r.Window.Start, r.Window.End, match)
		if err != nil {
			return err
		}
		set := make([]*Release, 0, len(others)+1)
		for _, o := range others {
			if o.ID != r.ID && o.Window.Overlaps(*r.Window) && match.Matches(o) {
				set = append(set, o)
			}
		}
		if len(set) == 0 {
			return nil
		}
		set = append(set, r)
		var blocking []Conflict
		for _, c := range FindConflicts(set, ConflictOptions{Capacity: m.capacity, Graph: m.graph}) {
			if slices.Contains(c.Releases, r.ID) && slices.Contains(m.blocking, c.Kind) {
				blocking = append(blocking, c)
			}
		}
		if len(blocking) == 0 {
			return nil
		}
		return &ConflictError{ReleaseID: r.ID, Conflicts: blocking}
	})
}

// ExportICS writes the forward schedule as an iCalendar stream (see the
// package function ExportICS): every window of the calendar, and every
// planned release whose window has not ended by the Manager's clock.
func (m *Manager) ExportICS(ctx context.Context, w io.Writer) error {
	cal, err := m.Calendar(ctx)
	if err != nil {
		return err
	}
	now := m.Now()
	rs, err := m.plannedIn(ctx, now, time.Time{}, PlanMatch{})
	if err != nil {
		return err
	}
	// By start, then id: the same feed for the same schedule, whatever
	// order the store reads it in.
	slices.SortFunc(rs, func(a, b *Release) int {
		return cmp.Or(a.Window.Start.Compare(b.Window.Start), strings.Compare(a.ID, b.ID))
	})
	return ExportICS(w, cal.Windows(), rs, ICSOptions{Now: now})
}

// ImportWindows reads windows from an iCalendar stream (see ImportICS)
// and stores them all, or none: every window is checked first (a
// *ValidationError or an error matching ErrInvalid that unwraps to an *ical.RuleError, and nothing is stored), and if the
// store fails part way, each window already written is put back as it
// was (or deleted, if it is new) and the write error is returned. It
// returns the windows stored. The Authorizer is asked for AuthWindow with
// a nil release.
func (m *Manager) ImportWindows(ctx context.Context, by Actor, r io.Reader, opt ImportOptions) ([]Window, error) {
	if err := checkActor(by); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, invalid("r", "required")
	}
	s, err := m.windowStore()
	if err != nil {
		return nil, err
	}
	ws, err := ImportICS(r, opt)
	if err != nil {
		return nil, err
	}
	if _, err := NewCalendar(ws...); err != nil {
		return nil, err
	}
	for i, w := range ws {
		if err := m.notFixed(fmt.Sprintf("windows[%d].id", i), w.ID); err != nil {
			return nil, err
		}
	}
	if err := m.authorize(ctx, by, AuthWindow, nil); err != nil {
		return nil, err
	}
	if err := putAll(ctx, s, ws); err != nil {
		return nil, fmt.Errorf("relman: import windows: %w", err)
	}
	return ws, nil
}

// putAll puts every window of ws in s, or, if a put fails, restores what
// was there before each window it tried to write and returns the error
// (joined with any error restoring).
func putAll(ctx context.Context, s WindowStore, ws []Window) error {
	type prior struct {
		id  string
		old Window
		had bool
	}
	var touched []prior
	undo := func(cause error) error {
		// Restore even if ctx was cancelled (the cause, perhaps): a
		// half-written import is worse than a late one.
		ctx := context.WithoutCancel(ctx)
		errs := []error{cause}
		for _, p := range slices.Backward(touched) {
			var err error
			if p.had {
				err = s.PutWindow(ctx, p.old)
			} else if err = s.DeleteWindow(ctx, p.id); errors.Is(err, ErrNotFound) {
				err = nil // the failed put wrote nothing
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("restore window %q: %w", p.id, err))
			}
		}
		if len(errs) == 1 {
			return cause
		}
		return errors.Join(errs...)
	}
	for _, w := range ws {
		old, err := s.GetWindow(ctx, w.ID)
		had := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return undo(fmt.Errorf("get window %q: %w", w.ID, err))
		}
		touched = append(touched, prior{id: w.ID, old: old, had: had})
		if err := s.PutWindow(ctx, w.Clone()); err != nil {
			return undo(fmt.Errorf("put window %q: %w", w.ID, err))
		}
	}
	return nil
}
