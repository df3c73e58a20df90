package main

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// Schedule is the forward schedule of change over a period: what the page
// draws and what /api/schedule returns.
type Schedule struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Now  time.Time `json:"now"`
	// Releases are those whose planned window overlaps [From, To),
	// ordered by window start.
	Releases []Entry `json:"releases"`
	// Unscheduled are the live releases (not in a terminal stage) without
	// a planned window: the needs and plans still to be booked.
	Unscheduled []Entry `json:"unscheduled"`
	// Windows are the occurrences of the calendar's maintenance windows
	// and freezes in the period, ordered by start.
	Windows []Window `json:"windows"`
	// Conflicts are the scheduling conflicts among planned releases that
	// overlap the period (Manager.Conflicts).
	Conflicts []Conflict `json:"conflicts"`
}

// Entry is one release on the schedule.
type Entry struct {
	ID       string       `json:"id"`
	Title    string       `json:"title"`
	Version  string       `json:"version"`
	Stage    relman.Stage `json:"stage"`
	Kind     relman.Kind  `json:"kind"`
	Owner    string       `json:"owner"`
	Services []string     `json:"services"`
	Teams    []string     `json:"teams"`
	Window   *relman.Span `json:"window,omitempty"`
	Conflict bool         `json:"conflict,omitempty"` // part of at least one conflict
	Rollout  *Progress    `json:"rollout,omitempty"`  // the release's rollout, if it has one
}

// Progress is where a release's rollout stands: the environment, the
// phase, the step reached, and what each environment's last rollout did.
type Progress struct {
	Environment  string              `json:"environment"`
	Phase        relman.RolloutPhase `json:"phase"`
	Step         int                 `json:"step"`  // steps passed, or the one under way (1-based)
	Steps        int                 `json:"steps"` // steps in the plan
	Label        string              `json:"label"` // the current step: "25%", "eu-1", "manual approval"
	Percent      int                 `json:"percent"`
	Reason       string              `json:"reason,omitempty"`
	Environments []EnvState          `json:"environments"`
}

// EnvState is how a release's last rollout to an environment ended.
type EnvState struct {
	Environment string              `json:"environment"`
	State       relman.RolloutState `json:"state"`
}

// progressOf summarises r's rollout, or returns nil.
func progressOf(r *relman.Release) *Progress {
	ro := r.Rollout
	if ro == nil {
		return nil
	}
	p := &Progress{Environment: ro.Environment, Phase: ro.Phase, Step: ro.Step + 1, Steps: len(ro.Plan.Steps),
		Label: ro.Plan.Steps[ro.Step].Label(), Reason: ro.Reason}
	for _, st := range ro.Plan.Steps[:ro.Step+1] {
		p.Percent = max(p.Percent, st.Percent)
	}
	for _, d := range r.Deployments {
		p.Environments = append(p.Environments, EnvState{Environment: d.Environment, State: d.State})
	}
	return p
}

// Window is one occurrence of a maintenance window or a freeze.
type Window struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Kind relman.WindowKind `json:"kind"` // maintenance or freeze
	Span relman.Span       `json:"span"`
}

// Conflict is a scheduling conflict: two releases on one service or team,
// a window inside a freeze or outside maintenance, or over capacity.
type Conflict struct {
	Kind     relman.ConflictKind `json:"kind"`
	Releases []string            `json:"releases"`
	Span     relman.Span         `json:"span"`
	Reason   string              `json:"reason"`
}

// buildSchedule reads the releases of the store and lays out [from, to).
func buildSchedule(ctx context.Context, m *relman.Manager, from, to, now time.Time) (*Schedule, error) {
	s := &Schedule{From: from, To: to, Now: now, Releases: []Entry{}, Unscheduled: []Entry{}, Windows: []Window{}, Conflicts: []Conflict{}}
	period := relman.Span{Start: from, End: to}
	lc := m.Lifecycle()
	q := relman.Query{OrderBy: relman.OrderCreated, Limit: relman.MaxPage}
	for {
		page, err := m.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			e := Entry{ID: r.ID, Title: r.Title, Version: r.Version, Stage: r.Stage, Kind: r.Kind, Owner: r.Owner,
				Services: nonNil(r.Services), Teams: nonNil(r.Teams), Window: r.Window, Rollout: progressOf(r)}
			switch {
			case r.Window != nil && r.Window.Overlaps(period):
				s.Releases = append(s.Releases, e)
			case r.Window == nil && !lc.Terminal(r.Stage):
				s.Unscheduled = append(s.Unscheduled, e)
			}
		}
		if len(page) < q.Limit {
			break
		}
		q.Offset += len(page)
	}
	slices.SortFunc(s.Releases, func(a, b Entry) int {
		return cmp.Or(a.Window.Start.Compare(b.Window.Start), strings.Compare(a.ID, b.ID))
	})
	cal, err := m.Calendar(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range cal.Occurrences(period, nil) {
		s.Windows = append(s.Windows, Window{ID: o.WindowID, Name: o.Name, Kind: o.Kind, Span: o.Span})
	}
	conflicts, err := m.Conflicts(ctx)
	if err != nil {
		return nil, err
	}
	in := make(map[string]bool)
	for _, c := range conflicts {
		if !c.Span.Overlaps(period) {
			continue
		}
		s.Conflicts = append(s.Conflicts, Conflict{Kind: c.Kind, Releases: c.Releases, Span: c.Span, Reason: c.Reason})
		for _, id := range c.Releases {
			in[id] = true
		}
	}
	for i := range s.Releases {
		s.Releases[i].Conflict = in[s.Releases[i].ID]
	}
	return s, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
