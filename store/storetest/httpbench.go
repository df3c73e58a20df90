package storetest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

// CheckOverHTTP benchmarks a dry run through Manager.Check on s against
// the same dry run over HTTP on loopback, through package httpapi's
// handler over that Manager (a kept-alive connection, authentication,
// JSON both ways), interleaved in each iteration. It reports both times
// and their ratio (http/direct), and, for scale, the time of a round trip
// to a handler that does nothing on the same loopback (noop-ns/op): the
// transport's floor, which no handler can go under.
func CheckOverHTTP(b *testing.B, s relman.Store) {
	m, err := relman.NewManager(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := Minimal("inv-1")
	r.Case = relman.BusinessCase{Problem: "slow", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh}
	if _, err := m.Create(ctx, r, relman.Actor{ID: "olga"}); err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.New(m, httpapi.Options{Authenticate: func(r *http.Request) (relman.Actor, error) {
		return relman.Actor{ID: r.Header.Get("X-Actor")}, nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"allowed":true}`))
	}))
	defer noop.Close()
	post := func(c *http.Client, url string) bool {
		hr, _ := http.NewRequest("POST", url, nil)
		hr.Header.Set("X-Actor", "carl")
		res, err := c.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Allowed bool }
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			b.Fatal(err)
		}
		return out.Allowed
	}
	req := relman.Request{Actor: relman.Actor{ID: "carl"}}
	url := srv.URL + "/releases/inv-1/events/approve/check"
	var direct, overHTTP, floor time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := m.Check(ctx, "inv-1", relman.EventApprove, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !post(srv.Client(), url) {
			b.Fatal("the check over HTTP was refused")
		}
		t2 := time.Now()
		post(noop.Client(), noop.URL)
		direct += t1.Sub(t0)
		overHTTP += t2.Sub(t1)
		floor += time.Since(t2)
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/op")
	b.ReportMetric(float64(overHTTP.Nanoseconds())/float64(b.N), "http-ns/op")
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "noop-ns/op")
	b.ReportMetric(float64(overHTTP)/float64(direct), "http/direct")
	b.ReportMetric(float64(overHTTP-floor)/float64(direct), "(http-noop)/direct")
}
