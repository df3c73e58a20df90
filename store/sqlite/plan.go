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

// The plan index (schema 5, and 6 for teams). A release in one of
// relman.PlannedStages with a window has plan_start and plan_end (its
// window in whole Unix seconds, start rounded down and end rounded up),
// one plan_services row per service and one plan_teams row per team (its
// Teams and the teams owning its tasks); every other release has NULLs
// and no rows. Create and Update write them in the row's transaction,
// the Update only when they change (the common transition checks them in
// its WHERE clause, as it does kind, creation time and tags, and writes
// nothing more).
//
// Overlapping(from, to) reads the windows that start in
// (from - longest, to) and end after from, where longest is the longest
// window stored, read from the index releases_plan_len in one step: so it
// reads the windows that overlap, plus those that start less than one
// longest window before from and end before it. With windows of hours
// that is the overlapping set and a few more. With a relman.PlanMatch it
// reads the same range of each service's plan_services rows and each
// team's plan_teams rows, and the releases of their union. An R*Tree
// would not need the bound, but its 32-bit coordinates cannot hold times
// to the second.
const (
	// insertPlanSvc writes the plan_services rows of release ?3, one per
	// service in the tags key ?1.
	insertPlanSvc = `INSERT INTO plan_services (service, plan_start, release_id, plan_end)
		SELECT value, ?2, ?3, ?4 FROM json_each(?1, '$[0]') WHERE type = 'text'`
	// deletePlanSvc deletes the rows insertPlanSvc wrote with the same
	// ?1, ?2 and ?3, by primary key.
	deletePlanSvc = `DELETE FROM plan_services WHERE service IN (SELECT value FROM json_each(?1, '$[0]') WHERE type = 'text')
		AND plan_start = ?2 AND release_id = ?3`
	// insertPlanTeam writes the plan_teams rows of release ?3 (schema 6),
	// one per team in the tags key ?1.
	insertPlanTeam = `INSERT INTO plan_teams (team, plan_start, release_id, plan_end)
		SELECT value, ?2, ?3, ?4 FROM json_each(?1, '$[1]') WHERE type = 'text'`
	// deletePlanTeam deletes the rows insertPlanTeam wrote with the same
	// ?1, ?2 and ?3, by primary key.
	deletePlanTeam = `DELETE FROM plan_teams WHERE team IN (SELECT value FROM json_each(?1, '$[1]') WHERE type = 'text')
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
// plan_services rows of the releases that are planned (migration 6 then
// fills plan_teams from the plan columns). Documents are not rewritten
// (signed ones carry a digest); feedback kept in them moves into records
// on the release's next write through a Manager.
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
// one query on the plan index (on plan_services and plan_teams with a
// match), in one snapshot, checks each decoded release exactly, and calls
// fn with those that overlap and match, after the query is done: fn may
// use the store.
func (s *Store) Overlapping(ctx context.Context, from, to time.Time, match relman.PlanMatch, fn func(*relman.Release) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil // an empty period
	}
	if !s.plan {
		return s.overlappingByScan(ctx, from, to, match, fn)
	}
	sel := match
	if !s.planTeams && len(match.Teams) > 0 {
		// A schema 5 file (made in tests) has no plan_teams: read every
		// window in the period, and let the exact check match.
		sel = relman.PlanMatch{}
	}
	query, args, err := overlapQuery(from, to, sel)
	if err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", err)
	}
	found, err := s.query(ctx, query, args)
	if err != nil {
		return fmt.Errorf("sqlite: overlapping: %w", withCtx(ctx, err))
	}
	return storedoc.CallPlanned(found, from, to, match, fn)
}

// overlapQuery returns the query of Overlapping and its parameters:
// unless match is All, the releases whose plan_services rows (of its
// services) or plan_teams rows (of its teams) are in the period, the ids
// of both tables' rows united.
func overlapQuery(from, to time.Time, match relman.PlanMatch) (string, []any, error) {
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
	if match.All() {
		return "SELECT id, revision, doc FROM releases WHERE plan_start IS NOT NULL" + cond.String(), args, nil
	}
	var sels []string
	var all []any
	for _, t := range []struct {
		names         []string
		table, column string
	}{{match.Services, "plan_services", "service"}, {match.Teams, "plan_teams", "team"}} {
		if len(t.names) == 0 {
			continue
		}
		list, err := json.Marshal(t.names)
		if err != nil {
			return "", nil, err
		}
		sels = append(sels, "SELECT release_id FROM "+t.table+" WHERE "+t.column+" IN (SELECT value FROM json_each(?))"+cond.String())
		all = append(append(all, string(list)), args...)
	}
	return "SELECT id, revision, doc FROM releases WHERE id IN (" + strings.Join(sels, " UNION ALL ") + ")", all, nil
}

// overlappingByScan is Overlapping on a file older than schema 5 (made in
// tests): it scans the planned releases.
func (s *Store) overlappingByScan(ctx context.Context, from, to time.Time, match relman.PlanMatch, fn func(*relman.Release) error) error {
	var found []*relman.Release
	err := s.Scan(ctx, relman.Query{Stages: relman.PlannedStages}, func(r *relman.Release) error {
		found = append(found, r)
		return nil
	})
	if err != nil {
		return err
	}
	return storedoc.CallPlanned(found, from, to, match, fn)
}
