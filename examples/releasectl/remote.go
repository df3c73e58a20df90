package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

// backend is what the commands that also work against a server
// (--server) need of relman. *relman.Manager is one; remote, over the
// HTTP API (package httpapi), is the other.
type backend interface {
	Create(ctx context.Context, r *relman.Release, by relman.Actor) (*relman.Release, error)
	Get(ctx context.Context, id string) (*relman.Release, error)
	List(ctx context.Context, q relman.Query) ([]*relman.Release, error)
	Fire(ctx context.Context, id string, ev relman.Event, req relman.Request) (*relman.Release, error)
	Check(ctx context.Context, id string, ev relman.Event, req relman.Request) error
	History(ctx context.Context, id string) ([]relman.AuditEntry, error)
	Schedule(ctx context.Context, id string, by relman.Actor, req relman.ScheduleRequest) (*relman.Release, relman.ScheduledEvent, error)
	Upcoming(ctx context.Context, until time.Time, limit int) ([]relman.UpcomingEvent, error)
	StartRollout(ctx context.Context, id string, by relman.Actor, env string, plan relman.RolloutPlan) (*relman.Release, error)
	RolloutAction(ctx context.Context, id string, by relman.Actor, cmd relman.RolloutCommand, reason string) (*relman.Release, error)
	Lifecycle() *relman.Lifecycle
	Now() time.Time
}

var _ backend = (*relman.Manager)(nil)

// remote is a backend over a relman HTTP API. It acts as one actor, sent
// in the X-Relman-Actor header (with the bearer token, if any), which is
// how 'releasectl serve' authenticates.
type remote struct {
	base   string // the API's root URL, without a trailing slash
	actor  string
	token  string
	client *http.Client
}

var _ backend = (*remote)(nil)

// remoteError is a problem document the server answered, as an error
// that relman.Classify puts in the same class as the server did.
type remoteError struct {
	p *httpapi.Problem
}

func (e *remoteError) Error() string { return "server: " + e.p.Error() }

// classSentinels are the errors a remote problem of each class matches.
var classSentinels = map[relman.ErrorClass]error{
	relman.ClassInvalid:     relman.ErrInvalid,
	relman.ClassNotFound:    relman.ErrNotFound,
	relman.ClassConflict:    relman.ErrConflict,
	relman.ClassRefused:     relman.ErrVetoed,
	relman.ClassNotYet:      relman.ErrNotYet,
	relman.ClassForbidden:   relman.ErrForbidden,
	relman.ClassUnavailable: relman.ErrUnavailable,
}

// Is matches the sentinel of the problem's class.
func (e *remoteError) Is(target error) bool {
	s, ok := classSentinels[e.p.Class]
	return ok && s == target
}

// asError turns a problem into the error relman would have returned
// locally where it can (a *relman.GateError with every failure), else a
// *remoteError.
func asError(p *httpapi.Problem) error {
	if len(p.Failures) > 0 {
		return gateError(p.ReleaseID, p.Event, p.Failures)
	}
	if p.Class == "" { // the handler's own 401, 412, 413
		switch p.Status {
		case http.StatusPreconditionFailed:
			p.Class = relman.ClassConflict
		case http.StatusUnauthorized:
			p.Class = relman.ClassForbidden
		default:
			p.Class = relman.ClassInvalid
		}
	}
	return &remoteError{p: p}
}

// gateError rebuilds a *relman.GateError from the API's failures.
func gateError(id string, ev relman.Event, fs []httpapi.Failure) *relman.GateError {
	ge := &relman.GateError{ReleaseID: id, Event: ev}
	for _, f := range fs {
		var err error = errors.New(f.Reason)
		if f.NotYetUntil != nil {
			err = &relman.NotYetError{Until: *f.NotYetUntil, Err: err}
		}
		ge.Failures = append(ge.Failures, relman.GateFailure{Gate: f.Gate, Err: err})
	}
	return ge
}

