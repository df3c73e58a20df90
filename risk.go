package relman

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Level is the risk level of a risk or of a release. Levels are ordered:
// LevelLow < LevelMedium < LevelHigh < LevelCritical. The zero Level
// means "not assessed". In JSON a Level is its name ("high").
type Level int8

// The risk levels.
const (
	LevelLow      Level = 1
	LevelMedium   Level = 2
	LevelHigh     Level = 3
	LevelCritical Level = 4
)

var levelNames = [...]string{"", "low", "medium", "high", "critical"}

// String returns the level's name, or "" for the zero Level.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int8(l))
	}
	return levelNames[l]
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l >= LevelLow && l <= LevelCritical }

// ParseLevel returns the level named s (low, medium, high, critical), or
// a *ValidationError for field "level" matching ErrInvalid.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if i > 0 && n == s {
			return Level(i), nil
		}
	}
	return 0, &ValidationError{Fields: []FieldError{{Field: "level", Rule: "oneof", Param: "low medium high critical"}}}
}

// MarshalText encodes a valid level as its name and the zero Level as "".
func (l Level) MarshalText() ([]byte, error) {
	if l == 0 {
		return []byte{}, nil
	}
	if !l.Valid() {
		return nil, &ValidationError{Fields: []FieldError{{Field: "level", Rule: "oneof", Param: "low medium high critical"}}}
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText decodes a level name; "" is the zero Level. An unknown
// name is a *ValidationError for field "level".
func (l *Level) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = 0
		return nil
	}
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// RiskStatus is where a risk of the register stands.
type RiskStatus string

// The statuses of a risk. Closed risks no longer count toward the
// register's level.
const (
	RiskOpen      RiskStatus = "open"
	RiskMitigated RiskStatus = "mitigated"
	RiskAccepted  RiskStatus = "accepted"
	RiskClosed    RiskStatus = "closed"
)

// MaxMatrixSize is the largest Matrix.Size, and so the largest likelihood
// or impact a Risk can carry whatever the matrix.
const MaxMatrixSize = 10

// Risk is one entry of a release's risk register: what could go wrong,
// how likely it is and how bad it would be (each 1..Matrix.Size), what is
// done about it, and what remains after mitigation (the residual
// likelihood and impact; zero means "same as before mitigation").
//
// The struct tags bound likelihood and impact to 1..MaxMatrixSize; the
// Manager also checks them against its Matrix on every write.
type Risk struct {
	ID                 string     `json:"id" validate:"required,max=128,id"`
	Title              string     `json:"title" validate:"required,max=200"`
	Category           string     `json:"category,omitempty" validate:"max=100"`
	Likelihood         int        `json:"likelihood" validate:"min=1,max=10"`
	Impact             int        `json:"impact" validate:"min=1,max=10"`
	Mitigation         string     `json:"mitigation,omitempty" validate:"max=4000"`
	Owner              string     `json:"owner,omitempty" validate:"max=200"`
	Status             RiskStatus `json:"status" validate:"required,oneof=open mitigated accepted closed"`
	ResidualLikelihood int        `json:"residual_likelihood,omitempty" validate:"omitempty,min=1,ltefield=Likelihood"`
	ResidualImpact     int        `json:"residual_impact,omitempty" validate:"omitempty,min=1,ltefield=Impact"`
}

// Residual returns the likelihood and impact that remain after
// mitigation: the residual values where set, the inherent ones otherwise.
func (rk Risk) Residual() (likelihood, impact int) {
	likelihood, impact = rk.Likelihood, rk.Impact
	if rk.ResidualLikelihood > 0 {
		likelihood = rk.ResidualLikelihood
	}
	if rk.ResidualImpact > 0 {
		impact = rk.ResidualImpact
	}
	return likelihood, impact
}

// Thresholds are the cut points that turn a score into a Level: a score
// below Medium is low, from Medium medium, from High high, from Critical
// critical. They must satisfy 0 < Medium < High < Critical.
type Thresholds struct {
	Medium   int `json:"medium"`
	High     int `json:"high"`
	Critical int `json:"critical"`
}

// Level returns the level of score.
func (t Thresholds) Level(score int) Level {
	switch {
	case score >= t.Critical:
		return LevelCritical
	case score >= t.High:
		return LevelHigh
	case score >= t.Medium:
		return LevelMedium
	}
	return LevelLow
}

func (t Thresholds) check(prefix string) []FieldError {
	var fs []FieldError
	if t.Medium < 1 {
		fs = append(fs, FieldError{Field: prefix + "medium", Rule: "gte", Param: "1"})
	}
	if t.High <= t.Medium {
		fs = append(fs, FieldError{Field: prefix + "high", Rule: "gtfield", Param: "medium"})
	}
	if t.Critical <= t.High {
		fs = append(fs, FieldError{Field: prefix + "critical", Rule: "gtfield", Param: "high"})
	}
	return fs
}

// Matrix is a risk matrix: likelihood and impact each range over
// 1..Size, a risk's score is likelihood × impact, and Thresholds turn the
// score into a level.
//
// DefaultMatrix is 5×5 with these cut points:
//
//	score   1–4    low        (e.g. 2×2, 1×4)
//	score   5–9    medium     (e.g. 1×5, 3×3)
//	score  10–19   high       (e.g. 2×5, 4×4)
//	score  20–25   critical   (4×5, 5×5)
type Matrix struct {
	Size       int        `json:"size"`
	Thresholds Thresholds `json:"thresholds"`
}

// DefaultMatrix returns the default 5×5 matrix (see Matrix).
func DefaultMatrix() Matrix {
	return Matrix{Size: 5, Thresholds: Thresholds{Medium: 5, High: 10, Critical: 20}}
}

// Validate returns a *ValidationError naming each bad field ("matrix.size",
// "matrix.thresholds.high", …), or nil. Size must be 2..MaxMatrixSize and
// the thresholds increasing, with Critical at most Size².
func (m Matrix) Validate() error {
	var fs []FieldError
	if m.Size < 2 || m.Size > MaxMatrixSize {
		fs = append(fs, FieldError{Field: "matrix.size", Rule: "range", Param: fmt.Sprintf("2..%d", MaxMatrixSize)})
	}
	fs = append(fs, m.Thresholds.check("matrix.thresholds.")...)
	if m.Size >= 2 && m.Thresholds.Critical > m.Size*m.Size {
		fs = append(fs, FieldError{Field: "matrix.thresholds.critical", Rule: "lte", Param: fmt.Sprint(m.Size * m.Size)})
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

func (m Matrix) orDefault() Matrix {
	if m.Size == 0 {
		return DefaultMatrix()
	}
	return m
}

// Score returns likelihood × impact and its level, or a
// *ValidationError naming "likelihood" or "impact" if one is outside
// 1..Size.
func (m Matrix) Score(likelihood, impact int) (int, Level, error) {
	var fs []FieldError
	for _, f := range []struct {
		name string
		v    int
	}{{"likelihood", likelihood}, {"impact", impact}} {
		if f.v < 1 || f.v > m.Size {
			fs = append(fs, FieldError{Field: f.name, Rule: "range", Param: fmt.Sprintf("1..%d", m.Size)})
		}
	}
	if len(fs) > 0 {
		return 0, 0, &ValidationError{Fields: fs}
	}
	s := likelihood * impact
	return s, m.Thresholds.Level(s), nil
}

// RiskScore returns the residual score and level of rk (see
// Risk.Residual). Errors are those of Score, with the field names of Risk
// ("residual_likelihood" when the residual value is out of range).
func (m Matrix) RiskScore(rk Risk) (int, Level, error) {
	if err := m.CheckRisks([]Risk{rk}); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Fields {
				ve.Fields[i].Field = strings.TrimPrefix(ve.Fields[i].Field, "risks[0].")
			}
		}
		return 0, 0, err
	}
	l, i := rk.Residual()
	s := l * i
	return s, m.Thresholds.Level(s), nil
}

// CheckRisks checks a register against m: every likelihood and impact,
// inherent and residual, in 1..Size, and ids unique. It returns a
// *ValidationError naming each bad field ("risks[2].impact") or nil.
func (m Matrix) CheckRisks(risks []Risk) error {
	var fs []FieldError
	seen := make(map[string]bool, len(risks))
	param := fmt.Sprintf("1..%d", m.Size)
	for i, rk := range risks {
		at := fmt.Sprintf("risks[%d].", i)
		for _, f := range []struct {
			name     string
			v        int
			optional bool
		}{{"likelihood", rk.Likelihood, false}, {"impact", rk.Impact, false},
			{"residual_likelihood", rk.ResidualLikelihood, true}, {"residual_impact", rk.ResidualImpact, true}} {
			if f.optional && f.v == 0 {
				continue
			}
			if f.v < 1 || f.v > m.Size {
				fs = append(fs, FieldError{Field: at + f.name, Rule: "range", Param: param})
			}
		}
		if seen[rk.ID] {
			fs = append(fs, FieldError{Field: at + "id", Rule: "unique"})
		}
		seen[rk.ID] = true
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

// RegisterScore returns the highest residual score of the risks that are
// not closed, its level, and the id of the risk that has it (the first
// one on a tie). An empty register (or one with only closed risks) scores
// 0 and is low. Risks out of the matrix's range are an error (see
// CheckRisks).
func (m Matrix) RegisterScore(risks []Risk) (score int, level Level, id string, err error) {
	if err := m.CheckRisks(risks); err != nil {
		return 0, 0, "", err
	}
	for _, rk := range risks {
		if rk.Status == RiskClosed {
			continue
		}
		l, i := rk.Residual()
		if s := l * i; s > score {
			score, id = s, rk.ID
		}
	}
	if score == 0 {
		return 0, LevelLow, "", nil
	}
	return score, m.Thresholds.Level(score), id, nil
}

// Reason is one contribution to a risk assessment: which factor, how
// many points it added, and a sentence a person can read.
type Reason struct {
	Factor      string `json:"factor"`
	Points      int    `json:"points"`
	Explanation string `json:"explanation"`
}

// Result is what one assessor concluded: a level and the reasons for it.
type Result struct {
	Assessor string   `json:"assessor"`
	Level    Level    `json:"level"`
	Reasons  []Reason `json:"reasons,omitempty"`
}

// Env is what an assessor may consult besides the release: the
// Manager's clock, its store (read only, may be nil), its matrix and the
// host's dependency graph (may be nil).
type Env struct {
	Now    time.Time
	Store  Store
	Matrix Matrix // the zero Matrix means DefaultMatrix
	Graph  *DependencyGraph
}

// Assessor judges the risk of a release. It returns its level and the
// reasons behind it; it must not modify the release. Result.Assessor
// names the assessor (Assess fills in a name when it is empty).
type Assessor interface {
	Assess(ctx context.Context, r *Release, env Env) (Result, error)
}

// AssessorFunc adapts a function to the Assessor interface.
type AssessorFunc func(ctx context.Context, r *Release, env Env) (Result, error)

// Assess calls f.
func (f AssessorFunc) Assess(ctx context.Context, r *Release, env Env) (Result, error) {
	return f(ctx, r, env)
}

// Assessment is the recorded outcome of assessing a release: the highest
// level of all assessors, each assessor's result, when it was made, and
// Basis, a fingerprint of the data it was computed over (see
// Fingerprint). When the release changes so that its fingerprint no
// longer matches, the assessment is stale.
type Assessment struct {
	Level   Level     `json:"level"`
	Results []Result  `json:"results,omitempty"`
	At      time.Time `json:"at"`
	Basis   string    `json:"basis"`
}

// Reasons returns the reasons of every result, in order.
func (a *Assessment) Reasons() []Reason {
	if a == nil {
		return nil
	}
	var out []Reason
	for _, res := range a.Results {
		out = append(out, res.Reasons...)
	}
	return out
}

// Stale reports whether r has changed, since a was made, in anything the
// assessors look at. A nil assessment is always stale.
func (a *Assessment) Stale(r *Release) bool { return a == nil || a.Basis != Fingerprint(r) }

func (a *Assessment) clone() *Assessment {
	if a == nil {
		return nil
	}
	c := *a
	c.Results = slices.Clone(a.Results)
	for i := range c.Results {
		c.Results[i].Reasons = slices.Clone(c.Results[i].Reasons)
	}
	return &c
}

// Fingerprint returns a hash of what assessors look at in r: version,
// kind, change model, services, window, tasks, rollback plan, required
// suites, test results and the risk register. Approvals, labels, stage
// and timestamps are not part of it.
func Fingerprint(r *Release) string {
	if r == nil {
		return ""
	}
	b, err := json.Marshal(struct {
		Version        string
		Kind           Kind
		Model          ChangeModel
		Services       []string
		Window         *Span
		Tasks          []Task
		RollbackPlan   string
		RequiredSuites []string
		TestResults    []TestResult
		Risks          []Risk
	}{r.Version, r.Kind, r.Model, r.Services, r.Window, r.Tasks, r.RollbackPlan, r.RequiredSuites, r.TestResults, r.Risks})
	if err != nil { // cannot happen: every field marshals
		panic("relman: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Assess runs every assessor on r and combines their results: the
// release's level is the highest level any of them gives, and every
// result is kept, so the assessment explains itself. An assessor's error
// aborts the assessment. With no assessors the level is low.
func Assess(ctx context.Context, r *Release, env Env, assessors ...Assessor) (*Assessment, error) {
	if r == nil {
		return nil, invalid("release", "required")
	}
	env.Matrix = env.Matrix.orDefault()
	a := &Assessment{Level: LevelLow, At: env.Now, Basis: Fingerprint(r), Results: make([]Result, 0, len(assessors))}
	for i, as := range assessors {
		if as == nil {
			return nil, invalid(fmt.Sprintf("assessors[%d]", i), "required")
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("relman: assess %q: %w", r.ID, err)
		}
		res, err := as.Assess(ctx, r, env)
		if err != nil {
			return nil, fmt.Errorf("relman: assess %q: %w", r.ID, err)
		}
		if res.Assessor == "" {
			res.Assessor = fmt.Sprintf("assessor-%d", i+1)
		}
		if !res.Level.Valid() {
			return nil, fmt.Errorf("relman: assess %q: assessor %s: %w", r.ID, res.Assessor,
				&ValidationError{Fields: []FieldError{{Field: "level", Rule: "oneof", Param: "low medium high critical"}}})
		}
		a.Level = max(a.Level, res.Level)
		a.Results = append(a.Results, res)
	}
	return a, nil
}

// RegisterAssessor returns the assessor of the risk register: the
// release's level is the highest residual level of its risks that are
// not closed (see Matrix.RegisterScore). Each such risk at or above
// medium is a reason, worth its residual score.
func RegisterAssessor() Assessor {
	return AssessorFunc(func(_ context.Context, r *Release, env Env) (Result, error) {
		m := env.Matrix.orDefault()
		res := Result{Assessor: "register", Level: LevelLow}
		_, lvl, _, err := m.RegisterScore(r.Risks)
		if err != nil {
			return res, err
		}
		res.Level = lvl
		for _, rk := range r.Risks {
			if rk.Status == RiskClosed {
				continue
			}
			l, i := rk.Residual()
			s := l * i
			rl := m.Thresholds.Level(s)
			if rl < LevelMedium {
				continue
			}
			expl := fmt.Sprintf("%s: likelihood %d × impact %d = %d (%s)", rk.Title, l, i, s, rl)
			if l != rk.Likelihood || i != rk.Impact {
				expl += fmt.Sprintf(", before mitigation %d × %d = %d", rk.Likelihood, rk.Impact, rk.Likelihood*rk.Impact)
			}
			res.Reasons = append(res.Reasons, Reason{Factor: "risk:" + rk.ID, Points: s, Explanation: expl + ", " + string(rk.Status)})
		}
		slices.SortStableFunc(res.Reasons, func(a, b Reason) int { return cmp.Compare(b.Points, a.Points) })
		return res, nil
	})
}

// DependencyGraph says which services depend on which. Build it once
// with NewDependencyGraph and share it: it is immutable and safe for
// concurrent use.
type DependencyGraph struct {
	names      []string         // sorted; a service's index is its position
	index      map[string]int32 // name -> index
	dependents [][]int32        // index -> services that depend on it directly
	dependsOn  [][]int32        // index -> services it depends on directly
}

// NewDependencyGraph builds a graph from deps, which maps each service
// to the services it depends on. Cycles are allowed.
func NewDependencyGraph(deps map[string][]string) *DependencyGraph {
	g := &DependencyGraph{index: make(map[string]int32, len(deps))}
	for svc, on := range deps {
		g.index[svc] = 0
		for _, d := range on {
			g.index[d] = 0
		}
	}
	g.names = slices.Sorted(maps.Keys(g.index))
	for i, n := range g.names {
		g.index[n] = int32(i)
	}
	g.dependents = make([][]int32, len(g.names))
	g.dependsOn = make([][]int32, len(g.names))
	for svc, on := range deps {
		si := g.index[svc]
		for _, d := range on {
			if d != svc {
				di := g.index[d]
				g.dependents[di] = append(g.dependents[di], si)
				g.dependsOn[si] = append(g.dependsOn[si], di)
			}
		}
	}
	for i := range g.dependents {
		slices.Sort(g.dependents[i])
		g.dependents[i] = slices.Compact(g.dependents[i])
		slices.Sort(g.dependsOn[i])
		g.dependsOn[i] = slices.Compact(g.dependsOn[i])
	}
	return g
}

// Dependencies returns, sorted, every service that one of services
// depends on directly or transitively, excluding services themselves: the
// reverse of Dependents.
func (g *DependencyGraph) Dependencies(services []string) []string {
	if g == nil {
		return nil
	}
	return g.reach(services, g.dependsOn)
}

// Dependents returns, sorted, every service that depends directly or
// transitively on one of services, excluding services themselves. A nil
// graph has no dependents; services the graph does not know have none.
func (g *DependencyGraph) Dependents(services []string) []string {
	if g == nil {
		return nil
	}
	return g.reach(services, g.dependents)
}

// reach walks edges from services and returns, sorted, every service
// reached, excluding services themselves.
func (g *DependencyGraph) reach(services []string, edges [][]int32) []string {
	if len(services) == 0 {
		return nil
	}
	seen := make([]bool, len(g.names))
	queue := make([]int32, 0, len(services))
	for _, s := range services {
		if i, ok := g.index[s]; ok && !seen[i] {
			seen[i] = true
			queue = append(queue, i)
		}
	}
	var out []int32
	for len(queue) > 0 {
		s := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, d := range edges[s] {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				queue = append(queue, d)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	names := make([]string, len(out))
	for i, d := range out {
		names[i] = g.names[d]
	}
	return names
}

// PeakHours declares a daily period of peak load, in local time of
// Location (UTC if nil), on the given weekdays (every day if empty).
// Start and End are offsets from local midnight, 0 ≤ Start < End ≤ 24h,
// read as wall-clock times, so they stay right across DST changes.
type PeakHours struct {
	Days     []time.Weekday
	Start    time.Duration
	End      time.Duration
	Location *time.Location
}

// Overlaps reports whether span shares an instant with a peak period.
func (p PeakHours) Overlaps(span Span) bool {
	if p.End <= p.Start || p.Start < 0 || p.End > 24*time.Hour || !span.End.After(span.Start) {
		return false
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	wall := func(day time.Time, d time.Duration) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second), 0, loc)
	}
	start := span.Start.In(loc)
	day := time.Date(start.Year(), start.Month(), start.Day()-1, 0, 0, 0, 0, loc)
	// A week of days covers every weekday: one more day than the span, at
	// most eight.
	for n := 0; n < 9 && day.Before(span.End); n++ {
		if len(p.Days) == 0 || slices.Contains(p.Days, day.Weekday()) {
			if (Span{Start: wall(day, p.Start), End: wall(day, p.End)}).Overlaps(span) {
				return true
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	}
	return false
}

// FactorWeights are the points each factor of the FactorModel adds.
// DefaultFactorWeights documents the defaults. A zero weight turns its
// factor off.
type FactorWeights struct {
	Service      int // per service the release touches directly
	Dependent    int // per service that depends (transitively) on one it touches
	ServiceCap   int // most points the services factor may add (0: no cap)
	Task         int // per task of the release
	TaskCap      int // most points the tasks add (0: no cap)
	Major        int // a major release
	Emergency    int // kind emergency or emergency change model
	NoRollback   int // no rollback plan
	NoTests      int // a required suite (or, with none required, any suite) has no result
	FailingTests int // the latest result of a suite failed
	PeakHours    int // the planned window overlaps declared peak hours
	FailureRate  int // points at a 100 % recent failure rate, scaled linearly
}

// DefaultFactorWeights returns the default weights:
//
//	Service 3, Dependent 1, ServiceCap 30
//	Task 1, TaskCap 10, Major 5
//	Emergency 15, NoRollback 15
//	NoTests 10, FailingTests 15
//	PeakHours 10, FailureRate 20
//
// With DefaultFactorThresholds (medium 15, high 30, critical 50) a minor
// change to one service with a rollback plan and passing tests is low; an
// emergency is at least medium; an emergency without a rollback plan is
// high.
func DefaultFactorWeights() FactorWeights {
	return FactorWeights{Service: 3, Dependent: 1, ServiceCap: 30, Task: 1, TaskCap: 10, Major: 5,
		Emergency: 15, NoRollback: 15, NoTests: 10, FailingTests: 15, PeakHours: 10, FailureRate: 20}
}

// DefaultFactorThresholds returns the default cut points of the
// FactorModel: points below 15 are low, from 15 medium, from 30 high,
// from 50 critical.
func DefaultFactorThresholds() Thresholds { return Thresholds{Medium: 15, High: 30, Critical: 50} }

// FactorModel is an Assessor that adds up points for what makes a change
// risky: its blast radius (services touched and the services that depend
// on them, from Env.Graph), its size (tasks, a major release), an
// emergency, a missing rollback plan, missing or failing test evidence, a
// window inside peak hours, and the recent failure rate of releases that
// touched the same services (read from Env.Store). Each factor that adds
// points is a Reason; the total's level comes from Thresholds.
//
// The zero FactorModel uses DefaultFactorWeights, DefaultFactorThresholds,
// no peak hours, a 90-day look-back and a minimum sample of 3 finished
// releases.
type FactorModel struct {
	Weights    *FactorWeights // nil: DefaultFactorWeights()
	Thresholds *Thresholds    // nil: DefaultFactorThresholds()
	Peak       []PeakHours
	// Lookback is how far back the failure-rate factor looks, by the
	// releases' UpdatedAt (0: 90 days).
	Lookback time.Duration
	// MinSample is how many finished releases (operating, closed, rolled
	// back) the failure-rate factor needs before it counts (0: 3). A
	// release failed if it was rolled back or its review says failed. Per
	// service, the MaxPage most recently updated releases are read.
	MinSample int
}

// Validate checks the model's thresholds and settings and returns a
// *ValidationError naming each bad field, or nil.
func (f FactorModel) Validate() error {
	var fs []FieldError
	if f.Thresholds != nil {
		fs = append(fs, f.Thresholds.check("factor_model.thresholds.")...)
	}
	if f.Weights != nil {
		for _, w := range []int{f.Weights.Service, f.Weights.Dependent, f.Weights.ServiceCap, f.Weights.Task, f.Weights.TaskCap, f.Weights.Major,
			f.Weights.Emergency, f.Weights.NoRollback, f.Weights.NoTests, f.Weights.FailingTests, f.Weights.PeakHours, f.Weights.FailureRate} {
			if w < 0 {
				fs = append(fs, FieldError{Field: "factor_model.weights", Rule: "gte", Param: "0"})
				break
			}
		}
	}
	if f.Lookback < 0 {
		fs = append(fs, FieldError{Field: "factor_model.lookback", Rule: "gte", Param: "0"})
	}
	if f.MinSample < 0 {
		fs = append(fs, FieldError{Field: "factor_model.min_sample", Rule: "gte", Param: "0"})
	}
	for i, p := range f.Peak {
		if p.Start < 0 || p.End <= p.Start || p.End > 24*time.Hour {
			fs = append(fs, FieldError{Field: fmt.Sprintf("factor_model.peak[%d].end", i), Rule: "range", Param: "start < end <= 24h"})
		}
	}
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
	}
	return nil
}

// Assess implements Assessor.
func (f FactorModel) Assess(ctx context.Context, r *Release, env Env) (Result, error) {
	w := DefaultFactorWeights()
	if f.Weights != nil {
		w = *f.Weights
	}
	th := DefaultFactorThresholds()
	if f.Thresholds != nil {
		th = *f.Thresholds
	}
	res := Result{Assessor: "factors"}
	total := 0
	add := func(factor string, points int, format string, args ...any) {
		if points <= 0 {
			return
		}
		total += points
		res.Reasons = append(res.Reasons, Reason{Factor: factor, Points: points, Explanation: fmt.Sprintf(format, args...)})
	}
	capped := func(p, limit int) int {
		if limit > 0 && p > limit {
			return limit
		}
		return p
	}

	// Blast radius.
	deps := env.Graph.Dependents(r.Services)
	if p := capped(w.Service*len(r.Services)+w.Dependent*len(deps), w.ServiceCap); p > 0 {
		expl := fmt.Sprintf("touches %d service(s) (%s)", len(r.Services), names(r.Services))
		if len(deps) > 0 {
			expl += fmt.Sprintf(" on which %d other service(s) depend (%s)", len(deps), names(deps))
		}
		add("services", p, "%s", expl)
	}
	// Size.
	add("size", capped(w.Task*len(r.Tasks), w.TaskCap), "%d task(s)", len(r.Tasks))
	if r.Kind == KindMajor {
		add("major", w.Major, "major release")
	}
	if r.Kind == KindEmergency || r.Model == ModelEmergency {
		add("emergency", w.Emergency, "emergency change (kind %s, model %s)", r.Kind, r.Model)
	}
	if blank(r.RollbackPlan) {
		add("rollback", w.NoRollback, "no rollback plan")
	}
	// Test evidence: the latest result of each suite.
	latest := latestResults(r.TestResults, time.Time{})
	var missing, failing []string
	for _, s := range r.RequiredSuites {
		if _, ok := latest[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(r.RequiredSuites) == 0 && len(latest) == 0 {
		missing = append(missing, "any suite")
	}
	for s, tr := range latest {
		if !tr.Passed {
			failing = append(failing, s)
		}
	}
	slices.Sort(failing)
	if len(missing) > 0 {
		add("tests-missing", w.NoTests, "no test result for %s", strings.Join(missing, ", "))
	}
	if len(failing) > 0 {
		add("tests-failing", w.FailingTests, "latest result failed for %s", strings.Join(failing, ", "))
	}
	// Peak hours.
	if r.Window != nil && w.PeakHours > 0 {
		for _, p := range f.Peak {
			if p.Overlaps(*r.Window) {
				add("peak-hours", w.PeakHours, "window %s–%s overlaps peak hours", r.Window.Start.UTC().Format(time.RFC3339), r.Window.End.UTC().Format(time.RFC3339))
				break
			}
		}
	}
	// Recent failure rate of releases touching the same services.
	if env.Store != nil && w.FailureRate > 0 && len(r.Services) > 0 {
		failed, finished, err := f.failureRate(ctx, r, env)
		if err != nil {
			return res, err
		}
		minSample := cmp.Or(f.MinSample, 3)
		if finished >= minSample && failed > 0 {
			p := int(math.Round(float64(w.FailureRate) * float64(failed) / float64(finished)))
			add("failure-rate", p, "%d of the last %d finished release(s) touching the same services failed", failed, finished)
		}
	}
	res.Level = th.Level(total)
	return res, nil
}

func (f FactorModel) failureRate(ctx context.Context, r *Release, env Env) (failed, finished int, err error) {
	since := env.Now.Add(-cmp.Or(f.Lookback, 90*24*time.Hour))
	seen := map[string]bool{r.ID: true}
	for _, s := range r.Services {
		rs, err := env.Store.List(ctx, Query{Service: s, Stages: []Stage{StageOperating, StageClosed, StageRolledBack}, OrderBy: OrderUpdated, Desc: true})
		if err != nil {
			return 0, 0, fmt.Errorf("failure rate: %w", err)
		}
		for _, o := range rs {
			if seen[o.ID] || o.UpdatedAt.Before(since) {
				continue
			}
			seen[o.ID] = true
			finished++
			if o.Stage == StageRolledBack || (o.Review != nil && o.Review.Outcome == OutcomeFailed) {
				failed++
			}
		}
	}
	return failed, finished, nil
}

// names lists up to five names, then how many more.
func names(s []string) string {
	if len(s) <= 5 {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:5], ", ") + fmt.Sprintf(" and %d more", len(s)-5)
}
