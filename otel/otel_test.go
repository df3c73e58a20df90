package otel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/relman-dev/relman"
	relmanotel "github.com/relman-dev/relman/otel"
	"github.com/relman-dev/relman/runner"
	"github.com/relman-dev/relman/store/memory"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type setup struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	in     *relmanotel.Instrumentation
	m      *relmanotel.Manager
	now    *time.Time
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	now := t0
	s.now = &now
	var err error
	s.in, err = relmanotel.New(relmanotel.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return *s.now }), s.in.Option())
	if err != nil {
		t.Fatal(err)
	}
	s.m = s.in.Wrap(m)
	_, err = s.m.Create(context.Background(), &relman.Release{ID: "inv-1", Title: "Invoices", Version: "1.0.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal, Requester: "rita", Owner: "olga", Services: []string{"invoices"},
		Case: relman.BusinessCase{Problem: "slow", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh}}, relman.Actor{ID: "olga"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// sum returns the sum of counter name's points whose attributes include
// want.
func (s *setup) sum(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != name {
				continue
			}
			data, ok := mt.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T", name, mt.Data)
			}
		points:
			for _, p := range data.DataPoints {
				for _, kv := range want {
					if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
						continue points
					}
				}
				total += p.Value
			}
		}
	}
	return total
}

func TestFireSpanAndMetrics(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	olga := relman.Actor{ID: "olga"}
	if _, err := s.m.Fire(ctx, "inv-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		t.Fatal(err)
	}
	// plan without a window: refused by the window gate.
	if _, err := s.m.Fire(ctx, "inv-1", relman.EventPlan, relman.Request{Actor: olga}); relman.Classify(err) != relman.ClassRefused {
		t.Fatalf("plan: %v", err)
	}
	// A dry run of deploy from approved: a transition error.
	if err := s.m.Check(ctx, "inv-1", relman.EventDeploy, relman.Request{Actor: olga}); err == nil {
		t.Fatal("check deploy: allowed")
	}

	spans := s.spans.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	fired, refused, checked := spans[0], spans[1], spans[2]
	a := attrs(fired)
	if fired.Name() != "relman.Fire" || a["relman.event"].AsString() != "approve" || a["relman.outcome"].AsString() != "fired" ||
		a["relman.stage.from"].AsString() != "proposed" || a["relman.stage.to"].AsString() != "approved" ||
		a["relman.gate.business-case"].AsString() != "passed" || fired.Status().Code == codes.Error {
		t.Errorf("approve span: %v %v", a, fired.Status())
	}
	a = attrs(refused)
	if a["relman.outcome"].AsString() != "refused" || refused.Status().Code != codes.Error || len(a["relman.gate.failures"].AsStringSlice()) == 0 {
		t.Errorf("plan span: %v %v", a, refused.Status())
	}
	var sawRefused bool
	for k, v := range a {
		if len(k) > len("relman.gate.") && k[:len("relman.gate.")] == "relman.gate." && v.AsString() == "refused" {
			sawRefused = true
		}
	}
	if !sawRefused {
		t.Errorf("no refusing gate on the plan span: %v", a)
	}
	a = attrs(checked)
	if checked.Name() != "relman.Check" || a["relman.outcome"].AsString() != "refused" || a["relman.stage.from"].AsString() != "approved" ||
		checked.Status().Code == codes.Error {
		t.Errorf("check span: %v %v", a, checked.Status())
	}

	if n := s.sum(t, "relman.transitions", attribute.String("event", "approve"), attribute.String("to", "approved")); n != 1 {
		t.Errorf("transitions: %d", n)
	}
	if n := s.sum(t, "relman.refusals", attribute.String("event", "plan"), attribute.Bool("dry_run", false)); n < 1 {
		t.Errorf("refusals: %d", n)
	}
	var rm metricdata.ResourceMetrics
	_ = s.reader.Collect(ctx, &rm)
	var latencies uint64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if h, ok := mt.Data.(metricdata.Histogram[float64]); ok && mt.Name == "relman.fire.duration" {
				for _, p := range h.DataPoints {
					latencies += p.Count
				}
			}
		}
	}
	if latencies != 2 {
		t.Errorf("fire.duration counted %d calls, want 2", latencies)
	}
}

// The runner's passes: scheduled jobs by outcome and deliveries.
func TestRunnerMetrics(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	r, err := runner.New(s.m.Manager, runner.Options{OnPass: s.in.OnPass})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.m.Schedule(ctx, "inv-1", relman.Actor{ID: "carl"}, relman.ScheduleRequest{Event: relman.EventApprove}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.sum(t, "relman.scheduled.jobs", attribute.String("state", "fired"), attribute.String("event", "approve")); n != 1 {
		t.Errorf("scheduled jobs fired: %d", n)
	}
	if n := s.sum(t, "relman.transitions", attribute.String("event", "approve")); n != 1 {
		t.Errorf("the runner's transition was not counted: %d", n)
	}
	s.in.OnPass(ctx, runner.Report{Delivered: 3, Dead: 1})
	if d, dead := s.sum(t, "relman.deliveries", attribute.String("outcome", "delivered")), s.sum(t, "relman.deliveries", attribute.String("outcome", "dead")); d != 3 || dead != 1 {
		t.Errorf("deliveries: %d delivered, %d dead", d, dead)
	}
}
