package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
)

// TestOverlapQueryPlans: with 20,000 planned releases (1-3 of 1,000
// services, a team of 200 and, for half, another, windows of 1-4 hours
// over two years), Overlapping reads indexes, not the table: for a few
// hours the GiST index of plan (or the GIN indexes of services and
// teams), with no end the GIN indexes.
func TestOverlapQueryPlans(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newStore(t, pool, postgres.Options{})
	table := pgx.Identifier{s.Schema(), "relman_releases"}.Sanitize()
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO `+table+` (id, revision, stage, kind, services, teams, created_at, updated_at, doc, plan)
		SELECT 'pop-' || lpad(i::text, 7, '0'), 1, 'planned', 'minor',
			ARRAY(SELECT DISTINCT 'svc-' || lpad(((i * 7919 + k * 104729) % 1000)::text, 4, '0') FROM generate_series(0, i % 3) AS k),
			ARRAY(SELECT DISTINCT 'team-' || lpad(((i * k + i / 7) % 200)::text, 3, '0') FROM generate_series(1, 1 + i % 2) AS k),
			$1::timestamptz, $1::timestamptz, '{}',
			tstzrange($1::timestamptz + (i * 7907 % 1051200) * interval '1 minute', $1::timestamptz + (i * 7907 % 1051200) * interval '1 minute' + (1 + i % 4) * interval '1 hour', '[)')
		FROM generate_series(1, 20000) AS i`, start); err != nil {
		t.Fatal(err)
	}
	// VACUUM merges the GIN indexes' pending lists, as autovacuum does
	// after a bulk insert; until then the planner prices them high.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
		t.Fatal(err)
	}
	from := start.Add(400 * 24 * time.Hour)
	to := from.Add(3 * time.Hour)
	for _, c := range []struct {
		name  string
		to    time.Time
		match relman.PlanMatch
		index string // the index the plan must read
	}{
		{"all", to, relman.PlanMatch{}, "relman_releases_plan"},
		{"services", to, relman.PlanMatch{Services: []string{"svc-0001", "svc-0002"}}, "relman_releases_"},
		{"teams", to, relman.PlanMatch{Teams: []string{"team-001"}}, "relman_releases_"},
		{"services and teams", to, relman.PlanMatch{Services: []string{"svc-0001"}, Teams: []string{"team-001", "team-002"}}, "relman_releases_"},
		// Months ahead, as NextSlot looks: the windows of a team are
		// fewer than those in the period.
		{"teams, no end", time.Time{}, relman.PlanMatch{Teams: []string{"team-001"}}, "relman_releases_teams"},
		{"services and teams, no end", time.Time{}, relman.PlanMatch{Services: []string{"svc-0001"}, Teams: []string{"team-001"}}, "relman_releases_teams"},
	} {
		query, args := s.OverlapQuery(from, c.to, c.match)
		rows, err := pool.Query(ctx, "EXPLAIN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := strings.Join(plan, "\n")
		if strings.Contains(p, "Seq Scan") || !strings.Contains(p, c.index) {
			t.Errorf("%s: the plan does not read an index alone:\n%s\n(query %s)", c.name, p, query)
		}
		t.Logf("%s:\n%s", c.name, p)
	}
}
