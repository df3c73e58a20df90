package relman_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// validationFields returns the failures of err, which must be a
// *ValidationError matching ErrInvalid.
func validationFields(t *testing.T, err error) []relman.FieldError {
	t.Helper()
	var ve *relman.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("%v does not match ErrInvalid", err)
	}
	return ve.Fields
}

// fields returns "field:rule" of every failure of a *ValidationError.
func fields(t *testing.T, err error) []string {
	t.Helper()
	fs := validationFields(t, err)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Field + ":" + f.Rule
	}
	return out
}

func TestMatrixThresholdBoundaries(t *testing.T) {
	m := relman.DefaultMatrix()
	for _, c := range []struct {
		score int
		want  relman.Level
	}{
		{1, relman.LevelLow}, {4, relman.LevelLow},
		{5, relman.LevelMedium}, {9, relman.LevelMedium},
		{10, relman.LevelHigh}, {19, relman.LevelHigh},
		{20, relman.LevelCritical}, {25, relman.LevelCritical},
	} {
		if got := m.Thresholds.Level(c.score); got != c.want {
			t.Errorf("Level(%d) = %s, want %s", c.score, got, c.want)
		}
	}
	// Every cell of the 5×5 matrix, against the documented bands.
	for l := 1; l <= 5; l++ {
		for i := 1; i <= 5; i++ {
			s, lvl, err := m.Score(l, i)
			if err != nil || s != l*i {
				t.Fatalf("Score(%d,%d) = %d, %v", l, i, s, err)
			}
			want := relman.LevelLow
			switch {
			case s >= 20:
				want = relman.LevelCritical
			case s >= 10:
				want = relman.LevelHigh
			case s >= 5:
				want = relman.LevelMedium
			}
			if lvl != want {
				t.Errorf("Score(%d,%d) level %s, want %s", l, i, lvl, want)
			}
		}
	}
	// A custom 3×3 matrix moves the cut points.
	m3 := relman.Matrix{Size: 3, Thresholds: relman.Thresholds{Medium: 3, High: 6, Critical: 9}}
	if err := m3.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		l, i int
		want relman.Level
	}{{1, 2, relman.LevelLow}, {1, 3, relman.LevelMedium}, {2, 2, relman.LevelMedium}, {2, 3, relman.LevelHigh}, {3, 3, relman.LevelCritical}} {
		if _, got, _ := m3.Score(c.l, c.i); got != c.want {
			t.Errorf("3×3 Score(%d,%d) = %s, want %s", c.l, c.i, got, c.want)
		}
	}
}

func TestMatrixBadInput(t *testing.T) {
	m := relman.DefaultMatrix()
	for _, c := range []struct {
		l, i int
		want []string
	}{
		{0, 3, []string{"likelihood:range"}},
		{6, 3, []string{"likelihood:range"}},
		{3, 0, []string{"impact:range"}},
		{3, 6, []string{"impact:range"}},
		{-1, 99, []string{"likelihood:range", "impact:range"}},
	} {
		_, _, err := m.Score(c.l, c.i)
		if got := fields(t, err); !slices.Equal(got, c.want) {
			t.Errorf("Score(%d,%d): %v, want %v", c.l, c.i, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		m    relman.Matrix
		want []string
	}{
		{"size too small", relman.Matrix{Size: 1, Thresholds: relman.Thresholds{Medium: 1, High: 2, Critical: 3}}, []string{"matrix.size:range"}},
		{"size too big", relman.Matrix{Size: 11, Thresholds: relman.Thresholds{Medium: 1, High: 2, Critical: 3}}, []string{"matrix.size:range"}},
		{"not increasing", relman.Matrix{Size: 5, Thresholds: relman.Thresholds{Medium: 5, High: 5, Critical: 4}}, []string{"matrix.thresholds.high:gtfield", "matrix.thresholds.critical:gtfield"}},
		{"zero medium", relman.Matrix{Size: 5, Thresholds: relman.Thresholds{Medium: 0, High: 5, Critical: 9}}, []string{"matrix.thresholds.medium:gte"}},
		{"critical unreachable", relman.Matrix{Size: 3, Thresholds: relman.Thresholds{Medium: 2, High: 4, Critical: 10}}, []string{"matrix.thresholds.critical:lte"}},
	} {
		if got := fields(t, c.m.Validate()); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := relman.NewManager(memory.New(), relman.WithMatrix(relman.Matrix{Size: 1})); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("NewManager with a bad matrix: %v", err)
	}
}

func TestLevelText(t *testing.T) {
	for _, l := range []relman.Level{relman.LevelLow, relman.LevelMedium, relman.LevelHigh, relman.LevelCritical} {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back relman.Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("round trip of %s: %s → %v, %v", l, b, back, err)
		}
		if p, err := relman.ParseLevel(l.String()); err != nil || p != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l, p, err)
		}
	}
	var l relman.Level
	err := json.Unmarshal([]byte(`"severe"`), &l)
	if !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("unknown level: %v, want ErrInvalid", err)
	}
	if _, err := relman.ParseLevel("severe"); !slices.Equal(fields(t, err), []string{"level:oneof"}) {
		t.Errorf("ParseLevel(severe): %v", err)
	}
	if _, err := json.Marshal(relman.Level(9)); err == nil {
		t.Error("marshalling Level(9) succeeded")
	}
}

