package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// planIndex holds the releases in one of relman.PlannedStages that have
// a window, by the start of the window: all of them in buckets of an
// hour (about a window's length, so that a booking reads few releases it
// does not overlap), and those of each service and of each team in a list
// sorted by start (a service or a team has few releases, and NextSlot
// looks days ahead).
type planIndex struct {
	mu     sync.RWMutex
	all    buckets
	byTag  map[tag]*startList
	lens   map[int64]int // window length in seconds, rounded up → entries that long
	maxLen int64         // the longest of lens, in seconds
}

const allSpan = 60 * 60 // seconds a bucket of planIndex.all spans

// tag is a service or a team a planned release is listed under.
type tag struct {
	team bool
	name string
}

// startList holds entries sorted by the second their window starts in
// (an integer compares faster than a time on every step of a search).
type startList struct{ items []startItem }

type startItem struct {
	sec        int64     // start.Unix()
	start, end time.Time // e's, kept here so that a query stays in the list
	r          *rec
	e          *planEntry
}

// find returns the index of the first item starting in t's second or
// later.
func (l *startList) find(t time.Time) int {
	sec := t.Unix()
	i, _ := slices.BinarySearchFunc(l.items, sec, func(it startItem, sec int64) int { return cmp.Compare(it.sec, sec) })
	return i
}

func (l *startList) add(r *rec, e *planEntry) {
	l.items = slices.Insert(l.items, l.find(e.start), startItem{e.start.Unix(), e.start, e.end, r, e})
}

func (l *startList) remove(r *rec, e *planEntry) {
	sec := e.start.Unix()
	for i := l.find(e.start); i < len(l.items) && l.items[i].sec <= sec; i++ {
		if l.items[i].r == r {
			l.items = slices.Delete(l.items, i, i+1)
			return
		}
	}
}

// scan calls fn with the entries whose window starts in [from, to] (a
// zero from or to: no bound), and perhaps a few more in the seconds of
// from and to: the caller checks the times.
func (l *startList) scan(from, to time.Time, fn func(r *rec, start, end time.Time)) {
	i := 0
	if !from.IsZero() {
		i = l.find(from)
	}
	for ; i < len(l.items); i++ {
		it := &l.items[i]
		if !to.IsZero() && it.sec > to.Unix() {
			return
		}
		fn(it.r, it.start, it.end)
	}
}

// buckets holds entries by the hour (allSpan) their window starts in.
type buckets struct {
	m map[int64]map[*rec]*planEntry
}

func (d buckets) key(e *planEntry) int64 { return floorDiv(e.start.Unix(), allSpan) }

func (d buckets) add(r *rec, e *planEntry) {
	k := d.key(e)
	b := d.m[k]
	if b == nil {
		b = make(map[*rec]*planEntry)
		d.m[k] = b
	}
	b[r] = e
}

func (d buckets) remove(r *rec, e *planEntry) {
	k := d.key(e)
	b := d.m[k]
	delete(b, r)
	if len(b) == 0 {
		delete(d.m, k)
	}
}

// scan calls fn with every bucket holding windows that start in [from,
// to] (a zero from or to: no bound), in no order.
func (d buckets) scan(from, to time.Time, fn func(map[*rec]*planEntry)) {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = floorDiv(from.Unix(), allSpan)
	}
	if !to.IsZero() {
		hi = floorDiv(to.Unix(), allSpan)
	}
	if lo > hi {
		return
	}
	if uint64(hi-lo) < uint64(len(d.m)) {
		for k := lo; k <= hi; k++ {
			if b := d.m[k]; b != nil {
				fn(b)
			}
		}
		return
	}
	for k, b := range d.m {
		if k >= lo && k <= hi {
			fn(b)
		}
	}
}

// planEntry is what the index holds for a release: the fields a query
// filters on, copied from the release it was made from.
type planEntry struct {
	start, end time.Time
	services   []string // each once: a release listed twice would be found twice
	teams      []string // relman.Release.InvolvedTeams
	len        int64    // seconds, rounded up
}

// tags calls fn with every service and team of e.
func (e *planEntry) tags(fn func(tag)) {
	for _, svc := range e.services {
		fn(tag{name: svc})
	}
	for _, team := range e.teams {
		fn(tag{team: true, name: team})
	}
}

func newPlanIndex() planIndex {
	return planIndex{all: buckets{m: make(map[int64]map[*rec]*planEntry)}, byTag: make(map[tag]*startList), lens: make(map[int64]int)}
}

// floorDiv returns a / b rounded down, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// entryFor returns the entry the index holds for c, or nil if c is not
// planned.
func entryFor(c *relman.Release) *planEntry {
	if c.Window == nil || !slices.Contains(relman.PlannedStages, c.Stage) {
		return nil
	}
	e := &planEntry{start: c.Window.Start, end: c.Window.End}
	for _, svc := range c.Services {
		if !slices.Contains(e.services, svc) {
			e.services = append(e.services, svc)
		}
	}
	e.teams = c.InvolvedTeams()
	e.len = max(0, e.end.Unix()-e.start.Unix()+1) // Unix rounds down: +1 covers the fractions
	return e
}

