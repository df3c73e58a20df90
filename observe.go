package relman

import (
	"context"
	"log/slog"
	"time"
)

// SlogHook returns an after-hook that writes one structured log record
// for every transition it observes. Attach it to every event with
//
//	relman.WithAfterHook(relman.AnyEvent, relman.SlogHook(logger))
//
// The record's message is "relman transition" and its attributes are
// release, version, event, from, to, actor, reason (when given), at (the
// transition's time on the Manager's clock), in_stage (how long the
// release stayed in the stage it left) and seq (the audit entry's
// sequence number). The level is Warn for a transition into
// StageRolledBack and Info otherwise. A nil logger means slog.Default()
// at the time of each record.
func SlogHook(l *slog.Logger) AfterHook {
	return func(ctx context.Context, ev TransitionEvent) {
		logger := l
		if logger == nil {
			logger = slog.Default()
		}
		level := slog.LevelInfo
		if ev.Transition.To == StageRolledBack {
			level = slog.LevelWarn
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		t := ev.Transition
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("release", ev.Release.ID),
			slog.String("version", ev.Release.Version),
			slog.String("event", string(t.Event)),
			slog.String("from", string(t.From)),
			slog.String("to", string(t.To)),
			slog.String("actor", t.Actor.ID),
		)
		if t.Reason != "" {
			attrs = append(attrs, slog.String("reason", t.Reason))
		}
		attrs = append(attrs,
			slog.Time("at", ev.Entry.At),
			slog.Duration("in_stage", stageDuration(t)),
			slog.Int64("seq", ev.Entry.Seq),
		)
		logger.LogAttrs(ctx, level, "relman transition", attrs...)
	}
}

// stageDuration is how long the release stayed in t.From; 0 if unknown.
func stageDuration(t Transition) time.Duration {
	if t.Since.IsZero() || t.Now.Before(t.Since) {
		return 0
	}
	return t.Now.Sub(t.Since)
}

// MetricsRecorder receives measurements of the release lifecycle from
// MetricsHook. It is small on purpose, so that a host can back it with
// Prometheus, OpenTelemetry, expvar or anything else without relman
// depending on them; every label it passes has few values (events and
// stages of the lifecycle). With Prometheus, for example:
//
//	Transition    → counter   relman_transitions_total{event, from, to}
//	StageDuration → histogram relman_stage_duration_seconds{stage}
//	LeadTime      → histogram relman_lead_time_seconds
//
// Methods are called synchronously after each committed transition, in
// the firing goroutine, possibly from several goroutines at once; they
// should be fast and must be safe for concurrent use.
type MetricsRecorder interface {
	// Transition counts one committed transition.
	Transition(ctx context.Context, event Event, from, to Stage)
	// StageDuration observes how long a release stayed in stage, which it
	// has just left.
	StageDuration(ctx context.Context, stage Stage, d time.Duration)
	// LeadTime observes, when a release reaches StageOperating, the time
	// since it was created (proposed).
	LeadTime(ctx context.Context, d time.Duration)
}

// MetricsHook returns an after-hook feeding rec with every transition it
// observes; attach it with
//
//	relman.WithAfterHook(relman.AnyEvent, relman.MetricsHook(rec))
//
// MetricsHook(nil) returns nil, which NewManager refuses.
func MetricsHook(rec MetricsRecorder) AfterHook {
	if rec == nil {
		return nil
	}
	return func(ctx context.Context, ev TransitionEvent) {
		t := ev.Transition
		rec.Transition(ctx, t.Event, t.From, t.To)
		if !t.Since.IsZero() {
			rec.StageDuration(ctx, t.From, stageDuration(t))
		}
		if t.To == StageOperating && !ev.Release.CreatedAt.IsZero() {
			rec.LeadTime(ctx, ev.Entry.At.Sub(ev.Release.CreatedAt))
		}
	}
}
