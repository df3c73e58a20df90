package relman

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// MetricsQuery selects the period, and optionally the releases, of a
// delivery metrics report (see Measure).
type MetricsQuery struct {
	// From and To bound the period, half-open: an instant t is in the
	// period when From <= t < To. Both are required and To must be after
	// From.
	From time.Time `json:"from" validate:"required"`
	To   time.Time `json:"to" validate:"required,gtfield=From"`
	// Service and Team, when set, narrow the report to the releases that
	// touch that service or involve that team (as Query does).
	Service string `json:"service,omitempty" validate:"max=200"`
	Team    string `json:"team,omitempty" validate:"max=200"`
}

// DurationStats summarizes a set of durations. With Count 0 every other
// field is 0.
type DurationStats struct {
	Count  int           `json:"count"`
	Mean   time.Duration `json:"mean"`   // arithmetic mean, rounded to the nanosecond
	Median time.Duration `json:"median"` // middle value; the mean of the two middle values for an even count
	Min    time.Duration `json:"min"`
	Max    time.Duration `json:"max"`
}

// RatingStats summarizes user ratings. With Count 0, Mean is 0.
type RatingStats struct {
	Count  int     `json:"count"`
	Mean   float64 `json:"mean"`
	Counts [5]int  `json:"counts"` // Counts[k-1] is the number of ratings of k
}

// DeliveryMetrics are the delivery figures of a set of releases over a
// period [From, To). Every figure is anchored on an instant that must lie
// in the period; the instants of transitions are read from the audit
// history (the At of ActionTransition entries, by their To stage), the
// others from the release's Feedback and Incidents. Stages are those of
// the default lifecycle.
//
// A release's deployment is its first transition into StageDeploying;
// it is "in the period" when that transition is. A release reaches
// operation at its first transition into StageOperating.
type DeliveryMetrics struct {
	// Releases counts the releases that contributed to at least one
	// figure below.
	Releases int `json:"releases"`

	// Deployments counts the deployments in the period, successful or
	// not (a deployment rolled back before completion counts too).
	Deployments int `json:"deployments"`
	// DeploymentsPerDay is Deployments divided by the length of the
	// period in days of 24 hours (deployment frequency).
	DeploymentsPerDay float64 `json:"deployments_per_day"`

	// Failures counts the deployments in the period that are change
	// failures, as known when the report is computed: the release was
	// rolled back, its review outcome is failed, or it caused an incident
	// (Relation caused), whenever those happened. A period's failure
	// figures can therefore still rise after the period ends, as failures
	// come to light. A release still deploying, or operating without any
	// of these, is not a failure.
	Failures int `json:"failures"`
	// ChangeFailureRate is Failures / Deployments, in [0, 1]; it is 0
	// when there were no deployments (look at Deployments to tell "no
	// failures" from "no data").
	ChangeFailureRate float64 `json:"change_failure_rate"`

	// LeadTimeFromApproval is, over the releases that reached operation
	// in the period, the time from their first transition into
	// StageApproved to reaching operation. Releases never approved (a
	// custom lifecycle may skip it) have no sample. Releases not yet in
	// operation have none either: they count in the period in which they
	// arrive.
	LeadTimeFromApproval DurationStats `json:"lead_time_from_approval"`
	// LeadTimeFromProposal is the same from the release's creation (its
	// create audit entry, when it was proposed).
	LeadTimeFromProposal DurationStats `json:"lead_time_from_proposal"`

	// TimeToRestore is, over the incidents caused by the releases and
	// resolved in the period, ResolvedAt − OpenedAt. Open incidents have
	// no sample; see OpenIncidents.
	TimeToRestore DurationStats `json:"time_to_restore"`
	// OpenIncidents counts the incidents caused by the releases that are
	// open at the end of the period: opened before To and not resolved
	// before To.
	OpenIncidents int `json:"open_incidents"`

	// Rollbacks counts the transitions into StageRolledBack in the
	// period.
	Rollbacks int `json:"rollbacks"`
	// RollbackDuration is, over those rollbacks, the time from the
	// release's last transition into StageDeploying before the rollback
	// to the rollback: how long the bad change was out.
	RollbackDuration DurationStats `json:"rollback_duration"`

	// Rating summarizes the user feedback given in the period (Feedback.At
	// in [From, To)).
	Rating RatingStats `json:"rating"`
}

