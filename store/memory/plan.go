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
// a window, in buckets of one day by the start of the window: all of
// them, and those of each service.
type planIndex struct {
	mu     sync.RWMutex
	all    days
	bySvc  map[string]days
	lens   map[int64]int // window length in seconds, rounded up to a day → entries that long
	maxLen int64         // the longest of lens, in seconds
}

// days holds entries by the day their window starts.
type days map[int64]map[*rec]*planEntry

func (d days) add(r *rec, e *planEntry) {
	b := d[e.day]
	if b == nil {
		b = make(map[*rec]*planEntry)
		d[e.day] = b
	}
	b[r] = e
}

func (d days) remove(r *rec, e *planEntry) {
	b := d[e.day]
	delete(b, r)
	if len(b) == 0 {
		delete(d, e.day)
	}
}

// scan calls fn with every bucket of a day in [lo, hi], in no order.
func (d days) scan(lo, hi int64, fn func(map[*rec]*planEntry)) {
	if lo > hi {
		return
	}
	if uint64(hi-lo) < uint64(len(d)) {
		for day := lo; day <= hi; day++ {
			if b := d[day]; b != nil {
				fn(b)
			}
		}
		return
	}
	for day, b := range d {
		if day >= lo && day <= hi {
			fn(b)
		}
	}
}

// planEntry is what the index holds for a release: the fields a query
// filters on, copied from the release it was made from.
type planEntry struct {
	start, end time.Time
	services   []string
	day, len   int64
}

const daySeconds = 24 * 60 * 60

func newPlanIndex() planIndex {
	return planIndex{all: make(days), bySvc: make(map[string]days), lens: make(map[int64]int)}
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
	e := &planEntry{start: c.Window.Start, end: c.Window.End, services: slices.Clone(c.Services)}
	e.day = floorDiv(e.start.Unix(), daySeconds)
	e.len = max(0, (floorDiv(e.end.Unix(), daySeconds)-e.day+1)*daySeconds)
	return e
}

// holds reports whether e (nil: not indexed) is already what the index
// should hold for c.
func holds(e *planEntry, c *relman.Release) bool {
	if c.Window == nil || !slices.Contains(relman.PlannedStages, c.Stage) {
		return e == nil
	}
	return e != nil && e.start.Equal(c.Window.Start) && e.end.Equal(c.Window.End) && slices.Equal(e.services, c.Services)
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
		for _, svc := range old.services {
			if d := p.bySvc[svc]; d != nil {
				d.remove(r, old)
				if len(d) == 0 {
					delete(p.bySvc, svc)
				}
			}
		}
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
		for _, svc := range e.services {
			d := p.bySvc[svc]
			if d == nil {
				d = make(days)
				p.bySvc[svc] = d
			}
			d.add(r, e)
		}
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

// Overlapping implements relman.PlanIndex. It reads the buckets of the
// days from from, less the longest window indexed, to to (of each of
// services, if any), so it costs in proportion to the releases planned
// in that span (of those services); a zero from or to reads every bucket
// before or after the other bound. fn may use the
// store: the index is not locked while it runs.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, services []string, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: overlapping: %w", err)
	}
	p := &s.plan
	var hits []planHit
	var seen map[*rec]bool // with several services, releases found twice
	if len(services) > 1 {
		seen = make(map[*rec]bool)
	}
	keep := func(b map[*rec]*planEntry) {
		for r, e := range b {
			if (from.IsZero() || e.end.After(from)) && (to.IsZero() || e.start.Before(to)) {
				if seen != nil {
					if seen[r] {
						continue
					}
					seen[r] = true
				}
				hits = append(hits, planHit{e.start, r.cur.Load()})
			}
		}
	}
	p.mu.RLock()
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = floorDiv(from.Unix()-p.maxLen, daySeconds)
	}
	if !to.IsZero() {
		hi = floorDiv(to.Unix(), daySeconds)
	}
	if len(services) == 0 {
		p.all.scan(lo, hi, keep)
	}
	for _, svc := range services {
		p.bySvc[svc].scan(lo, hi, keep)
	}
	p.mu.RUnlock()
	slices.SortFunc(hits, func(a, b planHit) int { return cmp.Or(a.start.Compare(b.start), strings.Compare(a.r.ID, b.r.ID)) })
	for i, h := range hits {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memory: overlapping: %w", err)
			}
		}
		if err := fn(h.r.Clone()); err != nil {
			return err
		}
	}
	return nil
}
