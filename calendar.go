package relman

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman/ical"
)

// Sentinels of the calendar. Test for them with errors.Is: the typed
// errors of this file match them, and a *GateError or *CalendarError
// holding one does too.
var (
	// ErrFreeze: the span overlaps a freeze window. *FreezeError matches it.
	ErrFreeze = errors.New("inside a freeze window")
	// ErrOutsideMaintenance: a service has maintenance windows and the span
	// is not inside them. *OutsideMaintenanceError matches it.
	ErrOutsideMaintenance = errors.New("outside any maintenance window")
	// ErrNoSlot: NextSlot found no allowed slot within its horizon.
	// *NoSlotError matches it.
	ErrNoSlot = errors.New("no allowed slot within the horizon")
	// ErrSchedulingConflict: the release conflicts with other planned
	// releases. *ConflictError matches it.
	ErrSchedulingConflict = errors.New("scheduling conflict")
	// ErrTaskCycle: task dependencies form a cycle. *TaskPlanError matches it.
	ErrTaskCycle = errors.New("task dependencies form a cycle")
	// ErrUnknownTask: a task depends on a task the release does not have,
	// or two tasks share a name. *TaskPlanError matches it.
	ErrUnknownTask = errors.New("unknown or duplicate task")
	// ErrOverrideRefused: a freeze override was asked for without the
	// permission, the emergency change model or a reason.
	ErrOverrideRefused = errors.New("freeze override refused")
)

// WindowKind says whether a window allows deployments or forbids them.
type WindowKind string

// The kinds of window.
const (
	// WindowMaintenance allows deployments of the services it covers; once
	// a service has a maintenance window, it may deploy only inside one.
	WindowMaintenance WindowKind = "maintenance"
	// WindowFreeze forbids deployments of the services it covers.
	WindowFreeze WindowKind = "freeze"
)

// Window is a maintenance window or a freeze (blackout), one-off or
// recurring, in its own IANA time zone, for some services or for all.
//
// Start and End bound the first occurrence; their wall-clock times in
// TimeZone are what recurs. RRule (RFC 5545, e.g. "FREQ=WEEKLY;BYDAY=SU")
// repeats it, each occurrence lasting End-Start; RDates adds occurrences
// (each lasting End-Start unless its period says otherwise); ExDates
// removes occurrences by their start; Overrides move, resize or cancel
// single occurrences, or every occurrence from one on (see
// [ical.Override]). A window without Services covers every service, and
// releases that name none.
type Window struct {
	ID        string          `json:"id" validate:"required,max=128,id"`
	Name      string          `json:"name" validate:"required,max=200"`
	Kind      WindowKind      `json:"kind" validate:"required,oneof=maintenance freeze"`
	Reason    string          `json:"reason,omitempty" validate:"max=4000"`
	TimeZone  string          `json:"time_zone" validate:"required,max=100"`
	Start     time.Time       `json:"start" validate:"required"`
	End       time.Time       `json:"end" validate:"required,gtfield=Start"`
	RRule     string          `json:"rrule,omitempty" validate:"max=1000"`
	RDates    []ical.Period   `json:"rdates,omitempty" validate:"max=10000"`
	ExDates   []time.Time     `json:"exdates,omitempty" validate:"max=10000"`
	Overrides []ical.Override `json:"overrides,omitempty" validate:"max=10000"`
	Services  []string        `json:"services,omitempty" validate:"max=100,dive,required,max=200"`
	// Environments, when set, scopes the window to rollouts in those
	// environments (see StartRollout): it then does not apply to the
	// plan and deploy gates, only to rollout steps there.
	Environments []string `json:"environments,omitempty" validate:"max=20,dive,required,max=128"`
}

// Clone returns a deep copy of w.
func (w Window) Clone() Window {
	w.RDates = slices.Clone(w.RDates)
	w.ExDates = slices.Clone(w.ExDates)
	w.Overrides = slices.Clone(w.Overrides)
	w.Services = slices.Clone(w.Services)
	w.Environments = slices.Clone(w.Environments)
	return w
}

// MinWindowFrequency is the finest recurrence a window may have: hourly.
// Windows recurring every second or minute are refused (Validate, rule
// "min_frequency"), so that a year of a window's occurrences is at most
// 8,784 of them.
const MinWindowFrequency = ical.Hourly

// Validate checks w: a *ValidationError for bad fields or an unknown time
// zone, or a rule recurring more often than hourly (MinWindowFrequency); for a bad rule or an override that names no occurrence, an error
// that matches ErrInvalid and unwraps to an *ical.RuleError or
// *ical.SetError.
func (w *Window) Validate() error {
	_, err := w.Recurrence()
	return err
}

// Location loads w's time zone.
func (w *Window) Location() (*time.Location, error) {
	if w.TimeZone == "" || w.TimeZone == "Local" {
		return nil, invalid("time_zone", "iana")
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return nil, invalid("time_zone", "iana")
	}
	return loc, nil
}

// Recurrence returns the recurrence set of w's occurrences, in its time
// zone.
func (w *Window) Recurrence() (*ical.Set, error) {
	if err := validateStruct(w); err != nil {
		return nil, err
	}
	loc, err := w.Location()
	if err != nil {
		return nil, err
	}
	start := w.Start.In(loc).Truncate(time.Second)
	rc := &ical.Set{Start: start, Duration: w.End.Sub(w.Start), RDates: w.RDates, ExDates: w.ExDates, Overrides: w.Overrides}
	if w.RRule != "" {
		if rc.Rule, err = ical.ParseRule(w.RRule); err != nil {
			return nil, icalInvalid(err)
		}
		// A window that recurs every second or minute would make every
		// calendar question materialise millions of occurrences.
		if rc.Rule.Freq < MinWindowFrequency {
			return nil, invalidParam("rrule", "min_frequency", MinWindowFrequency.String())
		}
	}
	if err := rc.Validate(); err != nil {
		return nil, icalInvalid(err)
	}
	return rc, nil
}

