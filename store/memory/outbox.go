package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// outbox holds the undelivered notifications of every release, in
// sequence order per release.
type outbox struct {
	mu      sync.RWMutex
	pending map[string][]*note // release id → its notifications, oldest first
}

type note struct {
	n     relman.Notification
	lease lease
}

func newOutbox() *outbox { return &outbox{pending: make(map[string][]*note)} }

// add queues a notification of each entry. Writers of a release call it
// holding the release's lock, so its notifications queue in order.
func (o *outbox) add(entries []relman.AuditEntry) {
	if len(entries) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range entries {
		e.Details = maps.Clone(e.Details)
		o.pending[e.ReleaseID] = append(o.pending[e.ReleaseID], &note{n: relman.Notification{Entry: e, NextAt: e.At}})
	}
}

func (o *outbox) find(id string, seq int64) (int, *note) {
	for i, nt := range o.pending[id] {
		if nt.n.Entry.Seq == seq {
			return i, nt
		}
	}
	return -1, nil
}

func cloneNote(n relman.Notification) relman.Notification {
	n.Entry.Details = maps.Clone(n.Entry.Details)
	return n
}

func byAge(a, b relman.Notification) int {
	return cmp.Or(a.Entry.At.Compare(b.Entry.At), strings.Compare(a.Entry.ReleaseID, b.Entry.ReleaseID), cmp.Compare(a.Entry.Seq, b.Entry.Seq))
}

func (s *Store) checkOutbox(op string) error {
	if s.outbox == nil {
		return fmt.Errorf("memory: %s: the outbox is not enabled (Options.Outbox): %w", op, relman.ErrInvalid)
	}
	return nil
}

// OutboxEnabled implements relman.Outbox.
func (s *Store) OutboxEnabled() bool { return s.outbox != nil }

// ClaimNotifications implements relman.Outbox.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now, until time.Time, n int) ([]relman.Notification, error) {
	if err := checkClaim(owner, n); err != nil {
		return nil, fmt.Errorf("memory: claim notifications: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: claim notifications: %w", err)
	}
	if err := s.checkOutbox("claim notifications"); err != nil {
		return nil, err
	}
	s.outbox.mu.Lock()
	defer s.outbox.mu.Unlock()
	var heads []*note
	for _, list := range s.outbox.pending {
		for _, nt := range list {
			if nt.n.Dead {
				continue
			}
			if !nt.n.NextAt.After(now) && !nt.lease.heldByOther(owner, now) {
				heads = append(heads, nt)
			}
			break // only the oldest live one of each release
		}
	}
	slices.SortFunc(heads, func(a, b *note) int { return byAge(a.n, b.n) })
	out := make([]relman.Notification, 0, min(n, len(heads)))
	for _, nt := range heads[:min(n, len(heads))] {
		nt.lease = lease{owner: owner, until: until}
		out = append(out, cloneNote(nt.n))
	}
	return out, nil
}

// AckNotification implements relman.Outbox.
func (s *Store) AckNotification(ctx context.Context, releaseID string, seq int64) error {
	if err := s.checkOutbox("ack notification"); err != nil {
		return err
	}
	s.outbox.mu.Lock()
	defer s.outbox.mu.Unlock()
	if i, _ := s.outbox.find(releaseID, seq); i >= 0 {
		list := slices.Delete(s.outbox.pending[releaseID], i, i+1)
		if len(list) == 0 {
			delete(s.outbox.pending, releaseID)
		} else {
			s.outbox.pending[releaseID] = list
		}
	}
	return nil
}

// FailNotification implements relman.Outbox.
func (s *Store) FailNotification(ctx context.Context, releaseID string, seq int64, next time.Time, lastErr string, dead bool) error {
	if err := s.checkOutbox("fail notification"); err != nil {
		return err
	}
	s.outbox.mu.Lock()
	defer s.outbox.mu.Unlock()
	_, nt := s.outbox.find(releaseID, seq)
	if nt == nil {
		return fmt.Errorf("memory: notification %s/%d: %w", releaseID, seq, relman.ErrNotFound)
	}
	nt.n.Attempts++
	nt.n.LastError, nt.n.NextAt, nt.n.Dead = lastErr, next.UTC(), dead
	nt.lease = lease{}
	return nil
}

// ListNotifications implements relman.Outbox.
func (s *Store) ListNotifications(ctx context.Context, dead bool, n int) ([]relman.Notification, error) {
	if n <= 0 {
		return nil, fmt.Errorf("memory: list notifications: %w", &relman.ValidationError{Fields: []relman.FieldError{{Field: "n", Rule: "gt", Param: "0"}}})
	}
	if err := s.checkOutbox("list notifications"); err != nil {
		return nil, err
	}
	s.outbox.mu.RLock()
	var out []relman.Notification
	for _, list := range s.outbox.pending {
		for _, nt := range list {
			if nt.n.Dead == dead {
				out = append(out, cloneNote(nt.n))
			}
		}
	}
	s.outbox.mu.RUnlock()
	slices.SortFunc(out, byAge)
	return out[:min(n, len(out))], nil
}

// ReplayNotification implements relman.Outbox.
func (s *Store) ReplayNotification(ctx context.Context, releaseID string, seq int64, now time.Time) error {
	if err := s.checkOutbox("replay notification"); err != nil {
		return err
	}
	s.outbox.mu.Lock()
	defer s.outbox.mu.Unlock()
	_, nt := s.outbox.find(releaseID, seq)
	if nt == nil || !nt.n.Dead {
		return fmt.Errorf("memory: dead notification %s/%d: %w", releaseID, seq, relman.ErrNotFound)
	}
	nt.n.Dead, nt.n.Attempts, nt.n.NextAt, nt.n.LastError = false, 0, now.UTC(), ""
	nt.lease = lease{}
	return nil
}
