// Package memory is an in-process relman.Store: fast, safe for concurrent
// use, and gone when the process ends. Use it in tests and for programs
// that keep nothing.
//
// The store has every optional ability of relman.Store: Scanner,
// WindowStore, Locker, DueStore, Outbox (with Options.Outbox), PlanIndex,
// FeedbackStore and Sharer.
//
// # Concurrency
//
// Writes to different releases do not wait for each other. Each release
// has a lock of its own that its writers take; the map from ids to
// releases is split into shards, each with a read-write lock taken only
// to find a release, add one or change its due time. A release's stored
// state is an immutable snapshot that a write replaces, so readers never
// wait for a writer of the same release. Its history and feedback records
// are append-only lists that a write extends without copying what they
// hold: a reader takes the list as it was, and what is appended later
// lies past its end.
//
// # Indexes
//
// The plan index (Overlapping) keeps the planned releases in buckets of
// one hour by the start of their window, and those of each service and
// of each team in a list sorted by start. A query reads from its start
// less the longest window indexed to its end (in the lists of the
// services and teams it asks for, if any), so it costs in proportion to
// the releases planned around the time asked about, not to all of them.
// Writes that leave a release's window, stage group, services and teams
// unchanged (most transitions) do not touch the index.
//
// List in creation order (the default) or by id reads an ordered index,
// in sorted chunks of 256 releases, from its cursor on (a page by cursor
// costs the same anywhere in the store; an offset walks past the
// releases it skips), and a Create costs the same
// in a store of any size, whatever order ids and creation times come in.
// List by update time, which every write changes, reads every release
// stored and keeps the first offset+limit it matches: O(n log k) for n
// releases stored and a page ending k releases in.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relman-dev/relman"
)

// Store keeps releases and their history in memory. The zero value is not
// usable; call New.
type Store struct {
	seed   maphash.Seed
	shards [nShards]shard

	locksMu sync.Mutex
	locks   map[string]chan struct{} // Lock's named locks, made on first use

	windowsMu sync.RWMutex
	windows   map[string]relman.Window

	leasesMu sync.Mutex
	leases   map[string]lease // release id → the runner working on it (DueStore)

	plan   planIndex
	order  orderIndex
	outbox *outbox // nil unless Options.Outbox
}

const nShards = 64

// shard holds the releases whose id hashes to it. Its lock guards the
// maps, not the releases: each rec has its own.
type shard struct {
	mu   sync.RWMutex
	recs map[string]*rec
	due  map[string]time.Time // release id → Release.NextDue, for releases with something due
	_    [64]byte             // keeps shards' locks on separate cache lines
}

// rec is one stored release. mu serializes its writers; readers load the
// published versions without it.
type rec struct {
	mu  sync.Mutex
	cur atomic.Pointer[relman.Release] // the stored release, never modified
	log atomic.Pointer[chunks[relman.AuditEntry]]
	fb  atomic.Pointer[feedbackLog] // nil until the first record

	// Guarded by mu: what the indexes hold for the release.
	due     time.Time // zero when nothing is due
	planned *planEntry
}

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// Outbox makes the store write a relman.Notification for every audit
	// entry it saves, together with the change, for a runner to deliver
	// (see relman.Outbox).
	Outbox bool
}

var (
	_ relman.Store         = (*Store)(nil)
	_ relman.Scanner       = (*Store)(nil)
	_ relman.WindowStore   = (*Store)(nil)
	_ relman.Locker        = (*Store)(nil)
	_ relman.DueStore      = (*Store)(nil)
	_ relman.Outbox        = (*Store)(nil)
	_ relman.PlanIndex     = (*Store)(nil)
	_ relman.FeedbackStore = (*Store)(nil)
	_ relman.Sharer        = (*Store)(nil)
)

// New returns an empty Store with the default options.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Store configured by o.
func NewWithOptions(o Options) *Store {
	s := &Store{
		seed:    maphash.MakeSeed(),
		windows: make(map[string]relman.Window),
		leases:  make(map[string]lease),
		plan:    newPlanIndex(),
	}
	for i := range s.shards {
		s.shards[i].recs = make(map[string]*rec)
		s.shards[i].due = make(map[string]time.Time)
	}
	if o.Outbox {
		s.outbox = newOutbox()
	}
	return s
}

func (s *Store) shard(id string) *shard {
	return &s.shards[maphash.String(s.seed, id)%nShards]
}

// find returns the release id, or nil.
func (s *Store) find(id string) *rec {
	sh := s.shard(id)
	sh.mu.RLock()
	r := sh.recs[id]
	sh.mu.RUnlock()
	return r
}

// each calls fn with every stored release, shard by shard, holding no
// lock while fn runs.
func (s *Store) each(fn func(*relman.Release)) {
	var buf []*rec
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		buf = buf[:0]
		for _, r := range sh.recs {
			buf = append(buf, r)
		}
		sh.mu.RUnlock()
		for _, r := range buf {
			fn(r.cur.Load())
		}
	}
}

