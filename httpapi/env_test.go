package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

func init() {
	// The feed and the event stream are text: check them as strings.
	openapi3filter.RegisterBodyDecoder("text/calendar", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// start is the test clock's first reading.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// env is a Handler over a memory store (with outbox), behind a real HTTP
// server on 127.0.0.1, whose every response is validated against the
// OpenAPI document.
type env struct {
	t      testing.TB
	m      *relman.Manager
	store  *memory.Store
	clock  *clock
	broker *httpapi.Broker
	srv    *httptest.Server
	router routers.Router

	mu     sync.Mutex
	logged []error // what the handler logged
}

// The test's authentication: X-Actor: id[,role…]. "mallory" is
// authenticated but the Authorizer refuses her everything.
func authenticate(r *http.Request) (relman.Actor, error) {
	v := r.Header.Get("X-Actor")
	if v == "" {
		return relman.Actor{}, errors.New("no X-Actor header")
	}
	parts := strings.Split(v, ",")
	return relman.Actor{ID: parts[0], Roles: parts[1:]}, nil
}

var authorizer = relman.AuthorizerFunc(func(_ context.Context, a relman.Actor, _ string, _ *relman.Release) error {
	if a.ID == "mallory" {
		return errors.New("mallory may do nothing")
	}
	return nil
})

func newEnv(t testing.TB, opts ...relman.Option) *env {
	t.Helper()
	mem := memory.NewWithOptions(memory.Options{Outbox: true})
	return newEnvOn(t, mem, mem, opts...)
}

// newEnvOn is newEnv over st, which keeps its data in mem.
func newEnvOn(t testing.TB, st relman.Store, mem *memory.Store, opts ...relman.Option) *env {
	t.Helper()
	e := &env{t: t, store: mem, clock: &clock{t: start}, broker: httpapi.NewBroker(16)}
	var err error
	e.m, err = relman.NewManager(st, append([]relman.Option{relman.WithClock(e.clock.now), relman.WithAuthorizer(authorizer), e.broker.Option()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(e.m, httpapi.Options{Authenticate: authenticate, MaxBodyBytes: 64 << 10, Events: e.broker, Authorizer: authorizer,
		Log: func(_ *http.Request, err error) { e.mu.Lock(); e.logged = append(e.logged, err); e.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.srv.URL + "/api"}}
	if e.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return e
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) problem(t testing.TB) httpapi.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p httpapi.Problem
	r.json(t, &p)
	return p
}

// do sends a request as actor ("" sends none) with body (a string is sent
// as is, anything else as JSON) and headers as name, value pairs, and
// validates the response against the OpenAPI document.
func (e *env) do(actor, method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/api"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if actor != "" {
		req.Header.Set("X-Actor", actor)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.validate(req, res, data)
	if res.StatusCode < 300 {
		e.validateRequest(method, path, body, req.Header)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// validateRequest checks that a request the handler accepted matches the
// document: its parameters and body.
func (e *env) validateRequest(method, path string, body any, header http.Header) {
	e.t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		data, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/api"+path, bytes.NewReader(data))
	req.Header = header.Clone()
	if len(data) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
		req.Header.Del("Content-Type")
	}
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		e.t.Fatalf("%s %s: no route in the OpenAPI document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		e.t.Errorf("%s %s was accepted but does not match the OpenAPI document: %v\nbody: %s", method, path, err, data)
	}
}

// validate checks a response against the OpenAPI document: its status is
// documented for the operation and its body matches the schema.
func (e *env) validate(req *http.Request, res *http.Response, body []byte) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
			return // the mux's own answer to a path the API does not have
		}
		e.t.Fatalf("%s %s: no route in the OpenAPI document: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
}

// want fails unless r has status.
func (r response) want(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// newRelease is a release the default lifecycle can take to deploy.
func newRelease(id string) map[string]any {
	return map[string]any{
		"id": id, "title": "Faster invoices", "version": "2.4.0", "kind": "minor", "change_model": "normal",
		"requester": "rita", "owner": "olga", "services": []string{"invoices"},
		"business_case":   map[string]any{"problem": "invoices take 30 s", "expected_value": 50000, "cost": 12000, "feasibility": "high"},
		"rollback_plan":   "redeploy 2.3.9",
		"required_suites": []string{"unit"},
	}
}

// authorized creates id and takes it to authorized over HTTP (test
// results through the Manager: the API has no route for them), with a
// window from 22:00 to 24:00 on the first day.
func (e *env) authorized(id string) {
	e.t.Helper()
	e.do("olga", "POST", "/releases", newRelease(id)).want(e.t, 201)
	window := relman.Span{Start: start.Add(13 * time.Hour), End: start.Add(15 * time.Hour)}
	for _, s := range []struct {
		ev   string
		body any
	}{{"approve", nil}, {"plan", httpapi.EventRequest{Window: &window}}, {"start", nil}, {"submit", nil}} {
		who := "olga"
		if s.ev == "approve" {
			who = "carl" // the need's owner may not approve it
		}
		e.do(who, "POST", "/releases/"+id+"/events/"+s.ev, s.body).want(e.t, 200)
	}
	if _, err := e.m.RecordTest(context.Background(), id, relman.Actor{ID: "olga"}, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		e.t.Fatal(err)
	}
	e.do("olga", "POST", "/releases/"+id+"/events/pass", nil).want(e.t, 200)
	e.do("olga", "POST", "/releases/"+id+"/risk/assess", nil).want(e.t, 200)
	e.do("carl", "POST", "/releases/"+id+"/approvals", httpapi.ApprovalRequest{Comment: "ok"}).want(e.t, 200)
	e.do("olga", "POST", "/releases/"+id+"/events/authorize", nil).want(e.t, 200)
}
