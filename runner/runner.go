// Package runner is relman's long-running worker: it makes things happen
// on time. A host starts one with a single call and stops it by
// cancelling the context:
//
//	r, err := runner.New(m, runner.Options{Sink: webhook})
//	if err != nil { … }
//	go r.Run(ctx)
//
// Each pass (Tick) it
//
//   - claims the releases its store says have something due (a lease of
//     Options.Lease, so that of several runners sharing a store one works
//     on a release at a time) and calls Manager.RunDue on each: scheduled
//     events fire, defer, fail or expire, and approvals whose validity ran
//     out are voided, each with its audit entry;
//   - delivers the store's outbox to Options.Sink, if one is set: every
//     committed audit entry, at least once, in order per release, with
//     exponential back-off, and dead-lettered after Options.MaxAttempts
//     failures (DeadLetters lists them, Replay sends one again).
//
// The runner changes releases only through the Manager, so every
// authorization, gate and audit rule applies as if a person had acted.
// The store must implement relman.DueStore, and relman.Outbox with its
// outbox enabled when a Sink is set; store/memory, store/sqlite and
// store/postgres do.
//
// # Many instances
//
// Any number of runners, in any number of processes, may share one store.
// Leases spread the work; correctness does not rest on them. A scheduled
// event is marked fired in the same revision-checked update that fires it,
// so a runner that takes over a release after another was killed
// mid-job finds the job done or does it once. A notification may be
// delivered twice in that case, with the same idempotency key.
//
// # Notifications: outbox or after-hook?
//
// An after-hook (relman.WithAfterHook) runs in the process that fired the
// event, right after the commit: use it for in-process observers (logs,
// metrics, a cache) that may miss a change if the process dies. Use the
// outbox and a Sink for anything outside the process that must hear of
// every change — a chat channel, a ticket system, another service — as
// the notification is committed with the change and retried until it is
// delivered.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/relman-dev/relman"
)

// Defaults of Options.
const (
	DefaultInterval    = time.Second
	DefaultLease       = 30 * time.Second
	DefaultBatch       = 64
	DefaultMaxAttempts = 10
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 10 * time.Minute
)

// Sink receives the notifications of the outbox. Deliver returns nil once
// the notification is delivered; any error makes the runner try again
// later. It may be called again for a notification it already took (at
// least once): receivers deduplicate by Notification.Key.
type Sink interface {
	Deliver(ctx context.Context, n relman.Notification) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, n relman.Notification) error

// Deliver calls f.
func (f SinkFunc) Deliver(ctx context.Context, n relman.Notification) error { return f(ctx, n) }

// Options configures a Runner. The zero value means the defaults.
type Options struct {
	// Interval is the pause between passes when there was nothing more
	// to do (default 1 s). A pass that filled a batch is followed at once
	// by another.
	Interval time.Duration
	// Lease is how long a runner holds a release or a notification it
	// claimed (default 30 s). A runner that dies is taken over once its
	// leases run out; work on one release must finish well within it.
	Lease time.Duration
	// Batch is how many releases, and how many notifications, one pass
	// claims at most (default 64, at most 1000).
	Batch int
	// Sink receives the outbox's notifications; nil leaves the outbox
	// alone.
	Sink Sink
	// MaxAttempts is how many failed deliveries dead-letter a
	// notification (default 10).
	MaxAttempts int
	// Backoff is the wait after a first failed delivery; it doubles with
	// every further failure up to MaxBackoff (defaults 1 s and 10 min).
	Backoff, MaxBackoff time.Duration
	// Owner names this runner in the leases it takes (default: host name,
	// process id and a random suffix). Two runners must not share one.
	Owner string
	// OnPass, if set, is called at the end of every pass (Tick, and each
	// pass of Run) with what it did, for metrics (see the otel module).
	// It runs in the runner's goroutine: return promptly.
	OnPass func(ctx context.Context, rep Report)
	// Logger gets a line for every action (an event fired, deferred,
	// failed or expired; approvals expired; a delivery failed or
	// dead-lettered) and for errors. Default: no logging.
	Logger *slog.Logger
}

// Runner drives a Manager's time-driven work. Create it with New; it is
// safe for concurrent use, but one Run at a time makes sense.
type Runner struct {
	m      *relman.Manager
	due    relman.DueStore
	outbox relman.Outbox
	o      Options
	log    *slog.Logger
}

