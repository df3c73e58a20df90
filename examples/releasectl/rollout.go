package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// The environments releasectl knows unless RELMAN_ENVIRONMENTS says
// otherwise: test, staging (optional), production.
const defaultEnvironments = "test,staging?,production"

// parseEnvironments reads an environment list: names in order, separated
// by commas; a trailing '?' marks an optional one; the last is production.
// At least one environment before production must have succeeded.
func parseEnvironments(spec string) (relman.Environments, error) {
	var es relman.Environments
	for name := range strings.SplitSeq(spec, ",") {
		name = strings.TrimSpace(name)
		e := relman.Environment{Name: strings.TrimSuffix(name, "?"), Optional: strings.HasSuffix(name, "?")}
		es.List = append(es.List, e)
	}
	last := &es.List[len(es.List)-1]
	last.Production, last.Optional = true, false
	if len(es.List) > 1 {
		es.MinBeforeProduction = 1
	}
	if err := es.Validate(); err != nil {
		return es, usageErrorf("RELMAN_ENVIRONMENTS %q: %v", spec, err)
	}
	return es, nil
}

// rolloutOptions are the Manager options of the commands that start or
// drive rollouts: the environments, and a Deployer and probes that run
// commands given on the command line.
type rolloutOptions struct {
	deployCmd string
	probes    mapFlag
}

func (ro *rolloutOptions) bind(fs *flag.FlagSet) {
	ro.probes = mapFlag{}
	fs.StringVar(&ro.deployCmd, "deploy-cmd", "", "shell `COMMAND` that deploys a rollout step or rolls back (see 'releasectl help rollout')")
	fs.Var(ro.probes, "probe", "a probe as `NAME=COMMAND`: the command prints one number (repeatable)")
}

func (ro *rolloutOptions) options(a *app) ([]relman.Option, error) {
	spec := a.getenv("RELMAN_ENVIRONMENTS")
	if spec == "" {
		spec = defaultEnvironments
	}
	es, err := parseEnvironments(spec)
	if err != nil {
		return nil, err
	}
	opts := []relman.Option{relman.WithEnvironments(es)}
	if ro.deployCmd != "" {
		opts = append(opts, relman.WithDeployer(cmdDeployer{cmd: ro.deployCmd}))
	}
	for name, cmd := range ro.probes {
		opts = append(opts, relman.WithProbe(name, cmdProbe{cmd: cmd}))
	}
	return opts, nil
}

// cmdDeployer deploys by running a shell command with the step in its
// environment.
type cmdDeployer struct{ cmd string }

func (d cmdDeployer) run(ctx context.Context, action string, q relman.DeployRequest) error {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", d.cmd)
	c.Env = append(os.Environ(), "RELMAN_ACTION="+action, "RELMAN_RELEASE="+q.Release.ID, "RELMAN_VERSION="+q.Release.Version,
		"RELMAN_ENVIRONMENT="+q.Environment, "RELMAN_STEP="+strconv.Itoa(q.Step), "RELMAN_PERCENT="+strconv.Itoa(q.Plan.Percent),
		"RELMAN_TARGETS="+strings.Join(q.Plan.Targets, ","))
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", action, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (d cmdDeployer) Deploy(ctx context.Context, q relman.DeployRequest) error {
	return d.run(ctx, "deploy", q)
}

func (d cmdDeployer) Rollback(ctx context.Context, q relman.DeployRequest) error {
	return d.run(ctx, "rollback", q)
}

// cmdProbe measures by running a shell command that prints a number.
type cmdProbe struct{ cmd string }

func (p cmdProbe) Measure(ctx context.Context, q relman.ProbeQuery) (float64, error) {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", p.cmd)
	c.Env = append(os.Environ(), "RELMAN_RELEASE="+q.Release.ID, "RELMAN_VERSION="+q.Release.Version,
		"RELMAN_ENVIRONMENT="+q.Environment, "RELMAN_STEP="+strconv.Itoa(q.Step), "RELMAN_QUERY="+q.Query)
	var out bytes.Buffer
	c.Stdout = &out
	if err := c.Run(); err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
}

