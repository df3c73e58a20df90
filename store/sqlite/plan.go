package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// The plan index (schema 5). A release in one of relman.PlannedStages
// with a window has plan_start and plan_end (its window in whole Unix
// seconds, start rounded down and end rounded up), and one plan_services
// row per service; every other release has NULLs and no rows. Create and
// Update write them in the row's transaction, the Update only when they
// change (the common transition checks them in its WHERE clause, as it
// does kind, creation time and tags, and writes nothing more).
//
// Overlapping(from, to) reads the windows that start in
// (from - longest, to) and end after from, where longest is the longest
// window stored, read from the index releases_plan_len in one step: so it
// reads the windows that overlap, plus those that start less than one
// longest window before from and end before it. With windows of hours
// that is the overlapping set and a few more. An R*Tree would not need
// the bound, but its 32-bit coordinates cannot hold times to the second.
const (
	// insertPlanSvc writes the plan_services rows of release ?3, one per
	// service in the tags key ?1.
	insertPlanSvc = `INSERT INTO plan_services (service, plan_start, release_id, plan_end)
		SELECT value, ?2, ?3, ?4 FROM json_each(?1, '$[0]') WHERE type = 'text'`
	// deletePlanSvc deletes the rows insertPlanSvc wrote with the same
	// ?1, ?2 and ?3, by primary key.
	deletePlanSvc = `DELETE FROM plan_services WHERE service IN (SELECT value FROM json_each(?1, '$[0]') WHERE type = 'text')
		AND plan_start = ?2 AND release_id = ?3`
	// longest is the longest stored window, in seconds (NULL if none).
	longest = "(SELECT max(plan_end - plan_start) FROM releases WHERE plan_start IS NOT NULL)"
)

// planOf returns the plan_start and plan_end of r: its window in Unix
// seconds if it is planned, else nil (NULL).
func planOf(r *relman.Release) (start, end any) {
	if !storedoc.Planned(r) {
		return nil, nil
	}
	return storedoc.FloorUnix(r.Window.Start), storedoc.CeilUnix(r.Window.End)
}

// samePlan reports whether the stored plan_start and plan_end are start
// and end.
func samePlan(oldStart, oldEnd sql.NullInt64, start, end any) bool {
	eq := func(o sql.NullInt64, v any) bool {
		if v == nil {
			return !o.Valid
		}
		return o.Valid && o.Int64 == v.(int64)
	}
	return eq(oldStart, start) && eq(oldEnd, end)
}

// fillPlan is the backfill of migration 5: the plan columns and
// plan_services rows of the releases that are planned. Documents are
// not rewritten (signed ones carry a digest); feedback kept in them moves
// into records on the release's next write through a Manager.
func fillPlan(ctx context.Context, tx *sql.Tx) error {
	var stages []string
	for _, st := range relman.PlannedStages {
		stages = append(stages, string(st))
	}
	list, _ := json.Marshal(stages)
	rows, err := tx.QueryContext(ctx, "SELECT id, tags, doc FROM releases WHERE stage IN (SELECT value FROM json_each(?))", string(list))
	if err != nil {
		return err
	}
	type plan struct {
		id, tags   string
		start, end int64
	}
	var plans []plan
	for rows.Next() {
		var id, tags string
		var doc []byte
		if err := rows.Scan(&id, &tags, &doc); err != nil {
			rows.Close()
			return err
		}
		var r struct{ Window *relman.Span }
		if err := json.Unmarshal(doc, &r); err != nil {
			rows.Close()
			return fmt.Errorf("release %q: %w: %v", id, ErrCorrupt, err)
		}
		if r.Window != nil {
			plans = append(plans, plan{id, tags, storedoc.FloorUnix(r.Window.Start), storedoc.CeilUnix(r.Window.End)})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range plans {
		if _, err := tx.ExecContext(ctx, "UPDATE releases SET plan_start = ?, plan_end = ? WHERE id = ?", p.start, p.end, p.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertPlanSvc, p.tags, p.start, p.id, p.end); err != nil {
			return err
		}
	}
	return nil
}

// Overlapping implements relman.PlanIndex. It reads the candidates with
// one query on the plan index (on plan_services with services), in one
// snapshot, checks each decoded release exactly, and calls fn with those
// that overlap, after the query is done: fn may use the store.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, services []string, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil // an empty period
	}
	if !s.plan {
		return s.overlappingByScan(ctx, from, to, services, fn)
	}
	query, args, err := overlapQuery(from, to, services)
	if err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", err)
	}
	found, err := s.query(ctx, query, args)
	if err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", withCtx(ctx, err))
	}
	return callPlanned(found, from, to, services, fn)
}

// overlapQuery returns the query of Overlapping and its parameters.
func overlapQuery(from, to time.Time, services []string) (string, []any, error) {
	var cond strings.Builder
	var args []any
	if !from.IsZero() {
		lo := storedoc.FloorUnix(from)
		cond.WriteString(" AND plan_start > ? - " + longest + " AND plan_end > ?")
		args = append(args, lo, lo)
	}
	if !to.IsZero() {
		cond.WriteString(" AND plan_start < ?")
		args = append(args, storedoc.CeilUnix(to))
	}
	if len(services) == 0 {
		return "SELECT id, revision, doc FROM releases WHERE plan_start IS NOT NULL" + cond.String(), args, nil
	}
	list, err := json.Marshal(services)
	if err != nil {
		return "", nil, err
	}
	return "SELECT id, revision, doc FROM releases WHERE id IN (SELECT release_id FROM plan_services WHERE service IN (SELECT value FROM json_each(?))" + cond.String() + ")",
		append([]any{string(list)}, args...), nil
}

// overlappingByScan is Overlapping on a file older than schema 5 (made in
// tests): it scans the planned releases.
func (s *Store) overlappingByScan(ctx context.Context, from, to time.Time, services []string, fn func(*relman.Release) error) error {
	var found []*relman.Release
	err := s.Scan(ctx, relman.Query{Stages: relman.PlannedStages}, func(r *relman.Release) error {
		found = append(found, r)
		return nil
	})
	if err != nil {
		return err
	}
	return callPlanned(found, from, to, services, fn)
}

// callPlanned calls fn, in Overlapping's order, with the releases of
// found that overlap [from, to) and list one of services.
func callPlanned(found []*relman.Release, from, to time.Time, services []string, fn func(*relman.Release) error) error {
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
