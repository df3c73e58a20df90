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
	m, err := relman.NewManager(st)
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

func TestAPISchedule(t *testing.T) {
	ts := newTestServer(t)
	code, body, h := get(t, ts.URL+"/api/schedule")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/schedule: %d %s", code, h.Get("Content-Type"))
	}
	var sc Schedule
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		t.Fatal(err)
	}
	if got := sc.From.Format(time.DateOnly) + "/" + sc.To.Format(time.DateOnly); got != "2026-03-01/2026-03-29" {
		t.Errorf("default period %s, want yesterday and 28 days", got)
	}
	var ids []string
	for _, e := range sc.Releases {
		ids = append(ids, e.ID+":"+string(e.Stage))
	}
	want := "sample-ops-7.2.0:operating sample-pay-1.2.0:planned sample-pay-1.1.5:building sample-inv-2.4.0:authorized sample-web-3.0.0:testing"
	if strings.Join(ids, " ") != want {
		t.Errorf("scheduled, by window start:\n%s\nwant\n%s", strings.Join(ids, " "), want)
	}
	if len(sc.Unscheduled) != 2 {
		t.Errorf("unscheduled: %+v", sc.Unscheduled)
	}
	var conflicts []string
	for _, c := range sc.Conflicts {
		conflicts = append(conflicts, string(c.Kind)+" "+strings.Join(c.Releases, ",")+": "+c.Reason)
	}
	wantConflicts := []string{
		"same-service sample-pay-1.1.5,sample-pay-1.2.0: both deploy payments",
		"team sample-pay-1.1.5,sample-pay-1.2.0: team pay is booked by both",
		"freeze sample-web-3.0.0: inside freeze \"Quarter-end freeze\" (2026-03-10T00:00:00Z – 2026-03-13T00:00:00Z): finance closes the quarter",
	}
	if strings.Join(conflicts, "\n") != strings.Join(wantConflicts, "\n") {
		t.Errorf("conflicts:\n%s\nwant\n%s", strings.Join(conflicts, "\n"), strings.Join(wantConflicts, "\n"))
	}
	var windows []string
	for _, w := range sc.Windows {
		windows = append(windows, string(w.Kind)+" "+w.Span.Start.Format("02T15"))
	}
	if len(windows) != 30 || windows[0] != "maintenance 28T19" || !slices.Contains(windows, "freeze 10T00") {
		t.Errorf("window occurrences: %v", windows)
	}
	for _, e := range sc.Releases {
		if e.Conflict != (strings.HasPrefix(e.ID, "sample-pay-") || e.ID == "sample-web-3.0.0") {
			t.Errorf("%s: conflict = %v", e.ID, e.Conflict)
		}
	}

	// A later period holds only what is planned then.
	_, body, _ = get(t, ts.URL+"/api/schedule?from=2026-03-08&days=7")
	sc = Schedule{}
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Releases) != 1 || sc.Releases[0].ID != "sample-web-3.0.0" || len(sc.Conflicts) != 1 || sc.Conflicts[0].Kind != relman.ConflictFreeze {
		t.Errorf("week of 8 March: %+v", sc)
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t)
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/schedule?from=tomorrow", 400, `"error": "from=\"tomorrow\": want a date, YYYY-MM-DD"`},
		{"GET", "/api/schedule?days=0", 400, `"error": "days=\"0\": want a number from 1 to 366"`},
		{"GET", "/?days=9999", 400, "days=\"9999\": want a number from 1 to 366"},
		{"POST", "/", 405, ""},
		{"DELETE", "/api/schedule", 405, ""},
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
	var lc struct {
		Initial string `json:"initial"`
		Stages  []string
		Events  []struct {
			Event string   `json:"event"`
			Gates []string `json:"gates"`
		} `json:"events"`
		Mermaid string `json:"mermaid"`
	}
	if err := json.Unmarshal([]byte(body), &lc); err != nil {
		t.Fatal(err)
	}
	if lc.Initial != "proposed" || len(lc.Stages) != 13 || len(lc.Events) != 14 || !strings.HasPrefix(lc.Mermaid, "stateDiagram-v2") {
		t.Errorf("lifecycle: %+v", lc)
	}
}
