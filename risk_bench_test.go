package relman_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// benchRelease returns a release with 50 risks and 20 services, a graph
// of 1 000 services where each depends on three others, and a store
// holding 100 finished releases touching those services.
func benchSetup(b *testing.B) (*relman.Release, relman.Env) {
	rng := rand.New(rand.NewPCG(1, 2))
	deps := make(map[string][]string, 1000)
	for i := range 1000 {
		svc := fmt.Sprintf("svc-%03d", i)
		for range 3 {
			deps[svc] = append(deps[svc], fmt.Sprintf("svc-%03d", rng.IntN(1000)))
		}
	}
	r := newRelease("bench")
	r.Services = nil
	for i := range 20 {
		r.Services = append(r.Services, fmt.Sprintf("svc-%03d", i*50))
	}
	for i := range 50 {
		r.Risks = append(r.Risks, relman.Risk{ID: fmt.Sprint("r", i), Title: "risk", Likelihood: 1 + i%5, Impact: 1 + (i/5)%5,
			Status: relman.RiskOpen, ResidualLikelihood: 1})
	}
	r.Window = &relman.Span{Start: t0, End: t0.Add(2 * time.Hour)}
	s := memory.New()
	for i := range 5 {
		seedHistory(b, s, fmt.Sprintf("svc-%03d", i*50), "SSSRSSSSSSSSSSSSSSSR", time.Duration(i+1)*time.Hour)
	}
	return r, relman.Env{Now: t0, Store: s, Graph: relman.NewDependencyGraph(deps)}
}

// BenchmarkAssess assesses a release with 50 risks and 20 services over
// a 1 000-service dependency graph, with the register and the factor
// model (failure rate read from a memory store).
func BenchmarkAssess(b *testing.B) {
	r, env := benchSetup(b)
	fm := relman.FactorModel{Peak: []relman.PeakHours{{Start: 8 * time.Hour, End: 18 * time.Hour}}}
	as := []relman.Assessor{relman.RegisterAssessor(), fm}
	ctx := context.Background()
	a, err := relman.Assess(ctx, r, env, as...)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("level %s, %d reasons, %d dependents", a.Level, len(a.Reasons()), len(env.Graph.Dependents(r.Services)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := relman.Assess(ctx, r, env, as...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssessNoStore is BenchmarkAssess without the failure-rate
// factor (no store): the cost of the pure computation.
func BenchmarkAssessNoStore(b *testing.B) {
	r, env := benchSetup(b)
	env.Store = nil
	as := []relman.Assessor{relman.RegisterAssessor(), relman.FactorModel{}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := relman.Assess(ctx, r, env, as...); err != nil {
			b.Fatal(err)
		}
	}
}