// MetricsReport holds the delivery metrics of a period, for all the
// selected releases and broken down by service and by team.
type MetricsReport struct {
	Query MetricsQuery `json:"query"`
	// Scanned is the number of releases read from the store.
	Scanned int `json:"scanned"`
	// Overall counts each selected release once.
	Overall DeliveryMetrics `json:"overall"`
	// ByService holds, for each service, the metrics of the selected
	// releases that touch it (a release touching two services counts in
	// both). A service without any figure in the period is absent, and
	// looking it up gives the zero DeliveryMetrics.
	ByService map[string]DeliveryMetrics `json:"by_service"`
	// ByTeam is the same per team: the teams listed in Teams and those
	// owning a task (see Release.HasTeam).
	ByTeam map[string]DeliveryMetrics `json:"by_team"`
}

// Scanner is an optional ability of a Store: visiting every release that
// matches a query's filters in one pass, without paging. Measure uses it
// when the store has it, instead of paging through List (with offset
// paging, a store that sorts in memory pays a sort per page).
type Scanner interface {
	// Scan calls fn with a copy of every release matching q's filters
	// (Stages, Service, Team, Kind), in no particular order; q's order
	// and paging are ignored. fn may call the store's other methods
	// (Measure reads each release's History from it), so Scan must not
	// hold a lock or a connection they need while fn runs. An error from
	// fn stops the scan and is returned as is. A bad query is an error
	// matching ErrInvalid.
	Scan(ctx context.Context, q Query, fn func(r *Release) error) error
}

// scanAll calls fn with every release matching q: through Scan if store
// is a Scanner, else page by page with List and a cursor, in creation
// order (so that releases created meanwhile come last and none is
// skipped). It stops at the first error.
func scanAll(ctx context.Context, store Store, q Query, fn func(*Release) error) error {
	if sc, ok := store.(Scanner); ok {
		return sc.Scan(ctx, q, fn)
	}
	q.OrderBy, q.Desc, q.Limit, q.Offset, q.After = OrderCreated, false, MaxPage, 0, ""
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("relman: scan: %w", err)
		}
		page, err := store.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < q.Limit {
			return nil
		}
		q.After = q.Cursor(page[len(page)-1])
	}
}

