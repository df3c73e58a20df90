// Package otel instruments relman with OpenTelemetry: a span for every
// Fire and Check, with the event, the stages and every gate's outcome as
// attributes, and metrics of transitions, refusals by gate, Fire latency,
// scheduled jobs and notification deliveries.
//
// The core knows nothing of OpenTelemetry. This package attaches to the
// points the core and the runner already offer:
//
//	in, err := otel.New(otel.Options{}) // global providers by default
//	m, err := relman.NewManager(store, in.Option()) // transitions, stages on spans
//	tm := in.Wrap(m)                                // spans and metrics for Fire and Check
//	r, err := runner.New(m, runner.Options{OnPass: in.OnPass}) // scheduled jobs, deliveries
//
// Call Fire and Check through the wrapper to have them traced; every
// other method is the Manager's own (the wrapper embeds it).
//
// # Spans
//
// "relman.Fire" and "relman.Check", with attributes relman.release.id,
// relman.event, relman.outcome ("fired", "allowed", or the
// relman.ErrorClass of the error), relman.stage.from and relman.stage.to
// (of the committed transition, set by the after-hook of Option, or from
// a *relman.TransitionError), relman.gate.<name> for every gate of the
// event ("passed", "refused" or "not_yet"; absent when the call failed
// before the gates ran) and relman.gate.failures (each refusal as
// "gate: reason"). A Fire that fails sets the span's status to Error; a
// Check that answers "no" does not (it answered).
//
// # Metrics
//
//	relman.transitions        counter    event, from, to
//	relman.refusals           counter    event, gate, class (refused, not_yet), dry_run
//	relman.fire.duration      histogram  seconds; event, outcome
//	relman.scheduled.jobs     counter    event, state (fired, failed, expired, pending)
//	relman.deliveries         counter    outcome (delivered, failed, dead)
package otel

