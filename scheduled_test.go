package relman_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// authorized creates a release and drives it to authorized; its window
// opens 24 hours after the clock's start.
func authorized(t *testing.T, m *relman.Manager, c *clock, id string) *relman.Release {
	t.Helper()
	toVerified(t, m, c, newRelease(id))
	return authorize(t, m, id)
}

func runDue(t *testing.T, m *relman.Manager, id string) []relman.DueAction {
	t.Helper()
	acts, err := m.RunDue(context.Background(), id)
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return acts
}

// entries returns the history entries of action a, after checking the
// chain.
func entries(t *testing.T, m *relman.Manager, id string, a relman.Action) []relman.AuditEntry {
	t.Helper()
	return storetest.HistoryOf(t, m, id, a)
}

func TestScheduleDeployAtWindowOpening(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := authorized(t, m, c, "rel-1")
	opens := r.Window.Start
	r, s, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow, Reason: "ship at the window"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != relman.SchedulePending || s.ID == "" || len(r.Scheduled) != 1 {
		t.Fatalf("scheduled %+v on %+v", s, r.Scheduled)
	}
	if due, ok := r.NextDue(); !ok || !due.Equal(opens) {
		t.Errorf("NextDue = %v, %v; want the window's start %v", due, ok, opens)
	}
	up, err := m.Upcoming(ctx, opens.Add(time.Hour), 0)
	if err != nil || len(up) != 1 || up[0].ReleaseID != "rel-1" || !up[0].DueAt.Equal(opens) || up[0].Event.ID != s.ID {
		t.Fatalf("Upcoming = %+v, %v", up, err)
	}

	// Not before the window opens.
	c.now = opens.Add(-time.Second)
	if acts := runDue(t, m, "rel-1"); len(acts) != 0 {
		t.Fatalf("a second before the window RunDue did %v", acts)
	}
	if got, _ := m.Get(ctx, "rel-1"); got.Stage != relman.StageAuthorized {
		t.Fatalf("stage %s before the window", got.Stage)
	}
	// At the opening it fires, as the actor who scheduled it.
	c.now = opens
	acts := runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].State != relman.ScheduleFired || acts[0].Job != s.ID {
		t.Fatalf("at the window RunDue did %+v", acts)
	}
	got, _ := m.Get(ctx, "rel-1")
	if got.Stage != relman.StageDeploying || got.Scheduled[0].State != relman.ScheduleFired || !got.Scheduled[0].DoneAt.Equal(opens) {
		t.Fatalf("after firing: stage %s, scheduled %+v", got.Stage, got.Scheduled)
	}
	if _, ok := got.NextDue(); ok {
		t.Error("nothing should be due after the event fired")
	}
	deploys := slices.DeleteFunc(entries(t, m, "rel-1", relman.ActionTransition), func(e relman.AuditEntry) bool { return e.Event != relman.EventDeploy })
	if len(deploys) != 1 || deploys[0].Actor != alice.ID || deploys[0].Details["job"] != s.ID || !deploys[0].At.Equal(opens) {
		t.Fatalf("deploy entries %+v", deploys)
	}
	sched := entries(t, m, "rel-1", relman.ActionSchedule)
	if len(sched) != 1 || sched[0].Details["state"] != "pending" || sched[0].Details["job"] != s.ID {
		t.Fatalf("schedule entries %+v", sched)
	}
	// Running again does nothing more.
	if acts := runDue(t, m, "rel-1"); len(acts) != 0 {
		t.Errorf("a second RunDue did %v", acts)
	}
}

func TestScheduleFollowsAReplannedWindow(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := authorized(t, m, c, "rel-1")
	if _, _, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow}); err != nil {
		t.Fatal(err)
	}
	later := relman.Span{Start: r.Window.Start.Add(48 * time.Hour), End: r.Window.End.Add(48 * time.Hour)}
	fire(t, m, "rel-1", relman.EventReplan, relman.Request{Window: &later, Reason: "moved"})
	got, _ := m.Get(ctx, "rel-1")
	if due, _ := got.NextDue(); !due.Equal(later.Start) {
		t.Errorf("NextDue after replan = %v, want %v", due, later.Start)
	}
}

