package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// runRollouts checks rollouts driven through a Manager on the store:
// promotion, environment approvals and freezes, every verification
// outcome, automatic rollback, guided failure, manual steps and the watch
// period. They only need the Store contract (and WindowStore for the
// freezes).
func runRollouts(t *testing.T, newStore func(t *testing.T) relman.Store) {
	t.Run("Rollout/PromotionAndEnvironmentApprovals", func(t *testing.T) { testRolloutPromotionAndEnvironmentApprovals(t, newStore) })
	t.Run("Rollout/FailureRollsBack", func(t *testing.T) { testRolloutFailureRollsBack(t, newStore) })
	t.Run("Rollout/InconclusiveNeverPasses", func(t *testing.T) { testRolloutInconclusiveNeverPasses(t, newStore) })
	t.Run("Rollout/GuidedFailure", func(t *testing.T) { testRolloutGuidedFailure(t, newStore) })
	t.Run("Rollout/ManualStepAndDeployFailure", func(t *testing.T) { testRolloutManualStepAndDeployFailure(t, newStore) })
	t.Run("Rollout/EnvironmentFreeze", func(t *testing.T) { testRolloutEnvironmentFreeze(t, newStore) })
	t.Run("Rollout/WatchOpensIncident", func(t *testing.T) { testRolloutWatchOpensIncident(t, newStore) })
	t.Run("Rollout/WatchEndsHealthy", func(t *testing.T) { testRolloutWatchEndsHealthy(t, newStore) })
	t.Run("Rollout/RefusesBadInput", func(t *testing.T) { testRolloutRefusesBadInput(t, newStore) })
	t.Run("Rollout/ConcurrentDrivers", func(t *testing.T) { testRolloutConcurrentDrivers(t, newStore) })
}

// recordingDeployer records every call; failDeploy makes Deploy fail.
type recordingDeployer struct {
	mu         sync.Mutex
	calls      []string // "deploy prod 1", "rollback prod 2"
	failDeploy map[int]bool
}

func (d *recordingDeployer) Deploy(_ context.Context, q relman.DeployRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("deploy %s %d", q.Environment, q.Step))
	if d.failDeploy[q.Step] {
		return errors.New("kubectl: image pull failed")
	}
	return nil
}

func (d *recordingDeployer) Rollback(_ context.Context, q relman.DeployRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("rollback %s %d", q.Environment, q.Step))
	return nil
}

func (d *recordingDeployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// errorRate is a probe whose value per step the test sets; hang makes it
// never answer, fail makes it return an error.
type errorRate struct {
	mu     sync.Mutex
	byStep map[int]float64
	hang   bool
	fail   bool
	asked  int
}

func (p *errorRate) Measure(ctx context.Context, q relman.ProbeQuery) (float64, error) {
	p.mu.Lock()
	p.asked++
	v, hang, fail := p.byStep[q.Step], p.hang, p.fail
	p.mu.Unlock()
	if hang {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if fail {
		return 0, errors.New("prometheus: 503")
	}
	return v, nil
}

func (p *errorRate) set(step int, v float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byStep[step] = v
}

var rolloutEnvs = relman.Environments{List: []relman.Environment{
	{Name: "test"},
	{Name: "staging", Optional: true},
	{Name: "production", Production: true, Approvals: []relman.Requirement{{Role: "cab", Count: 1}}},
}, MinBeforeProduction: 1}

func ptr(f float64) *float64 { return &f }

func canary(onFailure relman.FailurePolicy) relman.RolloutPlan {
	return relman.RolloutPlan{
		Steps: []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}},
		Verification: relman.Verification{
			Checks:   []relman.ProbeCheck{{Name: "error-rate", Probe: "rate", Query: "errors", Max: ptr(0.05)}},
			Interval: time.Minute, Measurements: 3, FailureLimit: 0, Timeout: time.Second,
		},
		OnFailure: onFailure,
	}
}

type rolloutFixture struct {
	m     *relman.Manager
	c     *clock
	dep   *recordingDeployer
	probe *errorRate
}

