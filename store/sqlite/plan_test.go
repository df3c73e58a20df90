package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// explain returns the query plan of query, one step a line.
func explain(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// TestQueryPlans: Overlapping reads the plan indexes by range, List with
// a cursor reads the order's index from the cursor on, and a Scan batch
// continues the primary key (or the tag's rows) with no sort, so that a
// whole scan reads each row once.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	last := &relman.Release{ID: "r1", CreatedAt: from, UpdatedAt: from}
	after := func(q relman.Query) relman.Query { q.After = q.Cursor(last); return q }
	type check struct {
		name  string
		query string
		args  []any
		want  []string // substrings of the plan
	}
	var cases []check
	add := func(name string, want []string, query string, args []any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cases = append(cases, check{name, query, args, want})
	}
	oq, oa, err := sqlite.OverlapQuery(from, from.Add(time.Hour), relman.PlanMatch{})
	add("Overlapping", []string{"USING INDEX releases_plan_len", "INDEX releases_plan (plan_start>? AND plan_start<?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, from.Add(time.Hour), relman.PlanMatch{Services: []string{"a", "b"}})
	add("Overlapping/services", []string{"plan_services USING PRIMARY KEY (service=? AND plan_start>? AND plan_start<?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, from.Add(time.Hour), relman.PlanMatch{Teams: []string{"ops"}})
	add("Overlapping/teams", []string{"plan_teams USING PRIMARY KEY (team=? AND plan_start>? AND plan_start<?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, from.Add(time.Hour), relman.PlanMatch{Services: []string{"a"}, Teams: []string{"ops", "web"}})
	add("Overlapping/services and teams", []string{
		"plan_services USING PRIMARY KEY (service=? AND plan_start>? AND plan_start<?)",
		"plan_teams USING PRIMARY KEY (team=? AND plan_start>? AND plan_start<?)",
		"releases USING INDEX sqlite_autoindex_releases_1 (id=?)",
	}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, time.Time{}, relman.PlanMatch{})
	add("Overlapping/no end", []string{"INDEX releases_plan (plan_start>?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, time.Time{}, relman.PlanMatch{Teams: []string{"ops"}})
	add("Overlapping/teams, no end", []string{"plan_teams USING PRIMARY KEY (team=? AND plan_start>?)"}, oq, oa, err)
	for _, o := range []relman.Order{relman.OrderCreated, relman.OrderUpdated, relman.OrderID} {
		for _, desc := range []bool{false, true} {
			lq, la, err := sqlite.ListQuery(after(relman.Query{OrderBy: o, Desc: desc}).Normalized())
			idx := map[relman.Order]string{relman.OrderCreated: "releases_created (", relman.OrderUpdated: "releases_updated (", relman.OrderID: "sqlite_autoindex_releases_1 ("}[o]
			add("List/"+string(o), []string{idx}, lq, la, err)
		}
	}
	for _, sq := range []relman.Query{{}, {Stages: relman.PlannedStages}, {Stages: relman.PlannedStages, Kind: relman.KindMinor}, {Service: "billing", Stages: relman.PlannedStages}, {Team: "ops"}} {
		query, args := sqlite.ScanQuery(sq)
		want := "sqlite_autoindex_releases_1 (id>?)"
		if sq.Service != "" || sq.Team != "" {
			want = "release_tags USING PRIMARY KEY (tag=? AND value=? AND release_id>?)"
		}
		add("Scan", []string{want}, query, args, nil)
	}
	for _, c := range cases {
		p := explain(t, db, c.query, c.args...)
		for _, w := range c.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan\n%s\ndoes not have %q\n(query %s)", c.name, p, w, c.query)
			}
		}
		if strings.Contains(p, "TEMP B-TREE") && !strings.HasPrefix(c.name, "Overlapping") {
			t.Errorf("%s: plan\n%s\nsorts", c.name, p)
		}
		if strings.Contains(p, "SCAN releases") && !strings.Contains(p, "USING") {
			t.Errorf("%s: plan\n%s\nreads every release", c.name, p)
		}
		t.Logf("%s:\n%s", c.name, p)
	}
}

// TestPlanTeamsSchema5: on a file of schema 5, which has no plan_teams,
// Overlapping with teams reads the period and checks the teams on the
// documents, and writes that change teams work; Open then fills
// plan_teams (migration 6) and keeps it up to date.
func TestPlanTeamsSchema5(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v5.db")
	s, err := sqlite.OpenAt(path, sqlite.Options{}, 5)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	mk := func(id string, h int, teams []string, taskTeam string) *relman.Release {
		r := storetest.Minimal(id)
		r.Stage, r.Services, r.Teams = relman.StagePlanned, []string{"svc-" + id}, teams
		if taskTeam != "" {
			r.Tasks = []relman.Task{{Name: "deploy", Team: taskTeam, Duration: time.Hour}}
		}
		r.Window = &relman.Span{Start: at.Add(time.Duration(h) * time.Hour), End: at.Add(time.Duration(h+2) * time.Hour)}
		return storetest.Put(t, s, r)
	}
	p1 := mk("p1", 0, []string{"ops"}, "dba")
	mk("p2", 1, []string{"web"}, "")
	mk("p3", 10, []string{"ops"}, "")
	ids := func(s *sqlite.Store, match relman.PlanMatch) []string {
		t.Helper()
		var got []string
		if err := s.Overlapping(ctx, at, at.Add(3*time.Hour), match, func(r *relman.Release) error {
			got = append(got, r.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(when string, s *sqlite.Store, cases map[string][]string) {
		t.Helper()
		for team, want := range cases {
			if got := ids(s, relman.PlanMatch{Teams: []string{team}}); !slices.Equal(got, want) {
				t.Errorf("%s: Overlapping team %s = %v, want %v", when, team, got, want)
			}
		}
		if got := ids(s, relman.PlanMatch{Services: []string{"svc-p2"}, Teams: []string{"ops"}}); !slices.Equal(got, []string{"p1", "p2"}) {
			t.Errorf("%s: Overlapping svc-p2 or ops = %v, want [p1 p2]", when, got)
		}
	}
	check("schema 5", s, map[string][]string{"ops": {"p1"}, "dba": {"p1"}, "web": {"p2"}})
	p1.Tasks = nil
	p1.UpdatedAt = p1.UpdatedAt.Add(time.Minute)
	if err := s.Update(ctx, p1, p1.Record(relman.AuditEntry{At: p1.UpdatedAt, Actor: "u", Action: relman.ActionEdit})); err != nil {
		t.Fatal(err)
	}
	check("schema 5, dba dropped", s, map[string][]string{"ops": {"p1"}, "dba": nil})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := rawInt(t, path, "SELECT count(*) FROM plan_teams"); n != 3 {
		t.Errorf("plan_teams has %d rows after the upgrade, want 3 (ops of p1 and p3, web of p2)", n)
	}
	check("schema 6", s, map[string][]string{"ops": {"p1"}, "dba": nil, "web": {"p2"}})
	p1.Teams, p1.Tasks = []string{"sre"}, []relman.Task{{Name: "deploy", Team: "dba", Duration: time.Hour}}
	p1.UpdatedAt = p1.UpdatedAt.Add(time.Minute)
	if err := s.Update(ctx, p1, p1.Record(relman.AuditEntry{At: p1.UpdatedAt, Actor: "u", Action: relman.ActionEdit})); err != nil {
		t.Fatal(err)
	}
	for team, want := range map[string][]string{"ops": nil, "sre": {"p1"}, "dba": {"p1"}} {
		if got := ids(s, relman.PlanMatch{Teams: []string{team}}); !slices.Equal(got, want) {
			t.Errorf("schema 6, teams changed: Overlapping team %s = %v, want %v", team, got, want)
		}
	}
	if n := rawInt(t, path, "SELECT count(*) FROM plan_teams WHERE release_id = 'p1'"); n != 2 {
		t.Errorf("p1 has %d plan_teams rows, want 2 (sre, dba)", n)
	}
}
