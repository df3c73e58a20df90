// Package memory is an in-process relman.Store: fast, safe for concurrent
// use, and gone when the process ends. Use it in tests and for programs
// that keep nothing.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// Store keeps releases and their history in memory. The zero value is not
// usable; call New.
type Store struct {
	mu       sync.RWMutex
	releases map[string]*relman.Release
	history  map[string][]relman.AuditEntry
	locks    map[string]chan struct{} // Lock's named locks, made on first use
	windows  map[string]relman.Window

	due    map[string]time.Time // release id → Release.NextDue, for releases with something due
	leases map[string]lease     // release id → the runner working on it (DueStore)
	outbox *outbox              // nil unless Options.Outbox
}

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// Outbox makes the store write a relman.Notification for every audit
	// entry it saves, in the same critical section as the change, for a
	// runner to deliver (see relman.Outbox).
	Outbox bool
}

var (
	_ relman.Store       = (*Store)(nil)
	_ relman.Scanner     = (*Store)(nil)
	_ relman.WindowStore = (*Store)(nil)
	_ relman.Locker      = (*Store)(nil)
	_ relman.DueStore    = (*Store)(nil)
	_ relman.Outbox      = (*Store)(nil)
)

// New returns an empty Store with the default options.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Store configured by o.
func NewWithOptions(o Options) *Store {
	s := &Store{
		releases: make(map[string]*relman.Release),
		history:  make(map[string][]relman.AuditEntry),
		windows:  make(map[string]relman.Window),
		due:      make(map[string]time.Time),
		leases:   make(map[string]lease),
	}
	if o.Outbox {
		s.outbox = newOutbox()
	}
	return s
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
func checkText(op string, r *relman.Release, entries []relman.AuditEntry) error {
	if err := relman.CheckInput("", r); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
	}
	if err := relman.CheckInput("entries", entries); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, r.ID, err)
	}
	return nil
}

func cloneEntries(es []relman.AuditEntry) []relman.AuditEntry {
	out := slices.Clone(es)
	for i := range out {
		out[i].Details = maps.Clone(out[i].Details)
	}
	return out
}

// Create implements relman.Store.
func (s *Store) Create(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkRelease("create", r); err != nil {
		return err
	}
	if err := checkText("create", r, entries); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: create %q: %w", r.ID, err)
	}
	c := r.Clone()
	c.Revision = 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.releases[r.ID]; ok {
		return fmt.Errorf("memory: create %q: %w", r.ID, relman.ErrExists)
	}
	s.releases[r.ID] = c
	s.history[r.ID] = cloneEntries(entries)
	s.saved(c, entries)
	r.Revision = 1
	return nil
}

// Get implements relman.Store.
func (s *Store) Get(ctx context.Context, id string) (*relman.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get %q: %w", id, err)
	}
	s.mu.RLock()
	r, ok := s.releases[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memory: get %q: %w", id, relman.ErrNotFound)
	}
	return r.Clone(), nil
}

// Update implements relman.Store.
func (s *Store) Update(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkRelease("update", r); err != nil {
		return err
	}
	if err := checkText("update", r, entries); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: update %q: %w", r.ID, err)
	}
	c := r.Clone()
	added := cloneEntries(entries)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.releases[r.ID]
	if !ok {
		return fmt.Errorf("memory: update %q: %w", r.ID, relman.ErrNotFound)
	}
	if cur.Revision != r.Revision {
		return fmt.Errorf("memory: update %q at revision %d (stored %d): %w", r.ID, r.Revision, cur.Revision, relman.ErrConflict)
	}
	c.Revision = r.Revision + 1
	s.releases[r.ID] = c
	s.history[r.ID] = append(s.history[r.ID], added...)
	s.saved(c, added)
	r.Revision = c.Revision
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
	key, _ := q.Key() // valid when q.After is set
	s.mu.RLock()
	var hits []*relman.Release
	for _, r := range s.releases {
		if q.Match(r) && (q.After == "" || q.Beyond(r, key)) {
			hits = append(hits, r)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(hits, q.Compare)
	lo := min(q.Offset, len(hits))
	hi := min(lo+q.Limit, len(hits))
	out := make([]*relman.Release, 0, hi-lo)
	for _, r := range hits[lo:hi] {
		out = append(out, r.Clone())
	}
	return out, nil
}

// History implements relman.Store.
func (s *Store) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: history %q: %w", id, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.history[id]
	if !ok {
		return nil, fmt.Errorf("memory: history %q: %w", id, relman.ErrNotFound)
	}
	return cloneEntries(h), nil
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
	s.mu.RLock()
	hits := make([]*relman.Release, 0, len(s.releases))
	for _, r := range s.releases {
		if q.Match(r) {
			hits = append(hits, r) // stored releases are replaced, never modified
		}
	}
	s.mu.RUnlock()
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
	s.mu.Lock()
	if s.locks == nil {
		s.locks = make(map[string]chan struct{})
	}
	ch, ok := s.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		s.locks[key] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("memory: lock %q: %w", key, ctx.Err())
	}
}
