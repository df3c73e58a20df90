// Package prometheus is a relman verification probe over PromQL: it
// answers a rollout's probe checks ([relman.ProbeCheck]) with the value of
// an instant query against a Prometheus server, or anything that speaks
// its HTTP API (Thanos, Mimir, Cortex, VictoriaMetrics).
//
// It lives in a module of its own so that the relman core does not pull
// in client_golang.
//
// # Queries
//
// A check's Query is PromQL that evaluates to one number: a scalar, or an
// instant vector of exactly one sample. Aggregate to get there:
// sum(rate(…)) rather than rate(…). The query runs at the Manager's
// clock ([relman.ProbeQuery].At), so the Manager must run on real time.
//
// The query may name the release it verifies through placeholders, filled
// in before it is sent (see [Expand]):
//
//	{{release}}      the release's ID
//	{{version}}      the release's version
//	{{environment}}  the environment rolled out to
//	{{step}}         the rollout step, 0-based (-1 while watching in operation)
//	{{key}}          the check's Params["key"]
//
// Values are never escaped but checked: each must consist of the
// characters [A-Za-z0-9._:-], so that it cannot break out of a quoted
// label value. A value that does not fit makes the measurement fail
// ([ErrPlaceholder]) rather than send another query.
//
// # Errors
//
// Anything but one finite number is an error, which the Manager records
// as an inconclusive measurement, never as a pass. Every error is a
// [*QueryError] carrying the query as sent; [errors.Is] tells the causes
// a caller may act on apart: [ErrNoData] (an empty vector),
// [ErrAmbiguous] (several samples), [ErrResultType] (a matrix or a
// histogram), [ErrNotFinite] (NaN or ±Inf), [ErrWarnings] (an answer
// Prometheus warned may be partial) and [ErrPlaceholder]. A query
// Prometheus refuses or fails wraps client_golang's *v1.Error
// ([errors.As]), whose Type says which: bad_data for a PromQL syntax
// error, timeout, execution, server_error … No answer within
// [Options].Timeout matches [context.DeadlineExceeded].
//
// # Example
//
// Register the probe with the Manager under a name, and refer to that
// name in a rollout plan's checks. This check fails a step when more than
// 5 % of the requests served by the version being rolled out fail:
//
//	p, err := prometheus.New(prometheus.Options{Address: "http://prometheus:9090"})
//	if err != nil {
//		return err
//	}
//	m, err := relman.NewManager(store,
//		relman.WithEnvironments(envs),
//		relman.WithDeployer(deployer),
//		relman.WithProbe("prometheus", p),
//	)
//	…
//	plan := relman.RolloutPlan{
//		Steps: []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}},
//		Verification: relman.Verification{
//			Interval:     time.Minute,
//			Measurements: 5,
//			Checks: []relman.ProbeCheck{{
//				Name:  "error-rate",
//				Probe: "prometheus",
//				Query: `sum(rate(http_requests_total{code=~"5..",version="{{version}}"}[1m]))
//				      / sum(rate(http_requests_total{version="{{version}}"}[1m]))`,
//				Max: ptr(0.05),
//			}},
//		},
//		OnFailure: relman.FailureRollback,
//	}
//	_, err = m.StartRollout(ctx, id, actor, "production", plan)
//
// where ptr is func ptr[T any](v T) *T { return &v }. A host's runner (or
// a loop calling Manager.RunDue) then deploys each step, measures the
// check every Interval, and rolls back when it fails.
package prometheus
