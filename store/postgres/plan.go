package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// overlapQuery returns the query of Overlapping and its parameters. The
// plan column holds each planned window widened to whole microseconds,
// so the query, on [from, to) widened likewise, selects a superset of the
// exact overlap from the GiST index (and, with services, the GIN index of
// services), which Overlapping then checks on the documents.
func (s *Store) overlapQuery(from, to time.Time, services []string) (string, []any) {
	var lo, hi *time.Time // NULL: unbounded
	if !from.IsZero() {
		t := from.Truncate(time.Microsecond)
		lo = &t
	}
	if !to.IsZero() {
		t := to.Truncate(time.Microsecond)
		if !t.Equal(to) {
			t = t.Add(time.Microsecond)
		}
		hi = &t
	}
	args := []any{lo, hi}
	query := "SELECT id, revision, doc FROM " + s.tReleases + " WHERE plan IS NOT NULL AND plan && tstzrange($1, $2, '[)')"
	if len(services) > 0 {
		args = append(args, services)
		query += " AND services && $" + strconv.Itoa(len(args)) + "::text[]"
	}
	return query, args
}

// Overlapping implements relman.PlanIndex: one query on the plan index,
// in one snapshot, an exact check of each decoded release, and fn called
// with those that overlap after the query is done, so fn may use the
// store.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, services []string, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: overlapping: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil // an empty period
	}
	var found []*relman.Release
	if s.plan {
		query, args := s.overlapQuery(from, to, services)
		var err error
		if found, err = s.query(ctx, query, args); err != nil {
			return wrap("overlapping", err)
		}
	} else {
		// A schema older than version 5 (made in tests): scan.
		err := s.Scan(ctx, relman.Query{Stages: relman.PlannedStages}, func(r *relman.Release) error {
			found = append(found, r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	hits := found[:0]
	for _, r := range found {
		if storedoc.Overlaps(r, from, to, services) {
			hits = append(hits, r)
		}
	}
	storedoc.SortPlanned(hits)
	for _, r := range hits {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
