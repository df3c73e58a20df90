package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

func TestNewNeedsAuthenticate(t *testing.T) {
	m, _ := relman.NewManager(newEnv(t).store)
	if _, err := httpapi.New(m, httpapi.Options{}); err == nil {
		t.Fatal("New without Authenticate: no error")
	}
}

// A path or method the API does not have is a problem document too.
func TestNoRoute(t *testing.T) {
	e := newEnv(t)
	if p := e.do("olga", "GET", "/nope", nil).want(t, 404).problem(t); p.Status != 404 {
		t.Errorf("404: %+v", p)
	}
	r := e.do("olga", "DELETE", "/lifecycle", nil).want(t, 405)
	if p := r.problem(t); p.Status != 405 || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("405: %+v, Allow %q", p, r.header.Get("Allow"))
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("", "GET", "/openapi.json", nil).want(t, 200)
	var doc map[string]any
	r.json(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	loaded, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document does not validate: %v", err)
	}
}

func TestReleases(t *testing.T) {
	e := newEnv(t)

	// Create.
	r := e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "releases/inv-1" {
		t.Errorf("create: ETag %q, Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	if p := e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 409).problem(t); p.Class != relman.ClassConflict {
		t.Errorf("duplicate: class %q", p.Class)
	}
	bad := newRelease("inv-x")
	bad["version"] = "two"
	delete(bad, "title")
	p := e.do("olga", "POST", "/releases", bad).want(t, 400).problem(t)
	if p.Class != relman.ClassInvalid || len(p.Fields) != 2 {
		t.Errorf("invalid release: %+v", p)
	}
	p = e.do("olga", "POST", "/releases", `{"id": "x", "titel": "typo"}`).want(t, 400).problem(t)
	if !strings.Contains(p.Detail, `unknown field "titel"`) {
		t.Errorf("unknown field: %+v", p)
	}
	p = e.do("olga", "POST", "/releases", `{"id": "x",`).want(t, 400).problem(t)
	if !strings.Contains(p.Detail, "malformed JSON") && !strings.Contains(p.Detail, "unexpected EOF") {
		t.Errorf("malformed JSON: %+v", p)
	}
	e.do("olga", "POST", "/releases", `{"id": "x"} {"id": "y"}`).want(t, 400)
	e.do("olga", "POST", "/releases", "").want(t, 400)
	e.do("olga", "POST", "/releases", `{"id": "`+strings.Repeat("x", 70<<10)+`"}`).want(t, 413)
	e.do("", "POST", "/releases", newRelease("inv-2")).want(t, 401)
	if p := e.do("mallory", "POST", "/releases", newRelease("inv-2")).want(t, 403).problem(t); p.Class != relman.ClassForbidden {
		t.Errorf("forbidden: %+v", p)
	}

	// Get.
	r = e.do("olga", "GET", "/releases/inv-1", nil).want(t, 200)
	var rel relman.Release
	r.json(t, &rel)
	if rel.ID != "inv-1" || rel.Stage != relman.StageProposed || r.header.Get("ETag") != `"1"` {
		t.Errorf("get: %s %s %q", rel.ID, rel.Stage, r.header.Get("ETag"))
	}
	e.do("olga", "GET", "/releases/inv-1", nil, "If-None-Match", `"1"`).want(t, 304)
	if p := e.do("olga", "GET", "/releases/nope", nil).want(t, 404).problem(t); p.Class != relman.ClassNotFound {
		t.Errorf("missing: %+v", p)
	}
	e.do("", "GET", "/releases/inv-1", nil).want(t, 401)

	// List with a cursor.
	for i := 2; i <= 5; i++ {
		e.clock.set(start.Add(time.Duration(i) * time.Minute))
		e.do("olga", "POST", "/releases", newRelease(fmt.Sprintf("inv-%d", i))).want(t, 201)
	}
	var ids []string
	cursor, firstCursor := "", ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path := "/releases?limit=2&order_by=id"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page httpapi.ReleaseList
		e.do("olga", "GET", path, nil).want(t, 200).json(t, &page)
		for _, r := range page.Releases {
			ids = append(ids, r.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		if pages == 0 {
			// A release that sorts before the cursor, created between two
			// pages, shifts nothing: the cursor names the last release seen.
			e.do("olga", "POST", "/releases", newRelease("inv-0")).want(t, 201)
			firstCursor = cursor
		}
	}
	if strings.Join(ids, " ") != "inv-1 inv-2 inv-3 inv-4 inv-5" {
		t.Errorf("paged ids: %v", ids)
	}
	e.do("olga", "GET", "/releases?cursor=zzz", nil).want(t, 400)
	// A cursor is bound to its order.
	if p := e.do("olga", "GET", "/releases?order_by=updated_at&cursor="+firstCursor, nil).want(t, 400).problem(t); !strings.Contains(p.Detail+fmt.Sprint(p.Fields), "after") {
		t.Errorf("a cursor of another order: %+v", p)
	}
	e.do("olga", "GET", "/releases?limit=0", nil).want(t, 400)
	e.do("olga", "GET", "/releases?order_by=title", nil).want(t, 400)
	var page httpapi.ReleaseList
	e.do("olga", "GET", "/releases?stage=proposed,approved&service=invoices", nil).want(t, 200).json(t, &page)
	if len(page.Releases) != 6 {
		t.Errorf("filtered list: %d releases", len(page.Releases))
	}

	// Edit with If-Match.
	edit := httpapi.EditRequest{Reason: "clearer", Set: []byte(`{"title": "Invoices in 2 s", "labels": {"team": "billing"}}`)}
	r = e.do("olga", "PATCH", "/releases/inv-1", edit, "If-Match", `"1"`).want(t, 200)
	r.json(t, &rel)
	if rel.Title != "Invoices in 2 s" || rel.Labels["team"] != "billing" || r.header.Get("ETag") != `"2"` {
		t.Errorf("edit: %q %v %q", rel.Title, rel.Labels, r.header.Get("ETag"))
	}
	if p := e.do("olga", "PATCH", "/releases/inv-1", edit, "If-Match", `"1"`).want(t, 412).problem(t); !strings.Contains(p.Detail, `"2"`) {
		t.Errorf("stale If-Match: %+v", p)
	}
	e.do("olga", "PATCH", "/releases/inv-1", httpapi.EditRequest{Set: []byte(`{"stage": "closed"}`)}).want(t, 400)
	e.do("olga", "PATCH", "/releases/inv-1", httpapi.EditRequest{Set: []byte(`{"titel": "x"}`)}).want(t, 400)
	e.do("olga", "PATCH", "/releases/inv-1", httpapi.EditRequest{Set: []byte(`[1]`)}).want(t, 400)
	e.do("mallory", "PATCH", "/releases/inv-1", edit).want(t, 403)
	e.do("olga", "PATCH", "/releases/nope", edit).want(t, 404)

	// History and verify.
	var hist struct{ Entries []relman.AuditEntry }
	e.do("olga", "GET", "/releases/inv-1/history", nil).want(t, 200).json(t, &hist)
	if len(hist.Entries) != 2 {
		t.Errorf("history: %d entries", len(hist.Entries))
	}
	var v httpapi.VerifyResult
	e.do("olga", "GET", "/releases/inv-1/verify", nil).want(t, 200).json(t, &v)
	if !v.Intact {
		t.Errorf("verify: %+v", v)
	}
	e.do("olga", "GET", "/releases/nope/history", nil).want(t, 404)
	e.do("olga", "GET", "/releases/nope/verify", nil).want(t, 404)

	// The lifecycle.
	var lc httpapi.LifecycleDoc
	e.do("olga", "GET", "/lifecycle", nil).want(t, 200).json(t, &lc)
	if lc.Initial != relman.StageProposed || len(lc.Events) < 10 || !strings.Contains(lc.Mermaid, "stateDiagram") {
		t.Errorf("lifecycle: %+v", lc)
	}
	if r := e.do("olga", "GET", "/lifecycle?format=mermaid", nil).want(t, 200); !strings.Contains(string(r.body), "proposed") {
		t.Errorf("mermaid: %s", r.body)
	}
}

func TestEventsAndChecks(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)

	var c httpapi.CheckResult
	e.do("carl", "POST", "/releases/inv-1/events/approve/check", nil).want(t, 200).json(t, &c)
	if !c.Allowed {
		t.Errorf("check approve: %+v", c)
	}
	e.do("olga", "POST", "/releases/inv-1/events/deploy/check", nil).want(t, 200).json(t, &c)
	if c.Allowed || c.Class != relman.ClassRefused || len(c.Failures) != 1 {
		t.Errorf("check deploy from proposed: %+v", c)
	}
	e.do("mallory", "POST", "/releases/inv-1/events/approve/check", nil).want(t, 200).json(t, &c)
	if c.Allowed || c.Class != relman.ClassForbidden {
		t.Errorf("check as mallory: %+v", c)
	}
	e.do("olga", "POST", "/releases/nope/events/approve/check", nil).want(t, 404)
	e.do("olga", "POST", "/releases/inv-1/events/fly/check", nil).want(t, 400)
	e.do("olga", "POST", "/releases/inv-1/events/approve/check", `{"reason": 7}`).want(t, 400)
	e.do("", "POST", "/releases/inv-1/events/approve/check", nil).want(t, 401)

	// Fire: refusals carry every gate.
	e.do("carl", "POST", "/releases/inv-1/events/approve", nil, "If-Match", `"9"`).want(t, 412)
	e.do("carl", "POST", "/releases/inv-1/events/approve", nil, "If-Match", `"1"`).want(t, 200)
	p := e.do("olga", "POST", "/releases/inv-1/events/plan", nil).want(t, 422).problem(t)
	if p.Class != relman.ClassRefused || p.Event != relman.EventPlan || len(p.Failures) == 0 || p.Failures[0].Gate == "" {
		t.Errorf("plan without a window: %+v", p)
	}
	p = e.do("olga", "POST", "/releases/inv-1/events/deploy", nil).want(t, 422).problem(t)
	if p.Class != relman.ClassRefused || p.ReleaseID != "inv-1" {
		t.Errorf("deploy from approved: %+v", p)
	}
	e.do("olga", "POST", "/releases/inv-1/events/fly", nil).want(t, 400)
	e.do("mallory", "POST", "/releases/inv-1/events/cancel", httpapi.EventRequest{Reason: "x"}).want(t, 403)
	e.do("olga", "POST", "/releases/nope/events/approve", nil).want(t, 404)
	e.do("olga", "POST", "/releases/inv-1/events/plan", `{"window": {"start": "soon"}}`).want(t, 400)

	// Not yet: authorized, but the window opens at 22:00.
	e.authorized("inv-2")
	e.do("olga", "POST", "/releases/inv-2/events/deploy/check", nil).want(t, 200).json(t, &c)
	opens := start.Add(13 * time.Hour)
	if c.Allowed || c.Class != relman.ClassNotYet || c.NotYetUntil == nil || !c.NotYetUntil.Equal(opens) {
		t.Errorf("check deploy before the window: %+v", c)
	}
	r := e.do("olga", "POST", "/releases/inv-2/events/deploy", nil).want(t, 425)
	p = r.problem(t)
	if p.Class != relman.ClassNotYet || p.NotYetUntil == nil || !p.NotYetUntil.Equal(opens) || r.header.Get("Retry-After") == "" {
		t.Errorf("deploy before the window: %+v, Retry-After %q", p, r.header.Get("Retry-After"))
	}
	e.clock.set(opens.Add(time.Minute))
	e.do("olga", "POST", "/releases/inv-2/events/deploy/check", nil).want(t, 200).json(t, &c)
	if !c.Allowed {
		t.Errorf("check deploy in the window: %+v", c)
	}
	e.do("olga", "POST", "/releases/inv-2/events/deploy", nil).want(t, 200)
}

func TestApprovalsAndRisk(t *testing.T) {
	e := newEnv(t, relman.WithEnvironments(relman.Environments{List: []relman.Environment{
		{Name: "staging"}, {Name: "production", Production: true, Approvals: []relman.Requirement{{Role: "cab", Count: 1}}}}}))
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)

	var a relman.Assessment
	e.do("olga", "GET", "/releases/inv-1/risk", nil).want(t, 200).json(t, &a)
	if a.At.IsZero() {
		t.Errorf("evaluate: %+v", a)
	}
	e.do("olga", "GET", "/releases/nope/risk", nil).want(t, 404)
	e.do("olga", "POST", "/releases/inv-1/risk/assess", nil, "If-Match", `"5"`).want(t, 412)
	e.do("olga", "POST", "/releases/inv-1/risk/assess", nil).want(t, 200)
	e.do("mallory", "POST", "/releases/inv-1/risk/assess", nil).want(t, 403)

	risk := relman.Risk{Title: "slow rollback", Likelihood: 2, Impact: 4, Status: relman.RiskOpen}
	var rel relman.Release
	e.do("olga", "PUT", "/releases/inv-1/risks/r1", risk).want(t, 200).json(t, &rel)
	if len(rel.Risks) != 1 || rel.Risks[0].ID != "r1" {
		t.Errorf("set risk: %+v", rel.Risks)
	}
	risk.ID = "other"
	e.do("olga", "PUT", "/releases/inv-1/risks/r1", risk).want(t, 400)
	risk.ID, risk.Likelihood = "r1", 99
	e.do("olga", "PUT", "/releases/inv-1/risks/r1", risk).want(t, 400)
	e.do("olga", "DELETE", "/releases/inv-1/risks/r1", nil).want(t, 200)
	e.do("olga", "DELETE", "/releases/inv-1/risks/r1", nil).want(t, 404)

	// Approvals: self-approval is forbidden, a rejection counts, an
	// environment approval is recorded for its environment.
	e.do("olga", "POST", "/releases/inv-1/approvals", httpapi.ApprovalRequest{}).want(t, 403)
	e.do("carl", "POST", "/releases/inv-1/approvals", httpapi.ApprovalRequest{Decision: "maybe"}).want(t, 400)
	e.do("carl", "POST", "/releases/inv-1/approvals", httpapi.ApprovalRequest{Decision: "reject", Comment: "no"}).want(t, 200).json(t, &rel)
	if len(rel.Approvals) != 1 {
		t.Errorf("reject: %+v", rel.Approvals)
	}
	e.do("carl,cab", "POST", "/releases/inv-1/approvals", httpapi.ApprovalRequest{Role: "cab", Environment: "production"}).want(t, 200)
	e.do("carl,cab", "POST", "/releases/inv-1/approvals", httpapi.ApprovalRequest{Role: "cab", Environment: "moon"}).want(t, 400)
	e.do("carl", "POST", "/releases/nope/approvals", httpapi.ApprovalRequest{}).want(t, 404)
}

