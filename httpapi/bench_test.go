package httpapi_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkCheckOverHTTP runs, in each iteration, one dry run through
// Manager.Check on the memory store and the same one over HTTP on
// loopback, with the round trip to a handler that does nothing beside it
// (see storetest.CheckOverHTTP, which the SQL stores run too).
func BenchmarkCheckOverHTTP(b *testing.B) { storetest.CheckOverHTTP(b, memory.New()) }

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