// deploying makes a Manager over s with environments, a deployer and a
// probe, and a release in the deploying stage.
func deploying(t *testing.T, s relman.Store, id string) *rolloutFixture {
	t.Helper()
	f := &rolloutFixture{c: &clock{now: base}, dep: &recordingDeployer{}, probe: &errorRate{byStep: map[int]float64{}}}
	m, err := relman.NewManager(s, relman.WithClock(f.c.Now), relman.WithEnvironments(rolloutEnvs), relman.WithDeployer(f.dep),
		relman.WithProbe("rate", f.probe))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	ToDeploying(t, m, func(t time.Time) { f.c.Set(t) }, id)
	return f
}

// drive runs RunDue, advancing the clock a minute at a time, until the
// rollout stops needing the runner (done, paused) or n passes.
func (f *rolloutFixture) drive(t *testing.T, id string, n int) []relman.DueAction {
	t.Helper()
	var all []relman.DueAction
	for range n {
		acts, err := f.m.RunDue(context.Background(), id)
		if err != nil {
			t.Fatalf("RunDue: %v", err)
		}
		all = append(all, acts...)
		r, _ := f.m.Get(context.Background(), id)
		if r.Rollout == nil || r.Rollout.Phase == relman.PhaseDone || r.Rollout.Phase == relman.PhasePaused {
			return all
		}
		f.c.Advance(time.Minute)
	}
	return all
}

func (f *rolloutFixture) get(t *testing.T, id string) *relman.Release {
	t.Helper()
	r, err := f.m.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// succeed rolls the release out to env with every check passing.
func (f *rolloutFixture) succeed(t *testing.T, id, env string) {
	t.Helper()
	if _, err := f.m.StartRollout(context.Background(), id, rmAlice, env, canary(relman.FailureRollback)); err != nil {
		t.Fatalf("StartRollout %s: %v", env, err)
	}
	f.drive(t, id, 50)
	if d := f.get(t, id).Deployments; d[len(d)-1].State != relman.RolloutSucceeded {
		t.Fatalf("rollout to %s: %+v", env, d)
	}
}

func testRolloutPromotionAndEnvironmentApprovals(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	_, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "production", canary(relman.FailureRollback))
	var pe *relman.PromotionError
	if !errors.As(err, &pe) || !errors.Is(err, relman.ErrPromotion) || !slices.Equal(pe.Missing, []string{"test"}) || pe.Need != 1 || pe.Succeeded != 0 {
		t.Fatalf("production first: %v (%+v)", err, pe)
	}
	// staging is optional: not required before production, but may come first.
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "staging", canary(relman.FailureRollback)); !errors.As(err, &pe) || !slices.Equal(pe.Missing, []string{"test"}) {
		t.Fatalf("staging before test: %v", err)
	}
	f.succeed(t, "rel-1", "test")
	if got := f.dep.Calls(); !slices.Equal(got, []string{"deploy test 0", "deploy test 1", "deploy test 2"}) {
		t.Fatalf("deployer calls %v", got)
	}
	if r := f.get(t, "rel-1"); r.Stage != relman.StageDeploying {
		t.Fatalf("a test rollout completed the release: %s", r.Stage)
	}
	// Production needs the CAB's approval for production.
	_, err = f.m.StartRollout(ctx, "rel-1", rmAlice, "production", canary(relman.FailureRollback))
	var me *relman.ApprovalsMissingError
	if !errors.As(err, &me) || me.Environment != "production" || me.Missing[0].Role != "cab" {
		t.Fatalf("production without the CAB: %v", err)
	}
	// The owner cannot approve it; an unknown environment is refused.
	if _, err := f.m.ApproveEnvironment(ctx, "rel-1", relman.Actor{ID: "olga", Roles: []string{"cab"}}, "production", "cab", ""); !errors.Is(err, relman.ErrSelfApproval) {
		t.Errorf("owner approving production: %v", err)
	}
	if _, err := f.m.ApproveEnvironment(ctx, "rel-1", rmAlice, "moon", "", ""); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("unknown environment: %v", err)
	}
	r, err := f.m.ApproveEnvironment(ctx, "rel-1", relman.Actor{ID: "carl", Roles: []string{"cab"}}, "production", "cab", "go")
	if err != nil {
		t.Fatal(err)
	}
	if ap := r.Approvals[len(r.Approvals)-1]; ap.Environment != "production" {
		t.Fatalf("approval %+v", ap)
	}
	f.succeed(t, "rel-1", "production")
	r = f.get(t, "rel-1")
	if r.Stage != relman.StageOperating {
		t.Fatalf("after the production rollout the release is %s, want operating", r.Stage)
	}
	if len(r.Deployments) != 2 || r.Deployments[1].Environment != "production" || r.Deployments[1].Steps != 3 || r.Deployments[1].FinishedAt.IsZero() {
		t.Errorf("deployments %+v", r.Deployments)
	}
	if err := f.m.Verify(ctx, "rel-1"); err != nil {
		t.Error(err)
	}
	var passed int
	for _, e := range HistoryOf(t, f.m, "rel-1", relman.ActionRollout) {
		if strings.Contains(e.Reason, "passed verification") && strings.Contains(e.Reason, "error-rate=0 pass") {
			passed++
		}
	}
	if passed != 6 {
		t.Errorf("%d step verdicts with their measurements in the audit trail, want 6", passed)
	}
}