// holds reports whether e (nil: not indexed) is already what the index
// should hold for c.
func holds(e *planEntry, c *relman.Release) bool {
	if c.Window == nil || !slices.Contains(relman.PlannedStages, c.Stage) {
		return e == nil
	}
	return e != nil && e.start.Equal(c.Window.Start) && e.end.Equal(c.Window.End) && sameServices(e.services, c) && sameTeams(e.teams, c)
}

// sameServices reports whether services (each once) are the services of
// c, without allocating.
func sameServices(services []string, c *relman.Release) bool {
	for _, svc := range c.Services {
		if !slices.Contains(services, svc) {
			return false
		}
	}
	return !slices.ContainsFunc(services, func(svc string) bool { return !c.HasService(svc) })
}

// sameTeams reports whether teams (each once) are the teams involved in
// c, without allocating.
func sameTeams(teams []string, c *relman.Release) bool {
	for _, t := range c.Teams {
		if !slices.Contains(teams, t) {
			return false
		}
	}
	for _, t := range c.Tasks {
		if t.Team != "" && !slices.Contains(teams, t.Team) {
			return false
		}
	}
	return !slices.ContainsFunc(teams, func(t string) bool { return !c.HasTeam(t) })
}

// set brings the index up to date with c, which r is about to hold (the
// caller holds r.mu). If r's entry changes, set publishes c as r's
// release under the index's lock and returns true; otherwise it returns
// false and the caller publishes c.
func (p *planIndex) set(r *rec, c *relman.Release) bool {
	if holds(r.planned, c) {
		return false // the common case, checked without allocating
	}
	e := entryFor(c)
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := r.planned; old != nil {
		p.all.remove(r, old)
		old.tags(func(t tag) {
			if l, ok := p.byTag[t]; ok {
				l.remove(r, old)
				if len(l.items) == 0 {
					delete(p.byTag, t)
				}
			}
		})
		if p.lens[old.len]--; p.lens[old.len] == 0 {
			delete(p.lens, old.len)
			if old.len == p.maxLen {
				p.maxLen = 0
				for l := range p.lens {
					p.maxLen = max(p.maxLen, l)
				}
			}
		}
	}
	if e != nil {
		p.all.add(r, e)
		e.tags(func(t tag) {
			l, ok := p.byTag[t]
			if !ok {
				l = &startList{}
				p.byTag[t] = l
			}
			l.add(r, e)
		})
		p.lens[e.len]++
		p.maxLen = max(p.maxLen, e.len)
	}
	r.planned = e
	r.cur.Store(c)
	return true
}

type planHit struct {
	start time.Time
	r     *relman.Release
}

// Overlapping implements relman.PlanIndex. It reads the windows that
// start from from, less the longest window indexed, to to (of each
// service and team of match, if any), so it costs in proportion to the
// releases planned in that span (of those services and teams); a zero
// from or to reads every window before or after the other bound. fn may
// use the store: the index is not locked while it runs.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, match relman.PlanMatch, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: overlapping: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil // an empty period, which no window overlaps
	}
	p := &s.plan
	var buf [16]planHit // most queries find a few
	hits := buf[:0]
	var seen map[*rec]bool // with several services or teams, releases found twice
	if len(match.Services)+len(match.Teams) > 1 {
		seen = make(map[*rec]bool)
	}
	keep := func(r *rec, start, end time.Time) {
		if (from.IsZero() || end.After(from)) && (to.IsZero() || start.Before(to)) {
			if seen != nil {
				if seen[r] {
					return
				}
				seen[r] = true
			}
			hits = append(hits, planHit{start, r.cur.Load()})
		}
	}
	p.mu.RLock()
	// A window overlapping [from, to) starts after from less the
	// longest window, and before to.
	first := from
	if !from.IsZero() {
		first = from.Add(-time.Duration(p.maxLen) * time.Second)
	}
	if match.All() {
		p.all.scan(first, to, func(b map[*rec]*planEntry) {
			for r, e := range b {
				keep(r, e.start, e.end)
			}
		})
	}
	for i, name := range slices.Concat(match.Services, match.Teams) {
		if l, ok := p.byTag[tag{team: i >= len(match.Services), name: name}]; ok {
			l.scan(first, to, keep)
		}
	}
	p.mu.RUnlock()
	slices.SortFunc(hits, func(a, b planHit) int { return cmp.Or(a.start.Compare(b.start), strings.Compare(a.r.ID, b.r.ID)) })
	for i, h := range hits {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memory: overlapping: %w", err)
			}
		}
		if err := fn(h.r); err != nil { // immutable: see relman.PlanIndex
			return err
		}
	}
	return nil
}
