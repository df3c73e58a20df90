package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
)

// sample is a release to seed and the stage to take it to.
type sample struct {
	r      relman.Release
	stage  relman.Stage
	window *relman.Span
}

// samples returns the sample releases, planned relative to now: two
// payments releases in overlapping windows (a conflict), others spread
// over the coming days, one deployed yesterday, and two needs not yet
// scheduled.
func samples(now time.Time) []sample {
	day := now.UTC().Truncate(24 * time.Hour)
	w := func(d int, fromH, hours int) *relman.Span {
		start := day.AddDate(0, 0, d).Add(time.Duration(fromH) * time.Hour)
		return &relman.Span{Start: start, End: start.Add(time.Duration(hours) * time.Hour)}
	}
	rel := func(id, title, version, service, team string) relman.Release {
		return relman.Release{ID: id, Title: title, Version: version, Kind: relman.KindMinor, Model: relman.ModelNormal,
			Requester: "rita", Owner: "olga", Teams: []string{team}, Services: []string{service},
			Case:         relman.BusinessCase{Problem: title, ExpectedValue: 10000, Cost: 2000, Feasibility: relman.FeasibilityHigh},
			Tasks:        []relman.Task{{Name: "build", Team: team, Duration: 4 * time.Hour}},
			RollbackPlan: "redeploy the previous version", RequiredSuites: []string{"unit"}}
	}
	return []sample{
		{rel("sample-ops-7.2.0", "Log shipping to the new cluster", "7.2.0", "logging", "ops"), relman.StageOperating, w(-1, 20, 3)},
		{rel("sample-pay-1.2.0", "Card payments via the new acquirer", "1.2.0", "payments", "pay"), relman.StagePlanned, w(2, 21, 3)},
		{rel("sample-pay-1.1.5", "Payments hotfix: 3-D Secure timeout", "1.1.5", "payments", "pay"), relman.StageBuilding, w(2, 23, 2)},
		{rel("sample-inv-2.4.0", "Faster invoice PDFs", "2.4.0", "invoices", "billing"), relman.StageAuthorized, w(5, 20, 2)},
		{rel("sample-web-3.0.0", "Portal redesign", "3.0.0", "web", "web"), relman.StageTesting, w(9, 19, 4)},
		{rel("sample-search-0.9.0", "Search suggestions", "0.9.0", "search", "web"), relman.StageProposed, nil},
		{rel("sample-auth-5.1.0", "Passkeys", "5.1.0", "auth", "identity"), relman.StageApproved, nil},
	}
}

