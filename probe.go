package relman

import (
	"context"
	"time"
)

// Probe measures something about a release while it rolls out or is
// watched in operation: an error rate, a latency, an availability. The
// Manager asks it for one number per measurement (see Verification) and
// compares it with the check's thresholds. An error, or no answer within
// the check's timeout, makes the measurement inconclusive, never a pass.
// Probes are registered by name with WithProbe; store-independent probes
// live in their own modules (probe/prometheus queries PromQL).
type Probe interface {
	Measure(ctx context.Context, q ProbeQuery) (float64, error)
}

// ProbeFunc adapts a function to the Probe interface.
type ProbeFunc func(ctx context.Context, q ProbeQuery) (float64, error)

// Measure calls f.
func (f ProbeFunc) Measure(ctx context.Context, q ProbeQuery) (float64, error) { return f(ctx, q) }

// ProbeQuery is what a Probe is asked to measure.
type ProbeQuery struct {
	Release     *Release          // the release as stored; do not modify
	Environment string            // the environment rolled out to or watched
	Step        int               // the rollout step (0-based); -1 while watching in operation
	Query       string            // ProbeCheck.Query: what to measure, in the probe's own language (PromQL …)
	Params      map[string]string // ProbeCheck.Params
	At          time.Time         // the Manager's clock when the measurement was asked for
}

// Deployer performs rollout steps for the Manager: relman decides what
// and when, the host's Deployer does it (kubectl, a load balancer's
// weights, a file copy). Deploy must bring the environment to the step's
// share of traffic or set of targets; Rollback must bring the environment
// back to what ran before the rollout. Both may be called again for the
// same step after a crash in the middle of a call, so they must be
// idempotent; a step whose Deploy returned nil and was recorded is never
// deployed again.
type Deployer interface {
	Deploy(ctx context.Context, d DeployRequest) error
	Rollback(ctx context.Context, d DeployRequest) error
}

// DeployRequest is one call to a Deployer.
type DeployRequest struct {
	Release     *Release    // the release as stored; do not modify
	Environment string      // where
	Step        int         // the step's index in the plan (Rollback: the last step reached)
	Plan        RolloutStep // the step: its percentage or targets
}