// planFile is a rollout plan as people write it: durations as Go
// duration strings ("30s", "5m").
type planFile struct {
	Steps []struct {
		Name    string   `json:"name"`
		Percent int      `json:"percent"`
		Targets []string `json:"targets"`
		Manual  bool     `json:"manual"`
		Bake    string   `json:"bake"`
	} `json:"steps"`
	Checks []struct {
		Name   string            `json:"name"`
		Probe  string            `json:"probe"`
		Query  string            `json:"query"`
		Params map[string]string `json:"params"`
		Max    *float64          `json:"max"`
		Min    *float64          `json:"min"`
	} `json:"checks"`
	Interval          string               `json:"interval"`
	Measurements      int                  `json:"measurements"`
	FailureLimit      int                  `json:"failure_limit"`
	InconclusiveLimit int                  `json:"inconclusive_limit"`
	Timeout           string               `json:"timeout"`
	OnFailure         relman.FailurePolicy `json:"on_failure"`
	OnInconclusive    relman.FailurePolicy `json:"on_inconclusive"`
	Watch             string               `json:"watch"`
	WatchRollback     bool                 `json:"watch_rollback"`
	DeployTimeout     string               `json:"deploy_timeout"`
}

// readPlan decodes a plan file strictly.
func readPlan(b []byte) (relman.RolloutPlan, error) {
	var pf planFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return relman.RolloutPlan{}, fmt.Errorf("plan: %v", err)
	}
	var errs []string
	dur := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not a duration (e.g. 30s, 5m)", field, s))
		}
		return d
	}
	p := relman.RolloutPlan{OnFailure: pf.OnFailure, OnInconclusive: pf.OnInconclusive, WatchRollback: pf.WatchRollback}
	for i, s := range pf.Steps {
		p.Steps = append(p.Steps, relman.RolloutStep{Name: s.Name, Percent: s.Percent, Targets: s.Targets, Manual: s.Manual,
			Bake: dur(fmt.Sprintf("steps[%d].bake", i), s.Bake)})
	}
	for _, c := range pf.Checks {
		p.Verification.Checks = append(p.Verification.Checks, relman.ProbeCheck{Name: c.Name, Probe: c.Probe, Query: c.Query,
			Params: c.Params, Max: c.Max, Min: c.Min})
	}
	p.Verification.Interval = dur("interval", pf.Interval)
	p.Verification.Measurements = pf.Measurements
	p.Verification.FailureLimit, p.Verification.InconclusiveLimit = pf.FailureLimit, pf.InconclusiveLimit
	p.Verification.Timeout = dur("timeout", pf.Timeout)
	p.Watch = dur("watch", pf.Watch)
	p.DeployTimeout = dur("deploy_timeout", pf.DeployTimeout)
	if len(errs) > 0 {
		return p, fmt.Errorf("plan: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

func rolloutCmd() *command {
	var ro rolloutOptions
	var planPath, reason string
	c := &command{
		name:    "rollout",
		remote:  true,
		args:    "status|start|resume|retry|skip|abort <id> [<environment>]",
		summary: "start a progressive rollout, see its progress, or decide on a paused one",
		help: `
  releasectl rollout start <id> <environment> --plan plan.json
  releasectl rollout status <id>
  releasectl rollout resume|retry|skip|abort <id> [--reason R]

A rollout deploys a release to an environment in steps (5% → 25% → 100%,
or rings of targets), each verified by probes for its bake time before the
next. The runner ('releasectl runner') drives it; on a failed step it rolls
back (the rollback event fires with the measurements as its reason) or,
with "on_failure": "pause", waits for someone to retry, skip or abort.
The production environment's last step completes the release.

The plan file (JSON; durations as Go durations):

  {"steps": [{"percent": 5}, {"percent": 25}, {"manual": true, "name": "SRE sign-off"}, {"percent": 100}],
   "checks": [{"name": "error-rate", "probe": "errors", "max": 0.05}],
   "interval": "30s", "measurements": 4, "failure_limit": 0, "on_failure": "rollback",
   "watch": "1h", "watch_rollback": true}

Environments come from RELMAN_ENVIRONMENTS (default ` + defaultEnvironments + `):
in order, '?' marks an optional one, the last is production, and one must
have succeeded before production.

The runner deploys with --deploy-cmd: a shell command run with
RELMAN_ACTION (deploy or rollback), RELMAN_RELEASE, RELMAN_VERSION,
RELMAN_ENVIRONMENT, RELMAN_STEP, RELMAN_PERCENT and RELMAN_TARGETS; and
measures with --probe NAME=COMMAND, a command that prints one number
(RELMAN_QUERY holds the check's query). Give the same flags to start, so
that the plan's probes are known.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		ro.bind(fs)
		fs.StringVar(&planPath, "plan", "", "start: the rollout plan, a JSON `FILE` (- for standard input)")
		fs.StringVar(&reason, "reason", "", "why (skip and abort require one)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("rollout: want status, start, resume, retry, skip or abort (see 'releasectl rollout --help')")
		}
		sub := cl.args[0]
		switch sub {
		case "start":
			if err := cl.want("start", "id", "environment"); err != nil {
				return err
			}
		case "status", "resume", "retry", "skip", "abort":
			if err := cl.want(sub, "id"); err != nil {
				return err
			}
		default:
			return usageErrorf("rollout: unknown %q: want status, start, resume, retry, skip or abort", sub)
		}
		id := cl.args[1]
		var plan relman.RolloutPlan
		if sub == "start" {
			if planPath == "" {
				return usageErrorf("rollout start: --plan is required")
			}
			b, err := a.readInput(planPath)
			if err != nil {
				return usageErrorf("rollout start: %v", err)
			}
			if plan, err = readPlan(b); err != nil {
				return usageErrorf("rollout start: %v", err)
			}
			if ro.deployCmd == "" && cl.server == "" {
				ro.deployCmd = "true" // the runner needs its own; StartRollout needs one to exist
			}
		}
		opts, err := ro.options(a)
		if err != nil {
			return err
		}
		s, err := a.open(ctx, cl, opts...)
		if err != nil {
			return err
		}
		defer s.close()
		var r *relman.Release
		switch sub {
		case "status":
			r, err = s.api.Get(ctx, id)
		case "start":
			r, err = s.api.StartRollout(ctx, id, cl.actorValue(), cl.args[2], plan)
		default:
			r, err = s.api.RolloutAction(ctx, id, cl.actorValue(), relman.RolloutCommand(sub), reason)
		}
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, struct {
				ID          string                 `json:"id"`
				Stage       relman.Stage           `json:"stage"`
				Deployments []relman.EnvDeployment `json:"deployments"`
				Rollout     *relman.Rollout        `json:"rollout"`
			}{r.ID, r.Stage, r.Deployments, r.Rollout})
		}
		printRollout(a, r)
		return nil
	}
	return c
}

// printRollout shows a release's deployments and its rollout for people.
func printRollout(a *app, r *relman.Release) {
	w := a.stdout
	fmt.Fprintf(w, "%s (%s)\n", r.ID, r.Stage)
	if len(r.Deployments) == 0 {
		fmt.Fprintln(w, "not rolled out anywhere yet")
		return
	}
	t := newTable(w, "ENVIRONMENT", "STATE", "STEPS", "STARTED", "FINISHED", "RESULT")
	for _, d := range r.Deployments {
		t.row(d.Environment, string(d.State), strconv.Itoa(d.Steps), fmtTime(d.StartedAt), fmtTime(d.FinishedAt), d.Result)
	}
	_ = t.flush()
	ro := r.Rollout
	if ro == nil {
		return
	}
	fmt.Fprintf(w, "\nrollout to %s: %s, step %d of %d (%s)", ro.Environment, ro.Phase, ro.Step+1, len(ro.Plan.Steps), ro.Plan.Steps[ro.Step].Label())
	if !ro.NextAt.IsZero() && ro.Active() {
		fmt.Fprintf(w, ", next action %s", fmtTime(ro.NextAt))
	}
	fmt.Fprintln(w)
	for i, st := range ro.Plan.Steps {
		mark := " "
		switch {
		case i < ro.Step || (i == ro.Step && ro.Phase == relman.PhaseDone && r.Deployments[len(r.Deployments)-1].State == relman.RolloutSucceeded):
			mark = "✓"
		case i == ro.Step:
			mark = "▶"
		}
		fmt.Fprintf(w, "  %s %d. %s\n", mark, i+1, st.Label())
	}
	if ro.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", ro.Reason)
	}
	if ro.Phase == relman.PhasePaused {
		if ro.Plan.Steps[ro.Step].Manual {
			fmt.Fprintf(w, "paused: 'releasectl rollout resume %s' continues, 'abort' rolls back\n", r.ID)
		} else {
			fmt.Fprintf(w, "paused: 'releasectl rollout retry|skip|abort %s --reason …' decides\n", r.ID)
		}
	}
	if n := len(ro.Measurements); n > 0 {
		fmt.Fprintln(w, "last measurements:")
		for _, ms := range ro.Measurements[max(0, n-5):] {
			fmt.Fprintf(w, "  %s  %s\n", ms.At.UTC().Format("15:04:05"), ms)
		}
	}
}