// seedReleases adds the sample releases to st, walking each to its stage
// through the Manager (every gate passes on the way), and returns how
// many it added. Samples already present are left alone.
func seedReleases(ctx context.Context, st relman.Store, now time.Time) (int, error) {
	clock := now.UTC()
	// The samples include two releases in conflict, as if planned before
	// the conflict check was on: conflicts do not block here.
	m, err := relman.NewManager(st, relman.WithClock(func() time.Time { return clock }), relman.WithBlockingConflicts(),
		relman.WithEnvironments(sampleEnvironments), relman.WithDeployer(sampleDeployer{}),
		relman.WithProbe("errors", relman.ProbeFunc(func(context.Context, relman.ProbeQuery) (float64, error) { return 0.002, nil })))
	if err != nil {
		return 0, err
	}
	olga := relman.Actor{ID: "olga"}
	carl := relman.Actor{ID: "carl", Roles: []string{relman.RoleCAB}}
	added := 0
	for _, s := range samples(now) {
		clock = now.UTC().Add(-5 * 24 * time.Hour) // work on it began days ago
		if s.window != nil && s.window.Start.Before(clock) {
			clock = s.window.Start.Add(-72 * time.Hour)
		}
		r := s.r
		if _, err := m.Create(ctx, &r, olga); errors.Is(err, relman.ErrExists) {
			continue
		} else if err != nil {
			return added, err
		}
		added++
		fire := func(ev relman.Event, req relman.Request) error {
			clock = clock.Add(time.Hour)
			if req.Actor.ID == "" {
				req.Actor = olga
			}
			cur, err := m.Fire(ctx, r.ID, ev, req)
			if err == nil && cur.Stage == s.stage {
				return errDone
			}
			return err
		}
		steps := []func() error{
			func() error { return fire(relman.EventApprove, relman.Request{Actor: carl}) },
			func() error { return fire(relman.EventPlan, relman.Request{Window: s.window}) },
			func() error { return fire(relman.EventStart, relman.Request{}) },
			func() error { return fire(relman.EventSubmit, relman.Request{}) },
			func() error {
				clock = clock.Add(time.Hour)
				if _, err := m.RecordTest(ctx, r.ID, olga, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
					return err
				}
				return fire(relman.EventPass, relman.Request{})
			},
			func() error {
				if _, err := m.Assess(ctx, r.ID, olga); err != nil {
					return err
				}
				if _, err := m.Approve(ctx, r.ID, carl, relman.RoleCAB, "sample"); err != nil {
					return err
				}
				return fire(relman.EventAuthorize, relman.Request{Actor: carl})
			},
			func() error {
				clock = s.window.Start.Add(time.Minute - time.Hour) // fire adds the hour
				return fire(relman.EventDeploy, relman.Request{})
			},
			func() error {
				// The runner rolls it out to production; its last step
				// completes the release.
				if _, err := m.StartRollout(ctx, r.ID, olga, "production", samplePlan); err != nil {
					return err
				}
				for range 40 {
					if _, err := m.RunDue(ctx, r.ID); err != nil {
						return err
					}
					cur, err := m.Get(ctx, r.ID)
					if err != nil {
						return err
					}
					if !cur.Rollout.Active() {
						return errDone
					}
					clock = clock.Add(5 * time.Minute)
				}
				return fmt.Errorf("the rollout did not finish")
			},
		}
		if s.stage == relman.StageProposed {
			continue
		}
		for _, step := range steps {
			err := step()
			if errors.Is(err, errDone) {
				break
			}
			if err != nil {
				return added, fmt.Errorf("%s: %w", r.ID, err)
			}
		}
	}
	if _, ok := st.(relman.WindowStore); ok { // a store that keeps windows
		for _, w := range sampleWindows(now) {
			if err := m.PutWindow(ctx, olga, w); err != nil {
				return added, fmt.Errorf("window %s: %w", w.ID, err)
			}
		}
	}
	return added, nil
}

// sampleEnvironments: an optional staging, then production.
var sampleEnvironments = relman.Environments{List: []relman.Environment{{Name: "staging", Optional: true}, {Name: "production", Production: true}}}

// sampleDeployer stands for the host's deployment tooling.
type sampleDeployer struct{}

func (sampleDeployer) Deploy(context.Context, relman.DeployRequest) error   { return nil }
func (sampleDeployer) Rollback(context.Context, relman.DeployRequest) error { return nil }

var sampleLimit = 0.01

// samplePlan is a canary of three steps, each verified by two five-minute
// measurements of the error rate.
var samplePlan = relman.RolloutPlan{
	Steps: []relman.RolloutStep{{Percent: 10}, {Percent: 50}, {Percent: 100}},
	Verification: relman.Verification{Interval: 5 * time.Minute, Measurements: 2,
		Checks: []relman.ProbeCheck{{Name: "error-rate", Probe: "errors", Max: &sampleLimit}}},
}

// sampleWindows returns a daily evening maintenance window and a freeze
// from the eighth to the eleventh day from now, over one sample release.
func sampleWindows(now time.Time) []relman.Window {
	day := now.UTC().Truncate(24 * time.Hour)
	return []relman.Window{
		{ID: "sample-evenings", Name: "Evening maintenance", Kind: relman.WindowMaintenance, TimeZone: "UTC",
			Start: day.AddDate(0, 0, -7).Add(19 * time.Hour), End: day.AddDate(0, 0, -6).Add(time.Hour), RRule: "FREQ=DAILY"},
		{ID: "sample-quarter-end", Name: "Quarter-end freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
			Start: day.AddDate(0, 0, 8), End: day.AddDate(0, 0, 11), Reason: "finance closes the quarter"},
	}
}

var errDone = errors.New("reached the stage")