// Measure computes the delivery metrics of the period q selects from the
// releases and audit histories in store (see DeliveryMetrics for the
// definition of each figure). It reads the releases with Scan if store
// is a Scanner, and otherwise pages through store.List in creation order
// (so releases created meanwhile come last and none is skipped). It reads
// the history of every release that may have an entry in the period: it
// skips the history of a release updated before From or created at or
// after To, relying on UpdatedAt being at or after every audit entry,
// which the Manager guarantees. It is not a snapshot: releases changed
// while it runs may be seen before or after the change.
//
// It returns a *ValidationError for a bad query, and the store's error
// (or the context's) if reading fails.
//
// Measure finds a store's optional abilities (Scanner, FeedbackStore) by
// type assertion, so pass the store itself: a wrapper that hides them
// makes Measure page through List and miss feedback kept as records. To
// follow its progress, use MeasureProgress rather than a wrapper.
func Measure(ctx context.Context, store Store, q MetricsQuery, opts ...MeasureOption) (*MetricsReport, error) {
	var mo measureOptions
	for _, o := range opts {
		o(&mo)
	}
	if store == nil {
		return nil, invalid("store", "required")
	}
	if err := validateStruct(q); err != nil {
		return nil, err
	}
	rep := &MetricsReport{Query: q, ByService: make(map[string]DeliveryMetrics), ByTeam: make(map[string]DeliveryMetrics)}
	overall := new(metricsAcc)
	services := make(map[string]*metricsAcc)
	teams := make(map[string]*metricsAcc)
	group := func(m map[string]*metricsAcc, k string) *metricsAcc {
		a := m[k]
		if a == nil {
			a = new(metricsAcc)
			m[k] = a
		}
		return a
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("relman: measure: %w", err)
	}
	// Feedback kept as records is counted per release in one query.
	var ratings map[string][5]int
	if fs, ok := store.(FeedbackStore); ok {
		var err error
		if ratings, err = fs.FeedbackRatings(ctx, q.From, q.To); err != nil {
			return nil, err
		}
	}
	var c contribution
	var names []string
	visit := func(r *Release) error {
		rep.Scanned++
		if mo.progress != nil {
			mo.progress(rep.Scanned)
		}
		var h []AuditEntry
		if !r.UpdatedAt.Before(q.From) && r.CreatedAt.Before(q.To) {
			var err error
			if h, err = store.History(ctx, r.ID); err != nil {
				return err
			}
		}
		c.compute(r, h, q.From, q.To)
		if n, ok := ratings[r.ID]; ok {
			for i := range n {
				c.ratings[i] += n[i]
				c.active = c.active || n[i] > 0
			}
		}
		if !c.active {
			return nil
		}
		overall.add(&c)
		for _, s := range r.Services {
			if !slices.Contains(names, s) { // a release may list a service twice
				group(services, s).add(&c)
				names = append(names, s)
			}
		}
		names = names[:0]
		for _, t := range r.Teams {
			if !slices.Contains(names, t) {
				group(teams, t).add(&c)
				names = append(names, t)
			}
		}
		for _, t := range r.Tasks {
			if t.Team != "" && !slices.Contains(names, t.Team) {
				group(teams, t.Team).add(&c)
				names = append(names, t.Team)
			}
		}
		names = names[:0]
		return nil
	}
	if err := scanAll(ctx, store, Query{Service: q.Service, Team: q.Team}, visit); err != nil {
		return nil, err
	}
	days := q.To.Sub(q.From).Hours() / 24
	rep.Overall = overall.result(days)
	for k, a := range services {
		rep.ByService[k] = a.result(days)
	}
	for k, a := range teams {
		rep.ByTeam[k] = a.result(days)
	}
	return rep, nil
}

// Metrics computes the delivery metrics of a period from the Manager's
// store; see Measure.
func (m *Manager) Metrics(ctx context.Context, q MetricsQuery, opts ...MeasureOption) (*MetricsReport, error) {
	return Measure(ctx, m.store, q, opts...)
}

// A MeasureOption changes how Measure reads the store.
type MeasureOption func(*measureOptions)

type measureOptions struct {
	progress func(read int)
}

// MeasureProgress makes Measure call fn after each release it reads,
// with the number read so far (a long report can show its progress).
func MeasureProgress(fn func(read int)) MeasureOption {
	return func(o *measureOptions) { o.progress = fn }
}

// contribution is what one release adds to the figures of a period. It
// is reused from release to release.
type contribution struct {
	active                   bool
	deployed, failed         bool
	leadApproved             time.Duration
	leadProposed             time.Duration
	hasApproved, hasProposed bool
	restore                  []time.Duration
	rollback                 []time.Duration
	rollbacks                int
	open                     int
	ratings                  [5]int
}

