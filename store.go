package relman

import (
	"context"
	"encoding/base64"
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
	Stages  []Stage `json:"stages,omitempty" validate:"max=100"` // any of them; at most 100
	Service string  `json:"service,omitempty"`
	Team    string  `json:"team,omitempty"` // in Teams or owning a task
	Kind    Kind    `json:"kind,omitempty" validate:"omitempty,oneof=major minor patch emergency"`
	OrderBy Order   `json:"order_by,omitempty" validate:"omitempty,oneof=created_at updated_at id"`
	Desc    bool    `json:"desc,omitempty"`
	Limit   int     `json:"limit,omitempty" validate:"gte=0,lte=1000"` // 0 means MaxPage
	Offset  int     `json:"offset,omitempty" validate:"gte=0"`
	// After is a cursor (see Query.Cursor): the page starts just past the
	// release the cursor was made from, in q's order. Paging with After
	// costs the same on the last page as on the first, where Offset pages
	// cost more the further they go; the two cannot be combined.
	After string `json:"after,omitempty" validate:"omitempty,max=600"`
}

// Validate returns a *ValidationError for a bad query, or nil.
func (q Query) Validate() error {
	if err := validateStruct(q); err != nil {
		return err
	}
	if q.After == "" {
		return nil
	}
	if q.Offset != 0 {
		return invalidParam("offset", "excluded_with", "after")
	}
	_, err := q.Key()
	return err
}

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

