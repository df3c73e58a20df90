// Package httpapi serves a relman.Manager over HTTP: a JSON API for
// releases, their events, approvals, risk, calendar, scheduled events,
// rollouts and outbox, an OpenAPI 3.1 document describing it, an
// iCalendar feed and a stream of changes as server-sent events. It uses
// the standard library only.
//
// A host mounts the Handler in its own mux, under a prefix of its choice:
//
//	h, err := httpapi.New(m, httpapi.Options{Authenticate: auth})
//	mux.Handle("/relman/", http.StripPrefix("/relman", h))
//
// # Routes
//
// The OpenAPI document (GET /openapi.json, or OpenAPI) describes each in
// full:
//
//	POST   /releases                              create
//	GET    /releases[?stage=&service=&team=&kind=&order_by=&desc=&limit=&cursor=]
//	GET    /releases/{id}                         with ETag; 304 on If-None-Match
//	PATCH  /releases/{id}                         EditRequest: a JSON merge patch
//	POST   /releases/{id}/events/{event}          fire (EventRequest)
//	POST   /releases/{id}/events/{event}/check    dry run: CheckResult, 200 either way
//	POST   /releases/{id}/approvals               approve, reject, approve an environment
//	POST   /releases/{id}/feedback                user feedback; GET[?after=&limit=]: by seq
//	GET    /releases/{id}/risk                    assess without saving
//	POST   /releases/{id}/risk/assess             assess and save
//	PUT    /releases/{id}/risks/{risk}            DELETE too: the risk register
//	GET    /releases/{id}/history                 GET …/verify: the hash chain
//	POST   /releases/{id}/scheduled               GET: the release's; DELETE …/{job}: cancel
//	GET    /upcoming                              scheduled events coming due
//	POST   /releases/{id}/rollout                 start; GET: status; POST …/{command}
//	GET    /windows                               PUT, DELETE /windows/{id}
//	GET    /conflicts, /next-slot, /metrics, /lifecycle
//	GET    /calendar.ics[?service=&environment=]  iCalendar feed, ETag/Last-Modified
//	GET    /events[?release=]                     server-sent events (Options.Events)
//	GET    /outbox/dead                           POST …/{release}/{seq}/replay
//
// # Authentication and authorization
//
// Authentication is the host's: Options.Authenticate turns each request
// into a relman.Actor. A request it cannot authenticate (an error, or an
// actor without an id) is answered 401. Authorization stays with the
// Manager's Authorizer, which sees that actor for every write.
//
// # Errors
//
// Every failure is an RFC 9457 problem document (application/problem+json)
// whose "class" is the relman.ErrorClass of the error and whose status
// comes from it through one table:
//
//	class        status
//	invalid      400 Bad Request (also malformed JSON and unknown fields)
//	forbidden    403 Forbidden
//	not_found    404 Not Found
//	conflict     409 Conflict
//	refused      422 Unprocessable Content
//	not_yet      425 Too Early, with Retry-After and not_yet_until
//	internal     500 Internal Server Error (501 for an ability the store lacks)
//	unavailable  503 Service Unavailable
//
// The handler adds its own: 401 (not authenticated), 404 and 405 (no
// such route, with Allow), 412 (If-Match names another revision) and 413
// (body over Options.MaxBodyBytes). A gate refusal carries every failing gate in
// "failures"; a validation error every failing field in "fields".
//
// # Concurrency
//
// A release's ETag is its revision ("\"7\""). Writes to a release accept
// If-Match: when the stored revision is another, the answer is 412 and
// nothing changes. Edits check it in the same revision-checked update;
// events, approvals and the other writes compare it with the release as
// read just before the write, so a change that lands in between is
// judged by the gates as usual, never lost.
//
// # Paging
//
// GET /releases returns at most limit releases and, when there may be
// more, a next_cursor to pass as ?cursor= with the same filters and
// order. The cursor names the last release of the page (relman's
// Query.Cursor), so the next page starts right after it whatever was
// created or changed meanwhile, and every page costs the same.
//
// # Durations
//
// Request and response types the API defines (next slot, schedule,
// rollout plans and status, metrics) carry durations as Go duration
// strings ("30s", "1h30m"). Release documents are relman.Release's own
// JSON.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes
// is 0.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Handler.
type Options struct {
	// Authenticate returns the actor a request acts as. Required. An error,
	// or an actor with an empty ID, answers 401.
	Authenticate func(r *http.Request) (relman.Actor, error)
	// MaxBodyBytes bounds every request body (default
	// DefaultMaxBodyBytes); a larger body answers 413.
	MaxBodyBytes int64
	// Events, if set, serves GET /events: the changes the broker sees,
	// as server-sent events. See Broker.
	Events *Broker
	// Authorizer decides the actions the handler performs itself, outside
	// the Manager: ActionReplay (r is the release the notification
	// belongs to). Nil allows every authenticated actor; the Manager's own
	// Authorizer still decides everything else.
	Authorizer relman.Authorizer
	// Log receives server-side failures (5xx but 501), whose cause the
	// problem document does not show; nil discards them.
	Log func(r *http.Request, err error)
}

// Handler serves the API. Create it with New.
type Handler struct {
	m   *relman.Manager
	opt Options
	mux *http.ServeMux

	feedMu   sync.Mutex
	feedSeen map[string]time.Time // Last-Modified of each feed version served
	feedLast time.Time            // the latest of them
}

