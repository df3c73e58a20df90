package relman

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
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

// DueStore is an optional Store ability that the runner needs: an index of
// the time at which each release next has something due (see
// Release.NextDue), and leases on releases so that, of several runners
// sharing the store, one at a time works on a release. The store
// recomputes a release's due time on every Create and Update from the
// release itself, in the same transaction.
//
// Leases only spread the work: correctness never depends on them. The
// Manager fires a scheduled event in the same revision-checked update that
// marks it done, so a second runner that works on a release after a lease
// expired finds nothing left to do.
type DueStore interface {
	// ClaimDue leases to owner, until the time until, up to n releases
	// whose due time is at or before now and on which no other owner holds
	// a lease that is still running at now, and returns their ids, earliest
	// due first. Releases leased to owner itself may be claimed again.
	ClaimDue(ctx context.Context, owner string, now, until time.Time, n int) ([]string, error)

	// ReleaseDue drops owner's leases on ids. Ids that owner does not hold
	// are ignored.
	ReleaseDue(ctx context.Context, owner string, ids ...string) error

	// DueBefore returns the ids of up to n releases whose due time is
	// before t, earliest due first, whatever their leases.
	DueBefore(ctx context.Context, t time.Time, n int) ([]string, error)
}

// Notification is a committed audit entry waiting in an Outbox to be
// delivered. Its idempotency key (Key) is the release id and the entry's
// sequence number: a receiver that sees a key twice has seen the same
// change twice.
type Notification struct {
	Entry     AuditEntry `json:"entry"`
	Attempts  int        `json:"attempts"`             // failed deliveries so far
	NextAt    time.Time  `json:"next_at"`              // not delivered before this time
	LastError string     `json:"last_error,omitempty"` // why the last attempt failed
	Dead      bool       `json:"dead,omitempty"`       // dead-lettered: no more attempts until replayed
}

// Key returns n's idempotency key, "<release id>/<seq>". Release ids
// never contain a slash, so the key is unambiguous.
func (n Notification) Key() string {
	return n.Entry.ReleaseID + "/" + strconv.FormatInt(n.Entry.Seq, 10)
}

// Outbox is an optional Store ability: a transactional outbox. With its
// outbox enabled (OutboxEnabled), the store writes one Notification for
// every audit entry it saves, in the same transaction as the change, so
// that a change is never committed without its notification nor the other
// way round. The runner delivers them to sinks at least once, in order per
// release (runner.Options.Sink). Delivered notifications are deleted;
// without a runner draining it the outbox grows by one row per audit entry,
// so enable it only where one runs.
type Outbox interface {
	// OutboxEnabled reports whether the store writes notifications.
	OutboxEnabled() bool

	// ClaimNotifications leases to owner, until the time until, up to n
	// notifications that are not dead, are due (NextAt at or before now),
	// and are the oldest undelivered, not dead notification of their
	// release (so that a release's notifications go out in order), skipping
	// those another owner holds a lease on that is still running at now.
	// They come oldest first: by entry time, then release id and seq.
	ClaimNotifications(ctx context.Context, owner string, now, until time.Time, n int) ([]Notification, error)

	// AckNotification deletes a delivered notification. Deleting one that
	// is already gone is not an error (delivery is at least once).
	AckNotification(ctx context.Context, releaseID string, seq int64) error

	// FailNotification records a failed delivery: Attempts grows by one,
	// LastError becomes lastErr, NextAt becomes next, the lease is dropped,
	// and dead dead-letters it. It returns an error matching ErrNotFound
	// if the notification is gone.
	FailNotification(ctx context.Context, releaseID string, seq int64, next time.Time, lastErr string, dead bool) error

	// ListNotifications returns up to n notifications, oldest first: the
	// dead-lettered ones when dead is true, else the pending ones.
	ListNotifications(ctx context.Context, dead bool, n int) ([]Notification, error)

	// ReplayNotification makes a dead-lettered notification pending
	// again: due at now, with no attempts. It returns an error matching
	// ErrNotFound if there is no such dead notification.
	ReplayNotification(ctx context.Context, releaseID string, seq int64, now time.Time) error
}