func testRolloutFailureRollsBack(t *testing.T, newStore func(t *testing.T) relman.Store) {
	f := deploying(t, newStore(t), "rel-1")
	f.succeed(t, "rel-1", "test")
	if _, err := f.m.ApproveEnvironment(context.Background(), "rel-1", relman.Actor{ID: "carl", Roles: []string{"cab"}}, "production", "cab", ""); err != nil {
		t.Fatal(err)
	}
	f.probe.set(1, 0.31) // the 25 % step hurts
	if _, err := f.m.StartRollout(context.Background(), "rel-1", rmAlice, "production", canary(relman.FailureRollback)); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 50)
	r := f.get(t, "rel-1")
	if r.Stage != relman.StageRolledBack || r.Rollout.Phase != relman.PhaseDone {
		t.Fatalf("stage %s phase %s, want rolled_back and done", r.Stage, r.Rollout.Phase)
	}
	if got := f.dep.Calls()[3:]; !slices.Equal(got, []string{"deploy production 0", "deploy production 1", "rollback production 1"}) {
		t.Errorf("deployer calls %v", got)
	}
	if d := r.Deployments[1]; d.State != relman.RolloutRolledBack || d.Steps != 1 {
		t.Errorf("production deployment %+v", d)
	}
	var rb *relman.AuditEntry
	for _, e := range HistoryOf(t, f.m, "rel-1", relman.ActionTransition) {
		if e.Event == relman.EventRollback {
			rb = &e
		}
	}
	if rb == nil || !strings.Contains(rb.Reason, "error-rate=0.31 fail") || !strings.Contains(rb.Reason, "step 2 (25%) failed verification") || rb.Actor != rmAlice.ID {
		t.Fatalf("rollback entry %+v", rb)
	}
}

