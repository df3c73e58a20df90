package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

// feedEnv has two windows (one for invoices only, one freeze for
// everything in production) and a planned release of invoices.
func feedEnv(t *testing.T) *env {
	e := newEnv(t)
	sat := relman.Window{Name: "Saturday night", Kind: relman.WindowMaintenance, TimeZone: "Europe/Berlin",
		Start: time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC),
		RRule: "FREQ=WEEKLY;BYDAY=SA", Services: []string{"invoices"}}
	e.do("olga", "PUT", "/windows/sat", sat).want(t, 200)
	freeze := relman.Window{Name: "Year-end freeze", Kind: relman.WindowFreeze, TimeZone: "UTC", Reason: "closing the books",
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC),
		Environments: []string{"production"}}
	e.do("olga", "PUT", "/windows/year-end", freeze).want(t, 200)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)
	window := relman.Span{Start: time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)}
	e.do("carl", "POST", "/releases/inv-1/events/approve", nil).want(t, 200)
	e.do("olga", "POST", "/releases/inv-1/events/plan", httpapi.EventRequest{Window: &window}).want(t, 200)
	return e
}

func TestFeedHeaders(t *testing.T) {
	e := feedEnv(t)
	r := e.do("olga", "GET", "/calendar.ics", nil).want(t, 200)
	tag, lm := r.header.Get("ETag"), r.header.Get("Last-Modified")
	if ct := r.header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" || tag == "" || lm == "" {
		t.Fatalf("headers: Content-Type %q, ETag %q, Last-Modified %q", ct, tag, lm)
	}
	if !strings.HasPrefix(string(r.body), "BEGIN:VCALENDAR\r\n") {
		t.Fatalf("body: %.100s", r.body)
	}
	// Unchanged: same bytes, same tag; 304 on If-None-Match and on
	// If-Modified-Since.
	if again := e.do("olga", "GET", "/calendar.ics", nil).want(t, 200); again.header.Get("ETag") != tag || string(again.body) != string(r.body) {
		t.Errorf("an unchanged feed changed")
	}
	if nm := e.do("olga", "GET", "/calendar.ics", nil, "If-None-Match", tag).want(t, 304); len(nm.body) != 0 {
		t.Errorf("304 with a body")
	}
	e.do("olga", "GET", "/calendar.ics", nil, "If-Modified-Since", lm).want(t, 304)
	e.do("olga", "GET", "/calendar.ics", nil, "If-None-Match", `"other"`).want(t, 200)
	e.do("", "GET", "/calendar.ics", nil).want(t, 401)

	// A change of a release: a new tag.
	e.do("olga", "PATCH", "/releases/inv-1", httpapi.EditRequest{Set: []byte(`{"title": "Invoices, faster"}`)}).want(t, 200)
	changed := e.do("olga", "GET", "/calendar.ics", nil, "If-None-Match", tag).want(t, 200)
	if changed.header.Get("ETag") == tag {
		t.Errorf("the tag did not change with the feed")
	}
	// A change of a window (which has no time of its own), in the same
	// second as the last version: If-Modified-Since does not hide it.
	lm = changed.header.Get("Last-Modified")
	e.do("olga", "GET", "/calendar.ics", nil, "If-Modified-Since", lm).want(t, 304)
	e.do("olga", "DELETE", "/windows/year-end", nil).want(t, 204)
	if r := e.do("olga", "GET", "/calendar.ics", nil, "If-Modified-Since", lm).want(t, 200); r.header.Get("Last-Modified") == lm {
		t.Errorf("Last-Modified did not move with a window's change")
	}
}

// pythonWithIcalendar finds a Python that imports icalendar: $RELMAN_PYTHON,
// python3 on PATH, or Debian's /usr/bin/python3 (where python3-icalendar
// installs, when PATH leads to another Python first).
func pythonWithIcalendar() (string, error) {
	var last error
	for _, py := range []string{os.Getenv("RELMAN_PYTHON"), "python3", "/usr/bin/python3"} {
		if py == "" {
			continue
		}
		path, err := exec.LookPath(py)
		if err == nil {
			if err = exec.Command(path, "-c", "import icalendar").Run(); err == nil {
				return path, nil
			}
		}
		last = fmt.Errorf("%s: %w", py, err)
	}
	return "", last
}

// parsedEvent is what the independent parser read of one VEVENT.
type parsedEvent struct {
	UID     string `json:"uid"`
	Summary string `json:"summary"`
	Start   string `json:"start"`
	End     string `json:"end"`
	RRule   string `json:"rrule"`
	TZ      string `json:"tz"`
}