func TestCalendar(t *testing.T) {
	e := newEnv(t)
	win := relman.Window{Name: "Saturday night", Kind: relman.WindowMaintenance, TimeZone: "UTC",
		Start: time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC),
		RRule: "FREQ=WEEKLY;BYDAY=SA", Services: []string{"invoices"}}
	e.do("olga", "PUT", "/windows/sat", win).want(t, 200)
	e.do("mallory", "PUT", "/windows/sat", win).want(t, 403)
	win.RRule = "FREQ=WEKLY"
	e.do("olga", "PUT", "/windows/bad", win).want(t, 400)
	win.ID = "other"
	e.do("olga", "PUT", "/windows/sat", win).want(t, 400)
	var ws httpapi.WindowList
	e.do("olga", "GET", "/windows", nil).want(t, 200).json(t, &ws)
	if len(ws.Windows) != 1 || ws.Windows[0].ID != "sat" {
		t.Errorf("windows: %+v", ws)
	}

	var slot httpapi.Slot
	e.do("olga", "GET", "/next-slot?duration=1h&service=invoices", nil).want(t, 200).json(t, &slot)
	if !slot.Start.Equal(win.Start) || time.Duration(slot.Duration) != time.Hour {
		t.Errorf("next slot: %+v", slot)
	}
	if r := e.do("olga", "GET", "/next-slot?duration=1h&service=invoices", nil); !strings.Contains(string(r.body), `"duration":"1h0m0s"`) {
		t.Errorf("next slot JSON: %s", r.body)
	}
	e.do("olga", "GET", "/next-slot?duration=soon", nil).want(t, 400)
	e.do("olga", "GET", "/next-slot", nil).want(t, 400)
	e.do("olga", "GET", "/next-slot?duration=1h&service=invoices&horizon=1h", nil).want(t, 422)
	// The slot for a release: its services and teams (here the same as
	// asking for its service, since no team of it is booked elsewhere).
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)
	var forRelease relman.Span
	e.do("olga", "GET", "/next-slot?duration=1h&release=inv-1", nil).want(t, 200).json(t, &forRelease)
	var forService relman.Span
	e.do("olga", "GET", "/next-slot?duration=1h&service=invoices&exclude=inv-1", nil).want(t, 200).json(t, &forService)
	if !forRelease.Start.Equal(forService.Start) || forRelease.Start.IsZero() {
		t.Errorf("next-slot for inv-1 starts %v, for its service %v", forRelease.Start, forService.Start)
	}
	e.do("olga", "GET", "/next-slot?duration=1h&release=nobody", nil).want(t, 404)
	if r := e.do("olga", "GET", "/next-slot?duration=1h&release=inv-1&service=invoices", nil).want(t, 400); !strings.Contains(string(r.body), "release") {
		t.Errorf("release with service: %s, want a problem naming release", r.body)
	}
	// Bounds: ten years ahead, 100 services.
	if r := e.do("olga", "GET", "/next-slot?duration=1h&horizon=87601h", nil).want(t, 400); !strings.Contains(string(r.body), "horizon") {
		t.Errorf("a horizon over ten years: %s, want a problem naming horizon", r.body)
	}
	many := strings.Repeat("s,", relman.MaxSlotServices) + "s"
	if r := e.do("olga", "GET", "/next-slot?duration=1h&service="+many, nil).want(t, 400); !strings.Contains(string(r.body), "services") {
		t.Errorf("101 services: %s, want a problem naming services", r.body)
	}

	var cs struct{ Conflicts []httpapi.Conflict }
	e.do("olga", "GET", "/conflicts", nil).want(t, 200).json(t, &cs)
	if len(cs.Conflicts) != 0 {
		t.Errorf("conflicts: %+v", cs)
	}

	var rep httpapi.MetricsReport
	e.do("olga", "GET", "/metrics?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z", nil).want(t, 200).json(t, &rep)
	e.do("olga", "GET", "/metrics?from=2026-05-01T00:00:00Z&to=2026-04-01T00:00:00Z", nil).want(t, 400)
	e.do("olga", "GET", "/metrics?from=yesterday", nil).want(t, 400)

	e.do("mallory", "DELETE", "/windows/sat", nil).want(t, 403)
	e.do("olga", "DELETE", "/windows/sat", nil).want(t, 204)
	e.do("olga", "DELETE", "/windows/sat", nil).want(t, 404)
}