func TestScheduleASAPDefersOnNotYet(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := authorized(t, m, c, "rel-1")
	_, s, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy})
	if err != nil {
		t.Fatal(err)
	}
	if s.Timing != relman.TimingASAP {
		t.Fatalf("default timing without At = %s, want asap", s.Timing)
	}
	acts := runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].State != relman.SchedulePending || !acts[0].Until.Equal(r.Window.Start) {
		t.Fatalf("RunDue before the window: %+v", acts)
	}
	got, _ := m.Get(ctx, "rel-1")
	if got.Stage != relman.StageAuthorized || got.Scheduled[0].Deferrals != 1 || !got.Scheduled[0].At.Equal(r.Window.Start) {
		t.Fatalf("after deferral: %s %+v", got.Stage, got.Scheduled[0])
	}
	if e := entries(t, m, "rel-1", relman.ActionSchedule); len(e) != 2 || e[1].Details["state"] != "deferred" || e[1].Actor != relman.RunnerActor ||
		!strings.Contains(e[1].Reason, "outside the planned window") {
		t.Fatalf("schedule entries %+v", e)
	}
	c.now = r.Window.Start.Add(time.Minute)
	if acts := runDue(t, m, "rel-1"); len(acts) != 1 || acts[0].State != relman.ScheduleFired {
		t.Fatalf("RunDue in the window: %+v", acts)
	}
}

func TestScheduleExpires(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := authorized(t, m, c, "rel-1")

	// The runner was down past the expiry: abandoned, never fired.
	at := c.now.Add(time.Hour)
	_, s1, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, At: at, Expires: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// "Not yet" until a time past the expiry: abandoned at once.
	_, s2, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingASAP, Expires: c.now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	acts := runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].Job != s2.ID || acts[0].State != relman.ScheduleExpired || !strings.Contains(acts[0].Detail, "before its expiry") {
		t.Fatalf("asap past its expiry: %+v", acts)
	}
	c.now = at.Add(3 * time.Hour)
	acts = runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].Job != s1.ID || acts[0].State != relman.ScheduleExpired {
		t.Fatalf("after its expiry: %+v", acts)
	}
	got, _ := m.Get(ctx, "rel-1")
	if got.Stage != relman.StageAuthorized || got.Revision != r.Revision+4 {
		t.Fatalf("stage %s revision %d (want authorized, %d)", got.Stage, got.Revision, r.Revision+4)
	}
	for _, s := range got.Scheduled {
		if s.State != relman.ScheduleExpired {
			t.Errorf("%s is %s", s.ID, s.State)
		}
	}
	var expired int
	for _, e := range entries(t, m, "rel-1", relman.ActionSchedule) {
		if e.Details["state"] == "expired" {
			expired++
		}
	}
	if expired != 2 {
		t.Errorf("%d expiry entries, want 2", expired)
	}
}

func TestScheduleFailsOnceOnNo(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	toVerified(t, m, c, newRelease("rel-1"))
	// authorize without assessment or approvals: the gate says no.
	_, s, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventAuthorize})
	if err != nil {
		t.Fatal(err)
	}
	// deploy from verified: the lifecycle says no.
	_, s2, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, At: c.now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	acts := runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].State != relman.ScheduleFailed || !strings.Contains(acts[0].Detail, "risk not assessed") {
		t.Fatalf("authorize without approvals: %+v", acts)
	}
	c.Advance(time.Minute)
	acts = runDue(t, m, "rel-1")
	if len(acts) != 1 || acts[0].Job != s2.ID || acts[0].State != relman.ScheduleFailed || !strings.Contains(acts[0].Detail, "not allowed") {
		t.Fatalf("deploy from verified: %+v", acts)
	}
	if acts := runDue(t, m, "rel-1"); len(acts) != 0 {
		t.Errorf("a failed event ran again: %+v", acts)
	}
	got, _ := m.Get(ctx, "rel-1")
	if got.Stage != relman.StageVerified || got.Scheduled[0].ID != s.ID || got.Scheduled[0].Result == "" {
		t.Errorf("after failures: %s %+v", got.Stage, got.Scheduled)
	}
}

func TestScheduleRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	if _, err := m.Create(ctx, newRelease("rel-1"), alice); err != nil { // no window yet
		t.Fatal(err)
	}
	before, _ := m.Get(ctx, "rel-1")
	for _, tc := range []struct {
		name  string
		req   relman.ScheduleRequest
		field string
	}{
		{"past", relman.ScheduleRequest{Event: relman.EventApprove, At: c.now.Add(-time.Second)}, "at"},
		{"unknown event", relman.ScheduleRequest{Event: "launch", At: c.now.Add(time.Hour)}, "event"},
		{"no event", relman.ScheduleRequest{At: c.now.Add(time.Hour)}, "event"},
		{"expiry before at", relman.ScheduleRequest{Event: relman.EventApprove, At: c.now.Add(time.Hour), Expires: c.now.Add(time.Minute)}, "expires"},
		{"expiry in the past", relman.ScheduleRequest{Event: relman.EventApprove, Expires: c.now.Add(-time.Minute)}, "expires"},
		{"at with asap", relman.ScheduleRequest{Event: relman.EventApprove, Timing: relman.TimingASAP, At: c.now.Add(time.Hour)}, "at"},
		{"at timing without at", relman.ScheduleRequest{Event: relman.EventApprove, Timing: relman.TimingAt}, "at"},
		{"unknown timing", relman.ScheduleRequest{Event: relman.EventApprove, Timing: "soon"}, "timing"},
		{"window without one", relman.ScheduleRequest{Event: relman.EventApprove, Timing: relman.TimingWindow}, "timing"},
		{"long reason", relman.ScheduleRequest{Event: relman.EventApprove, Reason: strings.Repeat("x", 4001)}, "reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := m.Schedule(ctx, "rel-1", alice, tc.req)
			var ve *relman.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) || !slices.ContainsFunc(ve.Fields, func(f relman.FieldError) bool { return f.Field == tc.field }) {
				t.Fatalf("Schedule = %v, want a *ValidationError naming %q", err, tc.field)
			}
		})
	}
	after, _ := m.Get(ctx, "rel-1")
	if after.Revision != before.Revision || len(after.Scheduled) != 0 {
		t.Errorf("refused schedules changed the release: revision %d → %d, %v", before.Revision, after.Revision, after.Scheduled)
	}
	if _, _, err := m.Schedule(ctx, "nope", alice, relman.ScheduleRequest{Event: relman.EventApprove}); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("unknown release: %v", err)
	}
	// A bound on pending events.
	for i := range relman.MaxPendingScheduled {
		if _, _, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventApprove, At: c.now.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventApprove, At: c.now.Add(time.Hour)})
	if ve := (*relman.ValidationError)(nil); !errors.As(err, &ve) || ve.Fields[0].Field != "scheduled" {
		t.Errorf("one more than MaxPendingScheduled: %v", err)
	}
	// Host edits cannot write scheduled events.
	_, err = m.Edit(ctx, "rel-1", alice, "sneak", func(r *relman.Release) error {
		r.Scheduled[0].At = c.now
		return nil
	})
	if ve := (*relman.ValidationError)(nil); !errors.As(err, &ve) || ve.Fields[0].Field != "scheduled" {
		t.Errorf("Edit of scheduled: %v", err)
	}
}

