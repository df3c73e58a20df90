package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// overlapQuery returns the query of Overlapping and its parameters. The
// plan column holds each planned window widened to whole microseconds,
// so the query, on [from, to) widened likewise, selects a superset of the
// exact overlap, which Overlapping then checks on the documents. Unless
// match is All, it also asks for a release listing one of its services or
// involving one of its teams (services && $s OR teams && $t, each arm only
// if match names some): the planner reads the GiST index of plan, or the
// GIN indexes of services and teams (a bitmap OR), whichever selects less.
func (s *Store) overlapQuery(from, to time.Time, match relman.PlanMatch) (string, []any) {
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
	var arms []string
	if len(match.Services) > 0 {
		args = append(args, match.Services)
		arms = append(arms, "services && $"+strconv.Itoa(len(args))+"::text[]")
	}
	if len(match.Teams) > 0 {
		args = append(args, match.Teams)
		arms = append(arms, "teams && $"+strconv.Itoa(len(args))+"::text[]")
	}
	if len(arms) > 0 {
		query += " AND (" + strings.Join(arms, " OR ") + ")"
	}
	return query, args
}

// Overlapping implements relman.PlanIndex: one query on the plan index
// (and the services and teams indexes, with a match), in one snapshot,
// an exact check of each decoded release, and fn called with those that
// overlap after the query is done, so fn may use the store.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, match relman.PlanMatch, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: overlapping: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil // an empty period
	}
	var found []*relman.Release
	if s.plan {
		query, args := s.overlapQuery(from, to, match)
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
	return storedoc.CallPlanned(found, from, to, match, fn)
}
