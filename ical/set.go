package ical

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"time"
)

// Set is an RFC 5545 recurrence set: the instances of one event. Start
// (DTSTART) is the first instance whether or not it matches Rule, and its
// location is the one Rule expands in. RDates add instances, ExDates
// remove them (by their original start), and Overrides move, resize or
// cancel single instances or, with ThisAndFuture, every instance from one
// on. Each instance lasts Duration unless its RDATE period or override
// says otherwise. Instants compare to the second.
type Set struct {
	Start     time.Time
	Duration  time.Duration
	Rule      *Rule
	RDates    []Period
	ExDates   []time.Time
	Overrides []Override
}

// Period is an RDATE value: an instance starting at Start and ending at
// End. A zero End means the set's Duration (an RDATE written as a
// DATE-TIME or DATE rather than a PERIOD).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Override changes the instance whose original start is RecurrenceID, as
// a VEVENT with a RECURRENCE-ID does: it moves it to [Start, End), or
// removes it when Cancelled (STATUS:CANCELLED). With ThisAndFuture
// (RANGE=THISANDFUTURE) it applies to every later instance too: each
// moves by Start-RecurrenceID and lasts End-Start, or is removed. A later
// override takes precedence over an earlier ThisAndFuture one.
type Override struct {
	RecurrenceID  time.Time `json:"recurrence_id"`
	ThisAndFuture bool      `json:"this_and_future,omitempty"`
	Cancelled     bool      `json:"cancelled,omitempty"`
	Start         time.Time `json:"start,omitzero"`
	End           time.Time `json:"end,omitzero"`
}

// Instance is one occurrence of a Set: its original start (the value a
// RECURRENCE-ID names) and its actual span.
type Instance struct {
	RecurrenceID time.Time
	Start, End   time.Time
}

// Validate reports whether s can be expanded: a valid rule, no negative
// duration or period, and every override naming an instance of the set
// (ignoring ExDates and other overrides). Errors are *SetError.
func (s *Set) Validate() error {
	if s == nil {
		return &SetError{Reason: "missing set"}
	}
	if s.Duration < 0 {
		return &SetError{Reason: "negative duration"}
	}
	if s.Rule != nil {
		if err := s.Rule.Validate(); err != nil {
			return &SetError{Reason: "bad rule", Err: err}
		}
	}
	for i, p := range s.RDates {
		if !p.End.IsZero() && p.End.Before(p.Start) {
			return &SetError{Index: i, Field: "RDATE", Reason: "period ends before it starts"}
		}
	}
	base := Set{Start: s.Start, Rule: s.Rule, RDates: s.RDates}
	counted, err := base.countedIDs(s.Overrides)
	for i, o := range s.Overrides {
		if !o.Cancelled && o.End.Before(o.Start) {
			return &SetError{Index: i, Field: "RECURRENCE-ID", Reason: "override ends before it starts"}
		}
		var found bool
		if counted != nil {
			found = counted[o.RecurrenceID.Unix()]
			if !found && err != nil {
				return &SetError{Index: i, Field: "RECURRENCE-ID", Reason: err.Error()}
			}
		} else {
			found = base.has(o.RecurrenceID)
		}
		if !found {
			return &SetError{Index: i, Field: "RECURRENCE-ID", Reason: fmt.Sprintf("no instance starts at %s", o.RecurrenceID.Format(time.RFC3339))}
		}
	}
	return nil
}

// maxCountedSteps bounds how many instances of a rule with COUNT Validate
// walks to find the instances overrides name: COUNT forbids skipping
// ahead, and an override far into a second-by-second series would
// otherwise cost time without bound.
const maxCountedSteps = 1 << 20

// has reports whether t is one of the original starts of a set whose
// rule, if any, has no COUNT (so that expansion skips ahead to t).
func (s *Set) has(t time.Time) bool {
	for v := range s.ids(t, t.Add(time.Second)) {
		return v.Unix() == t.Unix()
	}
	return false
}

// countedIDs returns, for a set whose rule has COUNT, which of the
// overrides' instants are original starts, walking the series once up to
// the last of them (at most maxCountedSteps instances; past that, err
// says so). For other sets it returns nil.
func (s *Set) countedIDs(overrides []Override) (map[int64]bool, error) {
	if s.Rule == nil || s.Rule.Count == 0 || len(overrides) == 0 {
		return nil, nil
	}
	want := map[int64]bool{}
	var last time.Time
	for _, o := range overrides {
		want[o.RecurrenceID.Unix()] = false
		if o.RecurrenceID.After(last) {
			last = o.RecurrenceID
		}
	}
	n := 0
	for v := range s.ids(time.Time{}, last.Add(time.Second)) {
		if _, ok := want[v.Unix()]; ok {
			want[v.Unix()] = true
		}
		if n++; n > maxCountedSteps {
			return want, fmt.Errorf("more than %d instances precede it; not checked", maxCountedSteps)
		}
	}
	return want, nil
}

