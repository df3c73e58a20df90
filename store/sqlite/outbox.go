package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// noteCols are the columns a notification is read from: the outbox row o
// and its audit entry a, signature columns included (the outbox needs
// the current schema).
var noteCols = "o.release_id, o.attempts, o.next_at, o.last_error, o.dead, a." + strings.ReplaceAll(auditCols, ", ", ", a.") + strings.ReplaceAll(sigCols, ", ", ", a.")

// noteFrom joins an outbox row to its entry.
const noteFrom = " FROM outbox o JOIN audit a ON a.release_id = o.release_id AND a.seq = o.seq"

// claimNotesSQL selects the notifications owner ?2 may claim at ?1, up to
// ?3: not dead, due, not leased by another owner at ?1, and the oldest not
// dead one of their release.
var claimNotesSQL = "SELECT " + noteCols + noteFrom + `
	WHERE o.dead = 0 AND o.next_at <= ?1
	AND (o.lease_owner IS NULL OR o.lease_owner = ?2 OR o.lease_until <= ?1)
	AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.release_id = o.release_id AND p.seq < o.seq AND p.dead = 0)
	ORDER BY o.at, o.release_id, o.seq LIMIT ?3`

// readNotes reads rows of noteCols.
func readNotes(rows *sql.Rows) ([]relman.Notification, error) {
	defer rows.Close()
	out := []relman.Notification{}
	for rows.Next() {
		var n relman.Notification
		var id, next string
		var er entryRow
		if err := rows.Scan(append([]any{&id, &n.Attempts, &next, &n.LastError, &n.Dead}, er.dest(true)...)...); err != nil {
			return nil, err
		}
		var err error
		if n.Entry, err = er.entry(id); err != nil {
			return nil, fmt.Errorf("notification %s/%d: %w", id, er.e.Seq, err)
		}
		if n.NextAt, err = time.Parse(timeLayout, next); err != nil {
			return nil, fmt.Errorf("notification %s/%d: %w: %v", id, er.e.Seq, ErrCorrupt, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// OutboxEnabled implements relman.Outbox: it reports Options.Outbox.
func (s *Store) OutboxEnabled() bool { return s.outbox }

func (s *Store) checkOutbox(op string) error {
	if !s.outbox {
		return storedoc.OutboxOff("sqlite", op)
	}
	return nil
}

// ClaimNotifications implements relman.Outbox. It reads the notifications
// and takes their leases in one BEGIN IMMEDIATE transaction, holding
// SQLite's write lock, so no other process or goroutine claims meanwhile.
// It reads the pending notifications in order (index outbox_pending) and
// stops at n, checking each against the older ones of its release (the
// primary key), so it costs about the notifications ahead of the last one
// it takes.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now, until time.Time, n int) ([]relman.Notification, error) {
	if err := storedoc.CheckClaim(owner, n); err != nil {
		return nil, fmt.Errorf("sqlite: claim notifications: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim notifications: %w", err)
	}
	if err := s.checkOutbox("claim notifications"); err != nil {
		return nil, err
	}
	nowKey, untilKey := timeKey(now), timeKey(until)
	var out []relman.Notification
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimNotesSQL, nowKey, owner, n)
		if err != nil {
			return err
		}
		if out, err = readNotes(rows); err != nil || len(out) == 0 {
			return err
		}
		lease, err := tx.PrepareContext(ctx, "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE release_id = ? AND seq = ?")
		if err != nil {
			return err
		}
		defer lease.Close()
		for _, nt := range out {
			if _, err := lease.ExecContext(ctx, owner, untilKey, nt.Entry.ReleaseID, nt.Entry.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim notifications: %w", err)
	}
	return out, nil
}

// AckNotification implements relman.Outbox.
func (s *Store) AckNotification(ctx context.Context, releaseID string, seq int64) error {
	if err := s.checkOutbox("ack notification"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: ack notification %s/%d: %w", releaseID, seq, err)
	}
	if _, err := s.exec(ctx, "DELETE FROM outbox WHERE release_id = ? AND seq = ?", releaseID, seq); err != nil {
		return fmt.Errorf("sqlite: ack notification %s/%d: %w", releaseID, seq, err)
	}
	return nil
}

// changeNote runs one UPDATE of a notification in a write transaction;
// no row changed is relman.ErrNotFound.
func (s *Store) changeNote(ctx context.Context, op, query string, args ...any) error {
	switch n, err := s.exec(ctx, query, args...); {
	case err != nil:
		return fmt.Errorf("sqlite: %s: %w", op, err)
	case n == 0:
		return fmt.Errorf("sqlite: %s: %w", op, relman.ErrNotFound)
	}
	return nil
}

// FailNotification implements relman.Outbox.
func (s *Store) FailNotification(ctx context.Context, releaseID string, seq int64, next time.Time, lastErr string, dead bool) error {
	if err := s.checkOutbox("fail notification"); err != nil {
		return err
	}
	op := fmt.Sprintf("fail notification %s/%d", releaseID, seq)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.changeNote(ctx, op, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, dead = ?,
		lease_owner = NULL, lease_until = NULL WHERE release_id = ? AND seq = ?`, lastErr, timeKey(next), dead, releaseID, seq)
}

// ListNotifications implements relman.Outbox.
func (s *Store) ListNotifications(ctx context.Context, dead bool, n int) ([]relman.Notification, error) {
	if err := storedoc.CheckLimit(n); err != nil {
		return nil, fmt.Errorf("sqlite: list notifications: %w", err)
	}
	if err := s.checkOutbox("list notifications"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list notifications: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+noteCols+noteFrom+" WHERE o.dead = ? ORDER BY o.at, o.release_id, o.seq LIMIT ?", dead, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list notifications: %w", err)
	}
	out, err := readNotes(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list notifications: %w", err)
	}
	return out, nil
}

// ReplayNotification implements relman.Outbox.
func (s *Store) ReplayNotification(ctx context.Context, releaseID string, seq int64, now time.Time) error {
	if err := s.checkOutbox("replay notification"); err != nil {
		return err
	}
	op := fmt.Sprintf("replay dead notification %s/%d", releaseID, seq)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.changeNote(ctx, op, `UPDATE outbox SET dead = 0, attempts = 0, next_at = ?, last_error = '',
		lease_owner = NULL, lease_until = NULL WHERE release_id = ? AND seq = ? AND dead = 1`, timeKey(now), releaseID, seq)
}