// parseICS runs Python's icalendar over ics. It skips when python3 or
// icalendar is missing, unless RELMAN_REQUIRE_PYTHON is set (as in CI).
func parseICS(t *testing.T, ics []byte) []parsedEvent {
	t.Helper()
	const script = `
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk("VEVENT"):
    s, e = ev.decoded("DTSTART"), ev.decoded("DTEND")
    rr = ev.get("RRULE")
    out.append({"uid": str(ev.get("UID")), "summary": str(ev.get("SUMMARY")),
        "start": s.isoformat(),
        "end": e.isoformat(), "rrule": rr.to_ical().decode() if rr else "",
        "tz": str(s.tzinfo.key if hasattr(s.tzinfo, "key") else s.tzinfo) if s.tzinfo else ""})
print(json.dumps(out))
`
	py, err := pythonWithIcalendar()
	if err != nil {
		if os.Getenv("RELMAN_REQUIRE_PYTHON") != "" {
			t.Fatalf("python3 with icalendar is required (RELMAN_REQUIRE_PYTHON is set): %v", err)
		}
		t.Skipf("python3 with icalendar is not installed (apt-get install python3-icalendar): %v", err)
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(ics))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if e, ok := err.(*exec.ExitError); ok {
			ee = e
		}
		t.Fatalf("icalendar could not read the feed: %v %s", err, func() []byte {
			if ee != nil {
				return ee.Stderr
			}
			return nil
		}())
	}
	var evs []parsedEvent
	if err := json.Unmarshal(out, &evs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	slices.SortFunc(evs, func(a, b parsedEvent) int { return strings.Compare(a.UID, b.UID) })
	return evs
}

func TestFeedReadByIcalendar(t *testing.T) {
	e := feedEnv(t)
	all := parseICS(t, e.do("olga", "GET", "/calendar.ics", nil).want(t, 200).body)
	want := []parsedEvent{
		{UID: "release-inv-1@relman", Start: "2026-03-07T22:00:00+00:00", End: "2026-03-07T23:00:00+00:00"},
		{UID: "window-sat@relman", Summary: "Saturday night", Start: "2026-03-07T23:00:00+01:00", End: "2026-03-08T03:00:00+01:00",
			RRule: "FREQ=WEEKLY;BYDAY=SA", TZ: "Europe/Berlin"},
		{UID: "window-year-end@relman", Summary: "Year-end freeze", Start: "2026-12-20T00:00:00+00:00", End: "2027-01-03T00:00:00+00:00"},
	}
	if len(all) != len(want) {
		t.Fatalf("icalendar read %d events, want %d: %+v", len(all), len(want), all)
	}
	for i, w := range want {
		g := all[i]
		if g.UID != w.UID || g.Start != w.Start || g.End != w.End || g.RRule != w.RRule ||
			(w.Summary != "" && g.Summary != w.Summary) || (w.TZ != "" && !strings.Contains(g.TZ, w.TZ)) {
			t.Errorf("event %d: icalendar read %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(all[0].Summary, "inv-1") && !strings.Contains(all[0].Summary, "Faster invoices") {
		t.Errorf("release summary %q names neither the release nor its title", all[0].Summary)
	}

	uids := func(evs []parsedEvent) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.UID)
		}
		return strings.Join(s, " ")
	}
	// By service: payments has no window of its own and no release; the
	// freeze (no services) applies to it.
	if got := uids(parseICS(t, e.do("olga", "GET", "/calendar.ics?service=payments", nil).want(t, 200).body)); got != "window-year-end@relman" {
		t.Errorf("service=payments: %s", got)
	}
	// By environment: staging is outside the production-only freeze.
	if got := uids(parseICS(t, e.do("olga", "GET", "/calendar.ics?environment=staging", nil).want(t, 200).body)); got != "release-inv-1@relman window-sat@relman" {
		t.Errorf("environment=staging: %s", got)
	}
}

// TestEventStream follows a change live over GET /events.
func TestEventStream(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(t, 201)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/events?release=inv-1", nil)
	req.Header.Set("X-Actor", "olga")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(res.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	for next() != ": connected" {
	}
	// A transition (published by the Manager's after-hook) and an edit
	// (published by the handler), in order; another release's change is
	// filtered out.
	e.do("olga", "POST", "/releases", newRelease("inv-2")).want(t, 201)
	e.do("carl", "POST", "/releases/inv-1/events/approve", nil).want(t, 200)
	e.do("olga", "PATCH", "/releases/inv-1", httpapi.EditRequest{Set: []byte(`{"title": "t2"}`)}).want(t, 200)
	var got []httpapi.Change
	var ids []string
	for len(got) < 2 {
		line := next()
		switch {
		case strings.HasPrefix(line, "id: "):
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		case strings.HasPrefix(line, "event: ") && line != "event: change":
			t.Fatalf("unexpected %s", line)
		case strings.HasPrefix(line, "data: "):
			var c httpapi.Change
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c); err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
	}
	if got[0].ReleaseID != "inv-1" || got[0].Revision != 2 || got[0].Stage != relman.StageApproved ||
		len(got[0].Entries) != 1 || got[0].Entries[0].Event != relman.EventApprove {
		t.Errorf("first change: %+v", got[0])
	}
	if got[1].Revision != 3 || strings.Join(ids, " ") != "inv-1/2 inv-1/3" {
		t.Errorf("second change %+v, ids %v", got[1], ids)
	}
}
