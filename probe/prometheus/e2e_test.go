package prometheus_test

// The end-to-end test: a real Prometheus server (the prometheus binary on
// PATH) scrapes an exporter this test serves, and a relman Manager rolls
// releases out through a test Deployer, judged by the probe's queries.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/probe/prometheus"
	"github.com/relman-dev/relman/store/memory"
)

const (
	stableVersion = "2.3.9"
	requestRate   = 200.0 // requests a second, over all versions
	healthyErrors = 0.01  // the share of requests that fail when all is well
	brokenErrors  = 0.5   // the canary's share once it breaks
	e2eJob        = "relman-e2e"
)

// traffic simulates a service's request counters by version and status
// code, integrated over real time: each version serves its share of
// requestRate, a fraction of it failing with 500. It serves them in the
// Prometheus text format.
type traffic struct {
	mu       sync.Mutex
	last     time.Time
	share    map[string]float64 // canary version → share of traffic
	errFrac  map[string]float64 // version → fraction of failing requests
	requests map[[2]string]float64
}

func newTraffic(canaries ...string) *traffic {
	tr := &traffic{last: time.Now(), share: map[string]float64{}, errFrac: map[string]float64{stableVersion: healthyErrors},
		requests: map[[2]string]float64{}}
	for _, v := range append([]string{stableVersion}, canaries...) {
		if v != stableVersion {
			tr.share[v], tr.errFrac[v] = 0, healthyErrors
		}
		// Counters are exposed from the start, at 0, as instrumented
		// services do: rate() then sees a canary's first requests at once.
		tr.requests[[2]string{v, "200"}], tr.requests[[2]string{v, "500"}] = 0, 0
	}
	return tr
}

// advance adds the requests served since the last call. Call with mu held.
func (tr *traffic) advance(now time.Time) {
	dt := now.Sub(tr.last).Seconds()
	tr.last = now
	stable := 1.0
	for v, s := range tr.share {
		stable -= s
		tr.count(v, requestRate*s*dt)
	}
	tr.count(stableVersion, requestRate*max(stable, 0)*dt)
}

func (tr *traffic) count(v string, n float64) {
	tr.requests[[2]string{v, "500"}] += n * tr.errFrac[v]
	tr.requests[[2]string{v, "200"}] += n * (1 - tr.errFrac[v])
}

// set gives version its share of the traffic and its error fraction from
// now on.
func (tr *traffic) set(version string, share, errFrac float64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.advance(time.Now())
	tr.share[version], tr.errFrac[version] = share, errFrac
}

func (tr *traffic) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	tr.mu.Lock()
	tr.advance(time.Now())
	keys := make([][2]string, 0, len(tr.requests))
	for k := range tr.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	var b bytes.Buffer
	b.WriteString("# HELP http_requests_total Requests served, by version and status code.\n# TYPE http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "http_requests_total{code=%q,version=%q} %s\n", k[1], k[0], strconv.FormatFloat(tr.requests[k], 'f', -1, 64))
	}
	tr.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// deployer is the test's Deployer: it records every call and moves the
// canary's share of the traffic. From breakAt percent on (0: never) the
// canary's error rate jumps to brokenErrors.
type deployer struct {
	tr      *traffic
	version string
	breakAt int

	mu    sync.Mutex
	calls []string
}

func (d *deployer) Deploy(_ context.Context, r relman.DeployRequest) error {
	d.record(fmt.Sprintf("deploy %d%%", r.Plan.Percent))
	errFrac := healthyErrors
	if d.breakAt > 0 && r.Plan.Percent >= d.breakAt {
		errFrac = brokenErrors
	}
	d.tr.set(d.version, float64(r.Plan.Percent)/100, errFrac)
	return nil
}

func (d *deployer) Rollback(_ context.Context, r relman.DeployRequest) error {
	d.record(fmt.Sprintf("rollback from step %d", r.Step))
	d.tr.set(d.version, 0, healthyErrors)
	return nil
}

func (d *deployer) record(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, s)
}