func TestScheduled(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)

	var res httpapi.ScheduleResult
	r := e.do("olga", "POST", "/releases/inv-1/scheduled", `{"event": "approve", "in": "1h", "reason": "after lunch"}`).want(t, 201)
	r.json(t, &res)
	if res.Scheduled.ID == "" || !res.Scheduled.At.Equal(start.Add(time.Hour)) || res.Revision != 2 {
		t.Errorf("schedule: %+v", res)
	}
	e.do("olga", "POST", "/releases/inv-1/scheduled", `{"event": "approve", "in": "soon"}`).want(t, 400)
	e.do("olga", "POST", "/releases/inv-1/scheduled", `{"event": "fly"}`).want(t, 400)
	e.do("olga", "POST", "/releases/inv-1/scheduled", `{"event": "approve", "at": "2020-01-01T00:00:00Z"}`).want(t, 400)
	e.do("mallory", "POST", "/releases/inv-1/scheduled", `{"event": "approve"}`).want(t, 403)
	e.do("olga", "POST", "/releases/nope/scheduled", `{"event": "approve"}`).want(t, 404)

	var list struct{ Scheduled []relman.ScheduledEvent }
	e.do("olga", "GET", "/releases/inv-1/scheduled", nil).want(t, 200).json(t, &list)
	if len(list.Scheduled) != 1 {
		t.Errorf("scheduled: %+v", list)
	}
	var up struct{ Upcoming []relman.UpcomingEvent }
	e.do("olga", "GET", "/upcoming?until=2026-03-03T00:00:00Z", nil).want(t, 200).json(t, &up)
	if len(up.Upcoming) != 1 || up.Upcoming[0].ReleaseID != "inv-1" {
		t.Errorf("upcoming: %+v", up)
	}
	e.do("olga", "GET", "/upcoming?limit=x", nil).want(t, 400)

	job := res.Scheduled.ID
	e.do("olga", "DELETE", "/releases/inv-1/scheduled/"+job+"?reason=not+needed", nil, "If-Match", `"1"`).want(t, 412)
	e.do("olga", "DELETE", "/releases/inv-1/scheduled/"+job+"?reason=not+needed", nil).want(t, 200)
	if p := e.do("olga", "DELETE", "/releases/inv-1/scheduled/"+job, nil).want(t, 409).problem(t); p.Class != relman.ClassConflict {
		t.Errorf("cancel twice: %+v", p)
	}
	e.do("olga", "DELETE", "/releases/inv-1/scheduled/s999", nil).want(t, 404)
}