func TestRegisterScore(t *testing.T) {
	m := relman.DefaultMatrix()
	rk := func(id string, l, i int, st relman.RiskStatus, rl, ri int) relman.Risk {
		return relman.Risk{ID: id, Title: id, Likelihood: l, Impact: i, Status: st, ResidualLikelihood: rl, ResidualImpact: ri}
	}
	for _, c := range []struct {
		name    string
		risks   []relman.Risk
		score   int
		level   relman.Level
		worstID string
	}{
		{"empty", nil, 0, relman.LevelLow, ""},
		{"one open", []relman.Risk{rk("a", 3, 3, relman.RiskOpen, 0, 0)}, 9, relman.LevelMedium, "a"},
		{"residual counts", []relman.Risk{rk("a", 5, 5, relman.RiskMitigated, 1, 2)}, 2, relman.LevelLow, "a"},
		{"closed ignored", []relman.Risk{rk("a", 5, 5, relman.RiskClosed, 0, 0), rk("b", 2, 2, relman.RiskAccepted, 0, 0)}, 4, relman.LevelLow, "b"},
		{"highest residual wins", []relman.Risk{rk("a", 2, 5, relman.RiskOpen, 0, 0), rk("b", 5, 5, relman.RiskMitigated, 4, 5), rk("c", 4, 4, relman.RiskOpen, 0, 0)}, 20, relman.LevelCritical, "b"},
	} {
		s, l, id, err := m.RegisterScore(c.risks)
		if err != nil || s != c.score || l != c.level || id != c.worstID {
			t.Errorf("%s: %d %s %q %v, want %d %s %q", c.name, s, l, id, err, c.score, c.level, c.worstID)
		}
	}
	bad := []relman.Risk{rk("a", 6, 1, relman.RiskOpen, 0, 0), rk("a", 1, 1, relman.RiskOpen, 0, 7)}
	_, _, _, err := m.RegisterScore(bad)
	want := []string{"risks[0].likelihood:range", "risks[1].residual_impact:range", "risks[1].id:unique"}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("bad register: %v, want %v", got, want)
	}
	if _, _, err := m.RiskScore(rk("a", 1, 9, relman.RiskOpen, 0, 0)); !slices.Equal(fields(t, err), []string{"impact:range"}) {
		t.Errorf("RiskScore: %v", err)
	}
}

// baseRelease is a release the factor model scores 0 with no graph: one
// task, a rollback plan, passing tests, no services.
func baseRelease() *relman.Release {
	r := newRelease("f-1")
	r.Services = nil
	r.Tasks = nil
	r.TestResults = []relman.TestResult{{Suite: "unit", Passed: true, At: t0}}
	return r
}

