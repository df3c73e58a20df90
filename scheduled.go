package relman

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timing says when a scheduled event fires.
type Timing string

// The timings of a scheduled event.
const (
	// TimingAt fires at a given time (ScheduleRequest.At).
	TimingAt Timing = "at"
	// TimingWindow fires when the release's planned window opens: the time
	// a "not yet" refusal of the deploy gate names. It follows the window
	// if the release is replanned.
	TimingWindow Timing = "window"
	// TimingASAP fires as soon as every gate allows it: now, or when the
	// "not yet" refusals lift.
	TimingASAP Timing = "asap"
)

// ScheduleState is where a scheduled event stands.
type ScheduleState string

// The states of a scheduled event. Only pending ones are still to run.
const (
	SchedulePending   ScheduleState = "pending"
	ScheduleFired     ScheduleState = "fired"     // the event fired
	ScheduleFailed    ScheduleState = "failed"    // a gate said no, or the event could not fire
	ScheduleExpired   ScheduleState = "expired"   // its expiry passed before it could fire
	ScheduleCancelled ScheduleState = "cancelled" // cancelled by CancelScheduled
)

// Bounds on the scheduled events a release keeps.
const (
	// MaxPendingScheduled is the most pending scheduled events a release
	// may have; Schedule refuses one more.
	MaxPendingScheduled = 16
	// MaxFinishedScheduled is how many finished scheduled events a release
	// keeps for inspection, newest first; older ones are dropped (the
	// audit trail keeps every one).
	MaxFinishedScheduled = 16
)