// New returns a Runner for m. It fails with a *relman.ValidationError
// naming the field: a negative or zero-but-set duration, a batch over
// 1000, a store that is no relman.DueStore ("store"), or a Sink over a
// store without its outbox enabled ("sink").
func New(m *relman.Manager, o Options) (*Runner, error) {
	if m == nil {
		return nil, invalid("manager", "required", "")
	}
	var fs []relman.FieldError
	add := func(field, rule, param string) {
		fs = append(fs, relman.FieldError{Field: field, Rule: rule, Param: param})
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", o.Interval}, {"lease", o.Lease}, {"backoff", o.Backoff}, {"max_backoff", o.MaxBackoff}} {
		if d.v < 0 {
			add(d.name, "gte", "0")
		}
	}
	if o.Batch < 0 || o.Batch > 1000 {
		add("batch", "range", "0..1000")
	}
	if o.MaxAttempts < 0 {
		add("max_attempts", "gte", "0")
	}
	ds, ok := m.Store().(relman.DueStore)
	if !ok {
		add("store", "due_store", fmt.Sprintf("%T", m.Store()))
	}
	ob, _ := m.Store().(relman.Outbox)
	if o.Sink != nil && (ob == nil || !ob.OutboxEnabled()) {
		add("sink", "outbox_enabled", fmt.Sprintf("%T", m.Store()))
	}
	if len(fs) > 0 {
		return nil, &relman.ValidationError{Fields: fs}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Interval, DefaultInterval)
	def(&o.Lease, DefaultLease)
	def(&o.Backoff, DefaultBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Runner{m: m, due: ds, outbox: ob, o: o, log: log}, nil
}

func invalid(field, rule, param string) error {
	return &relman.ValidationError{Fields: []relman.FieldError{{Field: field, Rule: rule, Param: param}}}
}

// Owner returns the name the runner takes leases under.
func (r *Runner) Owner() string { return r.o.Owner }

// Report says what one pass did.
type Report struct {
	Actions   []relman.DueAction // what RunDue did, release by release
	Delivered int                // notifications delivered
	Failed    int                // failed deliveries (to be retried)
	Dead      int                // notifications dead-lettered
	Full      bool               // a claim came back full: more work is waiting
}

// Run makes passes (Tick) until ctx is cancelled, then returns nil. A
// pass that filled a batch is followed at once by another; otherwise Run
// waits Options.Interval. When ctx is cancelled, the release or
// notification in hand is finished (its store writes are not cut off
// half way) and every lease still held is released, so another runner
// can take over at once. Errors of a pass are logged and the next pass
// tries again.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rep, err := r.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("runner pass failed", "err", err)
		}
		wait := r.o.Interval
		if rep.Full && err == nil {
			wait = 0
		}
		t.Reset(wait)
	}
}

// Tick makes one pass: it runs what is due, then delivers what waits in
// the outbox (see the package documentation). Once ctx is cancelled it
// takes no new work, finishes the release or notification in hand with
// a context that is not cancelled, releases its leases and returns. The
// error joins every failure of the pass; what succeeded stays done.
func (r *Runner) Tick(ctx context.Context) (Report, error) {
	var rep Report
	err := r.runDue(ctx, &rep)
	if r.o.Sink != nil && ctx.Err() == nil {
		err = errors.Join(err, r.deliver(ctx, &rep))
	}
	if r.o.OnPass != nil {
		r.o.OnPass(context.WithoutCancel(ctx), rep)
	}
	return rep, err
}

func (r *Runner) runDue(ctx context.Context, rep *Report) error {
	now := r.m.Now()
	ids, err := r.due.ClaimDue(ctx, r.o.Owner, now, now.Add(r.o.Lease), r.o.Batch)
	if err != nil {
		return fmt.Errorf("runner: claim due releases: %w", err)
	}
	if len(ids) == r.o.Batch {
		rep.Full = true
	}
	work := context.WithoutCancel(ctx) // work in hand is finished, not cut off
	var errs []error
	done := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		acts, err := r.m.RunDue(work, id)
		done++
		for _, a := range acts {
			r.log.Info(a.String(), "release", a.ReleaseID, "job", a.Job, "event", string(a.Event), "state", string(a.State))
		}
		rep.Actions = append(rep.Actions, acts...)
		if err != nil && !errors.Is(err, relman.ErrNotFound) {
			errs = append(errs, fmt.Errorf("runner: release %q: %w", id, err))
		}
	}
	if err := r.due.ReleaseDue(work, r.o.Owner, ids...); err != nil {
		errs = append(errs, fmt.Errorf("runner: release leases: %w", err))
	}
	return errors.Join(errs...)
}

