package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/examples/internal/stores"
	"github.com/relman-dev/relman/runner"
)

func demoCmd() *command {
	var id string
	c := &command{
		name:    "demo",
		summary: "walk a realistic release, its canary's rollback and its fix, from need to closed",
		help: `
Walks one release through the whole lifecycle on the chosen store, saying
at each step what happens and why: a need is raised with an incomplete
business case (refused, completed, approved), planning is refused until
every task has a team and a window is booked, the window first asked
for falls in a freeze and the calendar finds the next slot, a test fails and the
release goes back for corrections, a risk is recorded and assessed (high:
two approvals of the change advisory board needed), the owner's
self-approval is refused and the board approves, a deploy before the
window opens is told "not yet", so it is scheduled and the runner fires it
by itself when the window opens. The runner rolls it out to staging, then
to a production canary whose error rate breaks its limit at 25 %: it is
rolled back automatically, with the measurements as the reason. The fix,
2.4.1, goes through the same path to 100 % and, after its review, is
closed; both audit trails are verified.

Time is simulated: the clock starts twelve days ago (or at --now) and jumps
ahead between steps, so the demo takes no time. Unless --store (or
RELMAN_STORE) names a store, the demo writes to a new SQLite file in the
temporary directory, never to your default store, and says where; the
release stays there afterwards, for show, history and metrics.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&id, "id", "", "id of the demo release (default: demo-invoices-<start time>)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		start := time.Now().Add(-12 * 24 * time.Hour) // so that the walk ends before now
		if cl.now != "" {
			t, err := parseTime(cl.now)
			if err != nil {
				return usageErrorf("demo: --now: %v", err)
			}
			start = t
		}
		temp := !cl.set("store") && a.getenv("RELMAN_STORE") == ""
		if temp {
			// Not the user's own store: a fresh SQLite file, kept for a look
			// afterwards (run prints where).
			dir, err := os.MkdirTemp("", "relman-demo-")
			if err != nil {
				return storageErrorf("demo: %v", err)
			}
			cl.store = "sqlite:" + filepath.Join(dir, "relman.db")
		}
		d := &demo{a: a, cl: cl, clk: &simClock{now: start.UTC().Truncate(time.Minute)}, tempStore: temp}
		cl.now = "" // the demo drives its own clock
		s, err := a.open(ctx, cl, relman.WithClock(d.clk.Now), relman.WithWindows(demoWindows(d.clk.now)...),
			relman.WithEnvironments(demoEnvironments), relman.WithDeployer(demoDeployer{}), relman.WithProbe("errors", demoProbe))
		if err != nil {
			return err
		}
		defer s.close()
		d.m = s.m
		d.id = id
		if d.id == "" {
			// A fresh id: demo-invoices-<start>, then -2, -3 … if taken.
			base := "demo-invoices-" + d.clk.now.Format("20060102-1504")
			d.id = base
			for n := 2; ; n++ {
				_, err := s.m.Get(ctx, d.id)
				if errors.Is(err, relman.ErrNotFound) {
					break
				}
				if err != nil {
					return explain(cl, d.id, err)
				}
				d.id = fmt.Sprintf("%s-%d", base, n)
			}
		}
		return d.run(ctx)
	}
	return c
}

// simClock is the demo's simulated time.
type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }

// demo walks one release; each step says what happens and does it.
type demo struct {
	a      *app
	cl     *cmdline
	m      *relman.Manager
	clk    *simClock
	id     string
	out    []demoResult
	window *relman.Span // the planned window, once booked

	tempStore bool // the store is a temporary file the demo made
}

// demoEnvironments: staging before production.
var demoEnvironments = relman.Environments{List: []relman.Environment{{Name: "staging"}, {Name: "production", Production: true}}, MinBeforeProduction: 1}

// demoDeployer stands for the host's deployment tooling: the demo only
// records what relman asks of it.
type demoDeployer struct{}

func (demoDeployer) Deploy(context.Context, relman.DeployRequest) error   { return nil }
func (demoDeployer) Rollback(context.Context, relman.DeployRequest) error { return nil }

// demoProbe stands for a metrics system: 2.4.0 fails in production once
// it takes a quarter of the traffic (7 % of requests fail); everything
// else stays at 0.4 %.
var demoProbe = relman.ProbeFunc(func(_ context.Context, q relman.ProbeQuery) (float64, error) {
	if q.Release.Version == "2.4.0" && q.Environment == "production" && q.Step >= 1 {
		return 0.07, nil
	}
	return 0.004, nil
})

// demoPlan is the demo's canary: its steps, the error-rate check, three
// one-minute measurements a step, automatic rollback.
func demoPlan(env string) relman.RolloutPlan {
	steps := []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}}
	if env == "staging" {
		steps = []relman.RolloutStep{{Percent: 50}, {Percent: 100}}
	}
	limit := 0.05
	return relman.RolloutPlan{Steps: steps, OnFailure: relman.FailureRollback,
		Verification: relman.Verification{Interval: time.Minute, Measurements: 3,
			Checks: []relman.ProbeCheck{{Name: "error-rate", Probe: "errors", Query: "5xx / all", Max: &limit}}}}
}

// rollout returns a step that starts a rollout of release id to env and
// lets the runner drive it, a simulated minute at a time, to its end.
func (d *demo) rollout(id, env string) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		if _, err := d.m.StartRollout(ctx, id, ops, env, demoPlan(env)); err != nil {
			return demoResult{}, err
		}
		rn, err := runner.New(d.m, runner.Options{})
		if err != nil {
			return demoResult{}, err
		}
		res := demoResult{Kind: "rollout", Actor: ops.ID}
		for range 60 {
			rep, err := rn.Tick(ctx)
			if err != nil {
				return demoResult{}, err
			}
			for _, a := range rep.Actions {
				if a.Rollout != "" && !strings.HasSuffix(a.Detail, " started") && !strings.Contains(a.Detail, ": measured ") {
					res.Reasons = append(res.Reasons, a.Detail)
				}
			}
			r, err := d.m.Get(ctx, id)
			if err != nil {
				return demoResult{}, err
			}
			if !r.Rollout.Active() {
				dep := r.Deployments[len(r.Deployments)-1]
				res.Detail = fmt.Sprintf("%s to %s: %s after %d of %d steps; release %s", id, env, dep.State, dep.Steps, len(r.Rollout.Plan.Steps), r.Stage)
				return res, nil
			}
			d.clk.now = d.clk.now.Add(time.Minute)
		}
		return demoResult{}, fmt.Errorf("demo: the rollout of %s to %s did not finish", id, env)
	}
}

// fixID is the id of the release that fixes the demo release.
func (d *demo) fixID() string { return d.id + "-fix" }

// fixUpToAuthorized creates the fix release and takes it to authorized.
func (d *demo) fixUpToAuthorized(ctx context.Context) (demoResult, error) {
	id := d.fixID()
	_, err := d.m.Create(ctx, &relman.Release{
		ID: id, Title: "Faster invoice PDFs, cache fixed", Version: "2.4.1", Kind: relman.KindPatch, Model: relman.ModelNormal,
		Requester: olga.ID, Owner: olga.ID, Teams: []string{"billing"}, Services: []string{"invoices", "pdf-render"},
		Case:         relman.BusinessCase{Problem: "2.4.0 was rolled back: PDFs failed under load", ExpectedValue: 50000, Cost: 2000, Feasibility: relman.FeasibilityHigh},
		Tasks:        []relman.Task{{Name: "key the cache by template revision", Team: "billing", Duration: 4 * time.Hour}},
		RollbackPlan: "redeploy 2.3.9", RequiredSuites: []string{"unit", "integration", "load"},
	}, olga)
	if err != nil {
		return demoResult{}, err
	}
	fire := func(ev relman.Event, by relman.Actor, req relman.Request) error {
		req.Actor = by
		_, err := d.m.Fire(ctx, id, ev, req)
		return err
	}
	if err := fire(relman.EventApprove, carl, relman.Request{Reason: "fix of a rolled-back release"}); err != nil {
		return demoResult{}, err
	}
	slot, err := d.m.NextSlot(ctx, d.clk.now, 2*time.Hour, []string{"invoices", "pdf-render"}, id, 0)
	if err != nil {
		return demoResult{}, err
	}
	for _, st := range []struct {
		ev  relman.Event
		req relman.Request
	}{{relman.EventPlan, relman.Request{Window: &slot}}, {relman.EventStart, relman.Request{}}, {relman.EventSubmit, relman.Request{}}} {
		if err := fire(st.ev, olga, st.req); err != nil {
			return demoResult{}, err
		}
	}
	for _, suite := range []string{"unit", "integration", "load"} {
		if _, err := d.m.RecordTest(ctx, id, qa, relman.TestResult{Suite: suite, Passed: true}); err != nil {
			return demoResult{}, err
		}
	}
	if err := fire(relman.EventPass, qa, relman.Request{}); err != nil {
		return demoResult{}, err
	}
	if _, err := d.m.Assess(ctx, id, olga); err != nil {
		return demoResult{}, err
	}
	for _, by := range []relman.Actor{carl, dana} {
		if _, err := d.m.Approve(ctx, id, by, relman.RoleCAB, "cache fix reviewed"); err != nil {
			return demoResult{}, err
		}
	}
	if _, err := d.m.Approve(ctx, id, relman.Actor{ID: "mona", Roles: []string{relman.RoleChangeManager}}, relman.RoleChangeManager, "ok"); err != nil {
		return demoResult{}, err
	}
	if err := fire(relman.EventAuthorize, carl, relman.Request{Reason: "fix approved"}); err != nil {
		return demoResult{}, err
	}
	return demoResult{Kind: "transition", Actor: carl.ID, Event: relman.EventAuthorize, From: relman.StageVerified, To: relman.StageAuthorized,
		Detail: fmt.Sprintf("%s (2.4.1) authorized for %s", id, fmtSpan(&slot))}, nil
}

// demoWindows are the demo's calendar: nightly maintenance, 22:00–02:00
// UTC, and a freeze of invoices for billing's month-end run from the day
// after next until the morning after. They exist only in the demo's
// Manager (relman.WithWindows), never in the store.
func demoWindows(start time.Time) []relman.Window {
	day := start.UTC().Truncate(24 * time.Hour)
	return []relman.Window{
		{ID: "demo-nightly", Name: "Nightly maintenance", Kind: relman.WindowMaintenance, TimeZone: "UTC",
			Start: day.Add(-2 * time.Hour), End: day.Add(2 * time.Hour), RRule: "FREQ=DAILY"},
		{ID: "demo-month-end", Name: "Billing month-end run", Kind: relman.WindowFreeze, TimeZone: "UTC",
			Start: day.AddDate(0, 0, 2), End: day.AddDate(0, 0, 3).Add(6 * time.Hour), Services: []string{"invoices"},
			Reason: "invoices are being issued"},
	}
}

// demoStep is one step of the walk: time passes, someone does something.
type demoStep struct {
	wait time.Duration // simulated time before the step
	say  string        // what happens, for people
	do   func(ctx context.Context) (demoResult, error)
}

// demoResult is what one step did; -o json prints the list of them.
type demoResult struct {
	Step      int          `json:"step"`
	At        time.Time    `json:"at"`
	Say       string       `json:"say"`
	Kind      string       `json:"kind"` // create, transition, refused, edit, evidence, risk, assess, approval, schedule, rollout, verify
	Actor     string       `json:"actor"`
	Event     relman.Event `json:"event,omitempty"`
	From      relman.Stage `json:"from,omitempty"`
	To        relman.Stage `json:"to,omitempty"`
	RefusedBy []string     `json:"refused_by,omitempty"` // "gate: reason"
	Reasons   []string     `json:"reasons,omitempty"`    // of a risk assessment; a rollout's steps
	Detail    string       `json:"detail,omitempty"`
}

var (
	rita = relman.Actor{ID: "rita", Roles: []string{"service-desk"}}
	olga = relman.Actor{ID: "olga", Roles: []string{"release-manager"}}
	carl = relman.Actor{ID: "carl", Roles: []string{relman.RoleCAB}}
	dana = relman.Actor{ID: "dana", Roles: []string{relman.RoleCAB}}
	dev  = relman.Actor{ID: "dev", Roles: []string{"developer"}}
	qa   = relman.Actor{ID: "qa", Roles: []string{"tester"}}
	ops  = relman.Actor{ID: "ops", Roles: []string{"operator"}}
)

func (d *demo) steps() []demoStep {
	// Olga first asks for the evening after next, 22:00–00:00 UTC, which
	// billing's month-end freeze covers (see demoWindows); the calendar
	// then finds the next slot, and d.window holds it.
	day := d.clk.now.Truncate(24 * time.Hour).Add(48 * time.Hour)
	wanted := &relman.Span{Start: day.Add(22 * time.Hour), End: day.Add(24 * time.Hour)}
	return []demoStep{
		{0, "Rita (service desk) raises a need: customers wait 30 s for invoice PDFs.",
			func(ctx context.Context) (demoResult, error) {
				r, err := d.m.Create(ctx, &relman.Release{
					ID: d.id, Title: "Faster invoice PDFs", Version: "2.4.0",
					Kind: relman.KindMinor, Model: relman.ModelNormal,
					Requester: rita.ID, Owner: olga.ID,
					Teams: []string{"billing"}, Services: []string{"invoices", "pdf-render"},
					Case:           relman.BusinessCase{Problem: "invoice PDFs take 30 s to render; 400 complaints a month", ExpectedValue: 50000},
					Tasks:          []relman.Task{{Name: "cache templates", Team: "billing", Duration: 6 * time.Hour}, {Name: "migrate PDF store", Duration: 2 * time.Hour}},
					RollbackPlan:   "redeploy 2.3.9; the template cache is additive",
					RequiredSuites: []string{"unit", "integration"},
				}, rita)
				if err != nil {
					return demoResult{}, err
				}
				return demoResult{Kind: "create", Actor: rita.ID, To: r.Stage, Detail: "business case: problem and value, no cost yet"}, nil
			}},
		{2 * time.Hour, "The change advisory board looks at the need, but the business case is incomplete.",
			d.refused(relman.EventApprove, carl, relman.Request{})},
		{26 * time.Hour, "Olga, the release manager, completes the business case: cost and feasibility.",
			d.edit(olga, "business case completed", func(r *relman.Release) error {
				r.Case.Cost, r.Case.Feasibility = 12000, relman.FeasibilityHigh
				return nil
			})},
		{time.Hour, "The board approves the need: 50 000 a year for 12 000.",
			d.fire(relman.EventApprove, carl, relman.Request{Reason: "worth 50k a year for 12k"})},
		{time.Hour, "Olga tries to plan it, but no window is booked and one task has no team.",
			d.refused(relman.EventPlan, olga, relman.Request{})},
		{10 * time.Minute, "She gives the PDF store migration to the platform team.",
			d.edit(olga, "task assigned", func(r *relman.Release) error {
				for i := range r.Tasks {
					if r.Tasks[i].Team == "" {
						r.Tasks[i].Team = "platform"
					}
				}
				r.Teams = append(r.Teams, "platform")
				return nil
			})},
		{5 * time.Minute, "She asks for " + fmtSpan(wanted) + ", but billing's month-end run freezes invoices then.",
			d.refused(relman.EventPlan, olga, relman.Request{Reason: "window booked", Window: wanted})},
		{5 * time.Minute, "She asks the calendar for the next slot of two hours and books it.",
			func(ctx context.Context) (demoResult, error) {
				slot, err := d.m.NextSlotFor(ctx, d.id, wanted.Start, wanted.Duration(), 0)
				if err != nil {
					return demoResult{}, err
				}
				d.window = &slot
				res, err := d.fire(relman.EventPlan, olga, relman.Request{Reason: "next free slot", Window: d.window})(ctx)
				res.Detail = "next free slot " + fmtSpan(d.window)
				return res, err
			}},
		{30 * time.Minute, "The developers start building.",
			d.fire(relman.EventStart, dev, relman.Request{})},
		{5 * time.Hour, "The build is ready and goes to testing.",
			d.fire(relman.EventSubmit, dev, relman.Request{Reason: "build 2.4.0-rc1"})},
		{time.Hour, "QA runs the unit suite: green.",
			d.test("unit", true, "")},
		{time.Hour, "QA runs the integration suite: red.",
			d.test("integration", false, "PDF totals off by one cent")},
		{5 * time.Minute, "Could it pass anyway? The pass gate says no.",
			d.refused(relman.EventPass, qa, relman.Request{})},
		{5 * time.Minute, "QA sends it back for corrections.",
			d.fire(relman.EventFail, qa, relman.Request{Reason: "integration: totals off by one cent"})},
		{2 * time.Hour, "The developers fix the rounding and resubmit.",
			d.fire(relman.EventSubmit, dev, relman.Request{Reason: "build 2.4.0-rc2: banker's rounding"})},
		{time.Hour, "A new test round: unit green…",
			d.test("unit", true, "")},
		{time.Hour, "…and integration green.",
			d.test("integration", true, "")},
		{5 * time.Minute, "Every required suite passed in this round: verified.",
			d.fire(relman.EventPass, qa, relman.Request{Reason: "rc2 green"})},
		{30 * time.Minute, "Olga records a risk: the PDF cache could serve stale totals (likelihood 3, impact 4).",
			func(ctx context.Context) (demoResult, error) {
				_, err := d.m.SetRisk(ctx, d.id, olga, relman.Risk{ID: "stale-cache", Title: "PDF cache serves stale totals",
					Category: "data", Likelihood: 3, Impact: 4, Status: relman.RiskOpen, Owner: "billing",
					Mitigation: "cache keyed by invoice revision; purge on deploy"})
				return demoResult{Kind: "risk", Actor: olga.ID, Detail: "stale-cache: 3 × 4 = 12, open"}, err
			}},
		{5 * time.Minute, "She assesses the release: every assessor gives a level and its reasons; the highest counts.",
			func(ctx context.Context) (demoResult, error) {
				r, err := d.m.Assess(ctx, d.id, olga)
				if err != nil {
					return demoResult{}, err
				}
				res := demoResult{Kind: "assess", Actor: olga.ID, Detail: fmt.Sprintf("risk %s; needs %s",
					r.Assessment.Level, policyNeeds(d.m.Policy(), r.Model, r.Assessment.Level))}
				for _, rs := range r.Assessment.Reasons() {
					res.Reasons = append(res.Reasons, rs.Explanation)
				}
				return res, nil
			}},
		{time.Hour, "The board is asked to authorize the deployment, but nobody has approved yet.",
			d.refused(relman.EventAuthorize, carl, relman.Request{})},
		{10 * time.Minute, "Olga offers to approve it herself: the owner may not.",
			func(ctx context.Context) (demoResult, error) {
				cur, err := d.m.Get(ctx, d.id)
				if err != nil {
					return demoResult{}, err
				}
				_, err = d.m.Approve(ctx, d.id, relman.Actor{ID: olga.ID, Roles: []string{relman.RoleCAB}}, relman.RoleCAB, "lgtm")
				if !errors.Is(err, relman.ErrSelfApproval) {
					return demoResult{}, fmt.Errorf("demo: self-approval should have been refused, got %v", err)
				}
				return demoResult{Kind: "refused", Actor: olga.ID, Event: "approval", From: cur.Stage,
					RefusedBy: []string{"policy: " + relman.ErrSelfApproval.Error() + " (she owns the release)"}}, nil
			}},
		{20 * time.Minute, "The change advisory board meets: Carl approves…",
			d.approve(carl, "mitigation is sound")},
		{5 * time.Minute, "…and Dana approves.",
			d.approve(dana, "rollback rehearsed in staging")},
		{10 * time.Minute, "Two CAB approvals for a high-risk change: the board authorizes the deployment.",
			d.fire(relman.EventAuthorize, carl, relman.Request{Reason: "CAB: 2 approvals, rollback plan checked"})},
		{time.Hour, "Ops is keen to deploy right away, but the window has not opened yet.",
			d.refused(relman.EventDeploy, ops, relman.Request{})},
		{5 * time.Minute, "So ops schedules the deploy for the moment the window opens, and goes home.",
			func(ctx context.Context) (demoResult, error) {
				_, s, err := d.m.Schedule(ctx, d.id, ops, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow,
					Expires: d.window.End, Reason: "deploy at the window's opening"})
				return demoResult{Kind: "schedule", Actor: ops.ID, Detail: fmt.Sprintf("%s: deploy when the window opens (%s), abandoned if not done by %s",
					s.ID, d.window.Start.Format("15:04"), d.window.End.Format("15:04"))}, err
			}},
		{0, "The window opens: the runner wakes and deploys by itself, through every gate.",
			func(ctx context.Context) (demoResult, error) {
				d.clk.now = d.window.Start
				rn, err := runner.New(d.m, runner.Options{})
				if err != nil {
					return demoResult{}, err
				}
				rep, err := rn.Tick(ctx)
				if err != nil {
					return demoResult{}, err
				}
				if len(rep.Actions) != 1 || rep.Actions[0].State != relman.ScheduleFired {
					return demoResult{}, fmt.Errorf("demo: the runner should have fired the deploy, did %v", rep.Actions)
				}
				return demoResult{Kind: "transition", Actor: ops.ID, Event: relman.EventDeploy, From: relman.StageAuthorized, To: relman.StageDeploying,
					Detail: "fired by the runner at the window's opening (" + rep.Actions[0].Job + ")"}, nil
			}},
		{time.Minute, "The runner rolls 2.4.0 out to staging: 50 %, then 100 %, each step watched for three minutes.",
			d.rollout(d.id, "staging")},
		{5 * time.Minute, "Production gets a canary: 5 % holds, but at 25 % the error rate climbs past the 5 % limit.",
			d.rollout(d.id, "production")},
		{time.Hour, "Olga records the review of the failed release: the template cache misbehaves under load.",
			func(ctx context.Context) (demoResult, error) {
				_, err := d.m.RecordReview(ctx, d.id, olga, relman.Review{Outcome: relman.OutcomeFailed,
					Summary: "template cache evicted under load; PDFs failed for 7 % of users", Lessons: []string{"load-test the cache before staging"}})
				return demoResult{Kind: "evidence", Actor: olga.ID, Detail: "review: failed; the fix is a new release"}, err
			}},
		{20 * time.Hour, "The fix, 2.4.1, is approved, planned into the next free slot, built, tested and authorized.",
			d.fixUpToAuthorized},
		{0, "Its window opens: the runner deploys it, then rolls it out to staging.",
			func(ctx context.Context) (demoResult, error) {
				r, err := d.m.Get(ctx, d.fixID())
				if err != nil {
					return demoResult{}, err
				}
				d.clk.now = r.Window.Start
				if _, _, err := d.m.Schedule(ctx, d.fixID(), ops, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow}); err != nil {
					return demoResult{}, err
				}
				rn, err := runner.New(d.m, runner.Options{})
				if err != nil {
					return demoResult{}, err
				}
				if _, err := rn.Tick(ctx); err != nil {
					return demoResult{}, err
				}
				return d.rollout(d.fixID(), "staging")(ctx)
			}},
		{5 * time.Minute, "The production canary of 2.4.1 stays healthy at 5 %, 25 % and 100 %: the release is complete.",
			d.rollout(d.fixID(), "production")},
		{7 * 24 * time.Hour, "A week later, Olga records the fix's post-implementation review…",
			func(ctx context.Context) (demoResult, error) {
				_, err := d.m.RecordReview(ctx, d.fixID(), olga, relman.Review{Outcome: relman.OutcomeSuccessful,
					Summary: "render time down to 2 s; complaints down 90%", Lessons: []string{"canaries catch what staging misses"}})
				return demoResult{Kind: "evidence", Actor: olga.ID, Detail: "review of " + d.fixID() + ": successful, render time down to 2 s"}, err
			}},
		{10 * time.Minute, "…and closes it.",
			func(ctx context.Context) (demoResult, error) {
				r, err := d.m.Fire(ctx, d.fixID(), relman.EventClose, relman.Request{Actor: olga, Reason: "review: successful"})
				if err != nil {
					return demoResult{}, err
				}
				return demoResult{Kind: "transition", Actor: olga.ID, Event: relman.EventClose, From: relman.StageOperating, To: r.Stage, Detail: d.fixID()}, nil
			}},
		{0, "Anyone can check the audit trail: every entry is hash-chained.",
			func(ctx context.Context) (demoResult, error) {
				var parts []string
				for _, id := range []string{d.id, d.fixID()} {
					if err := d.m.Verify(ctx, id); err != nil {
						return demoResult{}, err
					}
					h, err := d.m.History(ctx, id)
					if err != nil {
						return demoResult{}, err
					}
					parts = append(parts, fmt.Sprintf("%s: %d entries", id, len(h)))
				}
				return demoResult{Kind: "verify", Actor: "auditor", Detail: strings.Join(parts, ", ") + "; chains intact"}, nil
			}},
	}
}

// fire returns a step that fires ev and expects it to pass.
func (d *demo) fire(ev relman.Event, by relman.Actor, req relman.Request) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		cur, err := d.m.Get(ctx, d.id)
		if err != nil {
			return demoResult{}, err
		}
		req.Actor = by
		r, err := d.m.Fire(ctx, d.id, ev, req)
		if err != nil {
			return demoResult{}, err
		}
		return demoResult{Kind: "transition", Actor: by.ID, Event: ev, From: cur.Stage, To: r.Stage, Detail: req.Reason}, nil
	}
}

// refused returns a step that fires ev and expects the gates to refuse it.
func (d *demo) refused(ev relman.Event, by relman.Actor, req relman.Request) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		req.Actor = by
		cur, err := d.m.Get(ctx, d.id)
		if err != nil {
			return demoResult{}, err
		}
		_, err = d.m.Fire(ctx, d.id, ev, req)
		var ge *relman.GateError
		if !errors.As(err, &ge) {
			return demoResult{}, fmt.Errorf("demo: %s should have been refused by a gate, got %v", ev, err)
		}
		res := demoResult{Kind: "refused", Actor: by.ID, Event: ev, From: cur.Stage}
		for _, f := range ge.Failures {
			res.RefusedBy = append(res.RefusedBy, f.Gate+": "+trimLib(f.Err.Error()))
		}
		return res, nil
	}
}

// approve returns a step that records a CAB approval.
func (d *demo) approve(by relman.Actor, comment string) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		r, err := d.m.Approve(ctx, d.id, by, relman.RoleCAB, comment)
		if err != nil {
			return demoResult{}, err
		}
		return demoResult{Kind: "approval", Actor: by.ID, Detail: "as cab: " + comment + "; " + approvalState(d.m, r)}, nil
	}
}

// edit returns a step that changes the release's data.
func (d *demo) edit(by relman.Actor, reason string, fn func(*relman.Release) error) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		if _, err := d.m.Edit(ctx, d.id, by, reason, fn); err != nil {
			return demoResult{}, err
		}
		h, err := d.m.History(ctx, d.id)
		if err != nil {
			return demoResult{}, err
		}
		return demoResult{Kind: "edit", Actor: by.ID, Detail: reason + " (" + h[len(h)-1].Details["fields"] + ")"}, nil
	}
}

// test returns a step that records a test result.
func (d *demo) test(suite string, passed bool, detail string) func(context.Context) (demoResult, error) {
	return func(ctx context.Context) (demoResult, error) {
		_, err := d.m.RecordTest(ctx, d.id, qa, relman.TestResult{Suite: suite, Passed: passed, Detail: detail})
		verdict := suite + " passed"
		if !passed {
			verdict = suite + " FAILED: " + detail
		}
		return demoResult{Kind: "evidence", Actor: qa.ID, Detail: verdict}, err
	}
}

func (d *demo) run(ctx context.Context) error {
	a, steps := d.a, d.steps()
	text := !d.cl.json()
	if text {
		fmt.Fprintf(a.stdout, "Walking release %s from need to closed, in store %s (simulated time).\n\n", d.id, a.stores.Describe(d.cl.store))
	}
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return explain(d.cl, d.id, err)
		}
		d.clk.now = d.clk.now.Add(st.wait)
		res, err := st.do(ctx)
		if err != nil {
			return explain(d.cl, d.id, err)
		}
		res.Step, res.Say = i+1, st.say
		if res.At.IsZero() {
			res.At = d.m.Now()
		}
		d.out = append(d.out, res)
		if text {
			d.print(res, len(steps))
		}
	}
	if !text {
		if d.tempStore {
			fmt.Fprintf(a.stderr, "demo: the releases are in %s\n", d.cl.store)
		}
		return writeJSON(a.stdout, d.out)
	}
	first, last := d.out[0].At, d.out[len(d.out)-1].At
	fmt.Fprintf(a.stdout, "\n%s went from need to rolled back, and its fix %s to closed, in %s of simulated time.\n", d.id, d.fixID(), fmtDays(last.Sub(first)))
	if strings.HasPrefix(d.cl.store, "memory") {
		fmt.Fprintln(a.stdout, "The memory store keeps nothing; the default store (sqlite) would have kept it.")
	} else {
		flag := ""
		if d.cl.store != defaultStore {
			flag = " --store " + stores.Redact(d.cl.store)
		}
		fmt.Fprintf(a.stdout, "See it again: releasectl rollout status %s%s; releasectl history %s --verify%s\n", d.id, flag, d.fixID(), flag)
	}
	return nil
}

// print writes one step for people: a progress counter, the time, what
// happens, and the outcome indented below.
func (d *demo) print(r demoResult, total int) {
	w := d.a.stdout
	width := len(fmt.Sprint(total))
	fmt.Fprintf(w, "[%*d/%d] %s  %s\n", width, r.Step, total, r.At.Format(demoTimeLayout), r.Say)
	pad := strings.Repeat(" ", 2*width+4+len(demoTimeLayout)+2)
	switch r.Kind {
	case "create":
		fmt.Fprintf(w, "%s✓ create → %s by %s (%s)\n", pad, r.To, r.Actor, r.Detail)
	case "transition":
		line := fmt.Sprintf("%s✓ %s: %s → %s by %s", pad, r.Event, r.From, r.To, r.Actor)
		if r.Detail != "" {
			line += ": " + r.Detail
		}
		fmt.Fprintln(w, line)
	case "refused":
		fmt.Fprintf(w, "%s✗ %s refused by %s (stays %s):\n", pad, r.Event, r.Actor, r.From)
		for _, f := range r.RefusedBy {
			fmt.Fprintf(w, "%s    %s\n", pad, f)
		}
	default:
		fmt.Fprintf(w, "%s✓ %s by %s: %s\n", pad, r.Kind, r.Actor, r.Detail)
		for _, rs := range r.Reasons {
			fmt.Fprintf(w, "%s    %s\n", pad, rs)
		}
	}
}

func fmtDays(d time.Duration) string {
	days := int(d.Hours()) / 24
	hours := int(d.Hours()) % 24
	switch {
	case days == 0:
		return fmt.Sprintf("%d h", hours)
	case days == 1:
		return fmt.Sprintf("1 day %d h", hours)
	}
	return fmt.Sprintf("%d days %d h", days, hours)
}

// demoTimeLayout is how the demo shows the simulated time of each step.
const demoTimeLayout = "Mon 02 Jan 15:04"