func TestScheduleAuthorizer(t *testing.T) {
	ctx := context.Background()
	var asked []string
	var mu sync.Mutex
	m, _ := newManager(t, relman.WithAuthorizer(relman.AuthorizerFunc(func(_ context.Context, a relman.Actor, action string, _ *relman.Release) error {
		mu.Lock()
		defer mu.Unlock()
		if a.ID == "mallory" {
			asked = append(asked, action)
			if action == "approve" {
				return errors.New("not an approver")
			}
		}
		return nil
	})))
	if _, err := m.Create(ctx, newRelease("rel-1"), alice); err != nil {
		t.Fatal(err)
	}
	_, _, err := m.Schedule(ctx, "rel-1", relman.Actor{ID: "mallory"}, relman.ScheduleRequest{Event: relman.EventApprove})
	if !errors.Is(err, relman.ErrForbidden) {
		t.Fatalf("Schedule of an event the actor may not fire = %v", err)
	}
	if !slices.Equal(asked, []string{relman.AuthSchedule, "approve"}) {
		t.Errorf("asked %v", asked)
	}
}

func TestCancelScheduled(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	authorized(t, m, c, "rel-1")
	_, s, err := m.Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow})
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.CancelScheduled(ctx, "rel-1", alice, s.ID, "postponed by the CAB")
	if err != nil {
		t.Fatal(err)
	}
	if r.Scheduled[0].State != relman.ScheduleCancelled {
		t.Fatalf("after cancel: %+v", r.Scheduled[0])
	}
	if _, ok := r.NextDue(); ok {
		t.Error("a cancelled event is still due")
	}
	if _, err := m.CancelScheduled(ctx, "rel-1", alice, s.ID, "again"); !errors.Is(err, relman.ErrScheduleDone) {
		t.Errorf("second cancel = %v, want ErrScheduleDone", err)
	}
	if _, err := m.CancelScheduled(ctx, "rel-1", alice, "s999", "x"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("unknown job = %v, want ErrNotFound", err)
	}
	if _, err := m.CancelScheduled(ctx, "rel-1", alice, "", "x"); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("empty job = %v, want ErrInvalid", err)
	}
	e := entries(t, m, "rel-1", relman.ActionSchedule)
	if len(e) != 2 || e[1].Details["state"] != "cancelled" || e[1].Reason != "postponed by the CAB" {
		t.Errorf("schedule entries %+v", e)
	}
}

