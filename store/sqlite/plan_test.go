package sqlite_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
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
	oq, oa, err := sqlite.OverlapQuery(from, from.Add(time.Hour), nil)
	add("Overlapping", []string{"USING INDEX releases_plan_len", "INDEX releases_plan (plan_start>? AND plan_start<?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, from.Add(time.Hour), []string{"a", "b"})
	add("Overlapping/services", []string{"PRIMARY KEY (service=? AND plan_start>? AND plan_start<?)"}, oq, oa, err)
	oq, oa, err = sqlite.OverlapQuery(from, time.Time{}, nil)
	add("Overlapping/no end", []string{"INDEX releases_plan (plan_start>?)"}, oq, oa, err)
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