func (r *Runner) deliver(ctx context.Context, rep *Report) error {
	now := r.m.Now()
	ns, err := r.outbox.ClaimNotifications(ctx, r.o.Owner, now, now.Add(r.o.Lease), r.o.Batch)
	if err != nil {
		return fmt.Errorf("runner: claim notifications: %w", err)
	}
	if len(ns) == r.o.Batch {
		rep.Full = true
	}
	work := context.WithoutCancel(ctx)
	var errs []error
	for _, n := range ns {
		if ctx.Err() != nil {
			// Not delivered: give it back at once.
			if err := r.outbox.FailNotification(work, n.Entry.ReleaseID, n.Entry.Seq, n.NextAt, n.LastError, false); err != nil && !errors.Is(err, relman.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		derr := r.o.Sink.Deliver(work, n)
		if derr == nil {
			if err := r.outbox.AckNotification(work, n.Entry.ReleaseID, n.Entry.Seq); err != nil {
				errs = append(errs, fmt.Errorf("runner: ack %s: %w", n.Key(), err))
				continue
			}
			rep.Delivered++
			continue
		}
		attempts := n.Attempts + 1
		dead := attempts >= r.o.MaxAttempts
		next := r.m.Now().Add(r.backoff(attempts))
		msg := derr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		if err := r.outbox.FailNotification(work, n.Entry.ReleaseID, n.Entry.Seq, next, msg, dead); err != nil && !errors.Is(err, relman.ErrNotFound) {
			errs = append(errs, fmt.Errorf("runner: record failed delivery of %s: %w", n.Key(), err))
		}
		if dead {
			rep.Dead++
			r.log.Error("notification dead-lettered", "key", n.Key(), "attempts", attempts, "err", msg)
		} else {
			rep.Failed++
			r.log.Warn("delivery failed", "key", n.Key(), "attempt", attempts, "retry_at", next.Format(time.RFC3339), "err", msg)
		}
	}
	return errors.Join(errs...)
}

// backoff returns the wait after the attempts-th failed delivery:
// Backoff doubled attempts-1 times, at most MaxBackoff.
func (r *Runner) backoff(attempts int) time.Duration {
	d := r.o.Backoff
	for i := 1; i < attempts && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.o.MaxBackoff)
}

// DeadLetters returns up to n dead-lettered notifications, oldest first
// (n at most 1000). The store must have its outbox enabled.
func (r *Runner) DeadLetters(ctx context.Context, n int) ([]relman.Notification, error) {
	if r.outbox == nil || !r.outbox.OutboxEnabled() {
		return nil, invalid("store", "outbox_enabled", "")
	}
	if n <= 0 || n > 1000 {
		return nil, invalid("n", "range", "1..1000")
	}
	return r.outbox.ListNotifications(ctx, true, n)
}

// Replay makes a dead-lettered notification, named by its key
// ("<release id>/<seq>"), pending again, to be delivered on the next
// pass. It returns an error matching relman.ErrNotFound if there is no
// such dead letter, and a *relman.ValidationError for a malformed key.
func (r *Runner) Replay(ctx context.Context, key string) error {
	if r.outbox == nil || !r.outbox.OutboxEnabled() {
		return invalid("store", "outbox_enabled", "")
	}
	id, seq, err := ParseKey(key)
	if err != nil {
		return err
	}
	return r.outbox.ReplayNotification(ctx, id, seq, r.m.Now())
}

// ParseKey splits an idempotency key ("<release id>/<seq>") into its
// release id and sequence number, or returns a *relman.ValidationError
// naming field "key".
func ParseKey(key string) (releaseID string, seq int64, err error) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			n, perr := strconv.ParseInt(key[i+1:], 10, 64)
			if perr != nil || n <= 0 || i == 0 {
				break
			}
			return key[:i], n, nil
		}
	}
	return "", 0, invalid("key", "format", "<release id>/<seq>")
}