func testRolloutInconclusiveNeverPasses(t *testing.T, newStore func(t *testing.T) relman.Store) {
	for _, mode := range []string{"error", "hang"} {
		t.Run(mode, func(t *testing.T) {
			f := deploying(t, newStore(t), "rel-1")
			f.probe.fail, f.probe.hang = mode == "error", mode == "hang"
			if _, err := f.m.StartRollout(context.Background(), "rel-1", rmAlice, "test", canary(relman.FailureRollback)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			f.drive(t, "rel-1", 20)
			if mode == "hang" && time.Since(start) > 10*time.Second {
				t.Errorf("hanging probes held the runner for %s", time.Since(start))
			}
			r := f.get(t, "rel-1")
			ro := r.Rollout
			if ro.Phase != relman.PhasePaused || ro.Step != 0 || !strings.Contains(ro.Reason, "inconclusive") {
				t.Fatalf("phase %s step %d reason %q; want paused on step 0, inconclusive", ro.Phase, ro.Step, ro.Reason)
			}
			for _, ms := range ro.Measurements {
				if ms.Verdict != relman.VerdictInconclusive || ms.Value != nil || ms.Error == "" {
					t.Errorf("measurement %+v", ms)
				}
			}
			if got := f.dep.Calls(); !slices.Equal(got, []string{"deploy test 0"}) {
				t.Errorf("deployer calls %v", got)
			}
		})
	}
}

func testRolloutGuidedFailure(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	carl := relman.Actor{ID: "carl"}
	f := deploying(t, newStore(t), "rel-1")
	f.probe.set(0, 0.2)
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", canary(relman.FailurePause)); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 10)
	if ro := f.get(t, "rel-1").Rollout; ro.Phase != relman.PhasePaused || !strings.Contains(ro.Reason, "failed verification") {
		t.Fatalf("after the failure: %s %q", ro.Phase, ro.Reason)
	}
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutResume, ""); !errors.Is(err, relman.ErrRolloutState) {
		t.Errorf("resume after a failure: %v, want ErrRolloutState", err)
	}
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutSkip, ""); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("skip without a reason: %v, want ErrInvalid", err)
	}
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, "yolo", "x"); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("unknown command: %v", err)
	}
	// Retry: the same step is deployed and verified again.
	f.probe.set(0, 0.01)
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutRetry, "flaky dashboard"); err != nil {
		t.Fatal(err)
	}
	f.probe.set(1, 0.5)
	f.drive(t, "rel-1", 10)
	if ro := f.get(t, "rel-1").Rollout; ro.Phase != relman.PhasePaused || ro.Step != 1 {
		t.Fatalf("after retry: %s step %d", ro.Phase, ro.Step)
	}
	// Skip: step 2 is taken as passed.
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutSkip, "known noisy metric"); err != nil {
		t.Fatal(err)
	}
	f.probe.set(2, 0.5)
	f.drive(t, "rel-1", 10)
	// Abort: rolled back.
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutAbort, "enough"); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 10)
	r := f.get(t, "rel-1")
	want := []string{"deploy test 0", "deploy test 0", "deploy test 1", "deploy test 2", "rollback test 2"}
	if got := f.dep.Calls(); !slices.Equal(got, want) {
		t.Errorf("deployer calls %v, want %v", got, want)
	}
	if r.Stage != relman.StageRolledBack || r.Deployments[0].State != relman.RolloutRolledBack || !strings.Contains(r.Rollout.Reason, "aborted by carl: enough") {
		t.Errorf("after abort: %s %+v %q", r.Stage, r.Deployments[0], r.Rollout.Reason)
	}
	var cmds []string
	for _, e := range HistoryOf(t, f.m, "rel-1", relman.ActionRollout) {
		if c := e.Details["command"]; c != "" {
			cmds = append(cmds, c+" by "+e.Actor)
		}
	}
	if !slices.Equal(cmds, []string{"retry by carl", "skip by carl", "abort by carl"}) {
		t.Errorf("commands in the audit trail: %v", cmds)
	}
	if _, err := f.m.RolloutAction(ctx, "rel-1", carl, relman.RolloutAbort, "again"); !errors.Is(err, relman.ErrRolloutState) {
		t.Errorf("abort of a finished rollout: %v", err)
	}
}

func testRolloutManualStepAndDeployFailure(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	plan := canary(relman.FailureRollback)
	plan.Steps = []relman.RolloutStep{{Targets: []string{"eu-1"}}, {Manual: true, Name: "SRE sign-off"}, {Percent: 100}}
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", plan); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", plan); !errors.Is(err, relman.ErrRolloutState) {
		t.Errorf("a second rollout while one runs: %v", err)
	}
	f.drive(t, "rel-1", 10)
	ro := f.get(t, "rel-1").Rollout
	if ro.Phase != relman.PhasePaused || ro.Step != 1 || !strings.Contains(ro.Reason, "SRE sign-off") {
		t.Fatalf("at the manual step: %s %d %q", ro.Phase, ro.Step, ro.Reason)
	}
	if _, err := f.m.RolloutAction(ctx, "rel-1", rmAlice, relman.RolloutRetry, ""); !errors.Is(err, relman.ErrRolloutState) {
		t.Errorf("retry of a manual step: %v", err)
	}
	f.dep.failDeploy = map[int]bool{2: true}
	if _, err := f.m.RolloutAction(ctx, "rel-1", relman.Actor{ID: "sre"}, relman.RolloutResume, "looks good"); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 10)
	r := f.get(t, "rel-1")
	if r.Stage != relman.StageRolledBack || !strings.Contains(r.Rollout.Reason, "image pull failed") {
		t.Fatalf("after a failed deploy: %s %q", r.Stage, r.Rollout.Reason)
	}
	if got := f.dep.Calls(); !slices.Equal(got, []string{"deploy test 0", "deploy test 2", "rollback test 2"}) {
		t.Errorf("deployer calls %v (a manual step deploys nothing)", got)
	}
}

