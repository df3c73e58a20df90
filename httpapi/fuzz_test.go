package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

// FuzzRequestBody sends arbitrary bodies to every route that reads one.
// The server must not panic, and bad input must never be its own fault
// (5xx).
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"id": "x"}`, `{"reason": 1}`, `{"set": {"title": null}}`, `{"set": []}`,
		`{"window": {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T09:00:00Z"}}`,
		`{"event": "approve", "in": "-5h"}`, `{"event": "approve", "in": "1e400h"}`, `{"in": 5}`,
		`{"environment": "production", "plan": {"steps": [{"bake": "1x"}], "verification": {"interval": "0s"}}}`,
		`{"decision": "reject", "environment": "x"}`, `{"likelihood": 1e99}`, `{"kind": "freeze", "rrule": "FREQ=DAILY;COUNT=-1"}`,
		`{"id": "x"} trailing`, "\x00\xff", `{"a":` + strings.Repeat("[", 5000),
	} {
		for route := range 9 {
			f.Add(uint8(route), seed)
		}
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, err := relman.NewManager(memory.NewWithOptions(memory.Options{Outbox: true}), relman.WithClock(func() time.Time { return now }))
	if err != nil {
		f.Fatal(err)
	}
	h, err := httpapi.New(m, httpapi.Options{Authenticate: authenticate, MaxBodyBytes: 8 << 10})
	if err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/releases", strings.NewReader(`{"id": "r1", "title": "t", "version": "1.0.0", "kind": "minor",
		"change_model": "normal", "requester": "a", "owner": "b"}`))
	req.Header.Set("X-Actor", "olga")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		f.Fatalf("seed release: %d %s", rec.Code, rec.Body)
	}
	routes := []struct{ method, path string }{
		{"POST", "/releases"}, {"PATCH", "/releases/r1"}, {"POST", "/releases/r1/events/plan/check"},
		{"POST", "/releases/r1/approvals"}, {"PUT", "/releases/r1/risks/k1"}, {"PUT", "/windows/w1"},
		{"POST", "/releases/r1/scheduled"}, {"POST", "/releases/r1/rollout"}, {"POST", "/releases/r1/rollout/resume"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		req.Header.Set("X-Actor", "fuzz")
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
	})
}