// SetError reports a Set that cannot be expanded. Field names the part at
// fault ("RDATE", "RECURRENCE-ID") and Index its position in RDates or
// Overrides; Err is a *RuleError for a bad rule. Set.Validate returns it.
type SetError struct {
	Field  string
	Index  int
	Reason string
	Err    error
}

// Error implements error.
func (e *SetError) Error() string {
	msg := "ical: recurrence set: "
	if e.Field != "" {
		msg += fmt.Sprintf("%s #%d: ", e.Field, e.Index+1)
	}
	msg += e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns Err.
func (e *SetError) Unwrap() error { return e.Err }

// ids returns the original starts t of the set (DTSTART, RRULE, RDATE,
// less EXDATE; overrides ignored) with from <= t < to in ascending order
// without duplicates, in Start's location. A zero from or to leaves that
// side open.
func (rc *Set) ids(from, to time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) { rc.walk(from, to, yield) }
}

// walk is ids without the iterator.
func (rc *Set) walk(from, to time.Time, yield func(time.Time) bool) {
	loc := rc.Start.Location()
	extra := make([]int64, 0, len(rc.RDates)+1)
	extra = append(extra, rc.Start.Unix())
	for _, p := range rc.RDates {
		extra = append(extra, p.Start.Unix())
	}
	slices.Sort(extra)
	extra = slices.Compact(extra)
	var ex []int64
	if len(rc.ExDates) > 0 {
		ex = make([]int64, len(rc.ExDates))
		for i, t := range rc.ExDates {
			ex[i] = t.Unix()
		}
		slices.Sort(ex)
	}
	fromU, toU := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		fromU = from.Unix()
		if from.Nanosecond() > 0 {
			fromU++
		}
	}
	if !to.IsZero() {
		toU = to.Unix()
		if to.Nanosecond() > 0 {
			toU++
		}
	}
	last := int64(math.MinInt64)
	out := func(u int64) bool {
		if u <= last || u < fromU {
			return true
		}
		last = u
		if _, found := slices.BinarySearch(ex, u); found {
			return true
		}
		return yield(time.Unix(u, 0).In(loc))
	}
	ei := 0
	if rc.Rule != nil && rc.Rule.Validate() == nil {
		x := newExpander(rc.Rule, rc.Start)
		stopped := false
		x.run(from, to, func(u int64) bool {
			for ei < len(extra) && extra[ei] <= u {
				if extra[ei] >= toU || !out(extra[ei]) {
					stopped = true
					return false
				}
				ei++
			}
			if !out(u) {
				stopped = true
				return false
			}
			return true
		})
		if stopped {
			return
		}
	}
	for ; ei < len(extra) && extra[ei] < toU; ei++ {
		if !out(extra[ei]) {
			return
		}
	}
}

// Starts returns the original starts t of the set with from <= t < to,
// ascending, in Start's location: DTSTART, the rule's and RDATE's
// instants, less EXDATE. Overrides are not applied (see Between). A zero
// from or to leaves that side open.
func (s *Set) Starts(from, to time.Time) iter.Seq[time.Time] {
	if s == nil {
		return func(func(time.Time) bool) {}
	}
	return s.ids(from, to)
}