func checkRelease(op string, r *relman.Release) error {
	if r == nil {
		return fmt.Errorf("memory: %s: %w", op, &relman.ValidationError{Fields: []relman.FieldError{{Field: "release", Rule: "required"}}})
	}
	if r.ID == "" {
		return fmt.Errorf("memory: %s: %w", op, &relman.ValidationError{Fields: []relman.FieldError{{Field: "id", Rule: "required"}}})
	}
	return nil
}

// checkText refuses what the SQL stores could not keep alike: text that
// is not valid UTF-8 or holds a NUL byte.
// checkText checks the text of a write; without the release's own when
// skip (the caller checks it against the stored version).
func checkText(op string, r *relman.Release, entries []relman.AuditEntry, skip bool) error {
	if !skip {
		if err := relman.CheckInput("", r); err != nil {
			return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
		}
	}
	for i := range entries {
		if relman.CheckInput("", &entries[i]) != nil { // the path is spelled out only for a refusal
			err := relman.CheckInput("entries["+strconv.Itoa(i)+"]", &entries[i])
			return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
		}
	}
	return nil
}

func cloneDetails(e *relman.AuditEntry) { e.Details = maps.Clone(e.Details) }

// Create implements relman.Store.
func (s *Store) Create(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkRelease("create", r); err != nil {
		return err
	}
	if err := checkText("create", r, entries, false); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: create %q: %w", r.ID, err)
	}
	c := r.Clone()
	c.Revision = 1
	log := chunks[relman.AuditEntry]{}.appendedFix(cloneDetails, entries...)
	nr := &rec{}
	nr.cur.Store(c)
	nr.log.Store(&log)
	// Held until the indexes know the release, so that a write racing
	// with Create cannot index it first.
	nr.mu.Lock()
	defer nr.mu.Unlock()
	sh := s.shard(r.ID)
	sh.mu.Lock()
	if _, ok := sh.recs[r.ID]; ok {
		sh.mu.Unlock()
		return fmt.Errorf("memory: create %q: %w", r.ID, relman.ErrExists)
	}
	sh.recs[r.ID] = nr
	if at, ok := c.NextDue(); ok {
		sh.due[r.ID] = at
		nr.due = at
	}
	sh.mu.Unlock()
	s.plan.set(nr, c)
	s.order.add(nr, c)
	if s.outbox != nil {
		s.outbox.add(entries)
	}
	r.Revision = 1
	return nil
}

// Get implements relman.Store.
func (s *Store) Get(ctx context.Context, id string) (*relman.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get %q: %w", id, err)
	}
	r := s.find(id)
	if r == nil {
		return nil, fmt.Errorf("memory: get %q: %w", id, relman.ErrNotFound)
	}
	return r.cur.Load().Clone(), nil
}

// Update implements relman.Store.
func (s *Store) Update(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	return s.update(ctx, "update", r, nil, entries, false)
}

// GetShared implements relman.Sharer: the stored release itself, which
// the store never changes.
func (s *Store) GetShared(ctx context.Context, id string) (*relman.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get %q: %w", id, err)
	}
	r := s.find(id)
	if r == nil {
		return nil, fmt.Errorf("memory: get %q: %w", id, relman.ErrNotFound)
	}
	return r.cur.Load(), nil
}

// UpdateShared implements relman.Sharer: Update keeping r itself, checked
// where it differs from the version it replaces (relman.CheckChanged).
func (s *Store) UpdateShared(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	return s.update(ctx, "update", r, nil, entries, true)
}