func testRolloutEnvironmentFreeze(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	s := newStore(t)
	if _, ok := s.(relman.WindowStore); !ok {
		t.Skip("the store keeps no windows")
	}
	f := deploying(t, s, "rel-1")
	now := f.c.Now()
	freeze := relman.Window{ID: "prod-freeze", Name: "Production freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: now.Add(-time.Hour), End: now.Add(time.Hour), Environments: []string{"test"}}
	if err := f.m.PutWindow(ctx, rmAlice, freeze); err != nil {
		t.Fatal(err)
	}
	_, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", canary(relman.FailureRollback))
	if !errors.Is(err, relman.ErrFreeze) {
		t.Fatalf("rollout inside an environment freeze: %v", err)
	}
	// The release-level gates ignore the environment-scoped freeze.
	if err := f.m.Check(ctx, "rel-1", relman.EventComplete, relman.Request{Actor: rmAlice}); err != nil {
		t.Errorf("complete under a test-only freeze: %v", err)
	}
	// A freeze that starts mid-rollout defers the next step to its end.
	f.c.Set(freeze.End)
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", canary(relman.FailureRollback)); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 2) // step 0 deployed and being verified
	later := relman.Window{ID: "freeze-2", Name: "Second freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: f.c.Now().Add(-time.Minute), End: f.c.Now().Add(3 * time.Hour), Environments: []string{"test"}}
	if err := f.m.PutWindow(ctx, rmAlice, later); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 5)
	r := f.get(t, "rel-1")
	if r.Rollout.Phase != relman.PhaseDeploying || r.Rollout.Step != 1 || !r.Rollout.NextAt.Equal(later.End) {
		t.Fatalf("during the second freeze: %s step %d next %v (want deploying step 1 at %v)", r.Rollout.Phase, r.Rollout.Step, r.Rollout.NextAt, later.End)
	}
	if got := f.dep.Calls(); len(got) != 1 {
		t.Errorf("deployed during a freeze: %v", got)
	}
}

func testRolloutWatchOpensIncident(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	f.succeed(t, "rel-1", "test")
	if _, err := f.m.ApproveEnvironment(ctx, "rel-1", relman.Actor{ID: "carl", Roles: []string{"cab"}}, "production", "cab", ""); err != nil {
		t.Fatal(err)
	}
	plan := canary(relman.FailureRollback)
	plan.Watch, plan.WatchRollback = 30*time.Minute, true
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "production", plan); err != nil {
		t.Fatal(err)
	}
	for range 12 { // three steps of three rounds, then into the watch
		if _, err := f.m.RunDue(ctx, "rel-1"); err != nil {
			t.Fatal(err)
		}
		f.c.Advance(time.Minute)
	}
	r := f.get(t, "rel-1")
	if r.Stage != relman.StageOperating || r.Rollout.Phase != relman.PhaseWatching {
		t.Fatalf("stage %s phase %s, want operating and watching", r.Stage, r.Rollout.Phase)
	}
	f.probe.set(-1, 0.4) // production breaks after the release
	f.drive(t, "rel-1", 10)
	r = f.get(t, "rel-1")
	if len(r.Incidents) != 1 || r.Incidents[0].Relation != relman.RelationCaused || !strings.Contains(r.Incidents[0].Summary, "error-rate=0.4 fail") {
		t.Fatalf("incidents %+v", r.Incidents)
	}
	if r.Stage != relman.StageRolledBack {
		t.Errorf("stage %s after a breach with WatchRollback, want rolled_back", r.Stage)
	}
	if got := f.dep.Calls(); got[len(got)-1] != "rollback production 2" {
		t.Errorf("deployer calls %v", got)
	}
}

func testRolloutWatchEndsHealthy(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	f.succeed(t, "rel-1", "test")
	if _, err := f.m.ApproveEnvironment(ctx, "rel-1", relman.Actor{ID: "carl", Roles: []string{"cab"}}, "production", "cab", ""); err != nil {
		t.Fatal(err)
	}
	plan := canary(relman.FailureRollback)
	plan.Watch = 10 * time.Minute
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "production", plan); err != nil {
		t.Fatal(err)
	}
	f.drive(t, "rel-1", 40)
	r := f.get(t, "rel-1")
	if r.Stage != relman.StageOperating || r.Rollout.Phase != relman.PhaseDone || len(r.Incidents) != 0 {
		t.Fatalf("stage %s phase %s incidents %v", r.Stage, r.Rollout.Phase, r.Incidents)
	}
	if _, ok := r.NextDue(); ok {
		t.Error("something is still due after the watch ended")
	}
}