// ScheduleRequest asks the runner to fire an event on a release later.
type ScheduleRequest struct {
	Event Event `json:"event"`
	// Timing defaults to TimingAt when At is set, else TimingASAP.
	Timing Timing `json:"timing,omitempty"`
	// At is when a TimingAt event fires; it must not be before now. It
	// must be zero for the other timings.
	At time.Time `json:"at,omitzero"`
	// Expires, if set, abandons the event (state expired, audited) when it
	// has not fired by then. It must be after At (after now for the other
	// timings).
	Expires time.Time         `json:"expires,omitzero"`
	Reason  string            `json:"reason,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
}

// ScheduledEvent is an event the runner fires on a release later, as the
// actor who scheduled it, through Fire: every authorization, gate and
// audit rule applies when it runs. It lives in the release (see
// Release.Scheduled), so it is saved, and fired, in the same
// revision-checked update as the release itself: it fires at most once,
// however many runners there are.
type ScheduledEvent struct {
	ID     string `json:"id"` // "s" and the sequence number of the audit entry that scheduled it
	Event  Event  `json:"event"`
	Timing Timing `json:"timing"`
	// At is the earliest time it may fire: the requested time, the time
	// it was scheduled (window, asap), or the time a "not yet" refusal
	// named. A TimingWindow event also waits for the window's start.
	At      time.Time         `json:"at"`
	Expires time.Time         `json:"expires,omitzero"`
	Actor   Actor             `json:"actor"` // who scheduled it; it fires as them
	Reason  string            `json:"reason,omitempty"`
	Params  map[string]string `json:"params,omitempty"`

	State       ScheduleState `json:"state"`
	Deferrals   int           `json:"deferrals,omitempty"` // "not yet" answers so far
	Result      string        `json:"result,omitempty"`    // why it failed or expired
	ScheduledAt time.Time     `json:"scheduled_at"`
	DoneAt      time.Time     `json:"done_at,omitzero"`
}

func (s ScheduledEvent) clone() ScheduledEvent {
	s.Actor.Roles = slices.Clone(s.Actor.Roles)
	s.Params = maps.Clone(s.Params)
	return s
}

// DueAt returns when s next needs the runner: the earlier of when it may
// fire (for TimingWindow, not before r's window starts) and its expiry.
// ok is false when s is not pending.
func (s *ScheduledEvent) DueAt(r *Release) (at time.Time, ok bool) {
	if s.State != SchedulePending {
		return time.Time{}, false
	}
	at = s.fireAt(r)
	if !s.Expires.IsZero() && s.Expires.Before(at) {
		at = s.Expires
	}
	return at, true
}

func (s *ScheduledEvent) fireAt(r *Release) time.Time {
	if s.Timing == TimingWindow && r.Window != nil && r.Window.Start.After(s.At) {
		return r.Window.Start
	}
	return s.At
}

// NextDue returns the earliest time at which the runner has something to
// do on r: a pending scheduled event comes due or expires, or an approval
// in force expires. ok is false when there is nothing. Stores that
// implement DueStore index it.
func (r *Release) NextDue() (next time.Time, ok bool) {
	if r == nil {
		return time.Time{}, false
	}
	consider := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	for i := range r.Scheduled {
		if at, due := r.Scheduled[i].DueAt(r); due {
			consider(at)
		}
	}
	for _, ap := range r.Approvals {
		if !ap.Void && !ap.ExpiresAt.IsZero() {
			consider(ap.ExpiresAt)
		}
	}
	if at, due := r.Rollout.due(); due {
		consider(at)
	}
	return next.UTC(), ok
}

// scheduleID names the scheduled event recorded by the audit entry seq.
func scheduleID(seq int64) string { return "s" + strconv.FormatInt(seq, 10) }

func (r *Release) scheduled(id string) *ScheduledEvent {
	for i := range r.Scheduled {
		if r.Scheduled[i].ID == id {
			return &r.Scheduled[i]
		}
	}
	return nil
}

// pruneScheduled keeps every pending event and the MaxFinishedScheduled
// newest finished ones, in their order.
func (r *Release) pruneScheduled() {
	finished := 0
	for _, s := range r.Scheduled {
		if s.State != SchedulePending {
			finished++
		}
	}
	if finished <= MaxFinishedScheduled {
		return
	}
	drop := finished - MaxFinishedScheduled
	r.Scheduled = slices.DeleteFunc(r.Scheduled, func(s ScheduledEvent) bool {
		if drop > 0 && s.State != SchedulePending {
			drop--
			return true
		}
		return false
	})
}

// scheduleDetails is the audit detail map of an entry about s.
func scheduleDetails(s *ScheduledEvent, at time.Time) map[string]string {
	d := map[string]string{"job": s.ID, "event": string(s.Event), "state": string(s.State), "timing": string(s.Timing)}
	if !at.IsZero() {
		d["at"] = at.UTC().Format(time.RFC3339)
	}
	if !s.Expires.IsZero() {
		d["expires"] = s.Expires.UTC().Format(time.RFC3339)
	}
	return d
}

// Schedule asks the runner to fire req.Event on the release later, as by
// (see runner.Runner), and records it on the release with an audit entry
// (action schedule). by must be allowed both AuthSchedule and the event
// itself by the Authorizer; when the event runs, Fire asks again.
//
// It returns the stored release and the scheduled event, or a
// *ValidationError naming the field: an event the lifecycle does not have
// ("event"), an unknown timing ("timing"), a TimingAt time in the past or
// missing ("at"), an At given with another timing ("at"), an expiry not
// after the time it fires, or in the past ("expires"), TimingWindow on a
// release without a window ("timing"), more than MaxPendingScheduled
// pending ("scheduled"). Terminal releases cannot be scheduled on
// (ErrTerminal). Nothing is stored on error.
func (m *Manager) Schedule(ctx context.Context, id string, by Actor, req ScheduleRequest) (*Release, ScheduledEvent, error) {
	now := m.Now()
	if err := m.checkSchedule(&req, now); err != nil {
		return nil, ScheduledEvent{}, err
	}
	var made ScheduledEvent
	r, err := m.editWith(ctx, id, by, editOpts{action: ActionSchedule, authAction: AuthSchedule, reason: req.Reason, managed: true,
		details: func(r *Release) map[string]string {
			s := r.scheduled(made.ID)
			return scheduleDetails(s, s.fireAt(r))
		},
	}, func(r *Release) error {
		if err := m.authorize(ctx, by, string(req.Event), r); err != nil {
			return err
		}
		pending := 0
		for _, s := range r.Scheduled {
			if s.State == SchedulePending {
				pending++
			}
		}
		if pending >= MaxPendingScheduled {
			return &ValidationError{Fields: []FieldError{{Field: "scheduled", Rule: "max", Param: strconv.Itoa(MaxPendingScheduled)}}}
		}
		s := ScheduledEvent{ID: scheduleID(r.Head.Seq + 1), Event: req.Event, Timing: req.Timing, At: req.At, Expires: req.Expires,
			Actor: Actor{ID: by.ID, Roles: slices.Clone(by.Roles)}, Reason: req.Reason, Params: maps.Clone(req.Params),
			State: SchedulePending, ScheduledAt: now}
		switch req.Timing {
		case TimingWindow:
			if r.Window == nil {
				return &ValidationError{Fields: []FieldError{{Field: "timing", Rule: "window_required", Param: string(TimingWindow)}}}
			}
			s.At = now
			if !s.Expires.IsZero() && !s.Expires.After(s.fireAt(r)) {
				return &ValidationError{Fields: []FieldError{{Field: "expires", Rule: "gtfield", Param: "window.start"}}}
			}
		case TimingASAP:
			s.At = now
		}
		r.Scheduled = append(r.Scheduled, s)
		r.pruneScheduled()
		made = s
		return nil
	})
	if err != nil {
		return nil, ScheduledEvent{}, err
	}
	return r, made.clone(), nil
}

// checkSchedule validates req and fills in its default timing.
func (m *Manager) checkSchedule(req *ScheduleRequest, now time.Time) error {
	var fs []FieldError
	add := func(field, rule, param string) { fs = append(fs, FieldError{Field: field, Rule: rule, Param: param}) }
	if blank(string(req.Event)) {
		add("event", "required", "")
	} else if _, ok := m.lc.events[req.Event]; !ok {
		add("event", "event", string(req.Event))
	}
	if req.Timing == "" {
		req.Timing = TimingASAP
		if !req.At.IsZero() {
			req.Timing = TimingAt
		}
	}
	req.At = req.At.UTC().Truncate(time.Microsecond)
	req.Expires = req.Expires.UTC().Truncate(time.Microsecond)
	switch req.Timing {
	case TimingAt:
		switch {
		case req.At.IsZero():
			add("at", "required_if", "timing at")
		case req.At.Before(now):
			add("at", "gte", "now")
		}
	case TimingWindow, TimingASAP:
		if !req.At.IsZero() {
			add("at", "excluded_unless", "timing at")
		}
	default:
		add("timing", "oneof", "at window asap")
	}
	if !req.Expires.IsZero() {
		switch {
		case !req.Expires.After(now):
			add("expires", "gt", "now")
		case req.Timing == TimingAt && !req.At.IsZero() && !req.Expires.After(req.At):
			add("expires", "gtfield", "at")
		}
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return checkRequest("-", req.Event, Request{Actor: Actor{ID: "-"}, Reason: req.Reason, Params: req.Params})
}

// CancelScheduled cancels a pending scheduled event, with an audit entry
// (action schedule, state cancelled). by needs AuthSchedule. It returns an
// error matching ErrNotFound if the release has no such event, and one
// matching ErrScheduleDone if it is no longer pending.
func (m *Manager) CancelScheduled(ctx context.Context, id string, by Actor, jobID, reason string) (*Release, error) {
	if blank(jobID) {
		return nil, invalid("job", "required")
	}
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	if rule := textRule(jobID); rule != "" {
		return nil, invalid("job", rule)
	}
	return m.editWith(ctx, id, by, editOpts{action: ActionSchedule, authAction: AuthSchedule, reason: reason, managed: true,
		allow: func(*Release) error { return nil },
		details: func(r *Release) map[string]string {
			return scheduleDetails(r.scheduled(jobID), time.Time{})
		},
	}, func(r *Release) error {
		s := r.scheduled(jobID)
		switch {
		case s == nil:
			return fmt.Errorf("relman: release %q has no scheduled event %q: %w", id, jobID, ErrNotFound)
		case s.State != SchedulePending:
			return fmt.Errorf("relman: scheduled event %q of %q is %s: %w", jobID, id, s.State, ErrScheduleDone)
		}
		s.State, s.DoneAt, s.Result = ScheduleCancelled, m.Now(), reason
		r.pruneScheduled()
		return nil
	})
}

// Scheduled returns the scheduled events of a release, pending and
// recently finished, in the order they were scheduled.
func (m *Manager) Scheduled(ctx context.Context, id string) ([]ScheduledEvent, error) {
	r, err := m.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ScheduledEvent, len(r.Scheduled))
	for i, s := range r.Scheduled {
		out[i] = s.clone()
	}
	return out, nil
}

// UpcomingEvent is a pending scheduled event and the release it is on.
type UpcomingEvent struct {
	ReleaseID string         `json:"release_id"`
	DueAt     time.Time      `json:"due_at"`
	Event     ScheduledEvent `json:"scheduled"`
}

// MaxUpcoming is the most events Upcoming returns.
const MaxUpcoming = 1000

// Upcoming returns up to limit pending scheduled events that come due
// before until, across releases, earliest first (limit 0 or over
// MaxUpcoming means MaxUpcoming). The store must be a DueStore; otherwise
// the error matches errors.ErrUnsupported.
func (m *Manager) Upcoming(ctx context.Context, until time.Time, limit int) ([]UpcomingEvent, error) {
	ds, ok := m.store.(DueStore)
	if !ok {
		return nil, fmt.Errorf("relman: upcoming: the store keeps no due index: %w", errors.ErrUnsupported)
	}
	if limit < 0 {
		return nil, &ValidationError{Fields: []FieldError{{Field: "limit", Rule: "gte", Param: "0"}}}
	}
	if limit == 0 || limit > MaxUpcoming {
		limit = MaxUpcoming
	}
	ids, err := ds.DueBefore(ctx, until, limit)
	if err != nil {
		return nil, err
	}
	var out []UpcomingEvent
	for _, id := range ids {
		r, err := m.store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := range r.Scheduled {
			if at, ok := r.Scheduled[i].DueAt(r); ok && at.Before(until) {
				out = append(out, UpcomingEvent{ReleaseID: id, DueAt: at, Event: r.Scheduled[i].clone()})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b UpcomingEvent) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), strings.Compare(a.ReleaseID, b.ReleaseID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DueAction is one thing RunDue did.
type DueAction struct {
	ReleaseID string        `json:"release_id"`
	Job       string        `json:"job,omitempty"` // the scheduled event's id; empty for approval expiry
	Event     Event         `json:"event,omitempty"`
	State     ScheduleState `json:"state,omitempty"` // fired, failed, expired, or pending when deferred
	Until     time.Time     `json:"until,omitzero"`  // when deferred: the new time
	Expired   []string      `json:"expired_approvals,omitempty"`
	Rollout   string        `json:"rollout,omitempty"` // a rollout action: the environment
	Detail    string        `json:"detail,omitempty"`
}

// String describes the action in one line.
func (a DueAction) String() string {
	switch {
	case a.Rollout != "":
		return fmt.Sprintf("%s: rollout to %s: %s", a.ReleaseID, a.Rollout, a.Detail)
	case len(a.Expired) > 0:
		return fmt.Sprintf("%s: approvals expired: %s", a.ReleaseID, strings.Join(a.Expired, ", "))
	case a.State == SchedulePending:
		return fmt.Sprintf("%s: %s %s not yet, deferred to %s: %s", a.ReleaseID, a.Job, a.Event, a.Until.UTC().Format(time.RFC3339), a.Detail)
	case a.Detail != "":
		return fmt.Sprintf("%s: %s %s %s: %s", a.ReleaseID, a.Job, a.Event, a.State, a.Detail)
	}
	return fmt.Sprintf("%s: %s %s %s", a.ReleaseID, a.Job, a.Event, a.State)
}

// RunDue does what is due on a release at the Manager's clock: it voids
// approvals whose validity ran out (one audit entry, action void), drives
// its rollout (StartRollout: deploy a step, take a round of
// measurements and judge the step, roll back, keep watching), then runs
// each scheduled event that is due, earliest first:
//
//   - past its expiry: abandoned, state expired;
//   - every gate allows it: fired through the same path as Fire, in the
//     update that marks it fired (the transition's audit entry names the
//     job);
//   - "not yet" (a *GateError whose NotYet is true): deferred to the time
//     the refusal names, or expired if that is past its expiry;
//   - any other refusal (a gate's "no", a wrong stage, the Authorizer, a
//     before-hook): failed, once, with every reason recorded.
//
// Each outcome is an audit entry in the release's chain. The runner calls
// RunDue for every release its DueStore says is due; hosts without a
// runner may call it themselves. Running it twice, or from two processes
// at once, is harmless: a scheduled event is marked done in the same
// revision-checked update that fires it. A store error is returned and
// nothing more is done; what was done before it stays done.
func (m *Manager) RunDue(ctx context.Context, id string) ([]DueAction, error) {
	if blank(id) {
		return nil, invalid("id", "required")
	}
	if err := m.guard(ctx, id); err != nil {
		return nil, err
	}
	var out []DueAction
	cur, err := m.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	if slices.ContainsFunc(cur.Approvals, func(ap Approval) bool {
		return !ap.Void && !ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt)
	}) {
		a, err := m.expireApprovals(ctx, id)
		if err != nil {
			return out, err
		}
		if a != nil {
			out = append(out, *a)
		}
		cur = nil
	}
	if at, ok := cur.rolloutDue(); ok && !at.After(now) {
		ra, err := m.driveRollout(ctx, id)
		out = append(out, ra...)
		if err != nil {
			return out, err
		}
		if len(ra) > 0 {
			cur = nil
		}
	}
	for range MaxPendingScheduled + 1 {
		if cur == nil {
			if cur, err = m.store.Get(ctx, id); err != nil {
				return out, err
			}
		}
		now := m.Now()
		var next *ScheduledEvent
		for i := range cur.Scheduled {
			s := &cur.Scheduled[i]
			at, ok := s.DueAt(cur)
			if ok && !at.After(now) && (next == nil || at.Before(next.fireAt(cur))) {
				next = s
			}
		}
		if next == nil {
			return out, nil
		}
		act, after, err := m.runJob(ctx, id, next.ID, cur)
		if err != nil {
			return out, err
		}
		out = append(out, act)
		cur = after
	}
	return out, nil
}

// rolloutDue is when r's rollout next needs the runner; ok is false when
// it needs nothing. A nil r (not read yet) counts as due now.
func (r *Release) rolloutDue() (time.Time, bool) {
	if r == nil {
		return time.Time{}, true
	}
	return r.Rollout.due()
}

// expireApprovals voids the approvals in force whose validity ran out.
func (m *Manager) expireApprovals(ctx context.Context, id string) (*DueAction, error) {
	var who []string
	_, err := m.editWith(ctx, id, Actor{ID: RunnerActor}, editOpts{action: ActionVoid, managed: true, system: true,
		allow:   func(*Release) error { return nil },
		reasonf: func(*Release) string { return "approval validity ran out" },
		details: func(*Release) map[string]string {
			return map[string]string{"expired": strings.Join(who, ","), "voided_approvals": strconv.Itoa(len(who))}
		},
	}, func(r *Release) error {
		who = who[:0]
		now := m.Now()
		for i := range r.Approvals {
			ap := &r.Approvals[i]
			if !ap.Void && !ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt) {
				ap.Void, ap.VoidReason = true, voidExpired
				who = append(who, ap.Approver)
			}
		}
		return nil
	})
	if err != nil || len(who) == 0 {
		return nil, err
	}
	return &DueAction{ReleaseID: id, Expired: slices.Clone(who)}, nil
}

// runJob runs one due scheduled event (see RunDue), retrying on a
// revision conflict.
// It starts from first, the release as just read, and returns the
// release as it stands after the run (nil when it must be read again).
func (m *Manager) runJob(ctx context.Context, id, job string, first *Release) (DueAction, *Release, error) {
	act := DueAction{ReleaseID: id, Job: job}
	var unlocked bool
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return act, nil, fmt.Errorf("relman: run %s on %q: %w", job, id, err)
		}
		cur := first
		first = nil
		if cur == nil {
			var err error
			if cur, err = m.store.Get(ctx, id); err != nil {
				return act, nil, err
			}
		}
		s := cur.scheduled(job)
		if s == nil || s.State != SchedulePending {
			act.State = ScheduleState("")
			if s != nil {
				act.State = s.State
			}
			return act, cur, nil
		}
		act.Event = s.Event
		now := m.Now()
		if at, _ := s.DueAt(cur); at.After(now) {
			act.State, act.Until = SchedulePending, at
			return act, cur, nil
		}
		// Events that book time run under the schedule lock, as in Fire.
		if ce, ok := m.lc.events[s.Event]; ok && ce.books && !unlocked && ctx.Value(scheduleHeldKey{}) == nil {
			unlock, err := m.lockSchedule(ctx)
			if err != nil {
				return act, nil, fmt.Errorf("relman: run %s on %q: schedule lock: %w", job, id, err)
			}
			defer unlock()
			ctx = context.WithValue(ctx, scheduleHeldKey{}, true)
			unlocked = true
			continue // read again under the lock
		}
		var (
			r       *Release
			entries []AuditEntry
			p       *prepared
			fired   AuditEntry
		)
		if !s.Expires.IsZero() && !now.Before(s.Expires) {
			r = cur.Clone()
			s = r.scheduled(job)
			s.State, s.DoneAt, s.Result = ScheduleExpired, now, "not fired by its expiry"
			act.State, act.Detail = s.State, s.Result
		} else {
			req := Request{Actor: s.Actor, Reason: s.Reason, Params: s.Params}
			var perr error
			p = new(prepared)
			perr = m.prepare(ctx, p, cur, s.Event, req, false)
			if perr != nil && ctx.Err() != nil {
				return act, nil, fmt.Errorf("relman: run %s on %q: %w", job, id, ctx.Err())
			}
			r = cur
			if perr == nil {
				r = p.cand
			}
			if r == cur {
				r = cur.Clone()
			}
			s = r.scheduled(job)
			var ge *GateError
			switch {
			case perr == nil:
				to, err := m.lc.step(id, cur.Stage, s.Event)
				if err != nil {
					return act, nil, err
				}
				details := maps.Clone(p.details)
				if details == nil {
					details = map[string]string{}
				}
				details["job"] = job
				r.Stage = to
				r.EnteredAt, now = p.t.Now, p.t.Now
				s.State, s.DoneAt = ScheduleFired, now
				act.State = ScheduleFired
				fired = r.Record(AuditEntry{At: p.t.Now, Actor: s.Actor.ID, Action: ActionTransition, Event: s.Event,
					From: p.t.From, To: to, Reason: s.Reason, Details: details})
				entries = append([]AuditEntry{fired}, sideEntries(r, p.t, p.details)...)
			case errors.As(perr, &ge) && isNotYet(ge):
				until, _ := ge.NotYet()
				until = until.UTC()
				if !s.Expires.IsZero() && !until.Before(s.Expires) {
					s.State, s.DoneAt, s.Result = ScheduleExpired, now, "not allowed before its expiry: "+perr.Error()
					act.State, act.Detail = s.State, s.Result
				} else {
					s.At = until
					s.Deferrals++
					act.State, act.Until, act.Detail = SchedulePending, until, perr.Error()
				}
			case isStoreError(perr):
				return act, nil, perr
			default:
				s.State, s.DoneAt, s.Result = ScheduleFailed, now, perr.Error()
				act.State, act.Detail = s.State, s.Result
			}
		}
		r.UpdatedAt = now
		if act.State != ScheduleFired {
			r.pruneScheduled()
			d := scheduleDetails(s, act.Until)
			if act.State == SchedulePending {
				d["state"] = "deferred"
			}
			entries = []AuditEntry{r.Record(AuditEntry{At: now, Actor: RunnerActor, Action: ActionSchedule, Event: s.Event,
				Reason: act.Detail, Details: d})}
		} else {
			r.pruneScheduled()
		}
		err := m.update(ctx, r, entries...)
		if errors.Is(err, ErrConflict) && attempt < m.retries {
			continue
		}
		if err != nil {
			return act, nil, err
		}
		if p != nil && act.State == ScheduleFired && m.observed(p.ev, p.t.From, r.Stage) {
			m.notify(ctx, p.ev, r, p.t, entries[0])
			return act, nil, nil // after-hooks may have changed it
		}
		return act, r, nil
	}
}

// isNotYet reports whether every failure of ge is a "not yet".
func isNotYet(ge *GateError) bool {
	_, ok := ge.NotYet()
	return ok
}

// isStoreError reports whether err came from the store rather than from a
// rule: the scheduled event is then left pending for another try.
func isStoreError(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