func (d *deployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// lockedBuffer collects a child's output from its copying goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPrometheus runs the prometheus binary scraping target every second
// and returns its base URL once it is ready. It is stopped at cleanup.
// Without prometheus on PATH the test skips, unless
// RELMAN_REQUIRE_PROMETHEUS is set (CI), which makes that a failure.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	required := os.Getenv("RELMAN_REQUIRE_PROMETHEUS") != ""
	bin, err := exec.LookPath("prometheus")
	switch {
	case err != nil && required:
		t.Fatalf("RELMAN_REQUIRE_PROMETHEUS is set but the prometheus server is not on PATH: %v", err)
	case err != nil:
		t.Skip("skipping: the prometheus server is not on PATH (Debian: apt-get install prometheus); set RELMAN_REQUIRE_PROMETHEUS=1 to make this a failure")
	case testing.Short() && !required:
		t.Skip("skipping the end-to-end test against a Prometheus server in -short mode")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%q]
`, e2eJob, target)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port freed just before Prometheus binds it may be taken meanwhile:
	// try again with another.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		out := &lockedBuffer{}
		cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data%d", attempt)),
			"--web.listen-address="+addr, "--log.level=warn")
		cmd.Stdout, cmd.Stderr = out, out
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		base := "http://" + addr
		if ready(base, exited, 30*time.Second) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("prometheus output:\n%s", out.String())
				}
			})
			return base
		}
		stop()
		if attempt == 3 {
			t.Fatalf("prometheus did not become ready on %s:\n%s", addr, out.String())
		}
		t.Logf("prometheus did not start on %s (attempt %d):\n%s", addr, attempt, out.String())
	}
}

// ready polls base's /-/ready until it answers 200, the process exits or
// the time is up.
func ready(base string, exited <-chan struct{}, within time.Duration) bool {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
	}
	return false
}

// waitFor measures query with p until it returns a value that ok accepts.
func waitFor(t *testing.T, p *prometheus.Probe, query string, within time.Duration, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, err := p.Measure(context.Background(), relman.ProbeQuery{Query: query})
		if err == nil && ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v, %v after %v", query, v, err, within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// shiftedClock is real time plus an offset the test sets: the release is
// prepared "an hour ago", so that its planned window opens in the future,
// and deployed and rolled out at real time, the time Prometheus has data
// for.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *shiftedClock) Set(d time.Duration) { c.offset.Store(int64(d)) }

const errorRateQuery = `sum(rate(http_requests_total{code=~"5..",version="{{version}}"}[1m])) / sum(rate(http_requests_total{version="{{version}}"}[1m]))`

func TestEndToEndPrometheus(t *testing.T) {
	const brokenVersion, goodVersion = "2.4.0", "2.5.0"
	tr := newTraffic(brokenVersion, goodVersion)
	exporter := httptest.NewServer(tr)
	t.Cleanup(exporter.Close)
	start := time.Now()
	base := startPrometheus(t, strings.TrimPrefix(exporter.URL, "http://"))
	t.Logf("prometheus ready at %s after %v", base, time.Since(start).Round(time.Millisecond))

	p, err := prometheus.New(prometheus.Options{Address: base, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// A few scrapes in, so that the canaries' counters have a history.
	waitFor(t, p, `sum(count_over_time(up{job="`+e2eJob+`"}[1m]))`, 30*time.Second, func(v float64) bool { return v >= 3 })
	t.Logf("scraped 3 times after %v", time.Since(start).Round(time.Millisecond))

	t.Run("failing canary rolls back", func(t *testing.T) {
		t.Parallel()
		d := &deployer{tr: tr, version: brokenVersion, breakAt: 25}
		m, clk := e2eManager(t, d, p)
		id := "rel-broken"
		deploying(t, m, clk, id, brokenVersion)
		r := rollout(t, m, id)

		if got, want := d.Calls(), []string{"deploy 5%", "deploy 25%", "rollback from step 1"}; !slices.Equal(got, want) {
			t.Errorf("Deployer calls %q, want %q", got, want)
		}
		if r.Stage != relman.StageRolledBack {
			t.Errorf("stage %s, want rolled_back", r.Stage)
		}
		if len(r.Deployments) != 1 || r.Deployments[0].State != relman.RolloutRolledBack || r.Deployments[0].Steps != 1 {
			t.Errorf("deployments %+v, want production rolled back after 1 step", r.Deployments)
		}
		rolloutLog := history(t, m, id, relman.ActionRollout)
		passed := find(rolloutLog, "step 1 (5%) passed verification")
		if passed == nil || !strings.Contains(passed.Reason, "error-rate=") || strings.Contains(passed.Reason, " fail") {
			t.Errorf("the 5%% step: %v; want it passed on measured error rates", passed)
		}
		failed := find(rolloutLog, "step 2 (25%) failed verification")
		if failed == nil {
			t.Fatalf("no failed verification of the 25%% step in %v", reasons(rolloutLog))
		}
		// The measurement that failed it: a real error rate above 5 %.
		var bad *relman.Measurement
		for i := range r.Rollout.Measurements {
			if ms := &r.Rollout.Measurements[i]; ms.Verdict == relman.VerdictFail {
				bad = ms
			}
		}
		if bad == nil || bad.Value == nil || *bad.Value <= 0.05 || *bad.Value > brokenErrors {
			t.Fatalf("measurements %v; want a failed error-rate in (0.05, %v]", r.Rollout.Measurements, brokenErrors)
		}
		t.Logf("measured error rate at 25%%: %.4f", *bad.Value)
		rollbacks := slices.DeleteFunc(history(t, m, id, relman.ActionTransition), func(e relman.AuditEntry) bool { return e.Event != relman.EventRollback })
		if len(rollbacks) != 1 {
			t.Fatalf("rollback transitions %v, want 1", rollbacks)
		}
		if rb := rollbacks[0]; !strings.Contains(rb.Reason, bad.String()) || rb.To != relman.StageRolledBack || rb.Actor != alice.ID {
			t.Errorf("rollback entry by %s to %s: %q; want alice's, to rolled_back, with the measurement %q", rb.Actor, rb.To, rb.Reason, bad.String())
		}
	})

	t.Run("healthy canary completes", func(t *testing.T) {
		t.Parallel()
		d := &deployer{tr: tr, version: goodVersion}
		m, clk := e2eManager(t, d, p)
		id := "rel-good"
		deploying(t, m, clk, id, goodVersion)
		r := rollout(t, m, id)

		if got, want := d.Calls(), []string{"deploy 5%", "deploy 25%", "deploy 100%"}; !slices.Equal(got, want) {
			t.Errorf("Deployer calls %q, want %q", got, want)
		}
		if r.Stage != relman.StageOperating {
			t.Errorf("stage %s, want operating", r.Stage)
		}
		if len(r.Deployments) != 1 || r.Deployments[0].State != relman.RolloutSucceeded || r.Deployments[0].Steps != 3 {
			t.Errorf("deployments %+v, want production succeeded after 3 steps", r.Deployments)
		}
		log := history(t, m, id, relman.ActionRollout)
		for _, step := range []string{"step 1 (5%) passed", "step 2 (25%) passed", "step 3 (100%) passed"} {
			if e := find(log, step); e == nil || !strings.Contains(e.Reason, "error-rate=") {
				t.Errorf("no %q with measurements in %v", step, reasons(log))
			}
		}
	})
	t.Cleanup(func() { t.Logf("end-to-end test took %v", time.Since(start).Round(time.Millisecond)) })
}

var alice = relman.Actor{ID: "alice", Roles: []string{"release-manager"}}

func e2eManager(t *testing.T, d relman.Deployer, p relman.Probe) (*relman.Manager, *shiftedClock) {
	t.Helper()
	clk := &shiftedClock{}
	m, err := relman.NewManager(memory.New(),
		relman.WithClock(clk.Now),
		relman.WithEnvironments(relman.Environments{List: []relman.Environment{{Name: "production", Production: true}}}),
		relman.WithDeployer(d),
		relman.WithProbe("prometheus", p),
	)
	if err != nil {
		t.Fatal(err)
	}
	return m, clk
}

func fire(t *testing.T, m *relman.Manager, id string, ev relman.Event, req relman.Request) {
	t.Helper()
	if req.Actor.ID == "" {
		req.Actor = alice
	}
	if _, err := m.Fire(context.Background(), id, ev, req); err != nil {
		t.Fatalf("fire %s: %v", ev, err)
	}
}

// deploying creates release id of version and drives it to the deploying
// stage: prepared an hour ago on the Manager's clock, with a planned
// window that opens now, and deployed now.
func deploying(t *testing.T, m *relman.Manager, clk *shiftedClock, id, version string) {
	t.Helper()
	ctx := context.Background()
	clk.Set(-time.Hour)
	now := time.Now()
	r := &relman.Release{
		ID: id, Title: "Faster invoices", Version: version, Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "rita", Owner: "olga", Teams: []string{"billing"}, Services: []string{"invoices"},
		Case:         relman.BusinessCase{Problem: "invoices take 30s", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh},
		Tasks:        []relman.Task{{Name: "build", Team: "billing", Duration: time.Hour}},
		RollbackPlan: "shift the traffic back to " + stableVersion, RequiredSuites: []string{"unit"},
	}
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventApprove, relman.Request{})
	fire(t, m, id, relman.EventPlan, relman.Request{Window: &relman.Span{Start: now.Add(-time.Minute), End: now.Add(time.Hour)}})
	fire(t, m, id, relman.EventStart, relman.Request{})
	fire(t, m, id, relman.EventSubmit, relman.Request{})
	if _, err := m.RecordTest(ctx, id, alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventPass, relman.Request{})
	if _, err := m.Assess(ctx, id, alice); err != nil {
		t.Fatal(err)
	}
	// Approved by alice, who is neither the requester nor the owner.
	if _, err := m.Approve(ctx, id, alice, "release-manager", "go"); err != nil {
		t.Fatal(err)
	}
	fire(t, m, id, relman.EventAuthorize, relman.Request{})
	clk.Set(0) // an hour later: the window is open
	fire(t, m, id, relman.EventDeploy, relman.Request{})
}

// rollout starts the release's canary rollout to production and runs the
// Manager until it is done, as a runner would, and returns the release.
func rollout(t *testing.T, m *relman.Manager, id string) *relman.Release {
	t.Helper()
	ctx := context.Background()
	plan := relman.RolloutPlan{
		Steps: []relman.RolloutStep{{Percent: 5}, {Percent: 25}, {Percent: 100}},
		Verification: relman.Verification{
			Interval:     2 * time.Second,
			Measurements: 3,
			// One round without an answer is tolerated: on a loaded
			// machine a scrape may come late.
			InconclusiveLimit: 1,
			Checks: []relman.ProbeCheck{{
				Name: "error-rate", Probe: "prometheus", Query: errorRateQuery, Max: ptr(0.05),
			}},
		},
		OnFailure: relman.FailureRollback,
	}
	if _, err := m.StartRollout(ctx, id, alice, "production", plan); err != nil {
		t.Fatalf("StartRollout: %v", err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		acts, err := m.RunDue(ctx, id)
		for _, a := range acts {
			t.Logf("%s", a)
		}
		if err != nil {
			t.Fatalf("RunDue: %v", err)
		}
		r, err := m.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch ro := r.Rollout; {
		case ro.Phase == relman.PhaseDone:
			return r
		case ro.Phase == relman.PhasePaused:
			t.Fatalf("the rollout paused at step %d: %s; measurements %v", ro.Step+1, ro.Reason, ro.Measurements)
		case time.Now().After(deadline):
			t.Fatalf("the rollout is still %s at step %d after 90s", ro.Phase, ro.Step+1)
		default:
			time.Sleep(min(max(time.Until(ro.NextAt), 50*time.Millisecond), plan.Verification.Interval))
		}
	}
}

func history(t *testing.T, m *relman.Manager, id string, a relman.Action) []relman.AuditEntry {
	t.Helper()
	h, err := m.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(context.Background(), id); err != nil {
		t.Errorf("Verify: %v", err)
	}
	return slices.DeleteFunc(h, func(e relman.AuditEntry) bool { return e.Action != a })
}

func find(es []relman.AuditEntry, prefix string) *relman.AuditEntry {
	for i := range es {
		if strings.HasPrefix(es[i].Reason, prefix) {
			return &es[i]
		}
	}
	return nil
}

func reasons(es []relman.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Reason
	}
	return out
}