func testRolloutRefusesBadInput(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	before := f.get(t, "rel-1")
	good := canary(relman.FailureRollback)
	mod := func(fn func(p *relman.RolloutPlan)) relman.RolloutPlan {
		p := good
		p.Steps = slices.Clone(good.Steps)
		p.Verification.Checks = slices.Clone(good.Verification.Checks)
		fn(&p)
		return p
	}
	for _, tc := range []struct {
		name  string
		env   string
		plan  relman.RolloutPlan
		field string
	}{
		{"no steps", "test", mod(func(p *relman.RolloutPlan) { p.Steps = nil }), "steps"},
		{"not increasing", "test", mod(func(p *relman.RolloutPlan) { p.Steps[1].Percent = 5 }), "steps[1].percent"},
		{"over 100", "test", mod(func(p *relman.RolloutPlan) { p.Steps[2].Percent = 120 }), "steps[2].percent"},
		{"percent and manual", "test", mod(func(p *relman.RolloutPlan) { p.Steps[0].Manual = true }), "steps[0].percent"},
		{"no threshold", "test", mod(func(p *relman.RolloutPlan) { p.Verification.Checks[0].Max = nil }), "verification.checks[0].max"},
		{"unknown probe", "test", mod(func(p *relman.RolloutPlan) { p.Verification.Checks[0].Probe = "datadog" }), "verification.checks[0].probe"},
		{"no checks", "test", mod(func(p *relman.RolloutPlan) { p.Verification.Checks = nil }), "verification.checks"},
		{"zero interval", "test", mod(func(p *relman.RolloutPlan) { p.Verification.Interval = 0 }), "verification.interval"},
		{"no measurements", "test", mod(func(p *relman.RolloutPlan) { p.Verification.Measurements = 0 }), "verification.measurements"},
		{"negative bake", "test", mod(func(p *relman.RolloutPlan) { p.Steps[0].Bake = -time.Minute }), "steps[0].bake"},
		{"bake under the interval", "test", mod(func(p *relman.RolloutPlan) { p.Steps[0].Bake = time.Second }), "steps[0].bake"},
		{"policy", "test", mod(func(p *relman.RolloutPlan) { p.OnFailure = "pray" }), "on_failure"},
		{"unknown environment", "moon", good, "environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.StartRollout(ctx, "rel-1", rmAlice, tc.env, tc.plan)
			var ve *relman.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) || !slices.ContainsFunc(ve.Fields, func(fe relman.FieldError) bool { return fe.Field == tc.field }) {
				t.Fatalf("StartRollout = %v, want a *ValidationError naming %q", err, tc.field)
			}
		})
	}
	if after := f.get(t, "rel-1"); after.Revision != before.Revision || after.Rollout != nil {
		t.Errorf("refused rollouts changed the release")
	}
	m, _ := relman.NewManager(newStore(t), relman.WithEnvironments(rolloutEnvs))
	if _, err := m.StartRollout(ctx, "x", rmAlice, "test", good); !errors.Is(err, relman.ErrInvalid) || !strings.Contains(err.Error(), "deployer") {
		t.Errorf("without a deployer: %v", err)
	}
	bad := rolloutEnvs
	bad.List = append(slices.Clone(rolloutEnvs.List), relman.Environment{Name: "test"})
	if _, err := relman.NewManager(f.m.Store(), relman.WithEnvironments(bad)); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("duplicate environment: %v", err)
	}
	// Host edits cannot touch the rollout.
	_, err := f.m.Edit(ctx, "rel-1", rmAlice, "sneak", func(r *relman.Release) error {
		r.Deployments = []relman.EnvDeployment{{Environment: "production", State: relman.RolloutSucceeded}}
		return nil
	})
	if !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("Edit of deployments: %v", err)
	}
}

var rmAlice = relman.Actor{ID: "alice", Roles: []string{"release-manager"}}

