package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// Feedback implements relman.FeedbackStore: one read of the primary key
// of the feedback table, from the record after after.
func (s *Store) Feedback(ctx context.Context, id string, after int64, n int) ([]relman.Feedback, error) {
	if err := storedoc.CheckFeedbackPage(n); err != nil {
		return nil, fmt.Errorf("postgres: feedback %q: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: feedback %q: %w", id, err)
	}
	out := []relman.Feedback{}
	if s.plan {
		rows, err := s.pool.Query(ctx, s.sqlFeedback, id, after, n)
		if err != nil {
			if badInput(err) {
				return nil, fmt.Errorf("postgres: feedback %q: %w", id, relman.ErrNotFound)
			}
			return nil, wrap(fmt.Sprintf("feedback %q", id), err)
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				return nil, wrap(fmt.Sprintf("feedback %q", id), err)
			}
			var f relman.Feedback
			if newer, err := storedoc.Decode(doc, &f); newer {
				return nil, fmt.Errorf("postgres: feedback %q: %w: %v", id, ErrNewerSchema, err)
			} else if err != nil {
				return nil, fmt.Errorf("postgres: feedback %q: stored document: %w", id, err)
			}
			out = append(out, f)
		}
		if err := rows.Err(); err != nil {
			if badInput(err) {
				return nil, fmt.Errorf("postgres: feedback %q: %w", id, relman.ErrNotFound)
			}
			return nil, wrap(fmt.Sprintf("feedback %q", id), err)
		}
	}
	if len(out) == 0 {
		var ok bool
		switch err := s.pool.QueryRow(ctx, s.sqlExists, id).Scan(&ok); {
		case errors.Is(err, pgx.ErrNoRows), badInput(err):
			return nil, fmt.Errorf("postgres: feedback %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, wrap(fmt.Sprintf("feedback %q", id), err)
		}
	}
	return out, nil
}

// FeedbackRatings implements relman.FeedbackStore. It reads the index
// relman_feedback_at alone, over the records of the period, comparing
// times to the nanosecond (at and at_nanos).
func (s *Store) FeedbackRatings(ctx context.Context, from, to time.Time) (map[string][5]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: feedback ratings: %w", err)
	}
	out := map[string][5]int{}
	if !s.plan {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, s.sqlRatings, from, int32(from.Nanosecond()%1000), to, int32(to.Nanosecond()%1000))
	if err != nil {
		return nil, wrap("feedback ratings", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rating int32
		var n int64
		if err := rows.Scan(&id, &rating, &n); err != nil {
			return nil, wrap("feedback ratings", err)
		}
		c := out[id]
		c[rating-1] = int(n)
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("feedback ratings", err)
	}
	return out, nil
}