// invalidICal marks an error of package ical as invalid input: it matches
// ErrInvalid and unwraps to the ical error (*ical.Error, *ical.RuleError,
// *ical.SetError).
type invalidICal struct{ err error }

func icalInvalid(err error) error { return &invalidICal{err} }

func (e *invalidICal) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "ical: ")
	if _, ok := e.err.(*ical.Error); ok {
		return "relman: icalendar " + msg
	}
	return "relman: " + msg
}
func (e *invalidICal) Unwrap() error        { return e.err }
func (e *invalidICal) Is(target error) bool { return target == ErrInvalid }

// Covers reports whether w applies to a release touching services.
func (w *Window) Covers(services []string) bool {
	if len(w.Services) == 0 {
		return true
	}
	for _, s := range services {
		if slices.Contains(w.Services, s) {
			return true
		}
	}
	return false
}

// Occurrence is one occurrence of a window.
type Occurrence struct {
	WindowID string
	Name     string
	Kind     WindowKind
	Span     Span
}

type calWindow struct {
	w   Window
	rec *ical.Set
}

// occurrences yields the occurrences of cw overlapping [from, to).
func (cw *calWindow) occurrences(from, to time.Time) iter.Seq[Span] {
	return func(yield func(Span) bool) {
		for in := range cw.rec.Between(from, to) {
			if !yield(Span{Start: in.Start, End: in.End}) {
				return
			}
		}
	}
}

// Calendar is a set of windows: it says when the services may deploy. It
// is immutable and safe for concurrent use.
type Calendar struct {
	windows []*calWindow
}

// NewCalendar checks the windows and builds a calendar of them. Window ids
// must be unique. Errors: *ValidationError, or one matching ErrInvalid
// that unwraps to an *ical.RuleError or *ical.SetError.
func NewCalendar(windows ...Window) (*Calendar, error) {
	c := &Calendar{}
	seen := make(map[string]bool, len(windows))
	for i, w := range windows {
		w = w.Clone()
		rc, err := w.Recurrence()
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				for j := range ve.Fields {
					ve.Fields[j].Field = fmt.Sprintf("windows[%d].%s", i, ve.Fields[j].Field)
				}
			}
			return nil, err
		}
		if seen[w.ID] {
			return nil, invalid(fmt.Sprintf("windows[%d].id", i), "unique")
		}
		seen[w.ID] = true
		c.windows = append(c.windows, &calWindow{w: w, rec: rc})
	}
	return c, nil
}

// Windows returns copies of the calendar's windows.
func (c *Calendar) Windows() []Window {
	if c == nil {
		return nil
	}
	out := make([]Window, len(c.windows))
	for i, cw := range c.windows {
		out[i] = cw.w.Clone()
	}
	return out
}

// Occurrences returns, ordered by start, the occurrences overlapping span
// of the windows that cover services (nil services: every window). An
// empty or inverted span (End not after Start, a zero End among them)
// overlaps none. At most MaxOccurrences are returned: the earliest.
func (c *Calendar) Occurrences(span Span, services []string) []Occurrence {
	if c == nil || !span.End.After(span.Start) {
		return nil
	}
	var out []Occurrence
	for _, cw := range c.windows {
		if services != nil && !cw.w.Covers(services) {
			continue
		}
		n := 0
		for sp := range cw.occurrences(span.Start, span.End) {
			if n++; n > MaxOccurrences {
				break // the earliest MaxOccurrences of each window are enough
			}
			out = append(out, Occurrence{WindowID: cw.w.ID, Name: cw.w.Name, Kind: cw.w.Kind, Span: sp})
		}
	}
	slices.SortFunc(out, func(a, b Occurrence) int {
		return cmp.Or(a.Span.Start.Compare(b.Span.Start), strings.Compare(a.WindowID, b.WindowID))
	})
	if len(out) > MaxOccurrences {
		out = out[:MaxOccurrences]
	}
	return out
}

// FreezeError reports a span that overlaps a freeze. It matches ErrFreeze.
type FreezeError struct {
	WindowID   string
	Name       string
	Reason     string
	Services   []string // the services of the release the freeze covers; nil: all
	Occurrence Span     // the freeze occurrence
}

