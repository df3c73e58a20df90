package relman

import (
	"context"
	"slices"
	"strings"
)

// Store persists releases and their audit history. Implementations must
// be safe for concurrent use, and for use by several Managers at once.
// Stores only save and load: every rule lives in the Manager, so every
// backend behaves the same. store/storetest holds the conformance suite.
type Store interface {
	// Create saves a new release at revision 1 together with its first
	// history entries, atomically. It returns an error matching ErrExists
	// if the id is taken, and one matching ErrInvalid for a nil release or
	// an empty id.
	Create(ctx context.Context, r *Release, entries ...AuditEntry) error

	// Get returns a copy of the release, or an error matching ErrNotFound.
	Get(ctx context.Context, id string) (*Release, error)

	// Update saves r only if the stored revision equals r.Revision, and
	// appends entries to its history in the same transaction. On success
	// the stored revision, and r.Revision, become r.Revision+1. A stale
	// revision returns an error matching ErrConflict and changes nothing;
	// an unknown id one matching ErrNotFound.
	Update(ctx context.Context, r *Release, entries ...AuditEntry) error

	// List returns the releases matching q, in q's order, one page.
	// It returns an error matching ErrInvalid for a bad query.
	List(ctx context.Context, q Query) ([]*Release, error)

	// History returns the release's audit entries in order (Seq 1, 2, …),
	// or an error matching ErrNotFound.
	History(ctx context.Context, id string) ([]AuditEntry, error)
}

// Order names the field List sorts by.
type Order string

// The orders List supports. Ties are broken by id.
const (
	OrderCreated Order = "created_at" // the default
	OrderUpdated Order = "updated_at"
	OrderID      Order = "id"
)

// MaxPage is the largest Query.Limit.
const MaxPage = 1000

// Query selects releases for List. Zero fields match everything. String
// filters match literally (no wildcards, no escaping needed).
type Query struct {
	Stages  []Stage `json:"stages,omitempty"`
	Service string  `json:"service,omitempty"`
	Team    string  `json:"team,omitempty"` // in Teams or owning a task
	Kind    Kind    `json:"kind,omitempty" validate:"omitempty,oneof=major minor patch emergency"`
	OrderBy Order   `json:"order_by,omitempty" validate:"omitempty,oneof=created_at updated_at id"`
	Desc    bool    `json:"desc,omitempty"`
	Limit   int     `json:"limit,omitempty" validate:"gte=0,lte=1000"` // 0 means MaxPage
	Offset  int     `json:"offset,omitempty" validate:"gte=0"`
}

// Validate returns a *ValidationError for a bad query, or nil.
func (q Query) Validate() error { return validateStruct(q) }

// Normalized returns q with defaults filled in: OrderBy created_at and
// Limit MaxPage.
func (q Query) Normalized() Query {
	if q.OrderBy == "" {
		q.OrderBy = OrderCreated
	}
	if q.Limit == 0 {
		q.Limit = MaxPage
	}
	return q
}

// Match reports whether r passes q's filters (paging aside). Stores that
// filter in memory use it so that they agree with the others.
func (q Query) Match(r *Release) bool {
	if len(q.Stages) > 0 && !slices.Contains(q.Stages, r.Stage) {
		return false
	}
	if q.Service != "" && !r.HasService(q.Service) {
		return false
	}
	if q.Team != "" && !r.HasTeam(q.Team) {
		return false
	}
	return q.Kind == "" || r.Kind == q.Kind
}

// Compare orders a and b as q asks (ties broken by id), for stores that
// sort in memory.
func (q Query) Compare(a, b *Release) int {
	var c int
	switch q.OrderBy {
	case OrderUpdated:
		c = a.UpdatedAt.Compare(b.UpdatedAt)
	case OrderID:
		c = 0
	default:
		c = a.CreatedAt.Compare(b.CreatedAt)
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if q.Desc {
		c = -c
	}
	return c
}

// Locker is an optional Store ability: a named lock that holds across
// every process sharing the store. The Manager takes the lock
// ScheduleLock around transitions that book time (events guarded by the
// conflicts gate: plan and replan), so that two releases planned at the
// same moment cannot both take the same slot. Without it the Manager
// serializes them within its own process only.
type Locker interface {
	// Lock blocks until the caller holds the lock named key, or ctx ends
	// (then it returns an error wrapping ctx.Err()). The returned function
	// releases the lock; it must be called exactly once.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// ScheduleLock is the key of the lock the Manager takes through Locker
// while it checks and books a planned window.
const ScheduleLock = "relman.schedule"
