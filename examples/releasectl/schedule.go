package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
)

func scheduleCmd() *command {
	var at, expires, reason string
	var window, asap bool
	params := mapFlag{}
	c := &command{
		name:    "schedule",
		remote:  true,
		args:    "<id> <event>",
		summary: "fire an event later: at a time, when the window opens, or as soon as allowed",
		help: `
Records that the runner ('releasectl runner', or any host running
relman's runner) is to fire <event> on release <id> later, as the actor
who scheduled it, through every gate:

  --at TIME     at TIME (not in the past)
  --window      when the release's planned window opens (follows a replan)
  --asap        as soon as every gate allows it (the default without --at)

With --expires, the event is abandoned if it has not fired by then. A
"not yet" answer (a window that has not opened) defers it to the time the
refusal names; a "no" fails it once, with every reason recorded. Each of
these is an audit entry. Prints the scheduled event's id.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&at, "at", "", "fire at this `TIME` (RFC 3339)")
		fs.BoolVar(&window, "window", false, "fire when the release's window opens")
		fs.BoolVar(&asap, "asap", false, "fire as soon as every gate allows it")
		fs.StringVar(&expires, "expires", "", "abandon it if not fired by this `TIME` (RFC 3339)")
		fs.StringVar(&reason, "reason", "", "why; recorded with the event when it fires")
		fs.Var(params, "param", "parameter for gates and hooks as `KEY=VALUE` (repeatable)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "event"); err != nil {
			return err
		}
		id, ev := cl.args[0], relman.Event(cl.args[1])
		req := relman.ScheduleRequest{Event: ev, Reason: reason}
		if len(params) > 0 {
			req.Params = params
		}
		n := 0
		for _, set := range []bool{at != "", window, asap} {
			if set {
				n++
			}
		}
		if n > 1 {
			return usageErrorf("schedule: give one of --at, --window and --asap")
		}
		switch {
		case at != "":
			t, err := parseTime(at)
			if err != nil {
				return usageErrorf("schedule: --at: %v", err)
			}
			req.Timing, req.At = relman.TimingAt, t
		case window:
			req.Timing = relman.TimingWindow
		default:
			req.Timing = relman.TimingASAP
		}
		if expires != "" {
			t, err := parseTime(expires)
			if err != nil {
				return usageErrorf("schedule: --expires: %v", err)
			}
			req.Expires = t
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		r, se, err := s.api.Schedule(ctx, id, cl.actorValue(), req)
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, se)
		}
		due, _ := se.DueAt(r)
		fmt.Fprintf(a.stdout, "%s: %s scheduled as %s (%s), due %s", id, ev, se.ID, se.Timing, fmtTime(due))
		if !se.Expires.IsZero() {
			fmt.Fprintf(a.stdout, ", expires %s", fmtTime(se.Expires))
		}
		fmt.Fprintln(a.stdout)
		return nil
	}
	return c
}

func scheduledCmd() *command {
	var until string
	c := &command{
		name:    "scheduled",
		remote:  true,
		args:    "[<id>]",
		summary: "list scheduled events: one release's, or every pending one",
		help: `
With <id>, lists the release's scheduled events, pending and recently
finished, with their state and result. Without, lists every pending
scheduled event across releases, earliest first, due before --until
(default: a year from now).`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&until, "until", "", "without <id>: list events due before this `TIME` (default: a year ahead)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) > 1 {
			return cl.want("id")
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		if len(cl.args) == 1 {
			id := cl.args[0]
			r, err := s.api.Get(ctx, id)
			if err != nil {
				return explain(cl, id, err)
			}
			if cl.json() {
				return writeJSON(a.stdout, r.Scheduled)
			}
			t := newTable(a.stdout, "JOB", "EVENT", "TIMING", "DUE", "EXPIRES", "STATE", "BY", "RESULT")
			for _, se := range r.Scheduled {
				due, _ := se.DueAt(r)
				t.row(se.ID, string(se.Event), string(se.Timing), fmtTime(due), fmtTime(se.Expires), string(se.State), se.Actor.ID, se.Result)
			}
			return t.flush()
		}
		end := s.api.Now().AddDate(1, 0, 0)
		if until != "" {
			if end, err = parseTime(until); err != nil {
				return usageErrorf("scheduled: --until: %v", err)
			}
		}
		up, err := s.api.Upcoming(ctx, end, 0)
		if err != nil {
			return explain(cl, "", err)
		}
		if cl.json() {
			if up == nil {
				up = []relman.UpcomingEvent{}
			}
			return writeJSON(a.stdout, up)
		}
		t := newTable(a.stdout, "DUE", "RELEASE", "JOB", "EVENT", "TIMING", "EXPIRES", "BY")
		for _, u := range up {
			t.row(fmtTime(u.DueAt), u.ReleaseID, u.Event.ID, string(u.Event.Event), string(u.Event.Timing), fmtTime(u.Event.Expires), u.Event.Actor.ID)
		}
		return t.flush()
	}
	return c
}

func unscheduleCmd() *command {
	var reason string
	c := &command{
		name:    "unschedule",
		args:    "<id> <job>",
		summary: "cancel a pending scheduled event",
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&reason, "reason", "", "why (goes into the audit trail)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "job"); err != nil {
			return err
		}
		id, job := cl.args[0], cl.args[1]
		s, _, err := a.openRelease(ctx, cl, id)
		if err != nil {
			return err
		}
		defer s.close()
		if _, err := s.m.CancelScheduled(ctx, id, cl.actorValue(), job, reason); err != nil {
			if errors.Is(err, relman.ErrNotFound) {
				return &wrapped{msg: fmt.Sprintf("unschedule: %s: no scheduled event %q (see 'releasectl scheduled %s')", id, job, id), err: err}
			}
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, map[string]string{"release_id": id, "job": job, "state": string(relman.ScheduleCancelled)})
		}
		fmt.Fprintf(a.stdout, "%s: %s cancelled\n", id, job)
		return nil
	}
	return c
}

func runnerCmd() *command {
	var (
		interval  time.Duration
		once      bool
		webhook   string
		secretEnv string
		ro        rolloutOptions
	)
	c := &command{
		name:    "runner",
		summary: "run the runner in the foreground: fire what is due, deliver notifications",
		help: `
Runs relman's runner until interrupted (Ctrl-C), printing a line for
every action: a scheduled event fired, deferred, failed or expired,
approvals that expired, a notification that could not be delivered. Any
number of runners may share one store; each release is worked on by one at
a time.

With --webhook, every committed change is also POSTed to URL as signed
JSON (see relman's runner.Webhook), at least once and in order per
release. The store must keep an outbox: set RELMAN_OUTBOX=on for every
releasectl (and host) that writes to it. The HMAC secret is read from the
environment variable named by --secret-env (at least 32 bytes).

Rollouts ('releasectl rollout') are driven here too: give the runner
--deploy-cmd and --probe (see 'releasectl rollout --help').

--once makes one pass and exits.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.DurationVar(&interval, "interval", runner.DefaultInterval, "pause between passes")
		fs.BoolVar(&once, "once", false, "make one pass and exit")
		fs.StringVar(&webhook, "webhook", "", "deliver notifications to this `URL`")
		fs.StringVar(&secretEnv, "secret-env", "RELMAN_WEBHOOK_SECRET", "the environment `VARIABLE` holding the webhook's HMAC secret")
		ro.bind(fs)
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		opts, err := ro.options(a)
		if err != nil {
			return err
		}
		s, err := a.open(ctx, cl, opts...)
		if err != nil {
			return err
		}
		defer s.close()
		o := runner.Options{Interval: interval, Logger: slog.New(newLineHandler(a.stdout, s.m.Now))}
		if webhook != "" {
			hook, err := runner.NewWebhook(webhook, []byte(a.getenv(secretEnv)), runner.WebhookOptions{})
			if err != nil {
				return explain(cl, "", fmt.Errorf("--webhook, --secret-env %s: %w", secretEnv, err))
			}
			o.Sink = hook
		}
		rn, err := runner.New(s.m, o)
		var ve *relman.ValidationError
		if errors.As(err, &ve) && o.Sink != nil && strings.Contains(err.Error(), "sink") {
			return usageErrorf("runner: --webhook needs a store with an outbox: set RELMAN_OUTBOX=on for every program that writes to %s", s.store)
		}
		if err != nil {
			return explain(cl, "", err)
		}
		if once {
			_, err := rn.Tick(ctx)
			return err
		}
		fmt.Fprintf(a.stdout, "runner %s on %s, every %s (Ctrl-C stops)\n", rn.Owner(), a.stores.Describe(cl.store), interval)
		return rn.Run(ctx)
	}
	return c
}

func outboxCmd() *command {
	c := &command{
		name:    "outbox",
		args:    "pending|dead|replay <key>",
		summary: "list undelivered or dead-lettered notifications, or replay one",
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("outbox: want pending, dead or replay <key>")
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		ob, ok := s.m.Store().(relman.Outbox)
		if !ok || !ob.OutboxEnabled() {
			return usageErrorf("outbox: the store keeps no outbox: set RELMAN_OUTBOX=on")
		}
		switch cl.args[0] {
		case "pending", "dead":
			if err := cl.want("pending|dead"); err != nil {
				return err
			}
			ns, err := ob.ListNotifications(ctx, cl.args[0] == "dead", 1000)
			if err != nil {
				return explain(cl, "", err)
			}
			if cl.json() {
				if ns == nil {
					ns = []relman.Notification{}
				}
				return writeJSON(a.stdout, ns)
			}
			t := newTable(a.stdout, "KEY", "ACTION", "EVENT", "ATTEMPTS", "NEXT", "LAST ERROR")
			for _, n := range ns {
				t.row(n.Key(), string(n.Entry.Action), string(n.Entry.Event), fmt.Sprint(n.Attempts), fmtTime(n.NextAt), n.LastError)
			}
			return t.flush()
		case "replay":
			if err := cl.want("replay", "key"); err != nil {
				return err
			}
			id, seq, err := runner.ParseKey(cl.args[1])
			if err != nil {
				return explain(cl, "", err)
			}
			if err := ob.ReplayNotification(ctx, id, seq, s.m.Now()); err != nil {
				return explain(cl, id, err)
			}
			fmt.Fprintf(a.stdout, "%s will be delivered again on the runner's next pass\n", cl.args[1])
			return nil
		}
		return usageErrorf("outbox: unknown %q: want pending, dead or replay <key>", cl.args[0])
	}
	return c
}

// lineHandler writes a log record as one line: the time, the message and
// its attributes.
type lineHandler struct {
	w     io.Writer
	now   func() time.Time
	attrs []slog.Attr
}

func newLineHandler(w io.Writer, now func() time.Time) *lineHandler {
	if w == nil {
		w = os.Stdout
	}
	return &lineHandler{w: w, now: now}
}

func (h *lineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.now().UTC().Format("2006-01-02T15:04:05Z"))
	b.WriteString("  ")
	b.WriteString(r.Message)
	if r.Level >= slog.LevelWarn {
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
	}
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