// update saves r with entries and, if fs is not empty, the feedback
// records fs, all or nothing.
//
// With keep, the store keeps r itself rather than a copy, and checks its
// text only where it differs from the stored version.
func (s *Store) update(ctx context.Context, op string, r *relman.Release, fs []relman.Feedback, entries []relman.AuditEntry, keep bool) error {
	if err := checkRelease(op, r); err != nil {
		return err
	}
	if err := checkText(op, r, entries, keep); err != nil {
		return err
	}
	if len(fs) > 0 {
		if err := relman.CheckInput("feedback", fs); err != nil {
			return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
	}
	rc := s.find(r.ID)
	if rc == nil {
		return fmt.Errorf("memory: %s %q: %w", op, r.ID, relman.ErrNotFound)
	}
	c := r
	if !keep {
		c = r.Clone()
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	cur := rc.cur.Load()
	if cur.Revision != r.Revision {
		return fmt.Errorf("memory: %s %q at revision %d (stored %d): %w", op, r.ID, r.Revision, cur.Revision, relman.ErrConflict)
	}
	if keep {
		if err := relman.CheckChanged("", r, cur); err != nil {
			return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
		}
	}
	var fb *feedbackLog
	if len(fs) > 0 {
		var err error
		if fb, err = rc.fb.Load().appended(fs); err != nil {
			return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
		}
	}
	c.Revision = r.Revision + 1
	log := rc.log.Load().appendedFix(cloneDetails, entries...) // the caller keeps its maps
	if fb != nil {
		rc.fb.Store(fb)
	}
	rc.log.Store(&log)
	// The plan index publishes c itself when the release's place in it
	// changes, so that a query never sees the one without the other.
	if !s.plan.set(rc, c) {
		rc.cur.Store(c)
	}
	s.dueChanged(rc, r.ID, c)
	if !c.CreatedAt.Equal(cur.CreatedAt) {
		s.order.moved(rc, r.ID, cur.CreatedAt, c.CreatedAt)
	}
	if s.outbox != nil {
		s.outbox.add(entries)
	}
	if c != r { // a kept r was published with its revision set
		r.Revision = c.Revision
	}
	return nil
}

// List implements relman.Store.
func (s *Store) List(ctx context.Context, q relman.Query) ([]*relman.Release, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("memory: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list: %w", err)
	}
	q = q.Normalized()
	if q.OrderBy != relman.OrderUpdated {
		return s.order.page(q), nil
	}
	key, _ := q.Key() // valid when q.After is set
	top := topK{k: q.Offset + q.Limit, cmp: q.Compare}
	s.each(func(r *relman.Release) {
		if q.Match(r) && (q.After == "" || q.Beyond(r, key)) {
			top.add(r)
		}
	})
	hits := top.sorted()
	lo := min(q.Offset, len(hits))
	hi := min(lo+q.Limit, len(hits))
	out := make([]*relman.Release, 0, hi-lo)
	for _, r := range hits[lo:hi] {
		out = append(out, r.Clone())
	}
	return out, nil
}

// topK keeps the k first releases in cmp's order of those it is given,
// in a heap with the last of them on top: List by update time reads every
// release it matches, in O(n log k) time and O(k) memory for a page that
// ends k releases in.
type topK struct {
	k   int
	cmp func(a, b *relman.Release) int
	h   []*relman.Release // a heap: no element after h[0] in cmp's order
}

func (t *topK) add(r *relman.Release) {
	switch {
	case len(t.h) < t.k:
		t.h = append(t.h, r)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if t.cmp(t.h[p], t.h[i]) >= 0 {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
	case t.k > 0 && t.cmp(r, t.h[0]) < 0:
		t.h[0] = r
		for i := 0; ; {
			m, l, rt := i, 2*i+1, 2*i+2
			if l < len(t.h) && t.cmp(t.h[l], t.h[m]) > 0 {
				m = l
			}
			if rt < len(t.h) && t.cmp(t.h[rt], t.h[m]) > 0 {
				m = rt
			}
			if m == i {
				break
			}
			t.h[m], t.h[i] = t.h[i], t.h[m]
			i = m
		}
	}
}

// sorted returns what t kept, in cmp's order.
func (t *topK) sorted() []*relman.Release {
	slices.SortFunc(t.h, t.cmp)
	return t.h
}

// History implements relman.Store.
func (s *Store) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: history %q: %w", id, err)
	}
	r := s.find(id)
	if r == nil {
		return nil, fmt.Errorf("memory: history %q: %w", id, relman.ErrNotFound)
	}
	log := r.log.Load()
	out := make([]relman.AuditEntry, 0, log.n)
	log.each(func(e *relman.AuditEntry) bool {
		c := *e
		c.Details = maps.Clone(c.Details)
		out = append(out, c)
		return true
	})
	return out, nil
}

// Scan implements relman.Scanner: it calls fn with a copy of every release
// matching q's filters, in no particular order, as they were when Scan
// started. fn may use the store.
func (s *Store) Scan(ctx context.Context, q relman.Query, fn func(r *relman.Release) error) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("memory: scan: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: scan: %w", err)
	}
	var hits []*relman.Release
	s.each(func(r *relman.Release) {
		if q.Match(r) {
			hits = append(hits, r) // stored releases are replaced, never modified
		}
	})
	for i, r := range hits {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memory: scan: %w", err)
			}
		}
		if err := fn(r.Clone()); err != nil {
			return err
		}
	}
	return nil
}

// Lock implements relman.Locker. The memory store lives in one process,
// so a mutex per key is enough.
func (s *Store) Lock(ctx context.Context, key string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: lock %q: %w", key, err)
	}
	s.locksMu.Lock()
	if s.locks == nil {
		s.locks = make(map[string]chan struct{})
	}
	ch, ok := s.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		s.locks[key] = ch
	}
	s.locksMu.Unlock()
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("memory: lock %q: %w", key, ctx.Err())
	}
}