func TestFactorModelFactors(t *testing.T) {
	graph := relman.NewDependencyGraph(map[string][]string{
		"checkout": {"payments"}, "payments": {"invoices"}, "reports": {"invoices"}, "mail": {"users"},
	})
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	peak := []relman.PeakHours{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Start: 8 * time.Hour, End: 18 * time.Hour, Location: berlin}}
	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // t0's day
	win := func(start time.Time, d time.Duration) *relman.Span {
		return &relman.Span{Start: start, End: start.Add(d)}
	}
	for _, c := range []struct {
		name   string
		edit   func(r *relman.Release)
		graph  *relman.DependencyGraph
		factor string // the only factor expected, "" for none
		points int
		level  relman.Level
	}{
		{"nothing", func(*relman.Release) {}, nil, "", 0, relman.LevelLow},
		{"one service", func(r *relman.Release) { r.Services = []string{"users"} }, nil, "services", 3, relman.LevelLow},
		{"service with transitive dependents", func(r *relman.Release) { r.Services = []string{"invoices"} }, graph, "services", 3 + 3, relman.LevelLow},
		{"dependents not double counted", func(r *relman.Release) { r.Services = []string{"invoices", "payments"} }, graph, "services", 6 + 2, relman.LevelLow},
		{"services capped", func(r *relman.Release) {
			for i := range 20 {
				r.Services = append(r.Services, fmt.Sprint("s", i))
			}
		}, nil, "services", 30, relman.LevelHigh},
		{"tasks", func(r *relman.Release) { r.Tasks = make([]relman.Task, 4) }, nil, "size", 4, relman.LevelLow},
		{"tasks capped", func(r *relman.Release) { r.Tasks = make([]relman.Task, 40) }, nil, "size", 10, relman.LevelLow},
		{"major", func(r *relman.Release) { r.Kind = relman.KindMajor }, nil, "major", 5, relman.LevelLow},
		{"emergency kind", func(r *relman.Release) { r.Kind = relman.KindEmergency }, nil, "emergency", 15, relman.LevelMedium},
		{"emergency model", func(r *relman.Release) { r.Model = relman.ModelEmergency }, nil, "emergency", 15, relman.LevelMedium},
		{"no rollback plan", func(r *relman.Release) { r.RollbackPlan = "  " }, nil, "rollback", 15, relman.LevelMedium},
		{"required suite not run", func(r *relman.Release) { r.RequiredSuites = []string{"unit", "e2e"} }, nil, "tests-missing", 10, relman.LevelLow},
		{"no test at all", func(r *relman.Release) { r.RequiredSuites, r.TestResults = nil, nil }, nil, "tests-missing", 10, relman.LevelLow},
		{"latest result failed", func(r *relman.Release) {
			r.TestResults = append(r.TestResults, relman.TestResult{Suite: "unit", Passed: false, At: t0.Add(time.Minute)})
		}, nil, "tests-failing", 15, relman.LevelMedium},
		{"failure fixed later", func(r *relman.Release) {
			r.TestResults = []relman.TestResult{{Suite: "unit", Passed: false, At: t0}, {Suite: "unit", Passed: true, At: t0.Add(time.Minute)}}
		}, nil, "", 0, relman.LevelLow},
		{"window in peak hours", func(r *relman.Release) { r.Window = win(monday.Add(9*time.Hour), time.Hour) }, nil, "peak-hours", 10, relman.LevelLow},
		{"window before peak (Berlin is UTC+1)", func(r *relman.Release) { r.Window = win(monday.Add(5*time.Hour), 2*time.Hour) }, nil, "", 0, relman.LevelLow},
		{"window touches peak start", func(r *relman.Release) { r.Window = win(monday.Add(5*time.Hour), 2*time.Hour+time.Second) }, nil, "peak-hours", 10, relman.LevelLow},
		{"window on the weekend", func(r *relman.Release) { r.Window = win(monday.Add(-2*24*time.Hour+10*time.Hour), 4*time.Hour) }, nil, "", 0, relman.LevelLow},
		{"overnight into Tuesday's peak", func(r *relman.Release) { r.Window = win(monday.Add(22*time.Hour), 10*time.Hour) }, nil, "peak-hours", 10, relman.LevelLow},
		{"long window", func(r *relman.Release) { r.Window = win(monday.Add(-2*24*time.Hour), 30*24*time.Hour) }, nil, "peak-hours", 10, relman.LevelLow},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := baseRelease()
			c.edit(r)
			res, err := relman.FactorModel{Peak: peak}.Assess(context.Background(), r, relman.Env{Now: t0, Graph: c.graph})
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != c.level {
				t.Errorf("level %s, want %s (%+v)", res.Level, c.level, res.Reasons)
			}
			if c.factor == "" {
				if len(res.Reasons) != 0 {
					t.Errorf("reasons %+v, want none", res.Reasons)
				}
				return
			}
			if len(res.Reasons) != 1 || res.Reasons[0].Factor != c.factor || res.Reasons[0].Points != c.points {
				t.Fatalf("reasons %+v, want one %s worth %d", res.Reasons, c.factor, c.points)
			}
			if res.Reasons[0].Explanation == "" {
				t.Error("reason without explanation")
			}
		})
	}
}

