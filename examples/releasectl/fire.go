package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// requestFlags are the flags that build a relman.Request: fire and check
// share them, so that a dry run asks exactly what the real call will do.
type requestFlags struct {
	reason     string
	window     string
	start, end string
	params     mapFlag
	roles      stringsFlag
	override   bool
}

func (rf *requestFlags) bind(fs *flag.FlagSet) {
	rf.params = mapFlag{}
	fs.StringVar(&rf.reason, "reason", "", "why (reject, cancel and rollback require one; it goes into the audit trail)")
	fs.StringVar(&rf.window, "window", "", "planned window for plan and replan, as `START/END` (RFC 3339)")
	fs.StringVar(&rf.start, "window-start", "", "planned window start (RFC 3339), with --window-end")
	fs.StringVar(&rf.end, "window-end", "", "planned window end (RFC 3339), with --window-start")
	fs.Var(rf.params, "param", "extra parameter for gates and hooks as `KEY=VALUE` (repeatable)")
	fs.Var(&rf.roles, "role", "a role the actor holds, e.g. freeze-override (repeatable; releasectl trusts its caller)")
	fs.BoolVar(&rf.override, "override-freeze", false, "emergency changes: plan or deploy inside a freeze (needs --reason and --role freeze-override; audited)")
}

func (rf *requestFlags) request(cl *cmdline) (relman.Request, error) {
	req := relman.Request{Actor: cl.actorValue(), Reason: rf.reason}
	req.Actor.Roles = rf.roles
	if rf.override {
		rf.params[relman.ParamOverride] = relman.OverrideFreeze
	}
	if len(rf.params) > 0 {
		req.Params = rf.params
	}
	start, end := rf.start, rf.end
	if rf.window != "" {
		if start != "" || end != "" {
			return req, usageErrorf("%s: give --window or --window-start/--window-end, not both", cl.cmd.name)
		}
		var ok bool
		start, end, ok = strings.Cut(rf.window, "/")
		if !ok {
			return req, usageErrorf("%s: --window %q: want START/END", cl.cmd.name, rf.window)
		}
	}
	if start == "" && end == "" {
		return req, nil
	}
	if start == "" || end == "" {
		return req, usageErrorf("%s: a window needs both a start and an end", cl.cmd.name)
	}
	s, err := parseTime(start)
	if err != nil {
		return req, usageErrorf("%s: window start: %v", cl.cmd.name, err)
	}
	e, err := parseTime(end)
	if err != nil {
		return req, usageErrorf("%s: window end: %v", cl.cmd.name, err)
	}
	if !e.After(s) {
		return req, usageErrorf("%s: window end %s is not after its start %s", cl.cmd.name, fmtTime(e), fmtTime(s))
	}
	req.Window = &relman.Span{Start: s, End: e}
	return req, nil
}

func fireCmd() *command {
	var rf requestFlags
	c := &command{
		name:    "fire",
		remote:  true,
		args:    "<id> <event>",
		summary: "fire an event on a release (approve, plan, start, …)",
		help: `
Fires an event: every gate of the event judges the release, and if none
refuses, the release moves to the next stage and the change is recorded
in its audit trail with the actor and the reason. If any gate refuses,
nothing changes, every refusal is listed and the exit code is 1.

'releasectl lifecycle' lists the events and their gates.

  releasectl fire pay-1.2.0 approve --reason "CAB 2026-03-02"
  releasectl fire pay-1.2.0 plan --window 2026-03-03T22:00:00Z/2026-03-04T00:00:00Z
  releasectl fire pay-1.2.0 cancel --reason "superseded by 1.3.0"

An emergency change may plan or deploy inside a freeze when the actor
holds the freeze-override role and gives a reason; the override is
recorded in the audit trail:

  releasectl fire pay-1.1.6 deploy --override-freeze --role freeze-override --reason "INC0012345: card payments down"`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) { rf.bind(fs) }
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "event"); err != nil {
			return err
		}
		id, ev := cl.args[0], relman.Event(cl.args[1])
		req, err := rf.request(cl)
		if err != nil {
			return err
		}
		s, before, err := a.openRelease(ctx, cl, id)
		if err != nil {
			return err
		}
		defer s.close()
		r, err := s.api.Fire(ctx, id, ev, req)
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		fmt.Fprintf(a.stdout, "%s: %s → %s (%s by %s)\n", id, before.Stage, r.Stage, ev, cl.actor)
		fmt.Fprintf(a.stdout, "next: %s\n", nextEvents(s.api.Lifecycle(), r.Stage))
		return nil
	}
	return c
}