// New returns a Handler for m.
func New(m *relman.Manager, opt Options) (*Handler, error) {
	if m == nil {
		return nil, errors.New("httpapi: nil manager")
	}
	if opt.Authenticate == nil {
		return nil, errors.New("httpapi: Options.Authenticate is required")
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &Handler{m: m, opt: opt, mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// ServeHTTP serves the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, h.opt.MaxBodyBytes)
	}
	if route, pattern := h.mux.Handler(r); pattern == "" {
		// No route: the mux's 404 or 405 (or a redirect to the clean
		// path), answered as a problem document.
		c := &captured{header: http.Header{}, status: http.StatusOK}
		route.ServeHTTP(c, r)
		for k, v := range c.header {
			if k != "Content-Type" && k != "X-Content-Type-Options" {
				w.Header()[k] = v
			}
		}
		if c.status < 400 {
			w.WriteHeader(c.status)
			return
		}
		writeProblem(w, &Problem{Type: problemType("no-route"), Title: http.StatusText(c.status), Status: c.status,
			Detail: fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, strings.ToLower(http.StatusText(c.status)))})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// captured records the status and headers the mux answers a request it
// has no route for.
type captured struct {
	header http.Header
	status int
}

func (c *captured) Header() http.Header         { return c.header }
func (c *captured) Write(b []byte) (int, error) { return len(b), nil }
func (c *captured) WriteHeader(status int)      { c.status = status }

// apiFunc is a route that acts as an authenticated actor and returns an
// error to be written as a problem.
type apiFunc func(w http.ResponseWriter, r *http.Request, by relman.Actor) error

func (h *Handler) handle(pattern string, f apiFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		by, err := h.opt.Authenticate(r)
		if err == nil && strings.TrimSpace(by.ID) == "" {
			err = errors.New("no actor")
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="relman"`)
			writeProblem(w, &Problem{Type: problemType("unauthenticated"), Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "the request is not authenticated: " + err.Error()})
			return
		}
		if err := f(w, r, by); err != nil {
			h.fail(w, r, err)
		}
	})
}

// fail writes err as a problem.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemFor(err)
	if p.Status >= 500 && p.Status != http.StatusNotImplemented {
		// The cause stays in the log: it may name hosts, files or queries.
		if h.opt.Log != nil {
			h.opt.Log(r, err)
		}
		p.Detail = "the server failed to answer (" + string(p.Class) + "); it has logged why"
	}
	if p.NotYetUntil != nil {
		secs := int(p.NotYetUntil.Sub(h.m.Now()).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	writeProblem(w, p)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// writeRelease writes a release with its ETag.
func writeRelease(w http.ResponseWriter, status int, rel *relman.Release) error {
	w.Header().Set("ETag", etag(rel.Revision))
	return writeJSON(w, status, rel)
}

func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }

// errPrecondition is returned when If-Match names another revision.
var errPrecondition = errors.New("the release has another revision than If-Match names")

// ifMatch reports an errPrecondition when r carries If-Match and none of
// its tags is rel's revision.
func ifMatch(r *http.Request, rev int64) error {
	v := r.Header.Get("If-Match")
	if v == "" {
		return nil
	}
	want := etag(rev)
	for tag := range strings.SplitSeq(v, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == want {
			return nil
		}
	}
	return fmt.Errorf("%w: it is %s", errPrecondition, want)
}

// checkIfMatch reads the release and compares its revision with If-Match.
func (h *Handler) checkIfMatch(r *http.Request, id string) error {
	if r.Header.Get("If-Match") == "" {
		return nil
	}
	rel, err := h.m.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return ifMatch(r, rel.Revision)
}

// badRequest is malformed input the handler itself found (JSON syntax,
// unknown fields, query parameters); it classifies as invalid.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// Is makes a badRequest match relman.ErrInvalid, hence ClassInvalid.
func (e *badRequest) Is(target error) bool { return target == relman.ErrInvalid }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// decode reads exactly one JSON value into v, refusing unknown fields,
// trailing data and an empty body (unless optional). A body over the
// limit returns the *http.MaxBytesError.
func decode(r *http.Request, v any, optional bool) error {
	if r.Body == nil || r.Body == http.NoBody {
		if optional {
			return nil
		}
		return badRequestf("request body required")
	}
	return decodeFrom(r.Body, v, optional)
}

// decodeFrom is decode over any reader (the fuzz target).
func decodeFrom(body io.Reader, v any, optional bool) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF):
			if optional {
				return nil
			}
			return badRequestf("request body required")
		case errors.As(err, &se):
			return badRequestf("malformed JSON at offset %d: %v", se.Offset, err)
		case errors.As(err, &ute):
			return badRequestf("field %q: %s is not a %s", ute.Field, ute.Value, ute.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequestf("%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return badRequestf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequestf("unexpected data after the JSON value")
	}
	return nil
}

// Duration is a time.Duration that reads and writes JSON as a Go
// duration string ("30s", "1h30m").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration must be a string such as \"30s\" or \"1h30m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"30s\" or \"1h30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// ActionReplay is the action Options.Authorizer is asked about before a
// dead-lettered notification is replayed.
const ActionReplay = "outbox-replay"

// authorize asks Options.Authorizer, wrapping a refusal as the Manager
// does.
func (h *Handler) authorize(r *http.Request, by relman.Actor, action string, rel *relman.Release) error {
	if h.opt.Authorizer == nil {
		return nil
	}
	if err := h.opt.Authorizer.Authorize(r.Context(), by, action, rel); err != nil {
		return &relman.ForbiddenError{Actor: by.ID, Action: action, Err: err}
	}
	return nil
}
