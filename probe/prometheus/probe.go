package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/relman-dev/relman"
)

// DefaultTimeout bounds one query when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Errors matched by a [*QueryError] ([errors.Is]) when the query ran but
// its answer is not one finite number.
var (
	// ErrNoData: the result is an empty vector: no series matched, or
	// they had no samples in the lookback window (a metric not scraped
	// yet, a label value with no traffic).
	ErrNoData = errors.New("prometheus: no data")
	// ErrAmbiguous: the result is a vector of more than one sample.
	// Aggregate the query (sum, max …) down to one series.
	ErrAmbiguous = errors.New("prometheus: more than one sample")
	// ErrResultType: the result is a range vector (matrix) or a native
	// histogram sample rather than a float. (A string result never gets
	// this far: client_golang refuses it as a [*promv1.Error] of type
	// bad_response.)
	ErrResultType = errors.New("prometheus: result is not a number")
	// ErrNotFinite: the value is NaN or ±Inf, typically a division by
	// zero such as an error ratio while there is no traffic.
	ErrNotFinite = errors.New("prometheus: not a finite number")
	// ErrWarnings: Prometheus answered with warnings, which say that the
	// result may be partial or not mean what the query means (a remote
	// store that did not answer, mixed float and histogram samples). A
	// verification must not pass on such an answer. Informational
	// notices (infos) are not warnings and are ignored.
	ErrWarnings = errors.New("prometheus: the answer came with warnings")
)

// QueryError is the error [Probe.Measure] returns, whatever went wrong.
// Err matches one of [ErrNoData], [ErrAmbiguous], [ErrResultType],
// [ErrNotFinite], [ErrWarnings] or [ErrPlaceholder]; or it wraps the
// [*promv1.Error] of a query Prometheus refused or failed (bad PromQL, an
// evaluation timeout, a 5xx), a [*relman.ValidationError] for an empty
// query, or the transport or context error ([context.DeadlineExceeded]
// when no answer came within [Options].Timeout).
type QueryError struct {
	Query    string   // the query as sent, placeholders filled in ("" if they could not be)
	Warnings []string // Prometheus' warnings, if it sent any
	Err      error
}