// checkResult is check's JSON output.
type checkResult struct {
	ID          string         `json:"id"`
	Event       relman.Event   `json:"event"`
	From        relman.Stage   `json:"from,omitempty"`
	To          relman.Stage   `json:"to,omitempty"`
	Allowed     bool           `json:"allowed"`
	NotYetUntil *time.Time     `json:"not_yet_until,omitempty"` // every refusal lifts by itself then
	Failures    []checkFailure `json:"failures,omitempty"`
}

type checkFailure struct {
	Gate        string     `json:"gate"`
	Reason      string     `json:"reason"`
	NotYetUntil *time.Time `json:"not_yet_until,omitempty"`
}

func checkCmd() *command {
	var (
		rf      requestFlags
		wait    bool
		timeout time.Duration
	)
	c := &command{
		name:    "check",
		remote:  true,
		args:    "<id> <event>",
		summary: "dry run: could the event fire now? exit 0 yes, 1 no, 5 not yet (with every reason)",
		help: `
Asks whether an event could fire on a release now, without changing
anything: every gate runs and every refusal is listed. Exit code 0 means
the event may fire, 1 that it may not, 5 that it may not yet but time
alone will allow it — so a CI pipeline can gate its deploy step on it:

  releasectl check pay-1.2.0 deploy && ./deploy.sh && releasectl fire pay-1.2.0 deploy

A refusal that time alone will lift (the window has not opened yet) is
reported as "not yet" with the time it lifts (exit 5). With --wait, check
blocks while the answer is "not yet", saying on standard error until
when, and asks again when the refusal should have lifted (and at least
every minute), until the answer is yes or no, or --timeout passes (then
it exits 5). Give the same flags fire would get (--reason, --window) to
ask exactly the same question.

  releasectl check pay-1.2.0 deploy --wait --timeout 2h && ./deploy.sh`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		rf.bind(fs)
		fs.BoolVar(&wait, "wait", false, "while the answer is \"not yet\", wait and ask again")
		fs.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (0: no limit)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "event"); err != nil {
			return err
		}
		if wait && cl.now != "" {
			return usageErrorf("check: --wait with --now would wait forever: the clock does not move")
		}
		if timeout < 0 || (timeout > 0 && !wait) {
			return usageErrorf("check: --timeout needs --wait and a positive duration")
		}
		id, ev := cl.args[0], relman.Event(cl.args[1])
		req, err := rf.request(cl)
		if err != nil {
			return err
		}
		s, r, err := a.openRelease(ctx, cl, id)
		if err != nil {
			return err
		}
		defer s.close()
		res := checkResult{ID: id, Event: ev, From: r.Stage}
		for _, e := range s.api.Lifecycle().Events() {
			if e.Name == ev {
				res.To = e.To
			}
		}
		cerr := s.api.Check(ctx, id, ev, req)
		if wait {
			if cerr, err = a.waitCheck(ctx, s.api, id, ev, req, cerr, timeout); err != nil {
				return explain(cl, id, err)
			}
		}
		var ge *relman.GateError
		switch {
		case cerr == nil:
			res.Allowed = true
		case errors.As(cerr, &ge):
			for _, f := range ge.Failures {
				cf := checkFailure{Gate: f.Gate, Reason: trimLib(f.Err.Error())}
				var ny *relman.NotYetError
				if errors.As(f.Err, &ny) {
					until := ny.Until.UTC()
					cf.NotYetUntil = &until
					cf.Reason = trimLib(ny.Err.Error())
				}
				res.Failures = append(res.Failures, cf)
			}
			if at, ok := ge.NotYet(); ok {
				at = at.UTC()
				res.NotYetUntil = &at
			}
		case errors.Is(cerr, relman.ErrInvalidTransition), errors.Is(cerr, relman.ErrForbidden):
			res.Failures = append(res.Failures, checkFailure{Gate: "lifecycle", Reason: explain(cl, id, cerr).Error()})
		default:
			return explain(cl, id, cerr)
		}
		if cl.json() {
			if err := writeJSON(a.stdout, res); err != nil {
				return err
			}
		} else if res.Allowed {
			fmt.Fprintf(a.stdout, "ok: %s may fire on %s now (%s → %s)\n", ev, id, res.From, res.To)
		} else if ge != nil {
			t := newTable(a.stdout, "GATE", "VERDICT", "REASON")
			for _, f := range res.Failures {
				verdict := "no"
				if f.NotYetUntil != nil {
					verdict = "not yet, from " + fmtTime(*f.NotYetUntil)
				}
				t.row(f.Gate, verdict, f.Reason)
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		if res.Allowed {
			return nil
		}
		return explain(cl, id, cerr)
	}
	return c
}

func testCmd() *command {
	var detail string
	c := &command{
		name:    "test",
		args:    "<id> <suite> pass|fail",
		summary: "record a test result (the evidence the fail and pass gates read)",
		help: `
Records the result of a test suite run against a release. The pass event
needs the latest result of every required suite in this test round to
have passed; the fail event (back to building for corrections) needs a
failed one.

  releasectl test pay-1.2.0 e2e fail --detail "3DS redirect loops"
  releasectl fire pay-1.2.0 fail --reason "e2e red"`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&detail, "detail", "", "what happened (a failure's cause, a report link)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "suite", "pass|fail"); err != nil {
			return err
		}
		id, suite, verdict := cl.args[0], cl.args[1], cl.args[2]
		var passed bool
		switch verdict {
		case "pass", "passed":
			passed = true
		case "fail", "failed":
		default:
			return usageErrorf("test: verdict must be pass or fail, not %q", verdict)
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		r, err := s.m.RecordTest(ctx, id, cl.actorValue(), relman.TestResult{Suite: suite, Passed: passed, Detail: detail})
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		word := "passed"
		if !passed {
			word = "failed"
		}
		fmt.Fprintf(a.stdout, "%s: recorded %s %s (stage %s)\n", id, suite, word, r.Stage)
		return nil
	}
	return c
}

func reviewCmd() *command {
	var summary string
	var lessons, followUps stringsFlag
	c := &command{
		name:    "review",
		args:    "<id> successful|successful_with_issues|failed",
		summary: "record the post-implementation review (the close gate reads it)",
		help: `
Records the post-implementation review of a release in operation; the
close event requires one.

  releasectl review pay-1.2.0 successful --summary "declines down 40%" --lesson "book a longer window"`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&summary, "summary", "", "what the release achieved")
		fs.Var(&lessons, "lesson", "a lesson learned (repeatable)")
		fs.Var(&followUps, "follow-up", "a follow-up action (repeatable)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "outcome"); err != nil {
			return err
		}
		id, outcome := cl.args[0], relman.Outcome(cl.args[1])
		switch outcome {
		case relman.OutcomeSuccessful, relman.OutcomeSuccessfulWithIssues, relman.OutcomeFailed:
		default:
			return usageErrorf("review: outcome must be successful, successful_with_issues or failed, not %q", outcome)
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		r, err := s.m.RecordReview(ctx, id, cl.actorValue(), relman.Review{Outcome: outcome, Summary: summary,
			Lessons: lessons, FollowUp: followUps})
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		fmt.Fprintf(a.stdout, "%s: review recorded (%s); next: %s\n", id, outcome, nextEvents(s.m.Lifecycle(), r.Stage))
		return nil
	}
	return c
}

// maxPoll bounds the pause between two checks of check --wait.
var maxPoll = time.Minute

// waitCheck asks again, while the answer cerr is "not yet", when the
// refusal should lift (at most maxPoll later), with a line on stderr each
// time; it returns the last answer once it is another, or when timeout
// (if not 0) has passed. err is set only when ctx ends.
func (a *app) waitCheck(ctx context.Context, api backend, id string, ev relman.Event, req relman.Request, cerr error, timeout time.Duration) (last, err error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for relman.Classify(cerr) == relman.ClassNotYet {
		var until time.Time
		var ge *relman.GateError
		if errors.As(cerr, &ge) {
			until, _ = ge.NotYet()
		}
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			fmt.Fprintf(a.stderr, "check: %s %s: still not yet after %s; giving up\n", id, ev, timeout)
			return cerr, nil
		}
		pause := min(until.Sub(now)+100*time.Millisecond, maxPoll)
		if !deadline.IsZero() {
			pause = min(pause, deadline.Sub(now))
		}
		pause = max(pause, 100*time.Millisecond)
		fmt.Fprintf(a.stderr, "check: %s %s: not yet, from %s; asking again in %s\n", id, ev, fmtTime(until), pause.Round(time.Second))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return cerr, ctx.Err()
		case <-t.C:
		}
		cerr = api.Check(ctx, id, ev, req)
	}
	return cerr, nil
}
