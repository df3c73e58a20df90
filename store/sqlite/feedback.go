package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// Feedback implements relman.FeedbackStore: one read of the primary key
// of the feedback table, from the record after after.
func (s *Store) Feedback(ctx context.Context, id string, after int64, n int) ([]relman.Feedback, error) {
	if err := storedoc.CheckFeedbackPage(n); err != nil {
		return nil, fmt.Errorf("sqlite: feedback %q: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: feedback %q: %w", id, err)
	}
	out := []relman.Feedback{}
	if s.plan {
		rows, err := s.feedbackStmt.QueryContext(ctx, id, after, n)
		if err != nil {
			return nil, fmt.Errorf("sqlite: feedback %q: %w", id, withCtx(ctx, err))
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				return nil, fmt.Errorf("sqlite: feedback %q: %w", id, err)
			}
			var f relman.Feedback
			if newer, err := storedoc.Decode(doc, &f); newer {
				return nil, fmt.Errorf("sqlite: feedback %q: %w: %v", id, ErrNewerSchema, err)
			} else if err != nil {
				return nil, fmt.Errorf("sqlite: feedback %q: %w: %v", id, ErrCorrupt, err)
			}
			out = append(out, f)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: feedback %q: %w", id, withCtx(ctx, err))
		}
	}
	if len(out) == 0 {
		var one int
		switch err := s.existsStmt.QueryRowContext(ctx, id).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("sqlite: feedback %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("sqlite: feedback %q: %w", id, withCtx(ctx, err))
		}
	}
	return out, nil
}

// FeedbackRatings implements relman.FeedbackStore. It reads the index
// feedback_at alone, over the records of the period.
func (s *Store) FeedbackRatings(ctx context.Context, from, to time.Time) (map[string][5]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: feedback ratings: %w", err)
	}
	out := map[string][5]int{}
	if !s.plan {
		return out, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT release_id, rating, count(*) FROM feedback
		WHERE at >= ? AND at < ? AND rating BETWEEN 1 AND 5 GROUP BY release_id, rating`, timeKey(from), timeKey(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: feedback ratings: %w", withCtx(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rating, n int
		if err := rows.Scan(&id, &rating, &n); err != nil {
			return nil, fmt.Errorf("sqlite: feedback ratings: %w", err)
		}
		c := out[id]
		c[rating-1] = n
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: feedback ratings: %w", withCtx(ctx, err))
	}
	return out, nil
}
