package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

// now is the instant the tests pretend it is: a Monday.
var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// newTestServer serves the sample releases, seeded at now, from a memory
// store.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	st := memory.New()
	n, err := seedReleases(context.Background(), st, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(samples(now)) {
		t.Fatalf("seeded %d releases, want %d", n, len(samples(now)))
	}
	m, err := relman.NewManager(st, relman.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{m: m, now: func() time.Time { return now }, days: 28, store: "memory",
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestSeedStages(t *testing.T) {
	st := memory.New()
	if _, err := seedReleases(context.Background(), st, now); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples(now) {
		r, err := st.Get(context.Background(), s.r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Stage != s.stage {
			t.Errorf("%s is %s, want %s", r.ID, r.Stage, s.stage)
		}
	}
	// Seeding again adds nothing.
	if n, err := seedReleases(context.Background(), st, now); n != 0 || err != nil {
		t.Errorf("second seed: added %d, %v", n, err)
	}
}

// The page's JSON is relman's HTTP API, mounted under /api/.
func TestAPI(t *testing.T) {
	ts := newTestServer(t)
	code, body, h := get(t, ts.URL+"/api/releases?stage=planned,building,testing,authorized,operating&order_by=id")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/releases: %d %s %s", code, h.Get("Content-Type"), body)
	}
	var list httpapi.ReleaseList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list.Releases {
		ids = append(ids, r.ID+":"+string(r.Stage))
	}
	want := "sample-inv-2.4.0:authorized sample-ops-7.2.0:operating sample-pay-1.1.5:building sample-pay-1.2.0:planned sample-web-3.0.0:testing"
	if strings.Join(ids, " ") != want {
		t.Errorf("releases:\n%s\nwant\n%s", strings.Join(ids, " "), want)
	}

	_, body, _ = get(t, ts.URL+"/api/conflicts")
	var cs struct{ Conflicts []httpapi.Conflict }
	if err := json.Unmarshal([]byte(body), &cs); err != nil {
		t.Fatal(err)
	}
	var conflicts []string
	for _, c := range cs.Conflicts {
		conflicts = append(conflicts, string(c.Kind)+" "+strings.Join(c.Releases, ",")+": "+c.Reason)
	}
	slices.Sort(conflicts)
	wantConflicts := []string{
		"freeze sample-web-3.0.0: inside freeze \"Quarter-end freeze\" (2026-03-10T00:00:00Z – 2026-03-13T00:00:00Z): finance closes the quarter",
		"same-service sample-pay-1.1.5,sample-pay-1.2.0: both deploy payments",
		"team sample-pay-1.1.5,sample-pay-1.2.0: team pay is booked by both",
	}
	if strings.Join(conflicts, "\n") != strings.Join(wantConflicts, "\n") {
		t.Errorf("conflicts:\n%s\nwant\n%s", strings.Join(conflicts, "\n"), strings.Join(wantConflicts, "\n"))
	}

	_, body, _ = get(t, ts.URL+"/api/windows")
	var ws httpapi.WindowList
	if err := json.Unmarshal([]byte(body), &ws); err != nil || len(ws.Windows) == 0 {
		t.Errorf("windows: %v %s", err, body)
	}
	code, body, h = get(t, ts.URL+"/api/calendar.ics")
	if code != 200 || h.Get("Content-Type") != "text/calendar; charset=utf-8" || !strings.Contains(body, "UID:release-sample-pay-1.2.0@relman") {
		t.Errorf("calendar.ics: %d %s", code, h.Get("Content-Type"))
	}
	if code, body, _ = get(t, ts.URL+"/api/openapi.json"); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("openapi.json: %d", code)
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t)
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/next-slot?duration=soon", 400, `"class":"invalid"`},
		{"GET", "/api/releases/nope", 404, `"class":"not_found"`},
		{"GET", "/?days=9999", 400, "days=\"9999\": want a number from 1 to 366"},
		{"POST", "/", 405, ""},
		{"DELETE", "/api/windows/sample-quarter-end", 405, "read-only"},
		{"POST", "/api/releases", 405, "read-only"},
		{"GET", "/nope", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, resp.StatusCode, b, c.code, c.body)
		}
	}
}

func TestPage(t *testing.T) {
	ts := newTestServer(t)
	code, body, h := get(t, ts.URL+"/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{
		"Sun 1 Mar 2026 – Sat 28 Mar 2026 (28 days, UTC) ·\n  5 scheduled · 3 conflict(s) · 2 unscheduled · 30 window occurrence(s)",
		`<div class="row lane" data-id="sample-pay-1.1.5" data-stage="building">`,
		`class="bar conflict"`,
		`<li data-kind="same-service"><strong>sample-pay-1.1.5</strong> and <strong>sample-pay-1.2.0</strong> — same-service, Wed 4 Mar 23:00 – Thu 5 Mar 00:00 UTC: both deploy payments</li>`,
		`<li data-kind="freeze"><strong>sample-web-3.0.0</strong> — freeze`,
		`<div class="band freeze" data-window="sample-quarter-end"`,
		"<td>sample-search-0.9.0</td><td>0.9.0</td><td>proposed</td>",
		`<svg id="lifecycle-diagram"`, `data-stage="rolled_back"`,
		`href="/?from=2026-03-29&amp;days=28"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page does not contain %q", want)
		}
	}
	if n := strings.Count(body, `class="row lane"`); n != 5 {
		t.Errorf("%d lanes, want 5", n)
	}
	if n := strings.Count(body, "class=\"bar conflict"); n != 3 {
		t.Errorf("%d releases highlighted, want the pay pair and the one in the freeze", n)
	}
}

func TestPageEscapes(t *testing.T) {
	st := memory.New()
	m, _ := relman.NewManager(st, relman.WithClock(func() time.Time { return now }))
	if _, err := m.Create(context.Background(), &relman.Release{ID: "x-1", Title: `<script>alert("x")</script>`, Version: "1.0.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal, Requester: "a", Owner: "b"}, relman.Actor{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	s := &server{m: m, now: func() time.Time { return now }, days: 7, store: "memory", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := httptest.NewRecorder()
	s.routes().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(rec.Body.String(), "<script>") || !strings.Contains(rec.Body.String(), "&lt;script&gt;") {
		t.Errorf("the title is not escaped")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestAPILifecycle(t *testing.T) {
	ts := newTestServer(t)
	_, body, _ := get(t, ts.URL+"/api/lifecycle")
	var lc httpapi.LifecycleDoc
	if err := json.Unmarshal([]byte(body), &lc); err != nil {
		t.Fatal(err)
	}
	if lc.Initial != "proposed" || len(lc.Stages) != 13 || len(lc.Events) != 14 || !strings.HasPrefix(lc.Mermaid, "stateDiagram-v2") {
		t.Errorf("lifecycle: %+v", lc)
	}
}