func (c *contribution) compute(r *Release, h []AuditEntry, from, to time.Time) {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	*c = contribution{restore: c.restore[:0], rollback: c.rollback[:0]}

	created := r.CreatedAt
	if len(h) > 0 && h[0].Action == ActionCreate {
		created = h[0].At
	}
	var approved, deployed, operating, lastDeploy time.Time
	rolledBack := r.Stage == StageRolledBack
	for i := range h {
		e := &h[i]
		if e.Action != ActionTransition {
			continue
		}
		switch e.To {
		case StageApproved:
			if approved.IsZero() {
				approved = e.At
			}
		case StageDeploying:
			if deployed.IsZero() {
				deployed = e.At
			}
			lastDeploy = e.At
		case StageOperating:
			if operating.IsZero() {
				operating = e.At
			}
		case StageRolledBack:
			rolledBack = true
			if in(e.At) {
				c.rollbacks++
				if !lastDeploy.IsZero() {
					c.rollback = append(c.rollback, e.At.Sub(lastDeploy))
				}
			}
		}
	}
	caused := false
	for i := range r.Incidents {
		inc := &r.Incidents[i]
		if inc.Relation != RelationCaused {
			continue
		}
		caused = true
		if inc.ResolvedAt != nil && in(*inc.ResolvedAt) {
			c.restore = append(c.restore, inc.ResolvedAt.Sub(inc.OpenedAt))
		}
		if inc.OpenedAt.Before(to) && (inc.ResolvedAt == nil || !inc.ResolvedAt.Before(to)) {
			c.open++
		}
	}
	if !deployed.IsZero() && in(deployed) {
		c.deployed = true
		c.failed = rolledBack || caused || (r.Review != nil && r.Review.Outcome == OutcomeFailed)
	}
	if !operating.IsZero() && in(operating) {
		c.leadProposed, c.hasProposed = operating.Sub(created), true
		if !approved.IsZero() && !approved.After(operating) {
			c.leadApproved, c.hasApproved = operating.Sub(approved), true
		}
	}
	for i := range r.Feedback {
		f := &r.Feedback[i]
		if in(f.At) && f.Rating >= 1 && f.Rating <= 5 {
			c.ratings[f.Rating-1]++
		}
	}
	c.active = c.deployed || c.hasProposed || len(c.restore) > 0 || c.rollbacks > 0 || c.open > 0 || c.ratings != [5]int{}
}

// metricsAcc accumulates the contributions of a group of releases.
type metricsAcc struct {
	releases, deployments, failures, rollbacks, open int
	leadApproved, leadProposed, restore, rollback    []time.Duration
	ratings                                          [5]int
}

func (a *metricsAcc) add(c *contribution) {
	a.releases++
	if c.deployed {
		a.deployments++
		if c.failed {
			a.failures++
		}
	}
	if c.hasApproved {
		a.leadApproved = append(a.leadApproved, c.leadApproved)
	}
	if c.hasProposed {
		a.leadProposed = append(a.leadProposed, c.leadProposed)
	}
	a.restore = append(a.restore, c.restore...)
	a.rollback = append(a.rollback, c.rollback...)
	a.rollbacks += c.rollbacks
	a.open += c.open
	for i, n := range c.ratings {
		a.ratings[i] += n
	}
}

func (a *metricsAcc) result(days float64) DeliveryMetrics {
	m := DeliveryMetrics{
		Releases:             a.releases,
		Deployments:          a.deployments,
		DeploymentsPerDay:    float64(a.deployments) / days,
		Failures:             a.failures,
		LeadTimeFromApproval: durationStats(a.leadApproved),
		LeadTimeFromProposal: durationStats(a.leadProposed),
		TimeToRestore:        durationStats(a.restore),
		OpenIncidents:        a.open,
		Rollbacks:            a.rollbacks,
		RollbackDuration:     durationStats(a.rollback),
		Rating:               RatingStats{Counts: a.ratings},
	}
	if a.deployments > 0 {
		m.ChangeFailureRate = float64(a.failures) / float64(a.deployments)
	}
	sum := 0
	for i, n := range a.ratings {
		m.Rating.Count += n
		sum += (i + 1) * n
	}
	if m.Rating.Count > 0 {
		m.Rating.Mean = float64(sum) / float64(m.Rating.Count)
	}
	return m
}

// durationStats summarizes ds, sorting it in place.
func durationStats(ds []time.Duration) DurationStats {
	n := len(ds)
	if n == 0 {
		return DurationStats{}
	}
	slices.Sort(ds)
	// Sum in float64: an int64 sum of many long durations can overflow.
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	med := ds[n/2]
	if n%2 == 0 {
		med = ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
	}
	return DurationStats{Count: n, Mean: time.Duration(math.Round(sum / float64(n))), Median: med, Min: ds[0], Max: ds[n-1]}
}