import (
	"context"
	"errors"
	"fmt"
	"time"

	global "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/relman-dev/relman/otel"

// Options configure an Instrumentation. Zero values use the global
// providers.
type Options struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Instrumentation holds the tracer and the instruments.
type Instrumentation struct {
	tracer      trace.Tracer
	transitions metric.Int64Counter
	refusals    metric.Int64Counter
	fireLatency metric.Float64Histogram
	jobs        metric.Int64Counter
	deliveries  metric.Int64Counter
}

// New creates the tracer and the instruments.
func New(o Options) (*Instrumentation, error) {
	if o.TracerProvider == nil {
		o.TracerProvider = global.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = global.GetMeterProvider()
	}
	meter := o.MeterProvider.Meter(ScopeName)
	in := &Instrumentation{tracer: o.TracerProvider.Tracer(ScopeName)}
	var err, e error
	in.transitions, e = meter.Int64Counter("relman.transitions", metric.WithDescription("Transitions committed."))
	err = errors.Join(err, e)
	in.refusals, e = meter.Int64Counter("relman.refusals", metric.WithDescription("Gate refusals of Fire and Check, one per refusing gate."))
	err = errors.Join(err, e)
	in.fireLatency, e = meter.Float64Histogram("relman.fire.duration", metric.WithUnit("s"), metric.WithDescription("Duration of Fire."))
	err = errors.Join(err, e)
	in.jobs, e = meter.Int64Counter("relman.scheduled.jobs", metric.WithDescription("Scheduled events the runner ran, by outcome."))
	err = errors.Join(err, e)
	in.deliveries, e = meter.Int64Counter("relman.deliveries", metric.WithDescription("Outbox notifications the runner delivered, failed or dead-lettered."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, fmt.Errorf("relman/otel: %w", err)
	}
	return in, nil
}

// Option returns the Manager option that counts every committed
// transition (the runner's too) and puts its stages on the span of the
// Fire that made it.
func (in *Instrumentation) Option() relman.Option {
	return relman.WithAfterHook(relman.AnyEvent, func(ctx context.Context, ev relman.TransitionEvent) {
		t := ev.Transition
		in.transitions.Add(ctx, 1, metric.WithAttributes(
			attribute.String("event", string(t.Event)), attribute.String("from", string(t.From)), attribute.String("to", string(t.To))))
		trace.SpanFromContext(ctx).SetAttributes(
			attribute.String("relman.stage.from", string(t.From)), attribute.String("relman.stage.to", string(t.To)))
	})
}

// Manager is a relman.Manager whose Fire and Check are traced and
// measured. Every other method is the embedded Manager's.
type Manager struct {
	*relman.Manager
	in *Instrumentation
}

// Wrap returns m instrumented.
func (in *Instrumentation) Wrap(m *relman.Manager) *Manager { return &Manager{Manager: m, in: in} }

// Fire fires the event as relman.Manager.Fire does, in a span.
func (m *Manager) Fire(ctx context.Context, id string, ev relman.Event, req relman.Request) (*relman.Release, error) {
	ctx, span := m.in.tracer.Start(ctx, "relman.Fire", trace.WithAttributes(
		attribute.String("relman.release.id", id), attribute.String("relman.event", string(ev))))
	defer span.End()
	t0 := time.Now()
	r, err := m.Manager.Fire(ctx, id, ev, req)
	outcome := m.record(ctx, span, ev, err, false)
	m.in.fireLatency.Record(ctx, time.Since(t0).Seconds(), metric.WithAttributes(
		attribute.String("event", string(ev)), attribute.String("outcome", outcome)))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return r, err
}

// Check runs the dry run as relman.Manager.Check does, in a span.
func (m *Manager) Check(ctx context.Context, id string, ev relman.Event, req relman.Request) error {
	ctx, span := m.in.tracer.Start(ctx, "relman.Check", trace.WithAttributes(
		attribute.String("relman.release.id", id), attribute.String("relman.event", string(ev))))
	defer span.End()
	err := m.Manager.Check(ctx, id, ev, req)
	m.record(ctx, span, ev, err, true)
	c := relman.Classify(err)
	if err != nil && c != relman.ClassRefused && c != relman.ClassNotYet && c != relman.ClassForbidden {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// record puts the outcome and the gates on the span, counts refusals and
// returns the outcome.
func (m *Manager) record(ctx context.Context, span trace.Span, ev relman.Event, err error, dry bool) string {
	outcome := "fired"
	if dry {
		outcome = "allowed"
	}
	if err != nil {
		outcome = string(relman.Classify(err))
	}
	span.SetAttributes(attribute.String("relman.outcome", outcome))
	var te *relman.TransitionError
	if errors.As(err, &te) {
		span.SetAttributes(attribute.String("relman.stage.from", string(te.From)))
		return outcome
	}
	var ge *relman.GateError
	if err != nil && !errors.As(err, &ge) {
		return outcome // failed before the gates ran
	}
	verdicts := map[string]string{}
	if ge != nil {
		fails := make([]string, 0, len(ge.Failures))
		for _, f := range ge.Failures {
			class := "refused"
			var ny *relman.NotYetError
			if errors.As(f.Err, &ny) {
				class = "not_yet"
			}
			verdicts[f.Gate] = class
			fails = append(fails, f.Gate+": "+f.Err.Error())
			m.in.refusals.Add(ctx, 1, metric.WithAttributes(attribute.String("event", string(ev)),
				attribute.String("gate", f.Gate), attribute.String("class", class), attribute.Bool("dry_run", dry)))
		}
		span.SetAttributes(attribute.StringSlice("relman.gate.failures", fails))
	}
	for _, g := range m.Manager.Lifecycle().Gates(ev) {
		v, ok := verdicts[g]
		if !ok {
			v = "passed"
		}
		span.SetAttributes(attribute.String("relman.gate."+g, v))
	}
	for g, v := range verdicts { // gates added outside the lifecycle's list
		span.SetAttributes(attribute.String("relman.gate."+g, v))
	}
	return outcome
}

// OnPass records what a runner pass did: give it as runner.Options.OnPass.
func (in *Instrumentation) OnPass(ctx context.Context, rep runner.Report) {
	for _, a := range rep.Actions {
		if a.Job == "" {
			continue // approval expiry and rollout steps are not scheduled jobs
		}
		in.jobs.Add(ctx, 1, metric.WithAttributes(attribute.String("event", string(a.Event)), attribute.String("state", string(a.State))))
	}
	for outcome, n := range map[string]int{"delivered": rep.Delivered, "failed": rep.Failed, "dead": rep.Dead} {
		if n > 0 {
			in.deliveries.Add(ctx, int64(n), metric.WithAttributes(attribute.String("outcome", outcome)))
		}
	}
}
