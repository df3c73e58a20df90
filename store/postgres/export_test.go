package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewAt returns a Store like New, but migrates the schema only up to
// version v, as the version of this package that wrote schema v would
// have left it.
func NewAt(ctx context.Context, pool *pgxpool.Pool, opts Options, v int) (*Store, error) {
	return newStore(ctx, pool, opts, v)
}
