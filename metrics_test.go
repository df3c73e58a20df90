package relman_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// The metrics tests use a period of one week from day0: [day0, day0+7d).
var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const (
	H = time.Hour
	D = 24 * time.Hour
)

// hist is a release's life written straight to a store: created at
// steps[0].at, then a transition into each further stage.
type hist struct {
	id        string
	services  []string
	teams     []string
	taskTeam  string
	steps     []step
	review    relman.Outcome
	incidents []relman.Incident
	feedback  []relman.Feedback
}

type step struct {
	at time.Duration // from day0
	to relman.Stage
}

var eventInto = map[relman.Stage]relman.Event{
	relman.StageApproved: relman.EventApprove, relman.StagePlanned: relman.EventPlan, relman.StageBuilding: relman.EventStart,
	relman.StageTesting: relman.EventSubmit, relman.StageVerified: relman.EventPass, relman.StageAuthorized: relman.EventAuthorize,
	relman.StageDeploying: relman.EventDeploy, relman.StageOperating: relman.EventComplete, relman.StageRolledBack: relman.EventRollback,
	relman.StageClosed: relman.EventClose, relman.StageCancelled: relman.EventCancel, relman.StageRejected: relman.EventReject,
}

// seed writes h to s with a valid hash-chained history. Feedback and
// incidents get an edit entry at their time, so UpdatedAt is the time of
// the last change, as the Manager keeps it.
func seed(t testing.TB, s relman.Store, h hist) {
	t.Helper()
	r := newRelease(h.id)
	r.Services, r.Teams, r.Tasks = h.services, h.teams, nil
	if h.taskTeam != "" {
		r.Tasks = []relman.Task{{Name: "work", Team: h.taskTeam}}
	}
	at := func(d time.Duration) time.Time { return day0.Add(d) }
	r.Stage = relman.StageProposed
	r.CreatedAt = at(h.steps[0].at)
	entries := []relman.AuditEntry{r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "alice", Action: relman.ActionCreate, To: r.Stage})}
	last := r.CreatedAt
	for _, st := range h.steps[1:] {
		entries = append(entries, r.Record(relman.AuditEntry{At: at(st.at), Actor: "alice", Action: relman.ActionTransition,
			Event: eventInto[st.to], From: r.Stage, To: st.to}))
		r.Stage, r.EnteredAt, last = st.to, at(st.at), at(st.at)
	}
	r.Incidents, r.Feedback = h.incidents, h.feedback
	for _, inc := range h.incidents {
		last = later(last, inc.OpenedAt)
		if inc.ResolvedAt != nil {
			last = later(last, *inc.ResolvedAt)
		}
	}
	for _, f := range h.feedback {
		last = later(last, f.At)
	}
	if h.review != "" {
		r.Review = &relman.Review{Outcome: h.review, At: last}
	}
	if len(h.incidents)+len(h.feedback) > 0 || h.review != "" {
		entries = append(entries, r.Record(relman.AuditEntry{At: last, Actor: "alice", Action: relman.ActionFeedback}))
	}
	r.UpdatedAt = last
	if err := r.Validate(); err != nil {
		t.Fatalf("seed %s: %v", h.id, err)
	}
	if err := s.Create(context.Background(), r, entries...); err != nil {
		t.Fatal(err)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func at(d time.Duration) time.Time { return day0.Add(d) }

func ptime(d time.Duration) *time.Time { t := at(d); return &t }

func incident(id string, sev relman.Severity, rel relman.Relation, opened time.Duration, resolved *time.Time) relman.Incident {
	return relman.Incident{ID: id, Severity: sev, Relation: rel, OpenedAt: at(opened), ResolvedAt: resolved}
}

// week is the seven-release history the table below is computed from by
// hand. P = [day0, day0+7d).
var week = []hist{
	// A: deployed in P, successful. Lead from approval 10d1h = 241h, from
	// proposal 11d1h = 265h. Ratings 5 and 4 in P.
	{id: "A", services: []string{"web"}, teams: []string{"blue"},
		steps:    []step{{-10 * D, relman.StageProposed}, {-9 * D, relman.StageApproved}, {D, relman.StageDeploying}, {D + H, relman.StageOperating}},
		review:   relman.OutcomeSuccessful,
		feedback: []relman.Feedback{{Rating: 5, At: at(2 * D)}, {Rating: 4, At: at(3 * D)}}},
	// B: deployed in P, rolled back in P after 24h: a failure. Lead 74h /
	// 98h. Caused a high incident restored in 2h.
	{id: "B", services: []string{"web", "api"}, teams: []string{"blue", "red"},
		steps: []step{{-2 * D, relman.StageProposed}, {-D, relman.StageApproved}, {2 * D, relman.StageDeploying},
			{2*D + 2*H, relman.StageOperating}, {3 * D, relman.StageRolledBack}},
		incidents: []relman.Incident{incident("INC-B1", relman.SeverityHigh, relman.RelationCaused, 2*D+3*H, ptime(2*D+5*H))}},
	// C: deployed 1h before P (not a deployment of P), in operation 1h
	// into P (lead 457h / 481h). Review failed, but the failure belongs to
	// the deployment's period. Its critical incident is resolved exactly
	// at the end of P: no restore sample, and open at the end of P.
	{id: "C", services: []string{"api"}, teams: []string{"red"},
		steps:     []step{{-20 * D, relman.StageProposed}, {-19 * D, relman.StageApproved}, {-H, relman.StageDeploying}, {H, relman.StageOperating}},
		review:    relman.OutcomeFailed,
		incidents: []relman.Incident{incident("INC-C1", relman.SeverityCritical, relman.RelationCaused, 6*D, ptime(7*D))}},
	// D: deployed in P and still deploying: a deployment, not a failure,
	// no lead time yet.
	{id: "D", services: []string{"web"}, teams: []string{"blue"},
		steps: []step{{0, relman.StageProposed}, {D, relman.StageApproved}, {6 * D, relman.StageDeploying}}},
	// E: deployed long before P. A rating exactly at the start of P
	// counts, one exactly at its end does not. A caused incident opened
	// before P and resolved in P: restore 72h. A related incident: ignored.
	{id: "E", services: []string{"db"}, teams: []string{"green"},
		steps: []step{{-30 * D, relman.StageProposed}, {-29 * D, relman.StageApproved}, {-28 * D, relman.StageDeploying}, {-28*D + H, relman.StageOperating}},
		incidents: []relman.Incident{
			incident("INC-E1", relman.SeverityLow, relman.RelationRelated, D, ptime(D+H)),
			incident("INC-E2", relman.SeverityMedium, relman.RelationCaused, -2*D, ptime(D))},
		feedback: []relman.Feedback{{Rating: 2, At: at(0)}, {Rating: 1, At: at(7 * D)}}},
	// F: deployed in P; its open low incident makes it a failure and
	// counts as open at the end of P. Lead 192.5h / 216.5h. Team green
	// both listed and owning a task: counted once.
	{id: "F", services: []string{"db"}, teams: []string{"green"}, taskTeam: "green",
		steps:     []step{{-5 * D, relman.StageProposed}, {-4 * D, relman.StageApproved}, {4 * D, relman.StageDeploying}, {4*D + 30*time.Minute, relman.StageOperating}},
		incidents: []relman.Incident{incident("INC-F1", relman.SeverityLow, relman.RelationCaused, 5*D, nil)}},
	// G: all before P: contributes nothing, its service and team are
	// absent.
	{id: "G", services: []string{"legacy"}, teams: []string{"grey"},
		steps: []step{{-100 * D, relman.StageProposed}, {-99 * D, relman.StageApproved}, {-91 * D, relman.StageDeploying}, {-90 * D, relman.StageRolledBack}}},
}

func ds(count int, mean, median, lo, hi time.Duration) relman.DurationStats {
	return relman.DurationStats{Count: count, Mean: mean, Median: median, Min: lo, Max: hi}
}

func TestMetricsWeek(t *testing.T) {
	s := memory.New()
	for _, h := range week {
		seed(t, s, h)
	}
	// Every figure below is computed by hand from the comments on week.
	webBlue := relman.DeliveryMetrics{
		Releases: 3, Deployments: 3, DeploymentsPerDay: 3.0 / 7, Failures: 1, ChangeFailureRate: 1.0 / 3,
		LeadTimeFromApproval: ds(2, 157*H+30*time.Minute, 157*H+30*time.Minute, 74*H, 241*H), // (241+74)/2
		LeadTimeFromProposal: ds(2, 181*H+30*time.Minute, 181*H+30*time.Minute, 98*H, 265*H), // (265+98)/2
		TimeToRestore:        ds(1, 2*H, 2*H, 2*H, 2*H),
		Rollbacks:            1, RollbackDuration: ds(1, 24*H, 24*H, 24*H, 24*H),
		Rating: relman.RatingStats{Count: 2, Mean: 4.5, Counts: [5]int{0, 0, 0, 1, 1}},
	}
	apiRed := relman.DeliveryMetrics{
		Releases: 2, Deployments: 1, DeploymentsPerDay: 1.0 / 7, Failures: 1, ChangeFailureRate: 1,
		LeadTimeFromApproval: ds(2, 265*H+30*time.Minute, 265*H+30*time.Minute, 74*H, 457*H), // (74+457)/2
		LeadTimeFromProposal: ds(2, 289*H+30*time.Minute, 289*H+30*time.Minute, 98*H, 481*H), // (98+481)/2
		TimeToRestore:        ds(1, 2*H, 2*H, 2*H, 2*H),
		OpenIncidents:        1, // INC-C1, resolved exactly at To
		Rollbacks:            1, RollbackDuration: ds(1, 24*H, 24*H, 24*H, 24*H),
	}
	dbGreen := relman.DeliveryMetrics{
		Releases: 2, Deployments: 1, DeploymentsPerDay: 1.0 / 7, Failures: 1, ChangeFailureRate: 1,
		LeadTimeFromApproval: ds(1, 192*H+30*time.Minute, 192*H+30*time.Minute, 192*H+30*time.Minute, 192*H+30*time.Minute),
		LeadTimeFromProposal: ds(1, 216*H+30*time.Minute, 216*H+30*time.Minute, 216*H+30*time.Minute, 216*H+30*time.Minute),
		TimeToRestore:        ds(1, 72*H, 72*H, 72*H, 72*H),
		OpenIncidents:        1, // INC-F1
		Rating:               relman.RatingStats{Count: 1, Mean: 2, Counts: [5]int{0, 1, 0, 0, 0}},
	}
	want := &relman.MetricsReport{
		Query:   relman.MetricsQuery{From: day0, To: day0.Add(7 * D)},
		Scanned: 7,
		Overall: relman.DeliveryMetrics{
			Releases: 6, Deployments: 4, DeploymentsPerDay: 4.0 / 7, Failures: 2, ChangeFailureRate: 0.5, // A B D F; B F failed
			// 74, 192.5, 241, 457: mean 964.5/4, median (192.5+241)/2
			LeadTimeFromApproval: ds(4, 241*H+7*time.Minute+30*time.Second, 216*H+45*time.Minute, 74*H, 457*H),
			// 98, 216.5, 265, 481: mean 1060.5/4, median (216.5+265)/2
			LeadTimeFromProposal: ds(4, 265*H+7*time.Minute+30*time.Second, 240*H+45*time.Minute, 98*H, 481*H),
			TimeToRestore:        ds(2, 37*H, 37*H, 2*H, 72*H), // INC-B1 2h, INC-E2 72h
			OpenIncidents:        2,                            // INC-C1, INC-F1
			Rollbacks:            1, RollbackDuration: ds(1, 24*H, 24*H, 24*H, 24*H),
			Rating: relman.RatingStats{Count: 3, Mean: 11.0 / 3, Counts: [5]int{0, 1, 0, 1, 1}}, // 5, 4, 2
		},
		ByService: map[string]relman.DeliveryMetrics{"web": webBlue, "api": apiRed, "db": dbGreen},
		ByTeam:    map[string]relman.DeliveryMetrics{"blue": webBlue, "red": apiRed, "green": dbGreen},
	}
	for name, store := range map[string]relman.Store{"scan": s, "list": listOnly{s}} {
		got, err := relman.Measure(context.Background(), store, relman.MetricsQuery{From: day0, To: day0.Add(7 * D)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Measure through %s (-want +got):\n%s", name, diff)
		}
	}

	// Narrowed to service api: B and C only. Within that scope B also
	// touches web and team blue.
	got, err := relman.Measure(context.Background(), s, relman.MetricsQuery{From: day0, To: day0.Add(7 * D), Service: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(apiRed, got.Overall); diff != "" {
		t.Errorf("service api (-want +got):\n%s", diff)
	}
	if got.Scanned != 2 || got.ByService["web"].Releases != 1 || got.ByTeam["blue"].Deployments != 1 || len(got.ByService) != 2 {
		t.Errorf("service api: scanned %d, groups %+v", got.Scanned, got.ByService)
	}
}

// TestMetricsEdges checks one figure at a time on the period's edges.
func TestMetricsEdges(t *testing.T) {
	P := relman.MetricsQuery{From: day0, To: day0.Add(D)}
	deployAt := func(d time.Duration) hist {
		return hist{id: "X", services: []string{"s"}, steps: []step{{-2 * D, relman.StageProposed}, {-D, relman.StageApproved}, {d, relman.StageDeploying}, {d + H, relman.StageOperating}}}
	}
	cases := []struct {
		name  string
		hists []hist
		check func(m relman.DeliveryMetrics) error
	}{
		{"empty store", nil, func(m relman.DeliveryMetrics) error {
			if m != (relman.DeliveryMetrics{}) {
				return fmt.Errorf("got %+v, want zero", m)
			}
			return nil
		}},
		{"deploy at From counts", []hist{deployAt(0)}, func(m relman.DeliveryMetrics) error {
			return want(m.Deployments == 1 && m.DeploymentsPerDay == 1 && m.LeadTimeFromApproval.Count == 1, m)
		}},
		{"deploy 1ns before To counts, operating after To has no lead time", []hist{deployAt(D - 1)}, func(m relman.DeliveryMetrics) error {
			return want(m.Deployments == 1 && m.LeadTimeFromProposal.Count == 0, m)
		}},
		{"deploy at To excluded", []hist{deployAt(D)}, func(m relman.DeliveryMetrics) error {
			return want(m.Deployments == 0 && m.ChangeFailureRate == 0 && m.Releases == 0, m)
		}},
		{"deploy 1ns before From excluded, operating in P gives lead time", []hist{deployAt(-1)}, func(m relman.DeliveryMetrics) error {
			return want(m.Deployments == 0 && m.LeadTimeFromApproval == ds(1, D+H-1, D+H-1, D+H-1, D+H-1), m)
		}},
		{"no deployments: rate 0", []hist{{id: "X", services: []string{"s"}, steps: []step{{0, relman.StageProposed}, {H, relman.StageApproved}}}}, func(m relman.DeliveryMetrics) error {
			return want(m == (relman.DeliveryMetrics{}), m)
		}},
		{"rollback after the period still fails a deployment of the period", []hist{{id: "X", services: []string{"s"},
			steps: []step{{-D, relman.StageProposed}, {-H, relman.StageApproved}, {H, relman.StageDeploying}, {2 * H, relman.StageOperating}, {3 * D, relman.StageRolledBack}}}},
			func(m relman.DeliveryMetrics) error {
				return want(m.Deployments == 1 && m.Failures == 1 && m.ChangeFailureRate == 1 && m.Rollbacks == 0 && m.RollbackDuration.Count == 0, m)
			}},
		{"rollback while deploying", []hist{{id: "X", services: []string{"s"},
			steps: []step{{-D, relman.StageProposed}, {-H, relman.StageApproved}, {H, relman.StageDeploying}, {90 * time.Minute, relman.StageRolledBack}}}},
			func(m relman.DeliveryMetrics) error {
				return want(m.Deployments == 1 && m.Failures == 1 && m.Rollbacks == 1 && m.RollbackDuration.Mean == 30*time.Minute && m.LeadTimeFromApproval.Count == 0, m)
			}},
		{"incident opened at To is not open at the end", []hist{{id: "X", services: []string{"s"},
			steps:     []step{{-3 * D, relman.StageProposed}, {-2 * D, relman.StageApproved}, {-D, relman.StageDeploying}, {-D + H, relman.StageOperating}},
			incidents: []relman.Incident{incident("I1", relman.SeverityLow, relman.RelationCaused, D, nil)}}},
			func(m relman.DeliveryMetrics) error { return want(m.OpenIncidents == 0 && m.Releases == 0, m) }},
		{"incident resolved at From is restored in P, not open", []hist{{id: "X", services: []string{"s"},
			steps:     []step{{-3 * D, relman.StageProposed}, {-2 * D, relman.StageApproved}, {-D, relman.StageDeploying}, {-D + H, relman.StageOperating}},
			incidents: []relman.Incident{incident("I1", relman.SeverityLow, relman.RelationCaused, -H, ptime(0))}}},
			func(m relman.DeliveryMetrics) error {
				return want(m.OpenIncidents == 0 && m.TimeToRestore == ds(1, H, H, H, H), m)
			}},
		{"even median is the mean of the middle two", []hist{deployAt(H), deployAt(2 * H), deployAt(4 * H), deployAt(8 * H)}, func(m relman.DeliveryMetrics) error {
			// lead from approval: 2h, 3h, 5h, 9h (+1h to operating, approval at -1d)
			return want(m.LeadTimeFromApproval == ds(4, D+4*H+45*time.Minute, D+4*H, D+2*H, D+9*H), m)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := memory.New()
			for i, h := range tc.hists {
				h.id = fmt.Sprintf("%s%d", h.id, i)
				seed(t, s, h)
			}
			rep, err := relman.Measure(context.Background(), s, P)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(rep.Overall); err != nil {
				t.Error(err)
			}
		})
	}
}

func want(ok bool, m relman.DeliveryMetrics) error {
	if ok {
		return nil
	}
	return fmt.Errorf("unexpected metrics %+v", m)
}

func TestMetricsBadInput(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	for _, q := range []relman.MetricsQuery{
		{},
		{From: day0},
		{From: day0, To: day0},
		{From: day0, To: day0.Add(-1)},
	} {
		if _, err := relman.Measure(ctx, s, q); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Measure(%v): %v, want ErrInvalid", q, err)
		}
	}
	if _, err := relman.Measure(ctx, nil, relman.MetricsQuery{From: day0, To: day0.Add(D)}); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("nil store: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := relman.Measure(cctx, s, relman.MetricsQuery{From: day0, To: day0.Add(D)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// listOnly hides the memory store's Scan, so that Measure pages through
// List.
type listOnly struct{ relman.Store }

// TestMetricsPaging spreads deployments over more than one List page.
func TestMetricsPaging(t *testing.T) {
	s := listOnly{memory.New()}
	n := relman.MaxPage*2 + 7
	for i := range n {
		seed(t, s, hist{id: fmt.Sprintf("r%05d", i), services: []string{"s"},
			steps: []step{{-D, relman.StageProposed}, {-H, relman.StageApproved}, {time.Duration(i) * time.Second, relman.StageDeploying}}})
	}
	rep, err := relman.Measure(context.Background(), s, relman.MetricsQuery{From: day0, To: day0.Add(D)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != n || rep.Overall.Deployments != n || rep.ByService["s"].Deployments != n {
		t.Errorf("scanned %d, deployments %d, want %d", rep.Scanned, rep.Overall.Deployments, n)
	}
}

// TestMetricsThroughManager checks the figures of a release driven by the
// Manager, whose audit entries are the source of truth.
func TestMetricsThroughManager(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	operate(t, m, c, "rel-1") // approve at t0, deploy at t0+1h, complete at t0+1h10m
	if _, err := m.OpenIncident(ctx, "rel-1", alice, relman.Incident{ID: "INC-1", Severity: relman.SeverityMedium}); err != nil {
		t.Fatal(err)
	}
	c.Advance(45 * time.Minute)
	if _, err := m.ResolveIncident(ctx, "rel-1", alice, "INC-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddFeedback(ctx, "rel-1", alice, relman.Feedback{Rating: 3}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Metrics(ctx, relman.MetricsQuery{From: t0, To: t0.Add(D)})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Overall
	lead := 70 * time.Minute
	if o.Deployments != 1 || o.Failures != 1 || o.LeadTimeFromApproval.Mean != lead || o.LeadTimeFromProposal.Mean != lead ||
		o.TimeToRestore.Mean != 45*time.Minute || o.Rating.Mean != 3 {
		t.Errorf("metrics %+v", o)
	}
	if got := rep.ByTeam["billing"]; got.Deployments != 1 {
		t.Errorf("team billing: %+v", got)
	}
}
