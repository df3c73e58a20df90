package relman

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrOutcomeUnknown: the store could not say whether a write committed (a
// deadline or a lost connection during the commit) and reading it back
// failed too. The change may or may not be stored; read the release
// before trying again. *OutcomeError matches it.
var ErrOutcomeUnknown = errors.New("relman: outcome of the write unknown")

// OutcomeError reports a write whose outcome the Manager could not
// establish. Err is the store's error.
type OutcomeError struct {
	ReleaseID string
	Err       error
}

// Error says what happened.
func (e *OutcomeError) Error() string {
	return fmt.Sprintf("relman: release %q: the store failed during the write (%v) and reading it back failed too: it may or may not be saved", e.ReleaseID, e.Err)
}

// Unwrap returns ErrOutcomeUnknown and the store's error.
func (e *OutcomeError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.Err} }

// uncertain reports whether a failed write may nevertheless have
// committed: the context ended or the connection was lost while the
// store was writing.
func uncertain(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable)
}

// resolveWindow bounds how long the Manager spends reading back a write
// whose outcome is uncertain: long enough for a connection blip, short
// enough that a caller facing a store that is down hears so within a
// second (as an *OutcomeError, which also matches the store's error).
const resolveWindow = time.Second

// storeUpdate saves r with entries, as Store.Update does, and returns the
// truth when the store cannot tell: if the write failed in a way that may
// have committed, it reads the release back (with a context of its own,
// for at most resolveWindow) and returns nil if r's entries are stored,
// the store's error if they are not, and an *OutcomeError if it cannot
// read them. So a caller that sees an error may retry without applying a
// change twice.
func (m *Manager) storeUpdate(ctx context.Context, r *Release, entries ...AuditEntry) error {
	return m.storeWrite(ctx, r, entries, func() error { return m.store.Update(ctx, r, entries...) })
}

// storeWrite runs write, an update of r with entries, resolving an
// uncertain outcome as storeUpdate does.
func (m *Manager) storeWrite(ctx context.Context, r *Release, entries []AuditEntry, write func() error) error {
	old, head := r.Revision, r.Head
	err := write()
	if err == nil || !uncertain(err) || len(entries) == 0 {
		return err
	}
	committed, rerr := m.committed(ctx, r.ID, head)
	switch {
	case rerr != nil:
		return &OutcomeError{ReleaseID: r.ID, Err: err}
	case committed:
		r.Revision = old + 1
		return nil
	}
	return err
}

// storeCreate stores a new release as Store.Create does, resolving an
// uncertain outcome as storeUpdate does.
func (m *Manager) storeCreate(ctx context.Context, r *Release, entries ...AuditEntry) error {
	err := m.store.Create(ctx, r, entries...)
	if err == nil || !uncertain(err) {
		return err
	}
	committed, rerr := m.committed(ctx, r.ID, r.Head)
	switch {
	case rerr != nil:
		return &OutcomeError{ReleaseID: r.ID, Err: err}
	case committed:
		r.Revision = 1
		return nil
	}
	return err
}

// committed reports whether the release's history holds the entry that
// head names: the write that made head committed.
func (m *Manager) committed(ctx context.Context, id string, head AuditHead) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resolveWindow)
	defer cancel()
	var last error
	for wait := 10 * time.Millisecond; rctx.Err() == nil; wait *= 2 {
		cur, err := m.store.Get(rctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return false, nil
		case err == nil && cur.Head == head:
			return true, nil
		case err == nil && cur.Head.Seq < head.Seq:
			return false, nil
		case err == nil:
			// Others wrote since: is our entry among them?
			h, herr := m.store.History(rctx, id)
			if herr == nil {
				i := int(head.Seq) - 1
				return i < len(h) && h[i].Hash == head.Hash, nil
			}
			err = herr
		}
		last = err
		select {
		case <-rctx.Done():
		case <-time.After(wait):
		}
	}
	return false, fmt.Errorf("relman: read back %q: %w", id, errors.Join(last, rctx.Err()))
}
