package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/probe/prometheus"
	"github.com/relman-dev/relman/store/memory"
)

func ptr[T any](v T) *T { return &v }

// Register the probe with a Manager and refer to it from a rollout plan's
// check. (The address is not dialled until the runner measures.)
func Example() {
	p, err := prometheus.New(prometheus.Options{Address: "http://prometheus.example:9090", Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := relman.NewManager(memory.New(),
		relman.WithEnvironments(relman.Environments{List: []relman.Environment{{Name: "production", Production: true}}}),
		relman.WithProbe("prometheus", p),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan := relman.RolloutPlan{
		Steps: []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}},
		Verification: relman.Verification{
			Interval:     time.Minute,
			Measurements: 5,
			Checks: []relman.ProbeCheck{{
				Name:  "error-rate",
				Probe: "prometheus",
				Query: `sum(rate(http_requests_total{code=~"5..",version="{{version}}"}[1m])) / sum(rate(http_requests_total{version="{{version}}"}[1m]))`,
				Max:   ptr(0.05),
			}},
		},
		OnFailure: relman.FailureRollback,
	}
	fmt.Println("plan valid:", m.ValidatePlan(plan) == nil)
	// Output: plan valid: true
}

// Expand shows the query a check sends for a release.
func ExampleExpand() {
	q := relman.ProbeQuery{
		Release:     &relman.Release{ID: "rel-42", Version: "2.4.0"},
		Environment: "production",
		Step:        1,
		Params:      map[string]string{"window": "5m"},
	}
	s, err := prometheus.Expand(`sum(rate(http_requests_total{code=~"5..",version="{{version}}"}[{{window}}]))`, q)
	fmt.Println(s, err)

	q.Release.Version = `2.4.0"} or vector(0) #`
	_, err = prometheus.Expand(`up{version="{{version}}"}`, q)
	fmt.Println(errors.Is(err, prometheus.ErrPlaceholder))
	// Output:
	// sum(rate(http_requests_total{code=~"5..",version="2.4.0"}[5m])) <nil>
	// true
}

// Measure's errors tell apart why a query gave no verdict.
func ExampleQueryError() {
	p, _ := prometheus.New(prometheus.Options{Address: "http://prometheus.example:9090"})
	_, err := p.Measure(context.Background(), relman.ProbeQuery{Query: `up{job="{{job}}"}`})
	var qe *prometheus.QueryError
	switch {
	case errors.Is(err, prometheus.ErrNoData):
		fmt.Println("nothing measured yet")
	case errors.Is(err, prometheus.ErrPlaceholder) && errors.As(err, &qe):
		fmt.Println("fix the check:", qe.Err)
	}
	// Output: fix the check: prometheus: bad placeholder: {{job}} is neither built in (release, version, environment, step) nor a parameter
}

// New reports every bad option at once.
func ExampleNew() {
	_, err := prometheus.New(prometheus.Options{Address: "prometheus:9090", Timeout: -time.Second})
	var ve *relman.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f)
		}
	}
	// Output:
	// address: url=http https
	// timeout: gte=0
}