// do sends a request and decodes a 2xx answer into out (if not nil); any
// other answer becomes an error.
func (c *remote) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return usageErrorf("--server %s: %v", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Relman-Actor", c.actor)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("server %s unreachable: %w: %v", c.base, relman.ErrUnavailable, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("server %s: %w: %v", c.base, relman.ErrUnavailable, err)
	}
	if res.StatusCode >= 300 {
		var p httpapi.Problem
		if json.Unmarshal(data, &p) != nil || p.Status == 0 {
			p = httpapi.Problem{Status: res.StatusCode, Title: res.Status, Detail: strings.TrimSpace(string(data))}
			if res.StatusCode >= 500 {
				p.Class = relman.ClassUnavailable
			}
		}
		return asError(&p)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("server %s: unexpected answer to %s %s: %v", c.base, method, path, err)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

func (c *remote) Create(ctx context.Context, r *relman.Release, _ relman.Actor) (*relman.Release, error) {
	var got relman.Release
	return &got, c.do(ctx, "POST", "/releases", r, &got)
}

func (c *remote) Get(ctx context.Context, id string) (*relman.Release, error) {
	var got relman.Release
	return &got, c.do(ctx, "GET", "/releases/"+esc(id), nil, &got)
}

// List follows the API's cursor past q.Offset, then reads q.Limit
// releases.
func (c *remote) List(ctx context.Context, q relman.Query) ([]*relman.Release, error) {
	v := url.Values{}
	for _, st := range q.Stages {
		v.Add("stage", string(st))
	}
	for k, s := range map[string]string{"service": q.Service, "team": q.Team, "kind": string(q.Kind), "order_by": string(q.OrderBy)} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Desc {
		v.Set("desc", "true")
	}
	limit := q.Limit
	if limit == 0 {
		limit = relman.MaxPage
	}
	var out []*relman.Release
	skip := q.Offset
	cursor := ""
	for len(out) < limit {
		page := min(relman.MaxPage, limit-len(out)+skip)
		v.Set("limit", strconv.Itoa(page))
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var list httpapi.ReleaseList
		if err := c.do(ctx, "GET", "/releases?"+v.Encode(), nil, &list); err != nil {
			return nil, err
		}
		rs := list.Releases
		n := min(skip, len(rs))
		rs, skip = rs[n:], skip-n
		out = append(out, rs...)
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func eventBody(req relman.Request) httpapi.EventRequest {
	return httpapi.EventRequest{Reason: req.Reason, Params: req.Params, Window: req.Window}
}

func (c *remote) Fire(ctx context.Context, id string, ev relman.Event, req relman.Request) (*relman.Release, error) {
	var got relman.Release
	return &got, c.do(ctx, "POST", "/releases/"+esc(id)+"/events/"+esc(string(ev)), eventBody(req), &got)
}

// Check turns a "not allowed" answer back into the error Manager.Check
// returns: a *relman.GateError, or a refusal of the class the server
// gave.
func (c *remote) Check(ctx context.Context, id string, ev relman.Event, req relman.Request) error {
	var res httpapi.CheckResult
	if err := c.do(ctx, "POST", "/releases/"+esc(id)+"/events/"+esc(string(ev))+"/check", eventBody(req), &res); err != nil {
		return err
	}
	switch {
	case res.Allowed:
		return nil
	case len(res.Failures) == 1 && slices.Contains([]string{"lifecycle", "authorizer", "veto"}, res.Failures[0].Gate) && res.Failures[0].NotYetUntil == nil:
		return &remoteError{p: &httpapi.Problem{Class: res.Class, Detail: res.Failures[0].Reason}}
	}
	return gateError(id, ev, res.Failures)
}

func (c *remote) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	var h struct {
		Entries []relman.AuditEntry `json:"entries"`
	}
	return h.Entries, c.do(ctx, "GET", "/releases/"+esc(id)+"/history", nil, &h)
}

func (c *remote) Schedule(ctx context.Context, id string, _ relman.Actor, req relman.ScheduleRequest) (*relman.Release, relman.ScheduledEvent, error) {
	var res httpapi.ScheduleResult
	body := httpapi.ScheduleRequest{Event: req.Event, Timing: req.Timing, At: req.At, Expires: req.Expires, Reason: req.Reason, Params: req.Params}
	if err := c.do(ctx, "POST", "/releases/"+esc(id)+"/scheduled", body, &res); err != nil {
		return nil, relman.ScheduledEvent{}, err
	}
	r, err := c.Get(ctx, id)
	return r, res.Scheduled, err
}

func (c *remote) Upcoming(ctx context.Context, until time.Time, limit int) ([]relman.UpcomingEvent, error) {
	v := url.Values{"until": {until.UTC().Format(time.RFC3339)}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var up struct {
		Upcoming []relman.UpcomingEvent `json:"upcoming"`
	}
	return up.Upcoming, c.do(ctx, "GET", "/upcoming?"+v.Encode(), nil, &up)
}

// StartRollout starts a rollout through the API and returns the release
// as it stands after.
func (c *remote) StartRollout(ctx context.Context, id string, _ relman.Actor, env string, plan relman.RolloutPlan) (*relman.Release, error) {
	body := httpapi.StartRolloutRequest{Environment: env, Plan: httpapi.NewRolloutPlan(plan)}
	if err := c.do(ctx, "POST", "/releases/"+esc(id)+"/rollout", body, nil); err != nil {
		return nil, err
	}
	return c.Get(ctx, id)
}

// RolloutAction resumes, retries, skips or aborts a rollout through the
// API and returns the release as it stands after.
func (c *remote) RolloutAction(ctx context.Context, id string, _ relman.Actor, cmd relman.RolloutCommand, reason string) (*relman.Release, error) {
	body := httpapi.RolloutActionRequest{Reason: reason}
	if err := c.do(ctx, "POST", "/releases/"+esc(id)+"/rollout/"+esc(string(cmd)), body, nil); err != nil {
		return nil, err
	}
	return c.Get(ctx, id)
}

// Lifecycle is the default lifecycle: the one 'releasectl serve' runs.
// It only names the next events in text output.
func (c *remote) Lifecycle() *relman.Lifecycle { return relman.DefaultLifecycle() }

// Now is this machine's clock; the server judges every time check by its
// own.
func (c *remote) Now() time.Time { return time.Now().UTC() }
