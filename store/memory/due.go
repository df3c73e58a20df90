package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// lease is a runner's hold on a release or a notification.
type lease struct {
	owner string
	until time.Time
}

func (l lease) heldByOther(owner string, now time.Time) bool {
	return l.owner != "" && l.owner != owner && l.until.After(now)
}

// saved updates the due index and the outbox after r was stored with
// entries. The caller holds s.mu.
func (s *Store) saved(r *relman.Release, entries []relman.AuditEntry) {
	if at, ok := r.NextDue(); ok {
		s.due[r.ID] = at
	} else {
		delete(s.due, r.ID)
	}
	if s.outbox != nil {
		s.outbox.add(entries)
	}
}

type dueItem struct {
	id string
	at time.Time
}

// dueSorted returns the releases due before (or at, when inclusive) t,
// earliest first. The caller holds s.mu.
func (s *Store) dueSorted(t time.Time, inclusive bool, keep func(id string) bool) []dueItem {
	var out []dueItem
	for id, at := range s.due {
		if (at.Before(t) || (inclusive && at.Equal(t))) && keep(id) {
			out = append(out, dueItem{id, at})
		}
	}
	slices.SortFunc(out, func(a, b dueItem) int { return cmp.Or(a.at.Compare(b.at), strings.Compare(a.id, b.id)) })
	return out
}

// ClaimDue implements relman.DueStore. It looks at every release that has
// something due, so it costs O(d log d) for d such releases.
func (s *Store) ClaimDue(ctx context.Context, owner string, now, until time.Time, n int) ([]string, error) {
	if err := checkClaim(owner, n); err != nil {
		return nil, fmt.Errorf("memory: claim due: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: claim due: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.dueSorted(now, true, func(id string) bool { return !s.leases[id].heldByOther(owner, now) })
	out := make([]string, 0, min(n, len(items)))
	for _, it := range items[:min(n, len(items))] {
		s.leases[it.id] = lease{owner: owner, until: until}
		out = append(out, it.id)
	}
	return out, nil
}

// ReleaseDue implements relman.DueStore.
func (s *Store) ReleaseDue(ctx context.Context, owner string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.leases[id].owner == owner {
			delete(s.leases, id)
		}
	}
	return nil
}

// DueBefore implements relman.DueStore.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("memory: due before: %w", &relman.ValidationError{Fields: []relman.FieldError{{Field: "n", Rule: "gt", Param: "0"}}})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: due before: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	items := s.dueSorted(t, false, func(string) bool { return true })
	out := make([]string, 0, min(n, len(items)))
	for _, it := range items[:min(n, len(items))] {
		out = append(out, it.id)
	}
	return out, nil
}

func checkClaim(owner string, n int) error { return storedoc.CheckClaim(owner, n) }