// Error implements error.
func (e *FreezeError) Error() string {
	s := fmt.Sprintf("inside freeze %q (%s – %s)", e.Name,
		e.Occurrence.Start.Format(time.RFC3339), e.Occurrence.End.Format(time.RFC3339))
	if len(e.Services) > 0 {
		s += " for " + strings.Join(e.Services, ", ")
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is reports whether target is ErrFreeze.
func (e *FreezeError) Is(target error) bool { return target == ErrFreeze }

// OutsideMaintenanceError reports services whose maintenance windows do
// not contain the span. It matches ErrOutsideMaintenance.
type OutsideMaintenanceError struct {
	Services []string  // nil: releases without services (only windows for all apply)
	Windows  []string  // names of the maintenance windows that apply
	Next     time.Time // start of the next maintenance occurrence after the span's start; zero if none soon
}

// Error implements error.
func (e *OutsideMaintenanceError) Error() string {
	who := "releases without services"
	if len(e.Services) > 0 {
		who = "service " + strings.Join(e.Services, ", ")
	}
	s := fmt.Sprintf("outside any maintenance window of %s (%s)", who, strings.Join(e.Windows, ", "))
	if !e.Next.IsZero() {
		s += "; next opens " + e.Next.Format(time.RFC3339)
	}
	return s
}

// Is reports whether target is ErrOutsideMaintenance.
func (e *OutsideMaintenanceError) Is(target error) bool { return target == ErrOutsideMaintenance }

// CalendarError lists every reason the calendar refuses a span. Allowed
// returns it; Unwrap exposes each *FreezeError and
// *OutsideMaintenanceError, so errors.Is(err, ErrFreeze) works.
type CalendarError struct {
	Span     Span
	Services []string
	Reasons  []error
	// More counts the freeze occurrences beyond the first
	// MaxCalendarReasons, which are not listed.
	More int
}

// MaxCalendarReasons bounds the reasons a *CalendarError lists; the
// rest are counted in More.
const MaxCalendarReasons = 100

// MaxOccurrences bounds what Occurrences returns: the earliest ones.
const MaxOccurrences = 10000

// Error implements error.
func (e *CalendarError) Error() string {
	parts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		parts[i] = r.Error()
	}
	if e.More > 0 {
		parts = append(parts, fmt.Sprintf("and %d more freeze occurrence(s)", e.More))
	}
	return fmt.Sprintf("calendar refuses %s – %s: %s", e.Span.Start.Format(time.RFC3339),
		e.Span.End.Format(time.RFC3339), strings.Join(parts, "; "))
}

// Unwrap returns every reason.
func (e *CalendarError) Unwrap() []error { return e.Reasons }

// occSource gives the occurrences of window i overlapping [from, to).
type occSource func(i int, from, to time.Time) iter.Seq[Span]

func (c *Calendar) direct(i int, from, to time.Time) iter.Seq[Span] {
	return c.windows[i].occurrences(from, to)
}

// Allowed returns nil if a release touching services may deploy during
// span, or a *CalendarError naming every reason it may not: each freeze
// occurrence it overlaps, and each group of services whose maintenance
// windows do not contain it. A service without any maintenance window is
// not restricted by maintenance; a release without services is checked
// against the windows for all services. A span with a zero Start, or an
// End not after its Start, is a *ValidationError ("span.start",
// "span.end").
func (c *Calendar) Allowed(span Span, services []string) error {
	if err := checkSpan("span.", span); err != nil {
		return err
	}
	if c == nil {
		return nil
	}
	return c.allowed(span, services, c.direct, false)
}

// checkSpan checks s as the validator checks a Span, naming its fields
// after prefix.
func checkSpan(prefix string, s Span) error {
	var fs []FieldError
	if s.Start.IsZero() {
		fs = append(fs, FieldError{Field: prefix + "start", Rule: "required"})
	}
	if !s.End.After(s.Start) {
		fs = append(fs, FieldError{Field: prefix + "end", Rule: "gtfield", Param: "Start"})
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

func (c *Calendar) allowed(span Span, services []string, occ occSource, ignoreFreeze bool) error {
	var reasons []error
	more := 0
	if !ignoreFreeze {
		for i, cw := range c.windows {
			if cw.w.Kind != WindowFreeze || !cw.w.Covers(services) || len(cw.w.Environments) > 0 {
				continue
			}
			for sp := range occ(i, span.Start, span.End) {
				if len(reasons) >= MaxCalendarReasons {
					more++
					continue
				}
				reasons = append(reasons, &FreezeError{WindowID: cw.w.ID, Name: cw.w.Name, Reason: cw.w.Reason,
					Services: coveredServices(&cw.w, services), Occurrence: sp})
			}
		}
	}
	// Maintenance: group services by the set of windows that apply to them.
	type group struct {
		key      string
		windows  []int
		services []string
	}
	var groups []*group
	targets := services
	if len(targets) == 0 {
		targets = []string{""}
	}
	var key strings.Builder
	for _, s := range targets {
		var idx []int
		key.Reset()
		for i, cw := range c.windows {
			if cw.w.Kind != WindowMaintenance || len(cw.w.Environments) > 0 {
				continue
			}
			if len(cw.w.Services) == 0 || (s != "" && slices.Contains(cw.w.Services, s)) {
				idx = append(idx, i)
				fmt.Fprintf(&key, "%d,", i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		k := key.String()
		gi := slices.IndexFunc(groups, func(g *group) bool { return g.key == k })
		if gi < 0 {
			groups = append(groups, &group{key: k, windows: idx})
			gi = len(groups) - 1
		}
		if s != "" && !slices.Contains(groups[gi].services, s) {
			groups[gi].services = append(groups[gi].services, s)
		}
	}
	for _, g := range groups {
		if covered(span, g.windows, occ) {
			continue
		}
		e := &OutsideMaintenanceError{Services: g.services}
		for _, i := range g.windows {
			e.Windows = append(e.Windows, c.windows[i].w.Name)
			for sp := range occ(i, span.Start.Add(time.Second), span.Start.AddDate(1, 0, 0)) {
				if sp.Start.After(span.Start) {
					if e.Next.IsZero() || sp.Start.Before(e.Next) {
						e.Next = sp.Start
					}
					break
				}
			}
		}
		reasons = append(reasons, e)
	}
	if len(reasons) == 0 {
		return nil
	}
	return &CalendarError{Span: span, Services: slices.Clone(services), Reasons: reasons, More: more}
}

func coveredServices(w *Window, services []string) []string {
	if len(w.Services) == 0 {
		return nil
	}
	var out []string
	for _, s := range services {
		if slices.Contains(w.Services, s) {
			out = append(out, s)
		}
	}
	return out
}

// covered reports whether the union of the windows' occurrences contains
// span.
func covered(span Span, windows []int, occ occSource) bool {
	var occs []Span
	for _, i := range windows {
		for sp := range occ(i, span.Start, span.End) {
			occs = append(occs, sp)
		}
	}
	slices.SortFunc(occs, func(a, b Span) int { return a.Start.Compare(b.Start) })
	at := span.Start
	for _, o := range occs {
		if o.Start.After(at) {
			return false
		}
		if o.End.After(at) {
			at = o.End
		}
		if !at.Before(span.End) {
			return true
		}
	}
	return !at.Before(span.End)
}

// ---------------------------------------------------------------------------
// Slots.

// SlotOptions refine NextSlot.
type SlotOptions struct {
	// Horizon bounds the search: no slot starting later than after+Horizon
	// is returned. Default 90 days; at most MaxHorizon.
	Horizon time.Duration
	// Planned are the other planned releases; a slot may not overlap the
	// window of one that shares a service (or, with Graph, a dependent
	// service) or one of Teams, nor make concurrent deployments exceed
	// Capacity.
	Planned []*Release
	// Teams are the teams of the release being placed (see
	// Release.HasTeam): a planned release involving one of them blocks
	// its window. None: teams do not matter.
	Teams []string
	// Exclude is the id of the release being placed, ignored in Planned.
	Exclude string
	// Capacity is the most deployments that may run at once (0: no limit).
	Capacity int
	// Graph gives dependent services.
	Graph *DependencyGraph
}

// NoSlotError reports that NextSlot found no slot. It matches ErrNoSlot.
type NoSlotError struct {
	After    time.Time
	Duration time.Duration
	Horizon  time.Duration
	Services []string
	Last     error // why the last candidate was refused, if any
}

// Error implements error.
func (e *NoSlotError) Error() string {
	s := fmt.Sprintf("no slot of %s for %s between %s and %s", e.Duration, strings.Join(e.Services, ", "),
		e.After.Format(time.RFC3339), e.After.Add(e.Horizon).Format(time.RFC3339))
	if e.Last != nil {
		s += ": " + e.Last.Error()
	}
	return s
}

// Unwrap returns ErrNoSlot and the last refusal.
func (e *NoSlotError) Unwrap() []error {
	if e.Last == nil {
		return []error{ErrNoSlot}
	}
	return []error{ErrNoSlot, e.Last}
}

// NextSlot returns the earliest span of length d starting at or after
// after (to the second) that the calendar allows for services and that
// fits among opt.Planned, or a *NoSlotError. A zero after ("after"), a d
// that is not positive ("duration"), a negative opt.Horizon or one over
// MaxHorizon ("horizon"), a negative opt.Capacity ("capacity") or more
// than MaxSlotServices services ("services") is a *ValidationError
// naming them.
func (c *Calendar) NextSlot(after time.Time, d time.Duration, services []string, opt SlotOptions) (Span, error) {
	if err := checkSlot(after, d, services, opt); err != nil {
		return Span{}, err
	}
	if opt.Horizon == 0 {
		opt.Horizon = 90 * 24 * time.Hour
	}
	t := after
	if t.Nanosecond() != 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	limit := after.Add(opt.Horizon)
	blocked := blockedSpans(services, opt)
	// last is why the last candidate was refused: a busy span's end
	// (busy) or the calendar's error; spelled out only if no slot is found.
	var last error
	var busy time.Time
	noSlot := func() error {
		if !busy.IsZero() && last == nil {
			last = fmt.Errorf("%w: busy until %s", ErrSchedulingConflict, busy.Format(time.RFC3339))
		}
		return &NoSlotError{After: after, Duration: d, Horizon: opt.Horizon, Services: slices.Clone(services), Last: last}
	}
	for !t.After(limit) {
		cand := Span{Start: t, End: t.Add(d)}
		// Jump past planned releases in the way.
		if i, ok := firstOverlap(blocked, cand); ok {
			t = blocked[i].End
			busy, last = t, nil
			continue
		}
		err := c.Allowed(cand, services)
		if err == nil {
			return cand, nil
		}
		busy, last = time.Time{}, err
		next, ok := retryAt(t, err)
		if !ok {
			return Span{}, noSlot()
		}
		t = next
	}
	return Span{}, noSlot()
}

// retryAt returns when to try again after the calendar refused a span
// starting at t with err: past every freeze occurrence in the way and no
// sooner than the next maintenance window of each service outside one (at
// least a second after t). ok is false if err is not a *CalendarError or
// a service has no maintenance window ahead: waiting will not help.
func retryAt(t time.Time, err error) (next time.Time, ok bool) {
	var ce *CalendarError
	if !errors.As(err, &ce) {
		return time.Time{}, false
	}
	next = t.Add(time.Second)
	for _, r := range ce.Reasons {
		switch r := r.(type) {
		case *FreezeError:
			next = maxTime(next, r.Occurrence.End)
		case *OutsideMaintenanceError:
			if r.Next.IsZero() {
				return time.Time{}, false
			}
			next = maxTime(next, r.Next)
		}
	}
	return next, true
}

// The bounds of a slot search, so that what a caller asks for bounds its
// cost: NextSlot reads the planned releases of every service asked for
// over the whole horizon.
const (
	// MaxHorizon is the longest horizon NextSlot searches: ten years.
	MaxHorizon = 10 * 365 * 24 * time.Hour
	// MaxSlotServices is the most services one NextSlot asks about, as
	// many as a release may list.
	MaxSlotServices = 100
)

// checkSlot checks the arguments of NextSlot.
func checkSlot(after time.Time, d time.Duration, services []string, opt SlotOptions) error {
	var fs []FieldError
	if after.IsZero() {
		fs = append(fs, FieldError{Field: "after", Rule: "required"})
	}
	if d <= 0 {
		fs = append(fs, FieldError{Field: "duration", Rule: "gt", Param: "0"})
	}
	if opt.Horizon < 0 {
		fs = append(fs, FieldError{Field: "horizon", Rule: "gte", Param: "0"})
	}
	if opt.Horizon > MaxHorizon {
		fs = append(fs, FieldError{Field: "horizon", Rule: "lte", Param: MaxHorizon.String()})
	}
	if len(services) > MaxSlotServices {
		fs = append(fs, FieldError{Field: "services", Rule: "max", Param: strconv.Itoa(MaxSlotServices)})
	}
	if opt.Capacity < 0 {
		fs = append(fs, FieldError{Field: "capacity", Rule: "gte", Param: "0"})
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// blockedSpans merges the windows of planned releases that share a
// service (or a dependent service) with services, and the periods when
// concurrent deployments already fill the capacity.
func blockedSpans(services []string, opt SlotOptions) []Span {
	affected := slices.Clone(services)
	affected = append(affected, opt.Graph.Dependents(services)...)
	var busy []Span
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for _, r := range opt.Planned {
		if r == nil || r.Window == nil || r.ID == opt.Exclude || !r.Window.End.After(r.Window.Start) {
			continue
		}
		if opt.Capacity > 0 {
			evs = append(evs, ev{r.Window.Start, 1}, ev{r.Window.End, -1})
		}
		rs := r.Services
		if opt.Graph != nil {
			rs = append(slices.Clone(rs), opt.Graph.Dependents(r.Services)...)
		}
		if slices.ContainsFunc(rs, func(s string) bool { return slices.Contains(affected, s) }) || slices.ContainsFunc(opt.Teams, r.HasTeam) {
			busy = append(busy, *r.Window)
		}
	}
	if opt.Capacity > 0 {
		slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(a.at.Compare(b.at), a.delta-b.delta) })
		n := 0
		var from time.Time
		for _, e := range evs {
			n += e.delta
			if e.delta > 0 && n == opt.Capacity {
				from = e.at
			}
			if e.delta < 0 && n == opt.Capacity-1 && e.at.After(from) {
				busy = append(busy, Span{Start: from, End: e.at})
			}
		}
	}
	return mergeSpans(busy)
}

// mergeSpans sorts spans and merges overlapping ones, in place.
func mergeSpans(spans []Span) []Span {
	slices.SortFunc(spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 && !s.Start.After(out[n-1].End) {
			if s.End.After(out[n-1].End) {
				out[n-1].End = s.End
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// firstOverlap finds the first of the merged spans overlapping s.
func firstOverlap(merged []Span, s Span) (int, bool) {
	i, _ := slices.BinarySearchFunc(merged, s.Start, func(m Span, t time.Time) int {
		if !m.End.After(t) {
			return -1
		}
		return 1
	})
	if i < len(merged) && merged[i].Overlaps(s) {
		return i, true
	}
	return 0, false
}

// ---------------------------------------------------------------------------
// Conflicts.

// ConflictKind names the kind of a scheduling conflict.
type ConflictKind string

// The kinds of conflict.
const (
	ConflictService            ConflictKind = "same-service"        // two releases deploy one service at once
	ConflictDependency         ConflictKind = "dependent-service"   // one deploys a service another's service depends on
	ConflictTeam               ConflictKind = "team"                // a team is booked by two releases at once
	ConflictCapacity           ConflictKind = "capacity"            // more concurrent deployments than allowed
	ConflictOutsideMaintenance ConflictKind = "outside-maintenance" // the window is outside maintenance
	ConflictFreeze             ConflictKind = "freeze"              // the window overlaps a freeze
)

// Conflict is one scheduling conflict among planned releases.
type Conflict struct {
	Kind     ConflictKind
	Releases []string // the releases involved, sorted
	Service  string   // the service (same-service, dependent-service)
	Team     string   // the team (team)
	Window   string   // the calendar window (freeze, outside-maintenance)
	Span     Span     // the overlapping span
	Reason   string
}

// String describes the conflict in one line.
func (c Conflict) String() string {
	return fmt.Sprintf("%s %s – %s [%s]: %s", c.Kind, c.Span.Start.UTC().Format("2006-01-02T15:04Z"),
		c.Span.End.UTC().Format("2006-01-02T15:04Z"), strings.Join(c.Releases, ", "), c.Reason)
}

// ConflictOptions refine FindConflicts.
type ConflictOptions struct {
	Capacity int              // most concurrent deployments (0: no limit)
	Graph    *DependencyGraph // the host's service dependencies
	Calendar *Calendar        // also report freeze and outside-maintenance conflicts
}

// sweepItem is one busy interval in a sweep: nanoseconds, no pointers, so
// that sorting and the garbage collector stay cheap on large inputs.
type sweepItem struct {
	start, end int64
	span       int32 // index into the spans table
	id         int32 // index into releases
	via        bool  // the release reaches this service through a dependency
}

// FindConflicts returns every conflict among the planned windows of
// releases (those without a window are ignored), ordered by start: each
// pair deploying one service at once, each pair where one deploys a
// service the other's service depends on, each team booked twice (during
// its tasks when the release has a task plan, else during the window), each
// period over capacity, and with a calendar each freeze and maintenance
// refusal. Detection sweeps start-sorted windows per service and team:
// O(n log n + k) for n releases and k conflicts, never all pairs.
func FindConflicts(releases []*Release, opt ConflictOptions) []Conflict {
	var out []Conflict
	var spans []Span
	byService := map[string][]sweepItem{}
	byTeam := map[string][]sweepItem{}
	var all []sweepItem
	item := func(sp Span, id int, via bool) sweepItem {
		spans = append(spans, sp)
		return sweepItem{start: sp.Start.UnixNano(), end: sp.End.UnixNano(), span: int32(len(spans) - 1), id: int32(id), via: via}
	}
	for i, r := range releases {
		if r == nil || r.Window == nil || !r.Window.End.After(r.Window.Start) {
			continue
		}
		it := item(*r.Window, i, false)
		all = append(all, it)
		for k, s := range r.Services {
			if !slices.Contains(r.Services[:k], s) {
				byService[s] = append(byService[s], it)
			}
		}
		if opt.Graph != nil {
			for _, d := range opt.Graph.Dependents(r.Services) {
				dep := it
				dep.via = true
				byService[d] = append(byService[d], dep)
			}
		}
		teamBookings(r, func(team string, sp Span) {
			if sp == *r.Window {
				byTeam[team] = append(byTeam[team], it)
			} else {
				byTeam[team] = append(byTeam[team], item(sp, i, false))
			}
		})
	}
	ids := func(a, b int32) []string {
		x, y := releases[a].ID, releases[b].ID
		if y < x {
			x, y = y, x
		}
		return []string{x, y}
	}
	overlap := func(a, b sweepItem) Span {
		return Span{Start: spans[b.span].Start, End: minTime(spans[a.span].End, spans[b.span].End)}
	}
	for _, s := range sortedKeys(byService) {
		sweepPairs(byService[s], func(a, b sweepItem) {
			switch {
			case a.id == b.id:
			case !a.via && !b.via:
				out = append(out, Conflict{Kind: ConflictService, Releases: ids(a.id, b.id), Service: s, Span: overlap(a, b),
					Reason: "both deploy " + s})
			case !a.via || !b.via:
				direct, other := a, b
				if direct.via {
					direct, other = b, a
				}
				out = append(out, Conflict{Kind: ConflictDependency, Releases: ids(a.id, b.id), Service: s, Span: overlap(a, b),
					Reason: releases[direct.id].ID + " deploys " + s + " while " + releases[other.id].ID +
						" changes a service " + s + " depends on"})
			}
		})
	}
	for _, team := range sortedKeys(byTeam) {
		var seen map[[2]int32]bool
		sweepPairs(byTeam[team], func(a, b sweepItem) {
			if a.id == b.id {
				return
			}
			k := [2]int32{min(a.id, b.id), max(a.id, b.id)}
			if seen == nil {
				seen = map[[2]int32]bool{}
			}
			if seen[k] {
				return
			}
			seen[k] = true
			out = append(out, Conflict{Kind: ConflictTeam, Releases: ids(a.id, b.id), Team: team, Span: overlap(a, b),
				Reason: "team " + team + " is booked by both"})
		})
	}
	if opt.Capacity > 0 {
		out = append(out, capacityConflicts(all, spans, releases, opt.Capacity)...)
	}
	if opt.Calendar != nil && len(opt.Calendar.windows) > 0 && len(all) > 0 {
		out = append(out, calendarConflicts(all, releases, opt.Calendar)...)
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		return cmp.Or(a.Span.Start.Compare(b.Span.Start), strings.Compare(string(a.Kind), string(b.Kind)),
			slices.Compare(a.Releases, b.Releases), strings.Compare(a.Service, b.Service), strings.Compare(a.Team, b.Team),
			strings.Compare(a.Window, b.Window))
	})
	return out
}

func uniq(s []string) []string {
	if len(s) < 2 {
		return s
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sweepPairs calls fn(a, b) for every overlapping pair of items, a
// starting no later than b: it sorts them by start and keeps the active
// ones in a list pruned as the sweep moves.
func sweepPairs(items []sweepItem, fn func(a, b sweepItem)) {
	if len(items) < 2 {
		return
	}
	slices.SortFunc(items, func(a, b sweepItem) int { return cmp.Compare(a.start, b.start) })
	var active []sweepItem
	for _, it := range items {
		n := 0
		for _, a := range active {
			if a.end > it.start {
				active[n] = a
				n++
			}
		}
		active = active[:n]
		for _, a := range active {
			fn(a, it)
		}
		active = append(active, it)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// teamBookings calls fn for each span during which a team of r is busy:
// during its tasks when the release has a task plan with durations, else
// during the whole window.
func teamBookings(r *Release, fn func(team string, sp Span)) {
	hasDur := slices.ContainsFunc(r.Tasks, func(t Task) bool { return t.Team != "" && t.Duration > 0 })
	if hasDur {
		if plan, err := r.TaskPlan(); err == nil && plan != nil {
			byTeam := map[string][]Span{}
			for _, t := range plan.Tasks {
				if t.Team != "" && t.Finish.After(t.Start) {
					byTeam[t.Team] = append(byTeam[t.Team], Span{Start: t.Start, End: t.Finish})
				}
			}
			for _, team := range sortedKeys(byTeam) {
				for _, sp := range mergeSpans(byTeam[team]) {
					fn(team, sp)
				}
			}
			for k, team := range r.Teams {
				if _, ok := byTeam[team]; !ok && !slices.Contains(r.Teams[:k], team) {
					fn(team, *r.Window)
				}
			}
			return
		}
	}
	for k, team := range r.Teams {
		if !slices.Contains(r.Teams[:k], team) {
			fn(team, *r.Window)
		}
	}
	for k, t := range r.Tasks {
		if t.Team != "" && !slices.Contains(r.Teams, t.Team) &&
			!slices.ContainsFunc(r.Tasks[:k], func(o Task) bool { return o.Team == t.Team }) {
			fn(t.Team, *r.Window)
		}
	}
}

// capacityConflicts reports each maximal period during which more than
// capacity windows are open, naming the releases open during it.
func capacityConflicts(all []sweepItem, spans []Span, releases []*Release, capacity int) []Conflict {
	type ev struct {
		at    int64
		delta int32
		k     int32 // index into all
	}
	evs := make([]ev, 0, 2*len(all))
	for k, it := range all {
		evs = append(evs, ev{it.start, 1, int32(k)}, ev{it.end, -1, int32(k)})
	}
	slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	var out []Conflict
	open := make([]int32, 0, 64) // indexes into all
	pos := make([]int32, len(all))
	var involved []int32
	inExcess := false
	var from time.Time
	peak := 0
	for _, e := range evs {
		if e.delta > 0 {
			pos[e.k] = int32(len(open))
			open = append(open, e.k)
		} else {
			p := pos[e.k]
			last := open[len(open)-1]
			open[p], pos[last] = last, p
			open = open[:len(open)-1]
		}
		n := len(open)
		switch {
		case n > capacity && !inExcess:
			inExcess, peak = true, n
			from = spans[all[e.k].span].Start
			involved = append(involved[:0], open...)
		case n > capacity:
			peak = max(peak, n)
			if e.delta > 0 {
				involved = append(involved, e.k)
			}
		case inExcess:
			inExcess = false
			c := Conflict{Kind: ConflictCapacity, Span: Span{Start: from, End: spans[all[e.k].span].End},
				Reason: strconv.Itoa(peak) + " concurrent deployments, capacity " + strconv.Itoa(capacity)}
			for _, k := range involved {
				c.Releases = append(c.Releases, releases[all[k].id].ID)
			}
			slices.Sort(c.Releases)
			c.Releases = slices.Compact(c.Releases)
			out = append(out, c)
		}
	}
	return out
}

// calendarConflicts checks every planned window against the calendar,
// expanding each calendar window once over the whole planned period.
func calendarConflicts(all []sweepItem, releases []*Release, cal *Calendar) []Conflict {
	lo, hi := *releases[all[0].id].Window, *releases[all[0].id].Window
	for _, it := range all {
		w := releases[it.id].Window
		lo.Start = minTime(lo.Start, w.Start)
		hi.End = maxTime(hi.End, w.End)
	}
	return calendarConflictsIn(all, releases, cal, lo.Start, hi.End)
}

func calendarConflictsIn(all []sweepItem, releases []*Release, cal *Calendar, lo, hi time.Time) []Conflict {
	occs := make([][]Span, len(cal.windows))
	for i, cw := range cal.windows {
		for sp := range cw.occurrences(lo, hi) {
			occs[i] = append(occs[i], sp)
		}
	}
	indexed := func(i int, from, to time.Time) iter.Seq[Span] {
		return func(yield func(Span) bool) {
			list := occs[i]
			if from.Before(lo) || to.After(hi) {
				// Outside the indexed period (the next-opening lookup).
				for sp := range cal.windows[i].occurrences(from, to) {
					if !yield(sp) {
						return
					}
				}
				return
			}
			j, _ := slices.BinarySearchFunc(list, from, func(s Span, t time.Time) int {
				if !s.End.After(t) {
					return -1
				}
				return 1
			})
			for ; j < len(list) && list[j].Start.Before(to); j++ {
				if list[j].End.After(from) && !yield(list[j]) {
					return
				}
			}
		}
	}
	var out []Conflict
	for _, it := range all {
		r := releases[it.id]
		span := *r.Window
		err := cal.allowed(span, r.Services, indexed, false)
		var ce *CalendarError
		if !errors.As(err, &ce) {
			continue
		}
		for _, reason := range ce.Reasons {
			switch e := reason.(type) {
			case *FreezeError:
				out = append(out, Conflict{Kind: ConflictFreeze, Releases: []string{r.ID}, Window: e.Name,
					Span:   Span{Start: maxTime(span.Start, e.Occurrence.Start), End: minTime(span.End, e.Occurrence.End)},
					Reason: e.Error()})
			case *OutsideMaintenanceError:
				out = append(out, Conflict{Kind: ConflictOutsideMaintenance, Releases: []string{r.ID},
					Window: strings.Join(e.Windows, ", "), Service: strings.Join(e.Services, ","), Span: span, Reason: e.Error()})
			}
		}
	}
	return out
}

// ConflictError reports the conflicts that block a release from being
// planned. The plan gate returns it; it matches ErrSchedulingConflict.
type ConflictError struct {
	ReleaseID string
	Conflicts []Conflict
}

// Error implements error.
func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = c.String()
	}
	return fmt.Sprintf("%d scheduling conflict(s): %s", len(e.Conflicts), strings.Join(parts, "; "))
}

// Is reports whether target is ErrSchedulingConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrSchedulingConflict }

// ---------------------------------------------------------------------------
// Task plans.

// ScheduledTask is a task placed in time by a task plan.
type ScheduledTask struct {
	Name     string
	Team     string
	Start    time.Time     // earliest start
	Finish   time.Time     // earliest finish
	Slack    time.Duration // how long it may slip without delaying the plan
	Critical bool          // on the critical path (no slack)
}

// TaskPlan is the schedule of a release's tasks from a start time.
type TaskPlan struct {
	Start        time.Time
	Finish       time.Time
	Tasks        []ScheduledTask          // in the order of the release's tasks
	CriticalPath []string                 // names, in order, of a longest chain of tasks
	Load         map[string]time.Duration // total task duration per team
}

// TaskPlanError reports a task plan that cannot be computed: a cycle
// (matching ErrTaskCycle) or unknown or duplicate tasks (matching
// ErrUnknownTask).
type TaskPlanError struct {
	Cycle     []string // the tasks of one cycle, in dependency order
	Unknown   []string // "task -> missing" for each unknown dependency
	Duplicate []string // task names given more than once
}

// Error implements error.
func (e *TaskPlanError) Error() string {
	var parts []string
	if len(e.Cycle) > 0 {
		parts = append(parts, "dependency cycle "+strings.Join(e.Cycle, " -> ")+" -> "+e.Cycle[0])
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "unknown dependencies "+strings.Join(e.Unknown, ", "))
	}
	if len(e.Duplicate) > 0 {
		parts = append(parts, "duplicate tasks "+strings.Join(e.Duplicate, ", "))
	}
	return "task plan: " + strings.Join(parts, "; ")
}

// Unwrap returns the sentinels the error matches.
func (e *TaskPlanError) Unwrap() []error {
	var out []error
	if len(e.Cycle) > 0 {
		out = append(out, ErrTaskCycle)
	}
	if len(e.Unknown)+len(e.Duplicate) > 0 {
		out = append(out, ErrUnknownTask)
	}
	return out
}

// PlanTasks schedules tasks from start: each task starts when the last of
// its dependencies finishes (critical path method). It returns a
// *ValidationError for a blank name ("tasks[1].name") or a negative
// duration ("tasks[1].duration"), and a *TaskPlanError for cycles,
// unknown dependencies or duplicate names.
func PlanTasks(start time.Time, tasks []Task) (*TaskPlan, error) {
	var fs []FieldError
	for i, t := range tasks {
		if blank(t.Name) {
			fs = append(fs, FieldError{Field: fmt.Sprintf("tasks[%d].name", i), Rule: "required"})
		}
		if t.Duration < 0 {
			fs = append(fs, FieldError{Field: fmt.Sprintf("tasks[%d].duration", i), Rule: "gte", Param: "0"})
		}
	}
	if len(fs) > 0 {
		return nil, &ValidationError{Fields: fs}
	}
	idx := make(map[string]int, len(tasks))
	perr := &TaskPlanError{}
	for i, t := range tasks {
		if _, dup := idx[t.Name]; dup {
			perr.Duplicate = append(perr.Duplicate, t.Name)
			continue
		}
		idx[t.Name] = i
	}
	n := len(tasks)
	succ := make([][]int, n)
	indeg := make([]int, n)
	for i, t := range tasks {
		for _, d := range uniq(t.DependsOn) {
			j, ok := idx[d]
			if !ok {
				perr.Unknown = append(perr.Unknown, t.Name+" -> "+d)
				continue
			}
			succ[j] = append(succ[j], i)
			indeg[i]++
		}
	}
	if len(perr.Unknown)+len(perr.Duplicate) > 0 {
		return nil, perr
	}
	order := make([]int, 0, n)
	deg := slices.Clone(indeg)
	for i := range n {
		if deg[i] == 0 {
			order = append(order, i)
		}
	}
	for k := 0; k < len(order); k++ {
		for _, s := range succ[order[k]] {
			if deg[s]--; deg[s] == 0 {
				order = append(order, s)
			}
		}
	}
	if len(order) < n {
		perr.Cycle = findCycle(tasks, idx, deg)
		return nil, perr
	}
	es := make([]time.Duration, n) // earliest start offset
	pred := make([]int, n)
	for i := range pred {
		pred[i] = -1
	}
	var finish time.Duration
	last := -1
	for _, i := range order {
		ef := es[i] + tasks[i].Duration
		if last < 0 || ef > finish {
			finish, last = ef, i
		}
		for _, s := range succ[i] {
			if pred[s] < 0 || ef > es[s] {
				es[s], pred[s] = ef, i
			}
		}
	}
	// Latest finish, backwards.
	lf := make([]time.Duration, n)
	for i := range lf {
		lf[i] = finish
	}
	for k := n - 1; k >= 0; k-- {
		i := order[k]
		for _, s := range succ[i] {
			lf[i] = min(lf[i], lf[s]-tasks[s].Duration)
		}
	}
	plan := &TaskPlan{Start: start, Finish: start.Add(finish), Load: map[string]time.Duration{}}
	for i, t := range tasks {
		slack := lf[i] - (es[i] + t.Duration)
		plan.Tasks = append(plan.Tasks, ScheduledTask{Name: t.Name, Team: t.Team, Start: start.Add(es[i]),
			Finish: start.Add(es[i] + t.Duration), Slack: slack, Critical: slack == 0})
		if t.Team != "" {
			plan.Load[t.Team] += t.Duration
		}
	}
	for i := last; i >= 0; i = pred[i] {
		plan.CriticalPath = append(plan.CriticalPath, tasks[i].Name)
	}
	slices.Reverse(plan.CriticalPath)
	return plan, nil
}

// findCycle returns the names of one cycle among the tasks left with a
// positive in-degree by the topological sort.
func findCycle(tasks []Task, idx map[string]int, deg []int) []string {
	state := make([]int8, len(tasks)) // 0 new, 1 on stack, 2 done
	var stack []int
	var cycle []string
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = 1
		stack = append(stack, i)
		for _, d := range tasks[i].DependsOn {
			j := idx[d]
			if deg[j] == 0 {
				continue
			}
			if state[j] == 1 {
				k := slices.Index(stack, j)
				for _, s := range stack[k:] {
					cycle = append(cycle, tasks[s].Name)
				}
				slices.Reverse(cycle) // dependency order: a task after what it depends on
				return true
			}
			if state[j] == 0 && visit(j) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = 2
		return false
	}
	for i := range tasks {
		if deg[i] > 0 && state[i] == 0 && visit(i) {
			break
		}
	}
	return cycle
}

// TaskPlan schedules the release's tasks from the start of its planned
// window, so moving the window moves every task. It returns nil, nil for
// a release without a window or tasks.
func (r *Release) TaskPlan() (*TaskPlan, error) {
	if r.Window == nil || len(r.Tasks) == 0 {
		return nil, nil
	}
	return PlanTasks(r.Window.Start, r.Tasks)
}