func TestScheduledFiresOnceAcrossManagers(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	c := &clock{now: t0}
	var ms []*relman.Manager
	for range 4 {
		m, err := relman.NewManager(store, relman.WithClock(c.Now), relman.WithRetries(10))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	r := authorized(t, ms[0], c, "rel-1")
	if _, _, err := ms[0].Schedule(ctx, "rel-1", alice, relman.ScheduleRequest{Event: relman.EventDeploy, Timing: relman.TimingWindow}); err != nil {
		t.Fatal(err)
	}
	c.now = r.Window.Start
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			if _, err := m.RunDue(ctx, "rel-1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var deploys int
	for _, e := range entries(t, ms[0], "rel-1", relman.ActionTransition) {
		if e.Event == relman.EventDeploy {
			deploys++
		}
	}
	if deploys != 1 {
		t.Errorf("deploy fired %d times, want once", deploys)
	}
}

func TestApprovalExpiry(t *testing.T) {
	ctx := context.Background()
	policy := relman.DefaultPolicy()
	policy.Validity = 7 * 24 * time.Hour
	m, c := newManager(t, relman.WithPolicy(policy))
	toVerified(t, m, c, newRelease("rel-1"))
	if _, err := m.Assess(ctx, "rel-1", alice); err != nil {
		t.Fatal(err)
	}
	r, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "fine")
	if err != nil {
		t.Fatal(err)
	}
	given := r.Approvals[0].At
	if want := given.Add(7 * 24 * time.Hour); !r.Approvals[0].ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", r.Approvals[0].ExpiresAt, want)
	}
	if due, ok := r.NextDue(); !ok || !due.Equal(r.Approvals[0].ExpiresAt) {
		t.Errorf("NextDue = %v, %v; want the approval's expiry", due, ok)
	}
	// A day before it expires, nothing is due and authorize would pass.
	c.now = given.Add(6 * 24 * time.Hour)
	if acts := runDue(t, m, "rel-1"); len(acts) != 0 {
		t.Fatalf("RunDue before expiry: %+v", acts)
	}
	if err := m.Check(ctx, "rel-1", relman.EventAuthorize, relman.Request{Actor: alice}); err != nil {
		t.Fatalf("Check before expiry: %v", err)
	}
	// Past it, the gate names the expired approval, before and after the
	// runner voids it.
	c.now = given.Add(8 * 24 * time.Hour)
	check := func(when string) {
		t.Helper()
		err := authorizeErr(m, "rel-1")
		var ge *relman.GateError
		if !errors.As(err, &ge) || !errors.Is(err, relman.ErrApprovalExpired) || !errors.Is(err, relman.ErrApprovalsMissing) || !strings.Contains(err.Error(), "carl") {
			t.Fatalf("authorize %s: %v, want a *GateError naming carl's expired approval", when, err)
		}
	}
	check("after expiry")
	acts := runDue(t, m, "rel-1")
	if len(acts) != 1 || !slices.Equal(acts[0].Expired, []string{"carl"}) {
		t.Fatalf("RunDue after expiry: %+v", acts)
	}
	check("after the runner voided it")
	voids := entries(t, m, "rel-1", relman.ActionVoid)
	if len(voids) != 1 || voids[0].Details["expired"] != "carl" || voids[0].Actor != relman.RunnerActor {
		t.Fatalf("void entries %+v", voids)
	}
	got, _ := m.Get(ctx, "rel-1")
	if !got.Approvals[0].Void || got.Approvals[0].VoidReason != "expired" {
		t.Errorf("approval after RunDue: %+v", got.Approvals[0])
	}
	if acts := runDue(t, m, "rel-1"); len(acts) != 0 {
		t.Errorf("a second RunDue did %+v", acts)
	}
	// Approving again lifts it.
	if _, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "still fine"); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "rel-1", relman.EventAuthorize, relman.Request{})
}

func TestApprovalValidityPerRule(t *testing.T) {
	ctx := context.Background()
	policy := relman.DefaultPolicy()
	policy.Validity = 30 * 24 * time.Hour
	for i := range policy.Rules {
		if policy.Rules[i].Model == relman.ModelNormal && policy.Rules[i].Level == relman.LevelLow {
			policy.Rules[i].Validity = 24 * time.Hour
		}
	}
	m, c := newManager(t, relman.WithPolicy(policy))
	toVerified(t, m, c, newRelease("rel-1"))
	// Before the assessment the level is unknown: the policy's validity.
	r, err := m.Approve(ctx, "rel-1", relman.Actor{ID: "carl"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Approvals[0].ExpiresAt.Sub(r.Approvals[0].At); d != 30*24*time.Hour {
		t.Errorf("validity before assessment = %v, want 720h", d)
	}
	if _, err := m.Assess(ctx, "rel-1", alice); err != nil {
		t.Fatal(err)
	}
	r, err = m.Approve(ctx, "rel-1", relman.Actor{ID: "dana"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if last := r.Approvals[len(r.Approvals)-1]; last.ExpiresAt.Sub(last.At) != 24*time.Hour {
		t.Errorf("validity under the low-risk rule = %v, want 24h", last.ExpiresAt.Sub(last.At))
	}
	bad := relman.DefaultPolicy()
	bad.Validity = -time.Hour
	bad.Rules[0].Validity = -time.Minute
	err = bad.Validate()
	var ve *relman.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "rules[0].validity" || ve.Fields[1].Field != "validity" {
		t.Errorf("Validate of negative validities = %v", err)
	}
}