// Error describes the failure, the warnings and, shortened, the query.
func (e *QueryError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if len(e.Warnings) > 0 {
		b.WriteString(" (warnings: ")
		b.WriteString(clip(strings.Join(e.Warnings, "; "), 200))
		b.WriteString(")")
	}
	if e.Query != "" {
		b.WriteString(" in query ")
		b.WriteString(strconv.Quote(clip(e.Query, 160)))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *QueryError) Unwrap() error { return e.Err }

// Options configure a Probe. The zero value of each optional field means
// its default.
type Options struct {
	// Address is the Prometheus server's base URL, such as
	// "http://prometheus:9090" or "https://example.com/prometheus"
	// (behind a path prefix). Required; http or https, with a host, and
	// without query or fragment. User information in the URL is sent as
	// basic authentication.
	Address string
	// Timeout bounds one Measure call, and is sent to Prometheus as the
	// query's evaluation timeout. Default DefaultTimeout. The Manager
	// stops waiting after the verification's Timeout (by default its
	// Interval, at most 30 s) whatever this says, so keep it no longer.
	Timeout time.Duration
	// RoundTripper makes the HTTP requests (TLS settings, a proxy, an
	// authenticating transport). Default: client_golang's
	// api.DefaultRoundTripper.
	RoundTripper http.RoundTripper
	// Headers are added to every request, such as Authorization for a
	// bearer token or X-Scope-OrgID for a multi-tenant Mimir, Cortex or
	// Thanos. A "Host" entry sets the request's host.
	Headers http.Header
}

// Probe runs PromQL instant queries for relman's rollout verification; see
// the package documentation. It is safe for concurrent use.
type Probe struct {
	api     promv1.API
	timeout time.Duration
}

var _ relman.Probe = (*Probe)(nil)

// New returns a Probe querying the server at o.Address. Invalid options
// are reported together in a [*relman.ValidationError] (which matches
// [relman.ErrInvalid]) naming each field: "address", "timeout",
// "headers[Name]". New makes no request.
func New(o Options) (*Probe, error) {
	var fs []relman.FieldError
	add := func(field, rule, param string) {
		fs = append(fs, relman.FieldError{Field: field, Rule: rule, Param: param})
	}
	u, err := url.Parse(o.Address)
	switch {
	case strings.TrimSpace(o.Address) == "":
		add("address", "required", "")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		add("address", "url", "http https")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		add("address", "excluded", "query fragment")
	}
	if o.Timeout < 0 {
		add("timeout", "gte", "0")
	}
	for name, vs := range o.Headers {
		if !validHeaderName(name) {
			add("headers["+clip(name, 40)+"]", "header_name", "")
			continue
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				add("headers["+name+"]", "header_value", "")
				break
			}
		}
	}
	if len(fs) > 0 {
		return nil, &relman.ValidationError{Fields: fs}
	}
	rt := o.RoundTripper
	if rt == nil {
		rt = api.DefaultRoundTripper
	}
	if len(o.Headers) > 0 {
		rt = &headerTransport{base: rt, headers: o.Headers.Clone()}
	}
	c, err := api.NewClient(api.Config{Address: o.Address, RoundTripper: rt})
	if err != nil {
		return nil, &relman.ValidationError{Fields: []relman.FieldError{{Field: "address", Rule: "url", Param: "http https"}}}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Probe{api: promv1.NewAPI(c), timeout: timeout}, nil
}

// Measure runs q.Query, with its placeholders filled in (see [Expand]),
// as an instant query at q.At, or at the server's current time if q.At is
// zero, and returns its value. The result must be a scalar, or a vector
// of exactly one float sample, and finite. Every error is a
// [*QueryError]; see there for what it matches.
func (p *Probe) Measure(ctx context.Context, q relman.ProbeQuery) (float64, error) {
	if strings.TrimSpace(q.Query) == "" {
		return 0, &QueryError{Err: &relman.ValidationError{Fields: []relman.FieldError{{Field: "query", Rule: "required"}}}}
	}
	query, err := Expand(q.Query, q)
	if err != nil {
		return 0, &QueryError{Err: err}
	}
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	res, warnings, _, err := p.api.Query(qctx, query, q.At, promv1.WithTimeout(p.timeout))
	qe := &QueryError{Query: query, Warnings: warnings}
	switch {
	case err != nil && ctx.Err() != nil:
		qe.Err = fmt.Errorf("prometheus: query abandoned: %w", context.Cause(ctx))
		return 0, qe
	case err != nil && qctx.Err() != nil:
		qe.Err = fmt.Errorf("prometheus: no answer within %s: %w", p.timeout, qctx.Err())
		return 0, qe
	case err != nil:
		qe.Err = fmt.Errorf("prometheus: %w", err)
		return 0, qe
	}
	v, err := value(res)
	switch {
	case err != nil:
		qe.Err = err
	case len(warnings) > 0:
		qe.Err = ErrWarnings
	default:
		return v, nil
	}
	return 0, qe
}

// value returns the one finite number in res.
func value(res model.Value) (float64, error) {
	var v model.SampleValue
	switch r := res.(type) {
	case *model.Scalar:
		v = r.Value
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, fmt.Errorf("%w: the result is an empty vector", ErrNoData)
		case 1:
		default:
			return 0, fmt.Errorf("%w: %d series, such as %s and %s", ErrAmbiguous, len(r), clip(r[0].Metric.String(), 100), clip(r[1].Metric.String(), 100))
		}
		if r[0].Histogram != nil {
			return 0, fmt.Errorf("%w: %s is a native histogram sample", ErrResultType, clip(r[0].Metric.String(), 100))
		}
		v = r[0].Value
	case nil:
		return 0, fmt.Errorf("%w: the answer has no result", ErrResultType)
	default:
		return 0, fmt.Errorf("%w: the result is a %s; want a scalar or an instant vector of one sample", ErrResultType, res.Type())
	}
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: the value is %s (a division by zero, such as a ratio while there is no traffic?)", ErrNotFinite, v)
	}
	return f, nil
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers http.Header
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, vs := range t.headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		}
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return t.base.RoundTrip(req)
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control character but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
