package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/relman-dev/relman"
)

// ScheduleRequest is the body of POST /releases/{id}/scheduled:
// relman.ScheduleRequest, plus In, a delay from now as a duration string
// ("30m"), as an alternative to At.
type ScheduleRequest struct {
	Event   relman.Event      `json:"event"`
	Timing  relman.Timing     `json:"timing,omitempty"`
	At      time.Time         `json:"at,omitzero"`
	In      *Duration         `json:"in,omitempty"`
	Expires time.Time         `json:"expires,omitzero"`
	Reason  string            `json:"reason,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
}

// ScheduleResult is the answer of POST /releases/{id}/scheduled.
type ScheduleResult struct {
	Scheduled relman.ScheduledEvent `json:"scheduled"`
	Revision  int64                 `json:"revision"`
}

func (h *Handler) schedule(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req ScheduleRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if req.In != nil {
		if !req.At.IsZero() {
			return badRequestf("give at or in, not both")
		}
		req.At = h.m.Now().Add(time.Duration(*req.In))
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, job, err := h.m.Schedule(r.Context(), id, by, relman.ScheduleRequest{Event: req.Event, Timing: req.Timing, At: req.At,
		Expires: req.Expires, Reason: req.Reason, Params: req.Params})
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	w.Header().Set("ETag", etag(rel.Revision))
	w.Header().Set("Location", "scheduled/"+job.ID)
	return writeJSON(w, http.StatusCreated, ScheduleResult{Scheduled: job, Revision: rel.Revision})
}

func (h *Handler) scheduled(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	jobs, err := h.m.Scheduled(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []relman.ScheduledEvent{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"scheduled": jobs})
}

func (h *Handler) cancelScheduled(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.CancelScheduled(r.Context(), id, by, r.PathValue("job"), r.URL.Query().Get("reason"))
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

func (h *Handler) upcoming(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	until, err := timeParam(r, "until", h.m.Now().AddDate(0, 0, 7))
	if err != nil {
		return err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > relman.MaxUpcoming {
			return badRequestf("limit=%q: want a number from 1 to %d", v, relman.MaxUpcoming)
		}
	}
	ev, err := h.m.Upcoming(r.Context(), until, limit)
	if err != nil {
		return err
	}
	if ev == nil {
		ev = []relman.UpcomingEvent{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"upcoming": ev})
}

// RolloutStep is relman.RolloutStep with Bake as a duration string.
type RolloutStep struct {
	Name    string    `json:"name,omitempty"`
	Percent int       `json:"percent,omitempty"`
	Targets []string  `json:"targets,omitempty"`
	Manual  bool      `json:"manual,omitempty"`
	Bake    *Duration `json:"bake,omitempty"`
}

// Verification is relman.Verification with durations as strings.
type Verification struct {
	Checks            []relman.ProbeCheck `json:"checks"`
	Interval          Duration            `json:"interval"`
	Measurements      int                 `json:"measurements"`
	FailureLimit      int                 `json:"failure_limit,omitempty"`
	InconclusiveLimit int                 `json:"inconclusive_limit,omitempty"`
	Timeout           *Duration           `json:"timeout,omitempty"`
}

// RolloutPlan is relman.RolloutPlan with durations as strings.
type RolloutPlan struct {
	Steps          []RolloutStep        `json:"steps"`
	Verification   Verification         `json:"verification"`
	OnFailure      relman.FailurePolicy `json:"on_failure,omitempty"`
	OnInconclusive relman.FailurePolicy `json:"on_inconclusive,omitempty"`
	Watch          *Duration            `json:"watch,omitempty"`
	WatchRollback  bool                 `json:"watch_rollback,omitempty"`
	DeployTimeout  *Duration            `json:"deploy_timeout,omitempty"`
}

func dur(d *Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

func durp(d time.Duration) *Duration {
	if d == 0 {
		return nil
	}
	v := Duration(d)
	return &v
}

// Plan returns p as a relman.RolloutPlan.
func (p RolloutPlan) Plan() relman.RolloutPlan {
	out := relman.RolloutPlan{OnFailure: p.OnFailure, OnInconclusive: p.OnInconclusive, Watch: dur(p.Watch),
		WatchRollback: p.WatchRollback, DeployTimeout: dur(p.DeployTimeout),
		Verification: relman.Verification{Checks: p.Verification.Checks, Interval: time.Duration(p.Verification.Interval),
			Measurements: p.Verification.Measurements, FailureLimit: p.Verification.FailureLimit,
			InconclusiveLimit: p.Verification.InconclusiveLimit, Timeout: dur(p.Verification.Timeout)}}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, relman.RolloutStep{Name: s.Name, Percent: s.Percent, Targets: s.Targets, Manual: s.Manual, Bake: dur(s.Bake)})
	}
	return out
}

// NewRolloutPlan returns p in the API's form, as a client sends it in a
// StartRolloutRequest.
func NewRolloutPlan(p relman.RolloutPlan) RolloutPlan {
	out := RolloutPlan{OnFailure: p.OnFailure, OnInconclusive: p.OnInconclusive, Watch: durp(p.Watch),
		WatchRollback: p.WatchRollback, DeployTimeout: durp(p.DeployTimeout), Steps: []RolloutStep{},
		Verification: Verification{Checks: p.Verification.Checks, Interval: Duration(p.Verification.Interval),
			Measurements: p.Verification.Measurements, FailureLimit: p.Verification.FailureLimit,
			InconclusiveLimit: p.Verification.InconclusiveLimit, Timeout: durp(p.Verification.Timeout)}}
	if out.Verification.Checks == nil {
		out.Verification.Checks = []relman.ProbeCheck{}
	}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, RolloutStep{Name: s.Name, Percent: s.Percent, Targets: s.Targets, Manual: s.Manual, Bake: durp(s.Bake)})
	}
	return out
}

// StartRolloutRequest is the body of POST /releases/{id}/rollout.
type StartRolloutRequest struct {
	Environment string      `json:"environment"`
	Plan        RolloutPlan `json:"plan"`
}

// Rollout is the rollout in progress (or the last one), with durations
// as strings.
type Rollout struct {
	Environment  string               `json:"environment"`
	Plan         RolloutPlan          `json:"plan"`
	Step         int                  `json:"step"`
	StepLabel    string               `json:"step_label,omitempty"`
	Phase        relman.RolloutPhase  `json:"phase"`
	NextAt       time.Time            `json:"next_at,omitzero"`
	Measurements []relman.Measurement `json:"measurements,omitempty"`
	Reason       string               `json:"reason,omitempty"`
	StartedBy    relman.Actor         `json:"started_by"`
	StartedAt    time.Time            `json:"started_at"`
	WatchUntil   time.Time            `json:"watch_until,omitzero"`
}

// RolloutStatus is the answer of GET /releases/{id}/rollout: the current
// rollout, if any, and what happened in each environment.
type RolloutStatus struct {
	ReleaseID   string                 `json:"release_id"`
	Stage       relman.Stage           `json:"stage"`
	Revision    int64                  `json:"revision"`
	Rollout     *Rollout               `json:"rollout,omitempty"`
	Deployments []relman.EnvDeployment `json:"deployments"`
}

func rolloutStatus(rel *relman.Release) RolloutStatus {
	st := RolloutStatus{ReleaseID: rel.ID, Stage: rel.Stage, Revision: rel.Revision, Deployments: rel.Deployments}
	if st.Deployments == nil {
		st.Deployments = []relman.EnvDeployment{}
	}
	if ro := rel.Rollout; ro != nil {
		st.Rollout = &Rollout{Environment: ro.Environment, Plan: NewRolloutPlan(ro.Plan), Step: ro.Step, Phase: ro.Phase, NextAt: ro.NextAt,
			Measurements: ro.Measurements, Reason: ro.Reason, StartedBy: ro.StartedBy, StartedAt: ro.StartedAt, WatchUntil: ro.WatchUntil}
		if ro.Step >= 0 && ro.Step < len(ro.Plan.Steps) {
			st.Rollout.StepLabel = ro.Plan.Steps[ro.Step].Label()
		}
	}
	return st
}

func (h *Handler) startRollout(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req StartRolloutRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.StartRollout(r.Context(), id, by, req.Environment, req.Plan.Plan())
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	w.Header().Set("ETag", etag(rel.Revision))
	return writeJSON(w, http.StatusCreated, rolloutStatus(rel))
}

func (h *Handler) rolloutStatus(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	rel, err := h.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(rel.Revision))
	return writeJSON(w, http.StatusOK, rolloutStatus(rel))
}

// RolloutActionRequest is the body of POST /releases/{id}/rollout/{command}
// (resume, retry, skip, abort).
type RolloutActionRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (h *Handler) rolloutAction(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req RolloutActionRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.RolloutAction(r.Context(), id, by, relman.RolloutCommand(r.PathValue("command")), req.Reason)
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	w.Header().Set("ETag", etag(rel.Revision))
	return writeJSON(w, http.StatusOK, rolloutStatus(rel))
}

// outbox returns the store's outbox, or an error matching
// errors.ErrUnsupported (501).
func (h *Handler) outbox() (relman.Outbox, error) {
	ob, ok := h.m.Store().(relman.Outbox)
	if !ok || !ob.OutboxEnabled() {
		return nil, fmt.Errorf("the store keeps no outbox: %w", errors.ErrUnsupported)
	}
	return ob, nil
}

// maxDead bounds GET /outbox/dead.
const maxDead = 1000

func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	ob, err := h.outbox()
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxDead {
			return badRequestf("limit=%q: want a number from 1 to %d", v, maxDead)
		}
	}
	ns, err := ob.ListNotifications(r.Context(), true, limit)
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []relman.Notification{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"dead": ns})
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	ob, err := h.outbox()
	if err != nil {
		return err
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		return badRequestf("seq %q: want a positive number", r.PathValue("seq"))
	}
	rel, err := h.m.Get(r.Context(), r.PathValue("release"))
	if err != nil {
		return err
	}
	if err := h.authorize(r, by, ActionReplay, rel); err != nil {
		return err
	}
	if err := ob.ReplayNotification(r.Context(), rel.ID, seq, h.m.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