type nopDeployer struct{}

func (nopDeployer) Deploy(context.Context, relman.DeployRequest) error   { return nil }
func (nopDeployer) Rollback(context.Context, relman.DeployRequest) error { return nil }

func TestRollouts(t *testing.T) {
	probe := relman.ProbeFunc(func(context.Context, relman.ProbeQuery) (float64, error) { return 0.01, nil })
	e := newEnv(t, relman.WithEnvironments(relman.Environments{List: []relman.Environment{{Name: "production", Production: true}}}),
		relman.WithDeployer(nopDeployer{}), relman.WithProbe("errors", probe))
	e.authorized("inv-1")
	e.clock.set(start.Add(13*time.Hour + time.Minute))
	e.do("olga", "POST", "/releases/inv-1/events/deploy", nil).want(t, 200)

	var st httpapi.RolloutStatus
	e.do("olga", "GET", "/releases/inv-1/rollout", nil).want(t, 200).json(t, &st)
	if st.Rollout != nil || st.Stage != relman.StageDeploying {
		t.Errorf("status before: %+v", st)
	}
	e.do("olga", "POST", "/releases/inv-1/rollout/resume", nil).want(t, 422)

	plan := `{"environment": "production", "plan": {"steps": [{"manual": true}, {"percent": 100, "bake": "2m"}],
		"verification": {"interval": "1m", "measurements": 2, "checks": [{"name": "error-rate", "probe": "errors", "max": 0.05}]},
		"deploy_timeout": "5m"}}`
	e.do("olga", "POST", "/releases/inv-1/rollout", strings.Replace(plan, `"1m"`, `60`, 1)).want(t, 400)
	e.do("olga", "POST", "/releases/inv-1/rollout", strings.Replace(plan, "production", "moon", 1)).want(t, 400)
	e.do("mallory", "POST", "/releases/inv-1/rollout", plan).want(t, 403)
	r := e.do("olga", "POST", "/releases/inv-1/rollout", plan).want(t, 201)
	r.json(t, &st)
	if st.Rollout == nil || st.Rollout.Environment != "production" || time.Duration(*st.Rollout.Plan.Steps[1].Bake) != 2*time.Minute {
		t.Fatalf("start: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"interval":"1m0s"`) {
		t.Errorf("durations are not strings: %s", r.body)
	}
	e.do("olga", "POST", "/releases/inv-1/rollout", plan).want(t, 422)
	if _, err := e.m.RunDue(context.Background(), "inv-1"); err != nil {
		t.Fatal(err)
	}
	e.do("olga", "GET", "/releases/inv-1/rollout", nil).want(t, 200).json(t, &st)
	if st.Rollout.Phase != relman.PhasePaused {
		t.Errorf("at the manual step: %+v", st.Rollout)
	}
	e.do("olga", "POST", "/releases/inv-1/rollout/dance", nil).want(t, 400)
	e.do("olga", "POST", "/releases/inv-1/rollout/resume", httpapi.RolloutActionRequest{Reason: "go"}).want(t, 200)
	e.do("olga", "POST", "/releases/inv-1/rollout/abort", nil).want(t, 400) // abort needs a reason
	e.do("olga", "POST", "/releases/inv-1/rollout/abort", httpapi.RolloutActionRequest{Reason: "enough"}).want(t, 200)
	e.do("olga", "GET", "/releases/nope/rollout", nil).want(t, 404)
}

func TestOutbox(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)
	var dead struct{ Dead []relman.Notification }
	e.do("olga", "GET", "/outbox/dead", nil).want(t, 200).json(t, &dead)
	if len(dead.Dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}
	if err := e.store.FailNotification(context.Background(), "inv-1", 1, start, "receiver said 500", true); err != nil {
		t.Fatal(err)
	}
	e.do("olga", "GET", "/outbox/dead?limit=10", nil).want(t, 200).json(t, &dead)
	if len(dead.Dead) != 1 || dead.Dead[0].LastError != "receiver said 500" {
		t.Fatalf("dead letters: %+v", dead)
	}
	e.do("olga", "GET", "/outbox/dead?limit=0", nil).want(t, 400)
	e.do("mallory", "POST", "/outbox/dead/inv-1/1/replay", nil).want(t, 403)
	e.do("olga", "POST", "/outbox/dead/inv-1/x/replay", nil).want(t, 400)
	e.do("olga", "POST", "/outbox/dead/inv-1/1/replay", nil).want(t, 204)
	e.do("olga", "POST", "/outbox/dead/inv-1/1/replay", nil).want(t, 404)
	e.do("olga", "POST", "/outbox/dead/nope/1/replay", nil).want(t, 404)
}

