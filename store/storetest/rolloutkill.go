package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// The variables that pass a rollout child its work, after Processes.Env.
const envLog = "_LOG"

// The release and plan of the rollout scenarios across processes.
const killedRollout = "killed-rollout"

func killPlan() relman.RolloutPlan {
	return relman.RolloutPlan{
		Steps: []relman.RolloutStep{{Percent: 10}, {Percent: 25}, {Percent: 50}, {Percent: 100}},
		Verification: relman.Verification{Checks: []relman.ProbeCheck{{Name: "errors", Probe: "zero", Max: ptr(0.01)}},
			Interval: 150 * time.Millisecond, Measurements: 3},
	}
}

// fileDeployer appends a line per call to a file, synced, so that the
// calls of processes that were killed are counted too.
type fileDeployer struct {
	mu   sync.Mutex
	path string
}

func (d *fileDeployer) log(what string, q relman.DeployRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s %d %d\n", what, q.Environment, q.Step, os.Getpid()); err != nil {
		return err
	}
	return f.Sync()
}

func (d *fileDeployer) Deploy(_ context.Context, q relman.DeployRequest) error {
	return d.log("deploy", q)
}

func (d *fileDeployer) Rollback(_ context.Context, q relman.DeployRequest) error {
	return d.log("rollback", q)
}

func rolloutManager(s relman.Store, logPath string) (*relman.Manager, error) {
	return relman.NewManager(s, relman.WithRetries(20),
		relman.WithEnvironments(relman.Environments{List: []relman.Environment{{Name: "production", Production: true}}}),
		relman.WithDeployer(&fileDeployer{path: logPath}),
		relman.WithProbe("zero", relman.ProbeFunc(func(context.Context, relman.ProbeQuery) (float64, error) { return 0, nil })))
}

// RolloutKilled checks that a rollout survives its driver's death: a
// child process drives a four-step rollout and is killed with SIGKILL
// after its second step was deployed; two new processes then drive it on
// together. Every step must be deployed exactly once (the deployer's
// calls are counted in a file), the release must end in operation, and
// its history must verify.
func RolloutKilled(t *testing.T, p Processes) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := p.NewDB(t)
	s := p.open(t, db)
	logPath := t.TempDir() + "/deploys.log"
	m, err := rolloutManager(s, logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Now().UTC().Add(-48 * time.Hour)}
	setup, err := relman.NewManager(s, relman.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	ToDeploying(t, setup, c.Set, killedRollout)
	if _, err := m.StartRollout(ctx, killedRollout, rmAlice, "production", killPlan()); err != nil {
		t.Fatal(err)
	}
	deploys := func() []string {
		b, _ := os.ReadFile(logPath)
		var out []string
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			out = append(out, f[0]+" "+f[2])
		}
		return out
	}
	// The first driver: killed once the deploy of step 2 (index 1) is
	// recorded, while the step is being verified. (A deploy in flight,
	// not yet recorded, would be made again by the next driver: the
	// Deployer's contract asks for idempotence there.)
	first, _, _ := p.start(t, ctx, "rollout", p.env(envDB, db), p.env(envLog, logPath))
	for {
		if ctx.Err() != nil {
			t.Fatal("the first driver never reached step 2")
		}
		r, err := s.Get(ctx, killedRollout)
		if err != nil {
			t.Fatal(err)
		}
		if ro := r.Rollout; ro.Step == 1 && ro.Phase == relman.PhaseVerifying {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	r, err := s.Get(ctx, killedRollout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the driver in phase %s of step %d, after %v", r.Rollout.Phase, r.Rollout.Step, deploys())
	if r.Rollout.Phase == relman.PhaseDone {
		t.Fatal("the rollout finished before the kill")
	}
	// Two drivers take over together.
	var wg sync.WaitGroup
	for range 2 {
		cmd, stdin, stdout := p.start(t, ctx, "rollout", p.env(envDB, db), p.env(envLog, logPath))
		wg.Go(func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "DONE" {
					stdin.Close()
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("driver: %v", err)
			}
		})
	}
	wg.Wait()
	if got, want := deploys(), []string{"deploy 0", "deploy 1", "deploy 2", "deploy 3"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("deployer calls %v, want each step exactly once: %v", got, want)
	}
	r, err = s.Get(ctx, killedRollout)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, killedRollout)
	if err != nil {
		t.Fatal(err)
	}
	if err := relman.VerifyHistory(h, &r.Head); err != nil {
		t.Error(err)
	}
	if r.Stage != relman.StageOperating || r.Deployments[0].State != relman.RolloutSucceeded || r.Deployments[0].Steps != 4 {
		t.Errorf("after the takeover: stage %s, deployment %+v", r.Stage, r.Deployments)
	}
}

// rolloutChild drives the killed-rollout release with RunDue on the real
// clock until the rollout is done (it then prints DONE) and its stdin
// closes.
func (p Processes) rolloutChild(t *testing.T, s relman.Store) {
	m, err := rolloutManager(s, os.Getenv(p.Env+envLog))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		cancel()
	}()
	said := false
	for ctx.Err() == nil {
		if _, err := m.RunDue(ctx, killedRollout); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "rollout child:", err)
		}
		r, err := m.Get(ctx, killedRollout)
		if err == nil && !r.Rollout.Active() && !said {
			fmt.Println("DONE")
			said = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
