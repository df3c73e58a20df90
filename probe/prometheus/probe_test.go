package prometheus_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/probe/prometheus"
)

// fakeAPI is a Prometheus HTTP API that answers /api/v1/query with a
// canned status and body, and records what it was asked.
type fakeAPI struct {
	mu     sync.Mutex
	status int
	body   string
	hang   chan struct{} // if set, the handler waits on it (or the request's end)
	got    []http.Request
	forms  []map[string]string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	form := map[string]string{"path": r.URL.Path, "method": r.Method}
	for k := range r.Form {
		form[k] = r.Form.Get(k)
	}
	f.got = append(f.got, *r.Clone(context.Background()))
	f.forms = append(f.forms, form)
	status, body, hang := f.status, f.body, f.hang
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeAPI) last(t *testing.T) (map[string]string, http.Request) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.forms) == 0 {
		t.Fatal("the server got no request")
	}
	return f.forms[len(f.forms)-1], f.got[len(f.got)-1]
}

// newFake starts a fake API answering status and body.
func newFake(t *testing.T, status int, body string) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := &fakeAPI{status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func newProbe(t *testing.T, o prometheus.Options) *prometheus.Probe {
	t.Helper()
	p, err := prometheus.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return p
}

var (
	at  = time.Date(2026, 12, 1, 12, 30, 15, 250_000_000, time.UTC)
	rel = &relman.Release{ID: "rel-7", Version: "2.4.0"}
)

func query(q string) relman.ProbeQuery {
	return relman.ProbeQuery{Release: rel, Environment: "production", Step: 1, Query: q, At: at}
}

func success(resultType, result string) string {
	return `{"status":"success","data":{"resultType":"` + resultType + `","result":` + result + `}}`
}

func TestMeasureResults(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   float64
		is     error // the error it must match, nil for success
	}{
		{"scalar", 200, success("scalar", `[1764592215.25,"0.25"]`), 0.25, nil},
		{"one sample", 200, success("vector", `[{"metric":{"version":"2.4.0"},"value":[1764592215.25,"0.0125"]}]`), 0.0125, nil},
		{"one sample without labels", 200, success("vector", `[{"metric":{},"value":[1764592215.25,"7"]}]`), 7, nil},
		{"negative", 200, success("scalar", `[1764592215.25,"-3.5"]`), -3.5, nil},
		{"empty vector", 200, success("vector", `[]`), 0, prometheus.ErrNoData},
		{"two samples", 200, success("vector", `[{"metric":{"code":"500"},"value":[1764592215,"1"]},{"metric":{"code":"503"},"value":[1764592215,"2"]}]`), 0, prometheus.ErrAmbiguous},
		{"matrix", 200, success("matrix", `[{"metric":{"code":"500"},"values":[[1764592214,"1"],[1764592215,"2"]]}]`), 0, prometheus.ErrResultType},
		{"histogram", 200, success("vector", `[{"metric":{},"histogram":[1764592215,{"count":"2","sum":"3","buckets":[[0,"0","1","2"]]}]}]`), 0, prometheus.ErrResultType},
		{"NaN", 200, success("vector", `[{"metric":{},"value":[1764592215,"NaN"]}]`), 0, prometheus.ErrNotFinite},
		{"+Inf", 200, success("scalar", `[1764592215,"+Inf"]`), 0, prometheus.ErrNotFinite},
		{"-Inf", 200, success("scalar", `[1764592215,"-Inf"]`), 0, prometheus.ErrNotFinite},
		{"warnings", 200, `{"status":"success","warnings":["remote store eu-1 did not answer"],"data":{"resultType":"scalar","result":[1764592215,"0.01"]}}`, 0, prometheus.ErrWarnings},
		{"infos only", 200, `{"status":"success","infos":["metric might not be a counter"],"data":{"resultType":"scalar","result":[1764592215,"0.01"]}}`, 0.01, nil},
		{"not JSON", 200, `<html>hello</html>`, 0, nil},
		{"string", 200, success("string", `[1764592215,"hello"]`), 0, nil}, // client_golang refuses it
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, tt.status, tt.body)
			p := newProbe(t, prometheus.Options{Address: srv.URL})
			got, err := p.Measure(context.Background(), query(`sum(up)`))
			if tt.name == "not JSON" || tt.name == "string" {
				var qe *prometheus.QueryError
				var ae *promv1.Error
				if !errors.As(err, &qe) || !errors.As(err, &ae) || ae.Type != promv1.ErrBadResponse {
					t.Fatalf("Measure = %v, %v; want a *QueryError wrapping a bad_response *v1.Error", got, err)
				}
				return
			}
			if tt.is == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Measure = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			var qe *prometheus.QueryError
			if !errors.Is(err, tt.is) || !errors.As(err, &qe) {
				t.Fatalf("Measure = %v, %v; want a *QueryError matching %v", got, err, tt.is)
			}
			if qe.Query != "sum(up)" || !strings.Contains(err.Error(), `"sum(up)"`) {
				t.Errorf("QueryError.Query = %q, message %q; want the query", qe.Query, err)
			}
			if got != 0 {
				t.Errorf("value %v beside an error", got)
			}
			if tt.is == prometheus.ErrWarnings && (len(qe.Warnings) != 1 || !strings.Contains(err.Error(), "eu-1 did not answer")) {
				t.Errorf("warnings %q, message %q", qe.Warnings, err)
			}
		})
	}
}

func TestMeasurePrometheusErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		typ      promv1.ErrorType
		msg      string
		warnings int
	}{
		{"bad PromQL", 400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected right parenthesis ')'"}`, promv1.ErrBadData, "parse error", 0},
		{"execution", 422, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`, promv1.ErrExec, "too many samples", 0},
		{"timeout with warnings", 503, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation","warnings":["partial"]}`, promv1.ErrServer, "server error: 503", 0},
		{"error with warnings", 422, `{"status":"error","errorType":"execution","error":"boom","warnings":["remote store down"]}`, promv1.ErrExec, "boom", 1},
		{"plain 500", 500, `internal error`, promv1.ErrServer, "server error: 500", 0},
		{"404", 404, `not found`, promv1.ErrClient, "client error: 404", 0},
		{"error status with 200", 200, `{"status":"error","errorType":"internal","error":"odd"}`, "internal", "odd", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, tt.status, tt.body)
			p := newProbe(t, prometheus.Options{Address: srv.URL})
			got, err := p.Measure(context.Background(), query(`sum(rate(x[1m]))`))
			var qe *prometheus.QueryError
			var ae *promv1.Error
			if !errors.As(err, &qe) || !errors.As(err, &ae) {
				t.Fatalf("Measure = %v, %v; want a *QueryError wrapping a *v1.Error", got, err)
			}
			if ae.Type != tt.typ || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error type %q, message %q; want %q containing %q", ae.Type, err, tt.typ, tt.msg)
			}
			if len(qe.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", qe.Warnings, tt.warnings)
			}
			for _, s := range []error{prometheus.ErrNoData, prometheus.ErrAmbiguous, prometheus.ErrResultType, prometheus.ErrWarnings} {
				if errors.Is(err, s) {
					t.Errorf("%v matches %v", err, s)
				}
			}
		})
	}
}

