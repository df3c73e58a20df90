package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// readCommitted runs fn in a read committed transaction, whatever the
// connections' default isolation. The claims and leases need no more
// (each is one statement that locks what it changes), and at repeatable
// read or serializable PostgreSQL would fail claims racing each other
// with serialization errors instead of letting SKIP LOCKED pass over the
// rows another runner is taking.
func (s *Store) readCommitted(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

// claimDue is ClaimDue's statement. c picks the due releases ($2 is now)
// that owner $1 may claim, earliest first, up to $4, reading the partial
// index relman_releases_due in order; SKIP LOCKED passes over those another
// runner is claiming at this moment (FOR NO KEY UPDATE, the weakest lock
// that excludes it: it does not block the foreign key checks of audit
// rows). u takes the leases, until $3; its WHERE re-checks, on the latest
// committed lease, that no other owner took the release since c's
// snapshot, so of two runners racing only one gets it.
const claimDue = `WITH c AS (
	SELECT r.id, r.due_at FROM {releases} r
	WHERE r.due_at <= $2
		AND NOT EXISTS (SELECT 1 FROM {due_leases} l WHERE l.release_id = r.id AND l.owner <> $1 AND l.until > $2)
	ORDER BY r.due_at, r.id
	LIMIT $4
	FOR NO KEY UPDATE OF r SKIP LOCKED
), u AS (
	INSERT INTO {due_leases} AS l (release_id, owner, until) SELECT id, $1, $3 FROM c
	ON CONFLICT (release_id) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE l.owner = excluded.owner OR l.until <= $2
	RETURNING release_id
)
SELECT c.id FROM c JOIN u ON u.release_id = c.id ORDER BY c.due_at, c.id`

// ClaimDue implements relman.DueStore in one statement (see the package
// documentation), at read committed. It costs about the releases due at
// now, not all releases.
func (s *Store) ClaimDue(ctx context.Context, owner string, now, until time.Time, n int) ([]string, error) {
	if err := storedoc.CheckClaim(owner, n); err != nil {
		return nil, fmt.Errorf("postgres: claim due: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claim due: %w", err)
	}
	var ids []string
	err := s.readCommitted(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, s.sqlClaimDue, owner, now, until, n)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, wrap("claim due", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// ReleaseDue implements relman.DueStore, in one statement.
func (s *Store) ReleaseDue(ctx context.Context, owner string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: release due: %w", err)
	}
	err := s.readCommitted(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM "+s.tDue+" WHERE owner = $1 AND release_id = ANY($2::text[])", owner, ids)
		return err
	})
	if err != nil {
		return wrap("release due", err)
	}
	return nil
}

// DueBefore implements relman.DueStore. It reads the partial index
// relman_releases_due in order.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int) ([]string, error) {
	if err := storedoc.CheckLimit(n); err != nil {
		return nil, fmt.Errorf("postgres: due before: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: due before: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.sqlDueBefore, t, n)
	if err != nil {
		return nil, wrap("due before", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("due before", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}
