package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/relman-dev/relman/store/internal/storedoc"
)

// The due releases at ?1 that owner ?2 may claim, up to ?3, and those due
// before ?1 whatever their leases, earliest first: both read the partial
// index releases_due in order.
const (
	claimDueSQL = `SELECT r.id FROM releases r
		WHERE r.due_at IS NOT NULL AND r.due_at <= ?1
		AND NOT EXISTS (SELECT 1 FROM due_leases l WHERE l.release_id = r.id AND l.owner <> ?2 AND l.until > ?1)
		ORDER BY r.due_at, r.id LIMIT ?3`
	dueBeforeSQL = "SELECT id FROM releases WHERE due_at IS NOT NULL AND due_at < ?1 ORDER BY due_at, id LIMIT ?2"
)

// ClaimDue implements relman.DueStore. It reads the due releases and
// takes their leases in one BEGIN IMMEDIATE transaction, so, as every
// write, it holds SQLite's write lock and no other process or goroutine
// claims meanwhile. It reads the partial index releases_due in order,
// from the earliest due, so it costs about the releases due at now (and
// those it skips because another owner holds them), not all releases.
func (s *Store) ClaimDue(ctx context.Context, owner string, now, until time.Time, n int) ([]string, error) {
	if err := storedoc.CheckClaim(owner, n); err != nil {
		return nil, fmt.Errorf("sqlite: claim due: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim due: %w", err)
	}
	nowKey, untilKey := timeKey(now), timeKey(until)
	ids := []string{}
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimDueSQL, nowKey, owner, n)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		lease, err := tx.PrepareContext(ctx, `INSERT INTO due_leases (release_id, owner, until) VALUES (?, ?, ?)
			ON CONFLICT (release_id) DO UPDATE SET owner = excluded.owner, until = excluded.until`)
		if err != nil {
			return err
		}
		defer lease.Close()
		for _, id := range ids {
			if _, err := lease.ExecContext(ctx, id, owner, untilKey); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim due: %w", err)
	}
	return ids, nil
}

// ReleaseDue implements relman.DueStore, in one statement.
func (s *Store) ReleaseDue(ctx context.Context, owner string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: release due: %w", err)
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("sqlite: release due: %w", err)
	}
	if _, err := s.exec(ctx, "DELETE FROM due_leases WHERE owner = ? AND release_id IN (SELECT value FROM json_each(?))", owner, string(list)); err != nil {
		return fmt.Errorf("sqlite: release due: %w", err)
	}
	return nil
}

// DueBefore implements relman.DueStore. It reads the partial index
// releases_due, without taking the write lock.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int) ([]string, error) {
	if err := storedoc.CheckLimit(n); err != nil {
		return nil, fmt.Errorf("sqlite: due before: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due before: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, dueBeforeSQL, timeKey(t), n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due before: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: due before: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due before: %w", err)
	}
	return out, nil
}