// An ability the store or the handler lacks answers 501.
func TestUnsupported(t *testing.T) {
	m, err := relman.NewManager(memory.New()) // no outbox
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(m, httpapi.Options{Authenticate: authenticate}) // no broker
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/events", "/outbox/dead"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Actor", "olga")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotImplemented || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// failingStore fails reads of two ids the way a lost database and an
// unknown fault would.
type failingStore struct{ *memory.Store }

func (s failingStore) Get(ctx context.Context, id string) (*relman.Release, error) {
	if err := readFault(id); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, id)
}

// GetShared fails as Get does (Fire and Check read through it).
func (s failingStore) GetShared(ctx context.Context, id string) (*relman.Release, error) {
	if err := readFault(id); err != nil {
		return nil, err
	}
	return s.Store.GetShared(ctx, id)
}

func readFault(id string) error {
	switch id {
	case "down":
		return fmt.Errorf("postgres: get %q: connection refused: %w", id, relman.ErrUnavailable)
	case "broken":
		return fmt.Errorf("disk on fire")
	}
	return nil
}

// The store's failures: unavailable is 503, anything unknown 500; the
// cause is logged, not shown.
func TestStoreFailures(t *testing.T) {
	mem := memory.New()
	e := newEnvOn(t, failingStore{mem}, mem)
	if p := e.do("olga", "GET", "/releases/down", nil).want(t, 503).problem(t); p.Class != relman.ClassUnavailable {
		t.Errorf("down: %+v", p)
	}
	if p := e.do("olga", "GET", "/releases/broken", nil).want(t, 500).problem(t); p.Class != relman.ClassInternal || strings.Contains(p.Detail, "disk") {
		t.Errorf("broken: %+v", p)
	}
	e.do("olga", "POST", "/releases/down/events/approve/check", nil).want(t, 503)
	if len(e.logged) != 3 || e.logged[1].Error() != "disk on fire" {
		t.Errorf("logged %v, want the three server failures", e.logged)
	}
}
