package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

// remoteHarness runs releasectl with --server against an httpapi server
// over a memory store, on the real clock.
func remoteHarness(t *testing.T, token string) (*harness, *relman.Manager, string) {
	t.Helper()
	es, err := parseEnvironments(defaultEnvironments)
	if err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(memory.New(), relman.WithEnvironments(es), relman.WithDeployer(cmdDeployer{cmd: "true"}),
		relman.WithProbe("errors", cmdProbe{cmd: "echo 0"}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(m, httpapi.Options{Authenticate: headerAuth(token)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hr := newHarness(t)
	hr.env["RELMAN_SERVER"] = srv.URL
	return hr, m, srv.URL
}

func TestRemoteCommands(t *testing.T) {
	h, m, url := remoteHarness(t, "")
	ctx := context.Background()
	out := h.ok("create", "--id", "web-1", "--title", "Web", "--version", "1.0.0", "--service", "web", "--problem", "slow",
		"--value", "1000", "--cost", "10", "--feasibility", "high", "--suite", "unit", "--rollback", "redeploy")
	if !strings.Contains(out, "created web-1 (proposed)") {
		t.Fatalf("create: %s", out)
	}
	if out := h.ok("show", "web-1", "--server", url); !strings.Contains(out, "Web") || !strings.Contains(out, "approve") {
		t.Errorf("show: %s", out)
	}
	var rs []relman.Release
	if err := json.Unmarshal([]byte(h.ok("list", "-o", "json")), &rs); err != nil || len(rs) != 1 {
		t.Errorf("list: %v %+v", err, rs)
	}
	h.fails(exitNotFound, "show: nope: ", "show", "nope")
	h.fails(exitRefused, `event "deploy" not allowed from stage "proposed"`, "fire", "web-1", "deploy")
	h.fails(exitUsage, `unknown event "fly"`, "fire", "web-1", "fly")
	h.fails(exitUsage, "edit: not available with --server", "edit", "web-1", "--title", "x", "--server", url)
	h.fails(exitUsage, "give --store or --server, not both", "show", "web-1", "--store", "memory", "--server", url)
	h.fails(exitUsage, "--now does not apply with --server", "show", "web-1", "--now", "2026-01-01T00:00:00Z")

	// Under -o json a failure is a problem document on stdout.
	r := h.fails(exitNotFound, "no such release", "check", "no-such", "deploy", "-o", "json")
	var p cliProblem
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.Problem == nil || p.Class != relman.ClassNotFound || p.ExitCode != exitNotFound || p.Status != 404 {
		t.Errorf("check no-such -o json: %v %s", err, r.stdout)
	}

	// Walk to authorized, the window opening in two seconds.
	open := time.Now().Add(2 * time.Second).UTC()
	window := open.Format(time.RFC3339Nano) + "/" + open.Add(time.Hour).Format(time.RFC3339Nano)
	h.ok("fire", "web-1", "approve", "--actor", "carl")
	h.ok("fire", "web-1", "plan", "--window", window)
	h.ok("fire", "web-1", "start")
	h.ok("fire", "web-1", "submit")
	olga := relman.Actor{ID: "olga"}
	if _, err := m.RecordTest(ctx, "web-1", olga, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	h.ok("fire", "web-1", "pass")
	if _, err := m.Assess(ctx, "web-1", olga); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, "web-1", relman.Actor{ID: "carl"}, "", "ok"); err != nil {
		t.Fatal(err)
	}
	h.ok("fire", "web-1", "authorize")

	// Not yet: exit 5; --wait blocks until the window opens.
	r = h.fails(exitNotYet, "not yet", "check", "web-1", "deploy")
	if !strings.Contains(r.stdout, "not yet, from") {
		t.Errorf("check before the window: %s", r.stdout)
	}
	r = h.run("check", "web-1", "deploy", "--wait", "--timeout", "30s")
	if r.code != 0 || !strings.Contains(r.stdout, "ok: deploy may fire on web-1") || !strings.Contains(r.stderr, "not yet, from") {
		t.Errorf("check --wait: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if time.Now().Before(open) {
		t.Errorf("check --wait returned before the window opened")
	}

	out = h.ok("schedule", "web-1", "deploy", "--asap", "--reason", "go")
	if !strings.Contains(out, "deploy") {
		t.Errorf("schedule: %s", out)
	}
	if out := h.ok("scheduled", "web-1"); !strings.Contains(out, "pending") {
		t.Errorf("scheduled: %s", out)
	}
	var hist struct {
		Entries []relman.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(h.ok("history", "web-1", "-o", "json")), &hist); err != nil || len(hist.Entries) < 9 {
		t.Errorf("history: %v, %d entries", err, len(hist.Entries))
	}
	if out := h.ok("rollout", "status", "web-1"); !strings.Contains(out, "web-1 (authorized)") {
		t.Errorf("rollout status: %s", out)
	}

	// Rollouts over the API: start (the plan read here, sent in the API's
	// form), then abort, which leaves the rollback to the server's runner.
	h.ok("fire", "web-1", "deploy")
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"steps": [{"manual": true, "name": "sign-off"}, {"percent": 100, "bake": "2s"}],
		"checks": [{"name": "error-rate", "probe": "errors", "max": 0.05}], "interval": "1s", "measurements": 1, "on_failure": "pause"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h.fails(exitUsage, "environment", "rollout", "start", "web-1", "moon", "--plan", plan)
	if out := h.ok("rollout", "start", "web-1", "test", "--plan", plan); !strings.Contains(out, "test") {
		t.Errorf("rollout start: %s", out)
	}
	got, err := m.Get(ctx, "web-1")
	if err != nil || got.Rollout == nil || got.Rollout.Environment != "test" || len(got.Rollout.Plan.Steps) != 2 ||
		got.Rollout.Plan.Steps[1].Bake != 2*time.Second {
		t.Fatalf("after a remote rollout start the server holds %+v (%v)", got.Rollout, err)
	}
	h.fails(exitUsage, "reason", "rollout", "abort", "web-1")
	var st struct {
		Rollout map[string]any `json:"rollout"`
	}
	if err := json.Unmarshal([]byte(h.ok("rollout", "abort", "web-1", "--reason", "not today", "-o", "json")), &st); err != nil || st.Rollout["phase"] != string(relman.PhaseRollingBack) {
		t.Fatalf("rollout abort -o json: %v %v", err, st.Rollout)
	}
	if got, _ := m.Get(ctx, "web-1"); got.Rollout.Phase != relman.PhaseRollingBack || !strings.Contains(got.Rollout.Reason, "not today") {
		t.Errorf("after a remote abort the rollout is %s (%q)", got.Rollout.Phase, got.Rollout.Reason)
	}
}

// A server that wants a token refuses a client without it (401: the
// exit code of a refusal).
func TestRemoteToken(t *testing.T) {
	h, _, _ := remoteHarness(t, "s3cret")
	h.fails(exitRefused, "not authenticated", "list")
	h.env["RELMAN_TOKEN"] = "s3cret"
	h.ok("list")
	delete(h.env, "RELMAN_SERVER")
	h.fails(exitUsage, "want an http:// or https:// URL", "list", "--server", "ftp://x")
}

// check --wait gives up after --timeout with exit 5.
func TestCheckWaitTimeout(t *testing.T) {
	h := newHarness(t)
	h.env["RELMAN_STORE"] = "memory"
	h.fails(exitUsage, "--wait with --now", "check", "x", "deploy", "--wait", "--now", "2026-01-01T00:00:00Z")
	h.fails(exitUsage, "--timeout needs --wait", "check", "x", "deploy", "--timeout", "1s")

	// An authorized release whose window opens in an hour.
	ctx := context.Background()
	hr, m, _ := remoteHarness(t, "")
	olga := relman.Actor{ID: "olga"}
	if _, err := m.Create(ctx, &relman.Release{ID: "w-1", Title: "W", Version: "1.0.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "olga", Owner: "olga", RollbackPlan: "r", RequiredSuites: []string{"unit"},
		Case: relman.BusinessCase{Problem: "p", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh}}, olga); err != nil {
		t.Fatal(err)
	}
	open := time.Now().Add(time.Hour)
	for _, ev := range []relman.Event{relman.EventApprove, relman.EventPlan, relman.EventStart, relman.EventSubmit, relman.EventPass, relman.EventAuthorize} {
		switch ev {
		case relman.EventPass:
			_, _ = m.RecordTest(ctx, "w-1", olga, relman.TestResult{Suite: "unit", Passed: true})
		case relman.EventAuthorize:
			_, _ = m.Assess(ctx, "w-1", olga)
			_, _ = m.Approve(ctx, "w-1", relman.Actor{ID: "carl"}, "", "ok")
		}
		by := olga
		if ev == relman.EventApprove {
			by = relman.Actor{ID: "carl"} // the need's owner may not approve it
		}
		if _, err := m.Fire(ctx, "w-1", ev, relman.Request{Actor: by, Window: &relman.Span{Start: open, End: open.Add(time.Hour)}}); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	t0 := time.Now()
	r := hr.run("check", "w-1", "deploy", "--wait", "--timeout", "300ms", "-o", "json")
	if r.code != exitNotYet || !strings.Contains(r.stderr, "giving up") || !strings.Contains(r.stdout, `"not_yet_until"`) {
		t.Errorf("check --wait --timeout: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(t0); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("check --wait --timeout 300ms took %s", d)
	}
}
