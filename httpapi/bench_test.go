package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// BenchmarkCheckOverHTTP runs, in each iteration, one dry run through
// Manager.Check and the same one over HTTP on loopback (a kept-alive
// connection, authentication, JSON both ways), and reports their ratio
// as http/direct. For scale it also times a round trip to a handler that
// does nothing on the same loopback (noop-ns/op): the transport's floor.
func BenchmarkCheckOverHTTP(b *testing.B) {
	e := newEnv(b)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(b, 201)
	ctx := context.Background()
	req := relman.Request{Actor: relman.Actor{ID: "carl"}}
	client := e.srv.Client()
	url := e.srv.URL + "/api/releases/inv-1/events/approve/check"
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"allowed":true}`))
	}))
	defer noop.Close()
	var direct, overHTTP, floor time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := e.m.Check(ctx, "inv-1", relman.EventApprove, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		hr, _ := http.NewRequest("POST", url, nil)
		hr.Header.Set("X-Actor", "carl")
		res, err := client.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		var c struct{ Allowed bool }
		if err := decodeBody(res, &c); err != nil || !c.Allowed {
			b.Fatalf("%v %+v", err, c)
		}
		t2 := time.Now()
		hr, _ = http.NewRequest("POST", noop.URL, nil)
		if res, err = noop.Client().Do(hr); err != nil {
			b.Fatal(err)
		}
		if err := decodeBody(res, &c); err != nil {
			b.Fatal(err)
		}
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

// BenchmarkCheckHandler is the handler's own cost, without the network:
// the same dry run through ServeHTTP in process, against Manager.Check.
func BenchmarkCheckHandler(b *testing.B) {
	e := newEnv(b)
	e.do("olga", "POST", "/releases", newRelease("inv-1")).want(b, 201)
	h := e.srv.Config.Handler
	ctx := context.Background()
	req := relman.Request{Actor: relman.Actor{ID: "carl"}}
	var direct, handler time.Duration
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder() // built outside the timed part
		hr := httptest.NewRequest("POST", "/api/releases/inv-1/events/approve/check", nil)
		hr.Header.Set("X-Actor", "carl")
		t0 := time.Now()
		if err := e.m.Check(ctx, "inv-1", relman.EventApprove, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		h.ServeHTTP(rec, hr)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
		direct += t1.Sub(t0)
		handler += time.Since(t1)
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/op")
	b.ReportMetric(float64(handler.Nanoseconds())/float64(b.N), "handler-ns/op")
	b.ReportMetric(float64(handler)/float64(direct), "handler/direct")
}