// Between returns the instances of the set that overlap [from, to) (an
// instance of no length overlaps when from <= Start < to), ordered by
// Start, then RecurrenceID, with overrides applied and in Start's
// location. A zero from or to leaves that side open. Expansion is lazy:
// it reads the rule only as far as the instances it yields.
func (s *Set) Between(from, to time.Time) iter.Seq[Instance] {
	if s == nil {
		return func(func(Instance) bool) {}
	}
	if len(s.Overrides) == 0 {
		return s.plain(from, to)
	}
	return func(yield func(Instance) bool) {
		loc := s.Start.Location()
		var exact []Instance // moved single instances, by start
		exactIDs := map[int64]bool{}
		var future []*Override // by RecurrenceID
		maxDur := max(s.Duration, 0)
		var shift time.Duration // the largest move of a ThisAndFuture override
		for i := range s.Overrides {
			o := &s.Overrides[i]
			if o.ThisAndFuture {
				future = append(future, o)
				if !o.Cancelled {
					shift = max(shift, absDur(o.Start.Sub(o.RecurrenceID)))
					maxDur = max(maxDur, o.End.Sub(o.Start))
				}
				continue
			}
			exactIDs[o.RecurrenceID.Unix()] = true
			if !o.Cancelled && !slices.ContainsFunc(s.ExDates, o.RecurrenceID.Equal) {
				exact = append(exact, Instance{RecurrenceID: o.RecurrenceID.In(loc), Start: o.Start.In(loc), End: o.End.In(loc)})
			}
		}
		slices.SortFunc(future, func(a, b *Override) int { return a.RecurrenceID.Compare(b.RecurrenceID) })
		slices.SortFunc(exact, compareInstances)
		periods := map[int64]time.Duration{}
		for _, p := range s.RDates {
			if !p.End.IsZero() {
				periods[p.Start.Unix()] = p.End.Sub(p.Start)
				maxDur = max(maxDur, p.End.Sub(p.Start))
			}
		}
		overlaps := func(in Instance) bool {
			if !to.IsZero() && !in.Start.Before(to) {
				return false
			}
			if from.IsZero() {
				return true
			}
			return in.End.After(from) || in.End.Equal(in.Start) && !in.Start.Before(from)
		}
		lo, hi := from, to
		if !lo.IsZero() {
			lo = lo.Add(-maxDur - shift)
		}
		if !hi.IsZero() {
			hi = hi.Add(shift + time.Second)
		}
		var pending []Instance // sorted by start
		push := func(in Instance) {
			i, _ := slices.BinarySearchFunc(pending, in, compareInstances)
			pending = slices.Insert(pending, i, in)
		}
		// flush yields what can no longer be preceded by a later instance:
		// everything starting before limit (all of it when limit is zero).
		flush := func(limit time.Time) bool {
			for len(exact) > 0 && (limit.IsZero() || exact[0].Start.Before(limit)) {
				in := exact[0]
				exact = exact[1:]
				if overlaps(in) {
					push(in)
				}
			}
			n := 0
			for n < len(pending) && (limit.IsZero() || pending[n].Start.Before(limit)) {
				if !yield(pending[n]) {
					return false
				}
				n++
			}
			pending = pending[n:]
			return true
		}
		fi := 0
		var cur *Override
		for id := range s.ids(lo, hi) {
			u := id.Unix()
			if !flush(id.Add(-shift)) {
				return
			}
			if exactIDs[u] {
				continue
			}
			for fi < len(future) && future[fi].RecurrenceID.Unix() <= u {
				cur = future[fi]
				fi++
			}
			in := Instance{RecurrenceID: id, Start: id}
			switch {
			case cur != nil && cur.Cancelled:
				continue
			case cur != nil:
				in.Start = id.Add(cur.Start.Sub(cur.RecurrenceID))
				in.End = in.Start.Add(cur.End.Sub(cur.Start))
			default:
				d, ok := periods[u]
				if !ok {
					d = s.Duration
				}
				in.End = id.Add(d)
			}
			if !to.IsZero() && !id.Add(-shift).Before(to) {
				break
			}
			if overlaps(in) {
				push(in)
			}
		}
		flush(time.Time{})
	}
}

// plain is Between for a set without overrides: instances come in the
// order of their original start, so nothing needs holding back.
func (s *Set) plain(from, to time.Time) iter.Seq[Instance] {
	return func(yield func(Instance) bool) {
		maxDur := max(s.Duration, 0)
		var periods map[int64]time.Duration
		for _, p := range s.RDates {
			if !p.End.IsZero() {
				if periods == nil {
					periods = map[int64]time.Duration{}
				}
				periods[p.Start.Unix()] = p.End.Sub(p.Start)
				maxDur = max(maxDur, p.End.Sub(p.Start))
			}
		}
		lo := from
		if !lo.IsZero() {
			lo = lo.Add(-maxDur)
		}
		s.walk(lo, to, func(id time.Time) bool {
			d, ok := periods[id.Unix()]
			if !ok {
				d = s.Duration
			}
			end := id.Add(d)
			if !from.IsZero() && !end.After(from) && (d != 0 || id.Before(from)) {
				return true
			}
			return yield(Instance{RecurrenceID: id, Start: id, End: end})
		})
	}
}

func compareInstances(a, b Instance) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return a.RecurrenceID.Compare(b.RecurrenceID)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