// Cursor returns the cursor that continues q after last, the last
// release of a page: pass it as Query.After (with the same filters and
// order) to read the next page. It encodes last's sort key and id, so a
// page stays correct when releases are added or removed meanwhile.
func (q Query) Cursor(last *Release) string {
	q = q.Normalized()
	var b []byte
	b = append(b, "c1."...)
	b = append(b, q.OrderBy...)
	b = append(b, '.')
	var t time.Time
	switch q.OrderBy {
	case OrderUpdated:
		t = last.UpdatedAt
	case OrderCreated:
		t = last.CreatedAt
	}
	if q.OrderBy != OrderID {
		// Seconds and nanoseconds apart: nanoseconds alone overflow
		// outside 1678–2262, and relman keeps years 1 to 9999.
		b = strconv.AppendInt(b, t.Unix(), 36)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(t.Nanosecond()), 36)
	}
	b = append(b, '.')
	b = append(b, last.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CursorKey is a decoded Query.After: the sort key and id of the release
// a page continues after. Time is zero when the order is by id.
type CursorKey struct {
	Time time.Time
	ID   string
}

// Key decodes q.After for a store, or returns a *ValidationError naming
// "after" when it is not a cursor that Cursor made for q's order.
func (q Query) Key() (CursorKey, error) {
	bad := invalidParam("after", "cursor", "not a cursor for this order")
	raw, err := base64.RawURLEncoding.DecodeString(q.After)
	if err != nil {
		return CursorKey{}, bad
	}
	parts := strings.SplitN(string(raw), ".", 4)
	if len(parts) != 4 || parts[0] != "c1" || Order(parts[1]) != q.Normalized().OrderBy || parts[3] == "" {
		return CursorKey{}, bad
	}
	k := CursorKey{ID: parts[3]}
	if q.Normalized().OrderBy != OrderID {
		sec, nsec, ok := strings.Cut(parts[2], ":")
		secs, err1 := strconv.ParseInt(sec, 36, 64)
		nsecs, err2 := strconv.ParseInt(nsec, 36, 64)
		if !ok || err1 != nil || err2 != nil || nsecs < 0 || nsecs >= 1e9 {
			return CursorKey{}, bad
		}
		k.Time = time.Unix(secs, nsecs).UTC()
	} else if parts[2] != "" {
		return CursorKey{}, bad
	}
	return k, nil
}

// Beyond reports whether r comes after the cursor key k in q's order, for
// stores that page in memory.
func (q Query) Beyond(r *Release, k CursorKey) bool {
	var c int
	switch q.Normalized().OrderBy {
	case OrderUpdated:
		c = r.UpdatedAt.Compare(k.Time)
	case OrderCreated:
		c = r.CreatedAt.Compare(k.Time)
	}
	if c == 0 {
		c = strings.Compare(r.ID, k.ID)
	}
	if q.Desc {
		c = -c
	}
	return c > 0
}

// PlanIndex is an optional Store ability: the planned releases found by
// their window, with an index, so that booking a window, NextSlot,
// Conflicts and the iCalendar export read the releases that overlap the
// time in question and not every planned release. Without it the Manager
// scans every planned release.
type PlanIndex interface {
	// Overlapping calls fn with every release in one of PlannedStages
	// whose window overlaps [from, to) (Window.Start before to and
	// Window.End after from) and that match selects (PlanMatch.Matches);
	// in the order of window start, then id. It stops at the first error
	// fn returns and returns it. A zero to means no end. The cost is
	// proportional to the releases that overlap and match, not to all
	// planned releases.
	//
	// fn receives each release read-only: it must not modify it or
	// anything it points to, since a store may pass the very value it
	// holds (store/memory does, to spare a copy per release on every
	// booking). Such a value never changes afterwards; a new version of
	// the release is a new value. Clone it to change it.
	Overlapping(ctx context.Context, from, to time.Time, match PlanMatch, fn func(*Release) error) error
}

// PlanMatch selects planned releases by what they touch, for
// PlanIndex.Overlapping: a release matches when it lists one of Services
// or involves one of Teams (Release.HasService, Release.HasTeam). The zero
// PlanMatch matches every release. The conflicts gate asks for the
// releases that share a service, a dependency or a team with the one
// being booked.
type PlanMatch struct {
	Services []string
	Teams    []string
}

// All reports whether m matches every release: it names no service and
// no team.
func (m PlanMatch) All() bool { return len(m.Services) == 0 && len(m.Teams) == 0 }

// Matches reports whether r matches m.
func (m PlanMatch) Matches(r *Release) bool {
	return m.All() || slices.ContainsFunc(m.Services, r.HasService) || slices.ContainsFunc(m.Teams, r.HasTeam)
}

// FeedbackStore is an optional Store ability: user feedback kept as
// records of their own rather than inside the release document, so that
// a release with years of feedback costs no more to read and write than
// one with none. The release keeps the aggregate (Release.FeedbackSummary).
// The Manager moves feedback out of a release document into records on
// the first write to it through a FeedbackStore, so data written before
// the store had records migrates as it is used.
type FeedbackStore interface {
	// UpdateFeedback saves r as Update does (revision-checked, with
	// entries) and, in the same transaction, appends fs to the release's
	// feedback records. Their Seq numbers continue the release's: the
	// Manager sets them. An Seq that is taken is an error matching
	// ErrConflict, and nothing is written.
	UpdateFeedback(ctx context.Context, r *Release, fs []Feedback, entries ...AuditEntry) error

	// Feedback returns up to n (at most MaxPage) of the release's
	// feedback records with Seq greater than after, by Seq. An unknown
	// release is an error matching ErrNotFound.
	Feedback(ctx context.Context, id string, after int64, n int) ([]Feedback, error)

	// FeedbackRatings counts, for each release that has any, the ratings
	// of the feedback records whose At lies in [from, to): element i
	// counts rating i+1.
	FeedbackRatings(ctx context.Context, from, to time.Time) (map[string][5]int, error)
}

// Sharer is an optional Store ability of stores that keep releases in
// memory as immutable values (store/memory; store/sqlite and
// store/postgres in their caches): Fire and Check read the stored value
// itself instead of a copy, and Fire hands the store the new version to
// keep instead of having it copied, so a transition costs one copy of the
// release (the one Fire returns) rather than two.
type Sharer interface {
	// GetShared returns the stored release itself (or, from a store
	// that keeps none at the moment, such as one whose cache is off, a
	// release of its own), or an error matching ErrNotFound. The caller
	// must not modify it or anything it points to; it never changes (a
	// write stores a new value).
	GetShared(ctx context.Context, id string) (*Release, error)

	// UpdateShared is Update, except that on success the store may keep
	// r itself: the caller must not modify r, or anything it points to,
	// afterwards. r may share what it points to with values GetShared
	// returned, which do not change either; the store checks only what r
	// does not share with the version it replaces (see CheckChanged). On
	// error the store keeps nothing of r.
	UpdateShared(ctx context.Context, r *Release, entries ...AuditEntry) error
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
