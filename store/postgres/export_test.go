package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
)

// NewAt returns a Store like New, but migrates the schema only up to
// version v, as the version of this package that wrote schema v would
// have left it.
func NewAt(ctx context.Context, pool *pgxpool.Pool, opts Options, v int) (*Store, error) {
	return newStore(ctx, pool, opts, v)
}

// LockID returns the advisory lock id that Lock takes for key.
func (s *Store) LockID(key string) int64 { return s.lockID(key) }

// RunnerSQL returns the statements of ClaimDue, DueBefore and
// ClaimNotifications, for their query plans.
func (s *Store) RunnerSQL() (claimDue, dueBefore, claimNotes string) {
	return s.sqlClaimDue, s.sqlDueBefore, s.sqlClaimNotes
}

// FireSQL returns the statements of a transition fired on the store:
// Get's read and Update's one statement (the revision-checked update, the
// audit insert and the notification).
func (s *Store) FireSQL() (get, update string) { return s.sqlGet, s.sqlUpdate }

// OverlapQuery returns the query of Overlapping and its parameters, for
// its query plan.
func (s *Store) OverlapQuery(from, to time.Time, match relman.PlanMatch) (string, []any) {
	return s.overlapQuery(from, to, match)
}
