package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// noteCols are the columns a notification is read from: the outbox row
// and its audit entry a, signature columns included (the outbox needs
// the current schema).
var noteCols = "release_id, attempts, next_at, last_error, dead, a." + strings.ReplaceAll(auditCols, ", ", ", a.") + strings.ReplaceAll(sigCols, ", ", ", a.")

// claimNotes is ClaimNotifications' statement. c picks the notifications
// owner $1 may claim at $2: not dead, due, not leased by another owner at
// $2, and the oldest not dead one of their release, oldest first, up to
// $4, reading the index relman_outbox_pending in order. SKIP LOCKED
// passes over those another runner is claiming, acknowledging or failing
// at this moment; when one committed since c's snapshot, PostgreSQL
// re-checks the WHERE on its new version, so a lease another runner just
// took is seen. A later notification of a release whose head is locked
// stays out, as the head is still in c's snapshot. u takes the leases,
// until $3, and the entries are read from the audit trail.
const claimNotes = `WITH c AS (
	SELECT o.release_id, o.seq FROM {outbox} o
	WHERE NOT o.dead AND o.next_at <= $2
		AND (o.lease_owner IS NULL OR o.lease_owner = $1 OR o.lease_until <= $2)
		AND NOT EXISTS (SELECT 1 FROM {outbox} p WHERE p.release_id = o.release_id AND p.seq < o.seq AND NOT p.dead)
	ORDER BY o.at, o.at_nanos, o.release_id, o.seq
	LIMIT $4
	FOR UPDATE OF o SKIP LOCKED
), u AS (
	UPDATE {outbox} o SET lease_owner = $1, lease_until = $3 FROM c
	WHERE o.release_id = c.release_id AND o.seq = c.seq
	RETURNING o.*
)
SELECT {cols} FROM u JOIN {audit} a USING (release_id, seq)
ORDER BY u.at, u.at_nanos, u.release_id, u.seq`

// readNotes reads rows of noteCols.
func readNotes(rows pgx.Rows) ([]relman.Notification, error) {
	defer rows.Close()
	out := []relman.Notification{}
	for rows.Next() {
		var n relman.Notification
		var id string
		var er entryRow
		if err := rows.Scan(append([]any{&id, &n.Attempts, &n.NextAt, &n.LastError, &n.Dead}, er.dest(true)...)...); err != nil {
			return nil, err
		}
		var err error
		if n.Entry, err = er.entry(id); err != nil {
			return nil, fmt.Errorf("notification %s/%d: %w", id, er.e.Seq, err)
		}
		n.NextAt = n.NextAt.UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// OutboxEnabled implements relman.Outbox: it reports Options.Outbox.
func (s *Store) OutboxEnabled() bool { return s.opts.Outbox }

func (s *Store) checkOutbox(op string) error {
	if !s.opts.Outbox {
		return storedoc.OutboxOff("postgres", op)
	}
	return nil
}

// ClaimNotifications implements relman.Outbox in one statement (see the
// package documentation), at read committed.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now, until time.Time, n int) ([]relman.Notification, error) {
	if err := storedoc.CheckClaim(owner, n); err != nil {
		return nil, fmt.Errorf("postgres: claim notifications: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claim notifications: %w", err)
	}
	if err := s.checkOutbox("claim notifications"); err != nil {
		return nil, err
	}
	var out []relman.Notification
	err := s.readCommitted(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, s.sqlClaimNotes, owner, now, until, n)
		if err != nil {
			return err
		}
		out, err = readNotes(rows)
		return err
	})
	if err != nil {
		return nil, wrap("claim notifications", err)
	}
	return out, nil
}

// AckNotification implements relman.Outbox.
func (s *Store) AckNotification(ctx context.Context, releaseID string, seq int64) error {
	if err := s.checkOutbox("ack notification"); err != nil {
		return err
	}
	op := fmt.Sprintf("ack notification %s/%d", releaseID, seq)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	err := s.readCommitted(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM "+s.tOutbox+" WHERE release_id = $1 AND seq = $2", releaseID, seq)
		return err
	})
	if badInput(err) {
		return nil // no stored id holds such a string: already gone
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// changeNote runs one UPDATE of a notification at read committed; no row
// changed is relman.ErrNotFound.
func (s *Store) changeNote(ctx context.Context, op, query string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	err := s.readCommitted(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		if err == nil && tag.RowsAffected() == 0 {
			return relman.ErrNotFound
		}
		return err
	})
	switch {
	case errors.Is(err, relman.ErrNotFound), badInput(err):
		return fmt.Errorf("postgres: %s: %w", op, relman.ErrNotFound)
	case err != nil:
		return wrap(op, err)
	}
	return nil
}

// FailNotification implements relman.Outbox. PostgreSQL cannot store a
// NUL byte or invalid UTF-8 in text: lastErr is kept without its NUL bytes
// and with invalid bytes replaced by U+FFFD.
func (s *Store) FailNotification(ctx context.Context, releaseID string, seq int64, next time.Time, lastErr string, dead bool) error {
	if err := s.checkOutbox("fail notification"); err != nil {
		return err
	}
	return s.changeNote(ctx, fmt.Sprintf("fail notification %s/%d", releaseID, seq),
		`UPDATE `+s.tOutbox+` SET attempts = attempts + 1, last_error = $3, next_at = $4, dead = $5,
			lease_owner = NULL, lease_until = NULL WHERE release_id = $1 AND seq = $2`,
		releaseID, seq, strings.ToValidUTF8(strings.ReplaceAll(lastErr, "\x00", ""), "\uFFFD"), next, dead)
}

// ListNotifications implements relman.Outbox.
func (s *Store) ListNotifications(ctx context.Context, dead bool, n int) ([]relman.Notification, error) {
	if err := storedoc.CheckLimit(n); err != nil {
		return nil, fmt.Errorf("postgres: list notifications: %w", err)
	}
	if err := s.checkOutbox("list notifications"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list notifications: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.sqlListNotes, dead, n)
	if err != nil {
		return nil, wrap("list notifications", err)
	}
	out, err := readNotes(rows)
	if err != nil {
		return nil, wrap("list notifications", err)
	}
	return out, nil
}

// ReplayNotification implements relman.Outbox.
func (s *Store) ReplayNotification(ctx context.Context, releaseID string, seq int64, now time.Time) error {
	if err := s.checkOutbox("replay notification"); err != nil {
		return err
	}
	return s.changeNote(ctx, fmt.Sprintf("replay dead notification %s/%d", releaseID, seq),
		`UPDATE `+s.tOutbox+` SET dead = false, attempts = 0, next_at = $3, last_error = '',
			lease_owner = NULL, lease_until = NULL WHERE release_id = $1 AND seq = $2 AND dead`,
		releaseID, seq, now)
}