func TestFactorModelWeightsAndThresholds(t *testing.T) {
	r := baseRelease()
	r.Kind, r.RollbackPlan = relman.KindEmergency, ""
	// Defaults: emergency 15 + no rollback 15 = 30, high.
	res, err := relman.FactorModel{}.Assess(context.Background(), r, relman.Env{Now: t0})
	if err != nil || res.Level != relman.LevelHigh {
		t.Fatalf("default: %s %v", res.Level, err)
	}
	w := relman.DefaultFactorWeights()
	w.NoRollback = 0 // turned off
	th := relman.Thresholds{Medium: 10, High: 14, Critical: 15}
	res, _ = relman.FactorModel{Weights: &w, Thresholds: &th}.Assess(context.Background(), r, relman.Env{Now: t0})
	if res.Level != relman.LevelCritical || len(res.Reasons) != 1 || res.Reasons[0].Factor != "emergency" {
		t.Errorf("custom: %s %+v", res.Level, res.Reasons)
	}
	bad := relman.FactorModel{Thresholds: &relman.Thresholds{Medium: 5, High: 1, Critical: 9}, Lookback: -1}
	if got := fields(t, bad.Validate()); !slices.Equal(got, []string{"factor_model.thresholds.high:gtfield", "factor_model.lookback:gte"}) {
		t.Errorf("Validate: %v", got)
	}
	if _, err := relman.NewManager(memory.New(), relman.WithAssessors(bad)); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("NewManager with a bad factor model: %v", err)
	}
}

// seedHistory stores finished releases touching service svc: failed
// rolled back, ok closed successfully, updated at the given ages before
// t0.
func seedHistory(t testing.TB, s relman.Store, svc string, outcomes string, age time.Duration) {
	t.Helper()
	for i, o := range outcomes {
		r := newRelease(fmt.Sprintf("%s-%d-%d", svc, age/time.Hour, i))
		r.Services = []string{svc}
		r.CreatedAt, r.UpdatedAt, r.EnteredAt = t0.Add(-age), t0.Add(-age), t0.Add(-age)
		switch o {
		case 'R':
			r.Stage = relman.StageRolledBack
		case 'F':
			r.Stage = relman.StageClosed
			r.Review = &relman.Review{Outcome: relman.OutcomeFailed}
		case 'S':
			r.Stage = relman.StageClosed
			r.Review = &relman.Review{Outcome: relman.OutcomeSuccessful}
		case 'P': // still in progress: not finished, does not count
			r.Stage = relman.StageBuilding
		}
		e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "seed", Action: relman.ActionCreate, To: r.Stage})
		if err := s.Create(context.Background(), r, e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFactorModelFailureRate(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name   string
		seed   func(s relman.Store)
		points int // 0: no failure-rate reason
	}{
		{"no history", func(relman.Store) {}, 0},
		{"all succeeded", func(s relman.Store) { seedHistory(t, s, "invoices", "SSSS", day) }, 0},
		{"half failed", func(s relman.Store) { seedHistory(t, s, "invoices", "RFSS", day) }, 10},
		{"one of four via review", func(s relman.Store) { seedHistory(t, s, "invoices", "FSSS", day) }, 5},
		{"below minimum sample", func(s relman.Store) { seedHistory(t, s, "invoices", "RR", day) }, 0},
		{"in-progress releases do not count", func(s relman.Store) { seedHistory(t, s, "invoices", "RRPPP", day) }, 0},
		{"too old", func(s relman.Store) { seedHistory(t, s, "invoices", "RRRR", 91*day) }, 0},
		{"other services do not count", func(s relman.Store) { seedHistory(t, s, "mail", "RRRR", day) }, 0},
		{"across touched services", func(s relman.Store) {
			seedHistory(t, s, "invoices", "RR", day)
			seedHistory(t, s, "payments", "SS", day)
		}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := memory.New()
			c.seed(s)
			r := baseRelease()
			r.Services = []string{"invoices", "payments"}
			res, err := relman.FactorModel{}.Assess(context.Background(), r, relman.Env{Now: t0, Store: s})
			if err != nil {
				t.Fatal(err)
			}
			var got *relman.Reason
			for i := range res.Reasons {
				if res.Reasons[i].Factor == "failure-rate" {
					got = &res.Reasons[i]
				}
			}
			switch {
			case c.points == 0 && got != nil:
				t.Errorf("unexpected %+v", *got)
			case c.points != 0 && (got == nil || got.Points != c.points):
				t.Errorf("failure-rate reason %+v, want %d points", got, c.points)
			}
		})
	}
}