func TestMeasureRequest(t *testing.T) {
	f, srv := newFake(t, 200, success("scalar", `[1764592215.25,"1"]`))
	p := newProbe(t, prometheus.Options{
		Address: srv.URL + "/prom/",
		Timeout: 3 * time.Second,
		Headers: http.Header{"Authorization": {"Bearer s3cret"}, "X-Scope-Orgid": {"team-a"}, "Host": {"prometheus.internal"}},
	})
	q := query(`sum(rate(http_requests_total{version="{{version}}",env="{{ environment }}",release="{{release}}",step="{{step}}",service="{{service}}"}[{{window}}]))`)
	q.Params = map[string]string{"service": "invoices", "window": "5m"}
	if _, err := p.Measure(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	form, req := f.last(t)
	want := `sum(rate(http_requests_total{version="2.4.0",env="production",release="rel-7",step="1",service="invoices"}[5m]))`
	if form["query"] != want {
		t.Errorf("query sent\n%s\nwant\n%s", form["query"], want)
	}
	if form["path"] != "/prom/api/v1/query" {
		t.Errorf("path %q, want the prefix kept", form["path"])
	}
	ts, err := strconv.ParseFloat(form["time"], 64)
	if err != nil || math.Abs(ts-float64(at.UnixMilli())/1000) > 0.001 {
		t.Errorf("time %q, want %v (%d ms)", form["time"], at, at.UnixMilli())
	}
	if form["timeout"] != "3s" {
		t.Errorf("timeout %q, want the probe's", form["timeout"])
	}
	if req.Header.Get("Authorization") != "Bearer s3cret" || req.Header.Get("X-Scope-OrgID") != "team-a" || req.Host != "prometheus.internal" {
		t.Errorf("headers %v, host %q", req.Header, req.Host)
	}

	// A zero At leaves the time to the server.
	q.At = time.Time{}
	if _, err := p.Measure(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if form, _ := f.last(t); form["time"] != "" {
		t.Errorf("time %q sent for a zero At", form["time"])
	}
}

func TestMeasureDoesNotSendBadPlaceholders(t *testing.T) {
	f, srv := newFake(t, 200, success("scalar", `[1764592215.25,"1"]`))
	p := newProbe(t, prometheus.Options{Address: srv.URL})
	q := query(`up{version="{{version}}"}`)
	q.Release = &relman.Release{ID: "rel-7", Version: `2.4.0"} or vector(0) #`}
	_, err := p.Measure(context.Background(), q)
	var qe *prometheus.QueryError
	if !errors.Is(err, prometheus.ErrPlaceholder) || !errors.As(err, &qe) || qe.Query != "" {
		t.Fatalf("Measure = %v; want ErrPlaceholder and no query", err)
	}
	q.Query = "  "
	if _, err := p.Measure(context.Background(), q); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("an empty query: %v, want ErrInvalid", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != 0 {
		t.Errorf("the server got %d requests", len(f.got))
	}
}

func TestMeasureTimeout(t *testing.T) {
	f, srv := newFake(t, 200, "")
	f.hang = make(chan struct{})
	t.Cleanup(func() { close(f.hang) }) // before srv.Close, which waits for handlers
	p := newProbe(t, prometheus.Options{Address: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	got, err := p.Measure(context.Background(), query(`sum(up)`))
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("Measure = %v, %v; want no answer within 200ms (DeadlineExceeded)", got, err)
	}
	if took > 2*time.Second {
		t.Errorf("Measure returned after %v, timeout 200ms", took)
	}

	// The caller's context ending first ends the query too.
	p = newProbe(t, prometheus.Options{Address: srv.URL, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = p.Measure(ctx, query(`sum(up)`))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "abandoned") || time.Since(start) > 2*time.Second {
		t.Errorf("Measure with an expiring context = %v after %v", err, time.Since(start))
	}
}

func TestMeasureUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	p := newProbe(t, prometheus.Options{Address: addr, Timeout: 2 * time.Second})
	var qe *prometheus.QueryError
	if _, err := p.Measure(context.Background(), query(`sum(up)`)); !errors.As(err, &qe) {
		t.Errorf("Measure against a closed port = %v, want a *QueryError", err)
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name   string
		o      prometheus.Options
		fields []string // every field the *ValidationError must name, nil for valid
	}{
		{"minimal", prometheus.Options{Address: "http://127.0.0.1:9090"}, nil},
		{"https with a prefix and credentials", prometheus.Options{Address: "https://u:p@example.com/prometheus/", Timeout: time.Second}, nil},
		{"a custom transport and headers", prometheus.Options{Address: "http://p:9090", RoundTripper: http.DefaultTransport, Headers: http.Header{"X-Scope-OrgID": {"a"}}}, nil},
		{"no address", prometheus.Options{}, []string{"address"}},
		{"blank address", prometheus.Options{Address: "  "}, []string{"address"}},
		{"no scheme", prometheus.Options{Address: "prometheus:9090"}, []string{"address"}},
		{"ftp", prometheus.Options{Address: "ftp://prometheus:9090"}, []string{"address"}},
		{"no host", prometheus.Options{Address: "http:///api"}, []string{"address"}},
		{"unparsable", prometheus.Options{Address: "http://[::1"}, []string{"address"}},
		{"a query", prometheus.Options{Address: "http://p:9090/?x=1"}, []string{"address"}},
		{"a fragment", prometheus.Options{Address: "http://p:9090/#x"}, []string{"address"}},
		{"negative timeout", prometheus.Options{Address: "http://p:9090", Timeout: -time.Second}, []string{"timeout"}},
		{"bad header name", prometheus.Options{Address: "http://p:9090", Headers: http.Header{"Bad Name": {"x"}}}, []string{"headers[Bad Name]"}},
		{"header value with a newline", prometheus.Options{Address: "http://p:9090", Headers: http.Header{"X-A": {"a\r\nX-Evil: 1"}}}, []string{"headers[X-A]"}},
		{"everything", prometheus.Options{Timeout: -1, Headers: http.Header{"": {"x"}}}, []string{"address", "timeout", "headers[]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := prometheus.New(tt.o)
			if tt.fields == nil {
				if err != nil || p == nil {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			var ve *relman.ValidationError
			if p != nil || !errors.Is(err, relman.ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("New = %v, %v; want a *relman.ValidationError", p, err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %q, want %q (%v)", got, tt.fields, err)
			}
		})
	}
}

func TestProbeIsSafeForConcurrentUse(t *testing.T) {
	_, srv := newFake(t, 200, success("scalar", `[1764592215.25,"0.5"]`))
	p := newProbe(t, prometheus.Options{Address: srv.URL, Headers: http.Header{"X-A": {"1"}}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if v, err := p.Measure(context.Background(), query(`x{v="{{version}}"}`)); err != nil || v != 0.5 {
					t.Errorf("Measure = %v, %v", v, err)
				}
			}
		})
	}
	wg.Wait()
}