// clock is a settable clock for the Manager.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ToDeploying creates release id through m on the default lifecycle and
// drives it to the deploying stage: approved, planned for a window a day
// after the Manager's clock, built, tested, assessed, approved by carl,
// authorized, and deployed when the window opens (setClock moves the
// Manager's clock there). It returns the release.
func ToDeploying(t testing.TB, m *relman.Manager, setClock func(time.Time), id string) *relman.Release {
	t.Helper()
	ctx := context.Background()
	r := Minimal(id)
	r.Services, r.Teams = []string{"invoices"}, []string{"billing"}
	r.Case = relman.BusinessCase{Problem: "slow invoices", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh}
	r.Tasks = []relman.Task{{Name: "build", Team: "billing", Duration: time.Hour}}
	r.RollbackPlan, r.RequiredSuites = "redeploy the previous version", []string{"unit"}
	r.Stage = ""
	if _, err := m.Create(ctx, r, rmAlice); err != nil {
		t.Fatal(err)
	}
	now := m.Now()
	window := relman.Span{Start: now.Add(24 * time.Hour), End: now.Add(26 * time.Hour)}
	step := func(ev relman.Event, req relman.Request) {
		t.Helper()
		if req.Actor.ID == "" {
			req.Actor = rmAlice
		}
		if _, err := m.Fire(ctx, id, ev, req); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	step(relman.EventApprove, relman.Request{})
	step(relman.EventPlan, relman.Request{Window: &window})
	step(relman.EventStart, relman.Request{})
	step(relman.EventSubmit, relman.Request{})
	if _, err := m.RecordTest(ctx, id, rmAlice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	step(relman.EventPass, relman.Request{})
	if _, err := m.Assess(ctx, id, rmAlice); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, id, relman.Actor{ID: "carl"}, "", "fine"); err != nil {
		t.Fatal(err)
	}
	step(relman.EventAuthorize, relman.Request{})
	setClock(window.Start)
	step(relman.EventDeploy, relman.Request{})
	got, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// HistoryOf returns the release's audit entries of action a, after
// checking the chain (the test fails if it does not verify).
func HistoryOf(t testing.TB, m *relman.Manager, id string, a relman.Action) []relman.AuditEntry {
	t.Helper()
	h, err := m.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(context.Background(), id); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return slices.DeleteFunc(h, func(e relman.AuditEntry) bool { return e.Action != a })
}

// testRolloutConcurrentDrivers: several Managers driving one rollout at
// the same instant record one measurement round, not one each, and
// deploy each step once.
func testRolloutConcurrentDrivers(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	f := deploying(t, newStore(t), "rel-1")
	ms := []*relman.Manager{f.m}
	for range 3 {
		m, err := relman.NewManager(f.m.Store(), relman.WithClock(f.c.Now), relman.WithEnvironments(rolloutEnvs), relman.WithDeployer(f.dep),
			relman.WithProbe("rate", f.probe), relman.WithRetries(10))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if _, err := f.m.StartRollout(ctx, "rel-1", rmAlice, "test", canary(relman.FailureRollback)); err != nil {
		t.Fatal(err)
	}
	rounds := 0
	for range 12 {
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Go(func() {
				if _, err := m.RunDue(ctx, "rel-1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if r := f.get(t, "rel-1"); r.Rollout.Phase == relman.PhaseVerifying && r.Rollout.Step == 0 {
			rounds = len(r.Rollout.Measurements)
			if rounds > 2 {
				t.Fatalf("%d rounds recorded on step 1, which passes at 3", rounds)
			}
		}
		f.c.Advance(time.Minute)
	}
	r := f.get(t, "rel-1")
	if r.Deployments[0].State != relman.RolloutSucceeded {
		t.Fatalf("deployment %+v", r.Deployments[0])
	}
	if got := f.dep.Calls(); !slices.Equal(got, []string{"deploy test 0", "deploy test 1", "deploy test 2"}) {
		t.Errorf("deployer calls %v: each step once", got)
	}
	var passed []time.Time
	for _, e := range HistoryOf(t, f.m, "rel-1", relman.ActionRollout) {
		if strings.Contains(e.Reason, "passed verification") {
			passed = append(passed, e.At)
		}
	}
	// Each step bakes three one-minute rounds, whatever the drivers.
	if len(passed) != 3 || passed[1].Sub(passed[0]) < 3*time.Minute || passed[2].Sub(passed[1]) < 3*time.Minute {
		t.Errorf("steps passed at %v: a step must bake three rounds", passed)
	}
}
