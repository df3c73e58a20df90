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

// dueChanged updates the due index after r was stored as c. The caller
// holds r.mu.
func (s *Store) dueChanged(r *rec, id string, c *relman.Release) {
	at, _ := c.NextDue()
	if at.Equal(r.due) {
		return
	}
	r.due = at
	sh := s.shard(id)
	sh.mu.Lock()
	if at.IsZero() {
		delete(sh.due, id)
	} else {
		sh.due[id] = at
	}
	sh.mu.Unlock()
}

type dueItem struct {
	id string
	at time.Time
}

// dueSorted returns the releases due before (or at, when inclusive) t,
// earliest first.
func (s *Store) dueSorted(t time.Time, inclusive bool, keep func(id string) bool) []dueItem {
	var out []dueItem
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for id, at := range sh.due {
			if (at.Before(t) || (inclusive && at.Equal(t))) && keep(id) {
				out = append(out, dueItem{id, at})
			}
		}
		sh.mu.RUnlock()
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
	s.leasesMu.Lock()
	defer s.leasesMu.Unlock()
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
	s.leasesMu.Lock()
	defer s.leasesMu.Unlock()
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
	items := s.dueSorted(t, false, func(string) bool { return true })
	out := make([]string, 0, min(n, len(items)))
	for _, it := range items[:min(n, len(items))] {
		out = append(out, it.id)
	}
	return out, nil
}

func checkClaim(owner string, n int) error { return storedoc.CheckClaim(owner, n) }