func TestDependents(t *testing.T) {
	g := relman.NewDependencyGraph(map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"c", "c"}, "e": {"e"}})
	if got := g.Dependents([]string{"c"}); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("Dependents(c) = %v (cycle must terminate, c excluded)", got)
	}
	if got := g.Dependents([]string{"e"}); got != nil {
		t.Errorf("self-dependency: %v", got)
	}
	var nilGraph *relman.DependencyGraph
	if got := nilGraph.Dependents([]string{"a"}); got != nil {
		t.Errorf("nil graph: %v", got)
	}
}

func TestAssessCombines(t *testing.T) {
	fixed := func(name string, l relman.Level) relman.Assessor {
		return relman.AssessorFunc(func(context.Context, *relman.Release, relman.Env) (relman.Result, error) {
			return relman.Result{Assessor: name, Level: l, Reasons: []relman.Reason{{Factor: name, Points: int(l), Explanation: name}}}, nil
		})
	}
	r := newRelease("c-1")
	a, err := relman.Assess(context.Background(), r, relman.Env{Now: t0}, fixed("x", relman.LevelMedium), fixed("y", relman.LevelHigh), fixed("z", relman.LevelLow))
	if err != nil {
		t.Fatal(err)
	}
	if a.Level != relman.LevelHigh || len(a.Results) != 3 || len(a.Reasons()) != 3 || !a.At.Equal(t0) {
		t.Errorf("assessment %+v", a)
	}
	if a.Stale(r) {
		t.Error("fresh assessment is stale")
	}
	for _, change := range []func(r *relman.Release){
		func(r *relman.Release) { r.Services = append(r.Services, "x") },
		func(r *relman.Release) { r.Version = "9.9.9" },
		func(r *relman.Release) { r.RollbackPlan = "" },
		func(r *relman.Release) { r.TestResults = append(r.TestResults, relman.TestResult{Suite: "u"}) },
		func(r *relman.Release) { r.Risks = append(r.Risks, relman.Risk{ID: "x"}) },
		func(r *relman.Release) { r.Window = &relman.Span{Start: t0, End: t0.Add(time.Hour)} },
		func(r *relman.Release) { r.Model = relman.ModelEmergency },
	} {
		c := r.Clone()
		change(c)
		if !a.Stale(c) {
			t.Errorf("change %+v not detected as stale", c)
		}
	}
	c := r.Clone()
	c.Title, c.Labels = "other", map[string]string{"x": "y"}
	if a.Stale(c) {
		t.Error("title/label change made the assessment stale")
	}

	// No assessors: low. A failing assessor aborts; an invalid level too.
	if a, err := relman.Assess(context.Background(), r, relman.Env{}); err != nil || a.Level != relman.LevelLow {
		t.Errorf("no assessors: %v %v", a, err)
	}
	boom := errors.New("boom")
	failing := relman.AssessorFunc(func(context.Context, *relman.Release, relman.Env) (relman.Result, error) {
		return relman.Result{}, boom
	})
	if _, err := relman.Assess(context.Background(), r, relman.Env{}, fixed("x", relman.LevelLow), failing); !errors.Is(err, boom) {
		t.Errorf("failing assessor: %v", err)
	}
	if _, err := relman.Assess(context.Background(), r, relman.Env{}, fixed("x", 0)); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("assessor without level: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := relman.Assess(ctx, r, relman.Env{}, fixed("x", relman.LevelLow)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRegisterAssessor(t *testing.T) {
	r := newRelease("reg-1")
	r.Risks = []relman.Risk{
		{ID: "db", Title: "migration locks", Likelihood: 4, Impact: 4, Status: relman.RiskOpen},
		{ID: "cache", Title: "cold cache", Likelihood: 5, Impact: 5, Status: relman.RiskMitigated, ResidualLikelihood: 2, ResidualImpact: 3},
		{ID: "old", Title: "gone", Likelihood: 5, Impact: 5, Status: relman.RiskClosed},
		{ID: "tiny", Title: "typo", Likelihood: 1, Impact: 2, Status: relman.RiskAccepted},
	}
	res, err := relman.RegisterAssessor().Assess(context.Background(), r, relman.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Level != relman.LevelHigh || res.Assessor != "register" {
		t.Errorf("level %s by %s, want high by register", res.Level, res.Assessor)
	}
	var got []string
	for _, rs := range res.Reasons {
		got = append(got, fmt.Sprintf("%s=%d", rs.Factor, rs.Points))
	}
	if want := []string{"risk:db=16", "risk:cache=6"}; !slices.Equal(got, want) {
		t.Errorf("reasons %v, want %v", got, want)
	}
	if !strings.Contains(res.Reasons[1].Explanation, "before mitigation 5 × 5 = 25") {
		t.Errorf("explanation %q", res.Reasons[1].Explanation)
	}
}

func TestManagerAssessAndRisks(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	if _, err := m.Create(ctx, newRelease("a-1"), alice); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Get(ctx, "a-1")
	// Bad risks: nothing stored changes.
	for _, c := range []struct {
		rk   relman.Risk
		want []string
	}{
		{relman.Risk{ID: "x", Title: "t", Likelihood: 6, Impact: 1, Status: relman.RiskOpen}, []string{"likelihood:range"}},
		{relman.Risk{ID: "x", Title: "t", Likelihood: 1, Impact: 0, Status: relman.RiskOpen}, []string{"impact:min"}},
		{relman.Risk{ID: "x", Title: "t", Likelihood: 1, Impact: 11, Status: relman.RiskOpen}, []string{"impact:max"}},
		{relman.Risk{ID: "x", Title: "t", Likelihood: 2, Impact: 2, Status: "gone"}, []string{"status:oneof"}},
		{relman.Risk{ID: "x", Title: "t", Likelihood: 2, Impact: 2, Status: relman.RiskOpen, ResidualLikelihood: 3}, []string{"residual_likelihood:ltefield"}},
	} {
		_, err := m.SetRisk(ctx, "a-1", alice, c.rk)
		if got := fields(t, err); !slices.Equal(got, c.want) {
			t.Errorf("SetRisk %+v: %v, want %v", c.rk, got, c.want)
		}
	}
	_, err := m.Edit(ctx, "a-1", alice, "bad", func(r *relman.Release) error {
		r.Risks = []relman.Risk{{ID: "x", Title: "t", Likelihood: 2, Impact: 7, Status: relman.RiskOpen}}
		return nil
	})
	if got := fields(t, err); !slices.Equal(got, []string{"risks[0].impact:range"}) {
		t.Errorf("Edit with a bad risk: %v", got)
	}
	_, err = m.Edit(ctx, "a-1", alice, "forge", func(r *relman.Release) error {
		r.Approvals = []relman.Approval{{Approver: "x", Decision: relman.DecisionApprove}}
		r.Assessment = &relman.Assessment{Level: relman.LevelLow}
		return nil
	})
	if got := fields(t, err); !slices.Equal(got, []string{"approvals:readonly", "assessment:readonly"}) {
		t.Errorf("Edit forging approvals: %v", got)
	}
	bad := newRelease("a-2")
	bad.Risks = []relman.Risk{{ID: "x", Title: "t", Likelihood: 9, Impact: 1, Status: relman.RiskOpen}}
	if _, err := m.Create(ctx, bad, alice); !slices.Equal(fields(t, err), []string{"risks[0].likelihood:range"}) {
		t.Errorf("Create with a bad risk: %v", err)
	}
	if after, _ := m.Get(ctx, "a-1"); after.Revision != before.Revision {
		t.Fatalf("revision moved from %d to %d on bad input", before.Revision, after.Revision)
	}

	// Set, replace, assess, remove.
	r, err := m.SetRisk(ctx, "a-1", alice, relman.Risk{ID: "db", Title: "migration", Likelihood: 4, Impact: 4, Status: relman.RiskOpen})
	if err != nil || len(r.Risks) != 1 {
		t.Fatalf("SetRisk: %v", err)
	}
	r, err = m.Assess(ctx, "a-1", alice)
	if err != nil {
		t.Fatal(err)
	}
	if r.Assessment == nil || r.Assessment.Level != relman.LevelHigh || r.Assessment.Stale(r) {
		t.Fatalf("assessment %+v", r.Assessment)
	}
	r, err = m.SetRisk(ctx, "a-1", alice, relman.Risk{ID: "db", Title: "migration", Likelihood: 4, Impact: 4, Status: relman.RiskMitigated, ResidualLikelihood: 1})
	if err != nil || len(r.Risks) != 1 || r.Risks[0].Status != relman.RiskMitigated {
		t.Fatalf("SetRisk replace: %v %+v", err, r.Risks)
	}
	if !r.Assessment.Stale(r) {
		t.Error("assessment not stale after a risk change")
	}
	if _, err := m.RemoveRisk(ctx, "a-1", alice, "nope"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("RemoveRisk unknown: %v", err)
	}
	if r, err = m.RemoveRisk(ctx, "a-1", alice, "db"); err != nil || len(r.Risks) != 0 {
		t.Fatalf("RemoveRisk: %v", err)
	}
	h, _ := m.History(ctx, "a-1")
	var risk []string
	for _, e := range h {
		if e.Action == relman.ActionRisk {
			risk = append(risk, e.Details["op"]+e.Details["level"])
		}
	}
	if want := []string{"set", "high", "set", "remove"}; !slices.Equal(risk, want) {
		t.Errorf("risk audit entries %v, want %v", risk, want)
	}
	if err := m.Verify(ctx, "a-1"); err != nil {
		t.Error(err)
	}
}

func TestWithDependencies(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, relman.WithDependencies(map[string][]string{"web": {"invoices"}, "app": {"invoices"}}),
		relman.WithAssessors(relman.FactorModel{}))
	if _, err := m.Create(ctx, newRelease("d-1"), alice); err != nil {
		t.Fatal(err)
	}
	r, err := m.Assess(ctx, "d-1", alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Assessment.Results) != 1 || r.Assessment.Results[0].Reasons[0].Points != 3+2 {
		t.Errorf("results %+v", r.Assessment.Results)
	}
}

func TestAssessmentJSONRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	r := newRelease("j-1")
	r.Risks = []relman.Risk{{ID: "db", Title: "lock", Category: "data", Likelihood: 4, Impact: 5, Mitigation: "online", Owner: "dba",
		Status: relman.RiskMitigated, ResidualLikelihood: 2, ResidualImpact: 5}}
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	r, err := m.Assess(ctx, "j-1", alice)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"assessment":{"level":"high"`) || !strings.Contains(string(b), `"residual_likelihood":2`) {
		t.Errorf("JSON %s", b)
	}
	var back relman.Release
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Assessment.Stale(&back) || back.Assessment.Level != relman.LevelHigh || !slices.Equal(back.Risks, r.Risks) ||
		len(back.Assessment.Results) != 2 || back.Assessment.Results[0].Level != r.Assessment.Results[0].Level {
		t.Errorf("round trip lost data: %+v", back.Assessment)
	}
}
