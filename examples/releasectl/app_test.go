package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// harness runs releasectl in process against one memory store that lives
// as long as the test, so that commands see each other's work.
type harness struct {
	t        *testing.T
	progress io.Writer
	store    relman.Store
	env      map[string]string
	stdin    string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, store: memory.New(), env: map[string]string{"RELMAN_ACTOR": "olga", "RELMAN_STORE": "memory"}}
}

type result struct {
	stdout, stderr string
	code           int
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(h.stdin), &out, &errb, func(k string) string { return h.env[k] })
	a.progress = h.progress
	a.stores.Openers["memory"] = func(context.Context, string) (relman.Store, func() error, error) {
		return h.store, func() error { return nil }, nil
	}
	code := a.run(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (h *harness) ok(args ...string) string {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 || r.stderr != "" {
		h.t.Fatalf("releasectl %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// fails runs a command that must fail with code and one line on stderr
// containing want; it returns the result.
func (h *harness) fails(code int, want string, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("releasectl %s: exit %d, want %d; stderr %q", strings.Join(args, " "), r.code, code, r.stderr)
	}
	if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasPrefix(r.stderr, "releasectl: ") {
		h.t.Errorf("releasectl %s: stderr is not one line starting releasectl: %q", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		h.t.Errorf("releasectl %s: stderr %q does not say %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

var createArgs = []string{"create", "--id", "pay-1.2.0", "--title", "Card payments", "--version", "1.2.0",
	"--service", "payments", "--team", "pay", "--problem", "cards declined at peak", "--value", "80000",
	"--cost", "20000", "--feasibility", "high", "--suite", "unit,e2e", "--task", "switch acquirer@pay:4h",
	"--rollback", "redeploy 1.1.4", "--label", "jira=PAY-77", "--now", "2026-03-02T09:00:00Z"}

// TestWalkThroughCommands drives a release from proposed to closed with
// the commands a person would type, including a failed test and a dry
// run that a CI pipeline would use.
func TestWalkThroughCommands(t *testing.T) {
	h := newHarness(t)
	at := func(ts string) []string { return []string{"--now", ts} }
	cmd := func(ts string, args ...string) []string { return append(args, at(ts)...) }

	out := h.ok(createArgs...)
	contains(t, "create", out, "created pay-1.2.0 (proposed)", "approve (business-case, segregation)")

	// olga raised the need: she may not approve it herself.
	r0 := h.fails(1, "segregation: self-approval is not allowed: olga is or was requester or owner", "check", "pay-1.2.0", "approve")
	contains(t, "check approve by the owner", r0.stdout, "segregation", "no")
	out = h.ok("check", "pay-1.2.0", "approve", "--actor", "carl")
	contains(t, "check approve", out, "ok: approve may fire on pay-1.2.0 now (proposed → approved)")

	out = h.ok(cmd("2026-03-02T10:00:00Z", "fire", "pay-1.2.0", "approve", "--reason", "CAB 2 March", "--actor", "carl")...)
	contains(t, "fire approve", out, "pay-1.2.0: proposed → approved (approve by carl)")

	// Planning needs a window: refused with the gate's reason, exit 1.
	r := h.fails(1, "plan refused by 1 gate(s): window: no planned window", "fire", "pay-1.2.0", "plan")
	if r.stdout != "" {
		t.Errorf("refused fire wrote to stdout: %q", r.stdout)
	}
	h.ok(cmd("2026-03-02T11:00:00Z", "fire", "pay-1.2.0", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-05T00:00:00Z")...)
	h.ok(cmd("2026-03-02T12:00:00Z", "fire", "pay-1.2.0", "start")...)
	h.ok(cmd("2026-03-03T09:00:00Z", "fire", "pay-1.2.0", "submit")...)
	h.ok(cmd("2026-03-03T10:00:00Z", "test", "pay-1.2.0", "unit", "pass")...)
	out = h.ok(cmd("2026-03-03T11:00:00Z", "test", "pay-1.2.0", "e2e", "fail", "--detail", "3DS redirect loops")...)
	contains(t, "test", out, "pay-1.2.0: recorded e2e failed (stage testing)")

	// The dry run lists the refusal on stdout and exits 1.
	r = h.fails(1, "pass refused", cmd("2026-03-03T11:05:00Z", "check", "pay-1.2.0", "pass")...)
	contains(t, "check pass", r.stdout, "GATE", "tests-passed", "no", "e2e (failed)")

	h.ok(cmd("2026-03-03T11:10:00Z", "fire", "pay-1.2.0", "fail", "--reason", "e2e red")...)
	h.ok(cmd("2026-03-03T14:00:00Z", "fire", "pay-1.2.0", "submit")...)
	h.ok(cmd("2026-03-03T15:00:00Z", "test", "pay-1.2.0", "unit", "pass")...)
	h.ok(cmd("2026-03-03T15:30:00Z", "test", "pay-1.2.0", "e2e", "pass")...)
	h.ok(cmd("2026-03-03T16:00:00Z", "fire", "pay-1.2.0", "pass")...)
	// Authorizing needs an assessed risk and the approvals the policy asks.
	r = h.fails(1, "authorize refused by 1 gate(s): approvals: risk not assessed", cmd("2026-03-03T16:30:00Z", "check", "pay-1.2.0", "authorize")...)
	contains(t, "check authorize", r.stdout, "approvals", "risk not assessed")
	out = h.ok(cmd("2026-03-03T16:35:00Z", "risk", "add", "pay-1.2.0", "--risk", "acq", "--title", "new acquirer times out",
		"--likelihood", "3", "--impact", "4", "--mitigation", "old acquirer as fallback", "--residual-likelihood", "2")...)
	contains(t, "risk add", out, "pay-1.2.0: risk acq recorded, residual score 8 (medium)")
	out = h.ok(cmd("2026-03-03T16:40:00Z", "risk", "assess", "pay-1.2.0")...)
	contains(t, "risk assess", out, "pay-1.2.0: risk medium (assessed 2026-03-03 16:40 UTC)", "ASSESSOR", "register", "risk:acq",
		"new acquirer times out: likelihood 2 × impact 4 = 8 (medium), before mitigation 3 × 4 = 12, open",
		"approvals: a medium-risk normal change needs 1 from change-manager")
	h.fails(1, "approvals missing for a medium-risk normal change: 1 more from role change-manager (have 0 of 1)",
		cmd("2026-03-03T16:45:00Z", "fire", "pay-1.2.0", "authorize")...)
	h.fails(1, "self-approval is not allowed", "approve", "pay-1.2.0", "--role", "change-manager") // olga owns it
	out = h.ok(cmd("2026-03-03T16:50:00Z", "approve", "pay-1.2.0", "--actor", "carl", "--role", "change-manager", "--comment", "fallback tested")...)
	contains(t, "approve", out, "pay-1.2.0: approved by carl as change-manager", "policy: medium-risk normal change: approvals complete")
	out = h.ok("risk", "list", "pay-1.2.0")
	contains(t, "risk list", out, "RISK", "acq", "3×4=12", "2×4=8", "medium", "open", "old acquirer as fallback")
	h.ok(cmd("2026-03-03T17:00:00Z", "fire", "pay-1.2.0", "authorize")...)

	// Before the window: "not yet", with the time it lifts, in JSON too.
	r = h.fails(5, "deploy refused", cmd("2026-03-04T09:00:00Z", "check", "pay-1.2.0", "deploy", "-o", "json")...)
	var cr checkResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, r.stdout)
	}
	if cr.Allowed || cr.NotYetUntil == nil || cr.NotYetUntil.Format("15:04") != "22:00" || len(cr.Failures) != 1 || cr.Failures[0].Gate != "in-window" {
		t.Errorf("check deploy before the window: %+v", cr)
	}
	r = h.fails(5, "not yet", cmd("2026-03-04T09:00:00Z", "check", "pay-1.2.0", "deploy")...)
	contains(t, "check deploy", r.stdout, "in-window", "not yet, from 2026-03-04 22:00 UTC")

	h.ok(cmd("2026-03-04T22:05:00Z", "check", "pay-1.2.0", "deploy")...)
	h.ok(cmd("2026-03-04T22:05:00Z", "fire", "pay-1.2.0", "deploy")...)
	h.ok(cmd("2026-03-04T22:40:00Z", "fire", "pay-1.2.0", "complete")...)
	h.fails(1, "close refused by 1 gate(s): review: no post-implementation review recorded", "fire", "pay-1.2.0", "close")
	h.ok(cmd("2026-03-11T09:00:00Z", "review", "pay-1.2.0", "successful", "--summary", "declines down 40%")...)
	out = h.ok(cmd("2026-03-11T09:05:00Z", "fire", "pay-1.2.0", "close", "--reason", "done")...)
	contains(t, "close", out, "operating → closed", "next: none (terminal stage)")

	out = h.ok("show", "pay-1.2.0")
	contains(t, "show", out, "Stage", "closed since 2026-03-11 09:05 UTC", "Approval", "approve by carl at 2026-03-03 16:50 UTC as change-manager",
		"Risk", "acq: new acquirer times out (2×4, open)", "medium risk, assessed 2026-03-03 16:40 UTC", "Card payments", "e2e FAILED at 2026-03-03 11:00 UTC by olga: 3DS redirect loops",
		"switch acquirer (pay, 4h0m0s)", "Label", "jira=PAY-77", "Review", "successful by olga: declines down 40%")

	out = h.ok("history", "pay-1.2.0", "--verify")
	contains(t, "history", out, "SEQ", "approve: proposed → approved", "plan: approved → planned", "fail: testing → building", "e2e red",
		"close: operating → closed", "risk", "approval", "verified: 20 entries, chain intact")

	var hr historyResult
	if err := json.Unmarshal([]byte(h.ok("history", "pay-1.2.0", "--verify", "-o", "json")), &hr); err != nil {
		t.Fatal(err)
	}
	if len(hr.Entries) != 20 || hr.Verified == nil || !*hr.Verified {
		t.Errorf("history -o json: %d entries, verified %v", len(hr.Entries), hr.Verified)
	}

	// Nothing more may happen to a closed release.
	h.fails(1, "cancel is not allowed from stage closed", "fire", "pay-1.2.0", "cancel", "--reason", "x")
	h.fails(1, "terminal", "test", "pay-1.2.0", "unit", "pass")
}

func TestListFilters(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ id, service, team, kind string }{
		{"a-1", "payments", "pay", "minor"},
		{"b-1", "invoices", "billing", "patch"},
		{"c-1", "payments", "billing", "major"},
	} {
		h.ok("create", "--id", c.id, "--title", "T "+c.id, "--version", "1.0.0", "--service", c.service, "--team", c.team, "--kind", c.kind)
	}
	h.ok("fire", "b-1", "cancel", "--reason", "not needed")

	ids := func(args ...string) string {
		var rs []relman.Release
		if err := json.Unmarshal([]byte(h.ok(append(args, "-o", "json")...)), &rs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "a-1,b-1,c-1"},
		{[]string{"list", "--service", "payments"}, "a-1,c-1"},
		{[]string{"list", "--team", "billing"}, "b-1,c-1"},
		{[]string{"list", "--kind", "major"}, "c-1"},
		{[]string{"list", "--stage", "cancelled"}, "b-1"},
		{[]string{"list", "--stage", "proposed,cancelled", "--service", "invoices"}, "b-1"},
		{[]string{"list", "--order", "id", "--desc"}, "c-1,b-1,a-1"},
		{[]string{"list", "--limit", "1", "--offset", "1", "--order", "id"}, "b-1"},
		{[]string{"list", "--service", "nothing"}, ""},
	} {
		if got := ids(c.args...); got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
	out := h.ok("list", "--service", "payments")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], "a-1 ") {
		t.Errorf("list table:\n%s", out)
	}
	// Columns line up: STAGE starts at the same offset on every line.
	col := strings.Index(lines[0], "STAGE")
	for _, l := range lines[1:] {
		if l[col:col+len("proposed")] != "proposed" {
			t.Errorf("misaligned table:\n%s", out)
		}
	}
	if got := h.ok("list", "--stage", "closed"); got != "no releases\n" {
		t.Errorf("empty list: %q", got)
	}
	if got := h.ok("list", "--stage", "closed", "-o", "json"); strings.TrimSpace(got) != "[]" {
		t.Errorf("empty list as JSON: %q", got)
	}
	h.fails(2, `unknown stage "shipped"`, "list", "--stage", "shipped")
	h.fails(2, "--limit must be between 1 and 1000", "list", "--limit", "0")
	h.fails(2, "invalid: order_by: oneof", "list", "--order", "title")
}

func TestCreateFromFile(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{
  "id": "inv-3.0.0", "title": "Invoices v3", "version": "3.0.0", "kind": "major",
  "change_model": "normal", "requester": "rita", "owner": "olga",
  "services": ["invoices"], "business_case": {"problem": "p", "expected_value": 1, "cost": 1, "feasibility": "low"}
}`)
	var r relman.Release
	if err := json.Unmarshal([]byte(h.ok("create", "-f", good, "--title", "Invoices, third edition", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != "inv-3.0.0" || r.Title != "Invoices, third edition" || r.Kind != relman.KindMajor || r.Stage != relman.StageProposed || r.Revision != 1 {
		t.Errorf("created %+v", r)
	}
	// From standard input.
	h.stdin = `{"id": "inv-3.0.1", "title": "t", "version": "3.0.1"}`
	contains(t, "create -f -", h.ok("create", "-f", "-"), "created inv-3.0.1 (proposed)")

	h.fails(2, "line 3, column 12: malformed JSON: invalid character", "create", "-f", write("bad.json", "{\n  \"id\": \"x\",\n  \"title\": ,\n}"))
	h.fails(2, `json: unknown field "titel"`, "create", "-f", write("typo.json", `{"id": "x", "titel": "t", "version": "1.0.0"}`))
	h.fails(2, `field "business_case.cost": string is not a float64`, "create", "-f", write("type.json", `{"id": "x", "business_case": {"cost": "lots"}}`))
	h.fails(2, "empty input", "create", "-f", write("empty.json", ""))
	h.fails(2, "unexpected data after the JSON object", "create", "-f", write("two.json", `{"id": "x"} {"id": "y"}`))
	h.fails(2, "no such file or directory", "create", "-f", filepath.Join(dir, "missing.json"))
	h.fails(2, "invalid: title: required", "create", "-f", write("notitle.json", `{"id": "x", "version": "1.0.0"}`))
	h.fails(1, "inv-3.0.0: a release with this id already exists", "create", "-f", good)
	if got := ids(t, h); got != "inv-3.0.0,inv-3.0.1" {
		t.Errorf("after refused creates the store holds %s", got)
	}
}

func ids(t *testing.T, h *harness) string {
	t.Helper()
	var rs []relman.Release
	if err := json.Unmarshal([]byte(h.ok("list", "-o", "json", "--order", "id")), &rs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

func TestBadInput(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0")
	for _, c := range []struct {
		code int
		want string
		args []string
	}{
		{2, `unknown command "deploy"`, []string{"deploy"}},
		{2, `help: unknown command "nope"`, []string{"help", "nope"}},
		{2, "create: missing --id, --version (or give -f FILE)", []string{"create", "--title", "t"}},
		{2, "create: flag provided but not defined: -colour", []string{"create", "--colour", "red"}},
		{2, "create: flag needs an argument: -id", []string{"create", "--id"}},
		{2, "invalid: version: semver", []string{"create", "--id", "y", "--title", "t", "--version", "one"}},
		{2, "invalid: id: id", []string{"create", "--id", "-bad", "--title", "t", "--version", "1.0.0"}},
		{2, `bad duration "4 hours"`, []string{"create", "--id", "y", "--title", "t", "--version", "1.0.0", "--task", "a@b:4 hours"}},
		{2, "show: missing <id>", []string{"show"}},
		{2, `show: unexpected argument "y"`, []string{"show", "x-1", "y"}},
		{2, "fire: missing <event>", []string{"fire", "x-1"}},
		{2, "-o must be text or json", []string{"show", "x-1", "-o", "yaml"}},
		{2, "--now:", []string{"show", "x-1", "--now", "yesterday"}},
		{2, `unknown store "mysql"`, []string{"show", "x-1", "--store", "mysql:x"}},
		{2, "window end 2026-03-01 00:00 UTC is not after its start", []string{"fire", "x-1", "plan", "--window", "2026-03-02T00:00:00Z/2026-03-01T00:00:00Z"}},
		{2, "--window \"tomorrow\": want START/END", []string{"check", "x-1", "plan", "--window", "tomorrow"}},
		{2, "verdict must be pass or fail", []string{"test", "x-1", "unit", "maybe"}},
		{2, "outcome must be", []string{"review", "x-1", "great"}},
		{2, "--format must be table, mermaid or dot", []string{"lifecycle", "--format", "svg"}},
		{4, "show: nope: no such release (the memory store keeps nothing between runs)", []string{"show", "nope"}},
		{4, "history: nope: no such release", []string{"history", "nope", "--verify"}},
		{4, "check: nope: no such release", []string{"check", "nope", "deploy"}},
		{2, `fire: x-1: unknown event "ship" (see 'releasectl lifecycle')`, []string{"fire", "x-1", "ship"}},
		{1, "fire: x-1: deploy is not allowed from stage proposed", []string{"fire", "x-1", "deploy"}},
		{1, "reject refused by 1 gate(s): reason: a reason is required", []string{"fire", "x-1", "reject"}},
	} {
		h.fails(c.code, c.want, c.args...)
	}
	// Nothing refused changed the release.
	var r relman.Release
	if err := decodeStrict([]byte(h.ok("show", "x-1", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Stage != relman.StageProposed || r.Revision != 1 {
		t.Errorf("after bad input: stage %s revision %d, want proposed and 1", r.Stage, r.Revision)
	}
	// check of an event not allowed from the stage: exit 1, reason on stdout too.
	res := h.fails(1, "deploy is not allowed from stage proposed", "check", "x-1", "deploy", "-o", "json")
	contains(t, "check -o json", res.stdout, `"allowed": false`, `"gate": "lifecycle"`)
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	r := h.run()
	if r.code != 2 || !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("no arguments: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out := h.ok(args...)
		contains(t, strings.Join(args, " "), out, "Usage:", "Exit codes:", "demo", "history")
	}
	for _, c := range commands() {
		out := h.ok(c.name, "--help")
		contains(t, c.name+" --help", out, "releasectl "+c.name+" [flags]", c.summary, "-o string")
		if got := h.ok("help", c.name); got != out {
			t.Errorf("help %s differs from %s --help", c.name, c.name)
		}
	}
	contains(t, "fire --help", h.ok("fire", "--help"), "-reason", "-window START/END")
}

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	out := h.ok("lifecycle")
	contains(t, "lifecycle", out, "EVENT", "approve", "business-case", "rollback", "deploying, operating")
	contains(t, "mermaid", h.ok("lifecycle", "--format", "mermaid"), "stateDiagram-v2", "proposed --> approved: approve")
	contains(t, "dot", h.ok("lifecycle", "--format", "dot"), "digraph lifecycle")
	var lc struct {
		Initial string `json:"initial"`
		Events  []struct {
			Event string   `json:"event"`
			Gates []string `json:"gates"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(h.ok("lifecycle", "-o", "json")), &lc); err != nil {
		t.Fatal(err)
	}
	if lc.Initial != "proposed" || len(lc.Events) != 14 {
		t.Errorf("lifecycle -o json: %+v", lc)
	}
}

// tamperStore edits the second history entry on the way out, as a
// database row changed behind the library's back would.
type tamperStore struct{ relman.Store }

func (s tamperStore) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	h, err := s.Store.History(ctx, id)
	if len(h) > 1 {
		h[1].Reason = "nobody will notice"
	}
	return h, err
}

func TestHistoryVerifyDetectsTampering(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0")
	h.ok("fire", "x-1", "cancel", "--reason", "no longer needed")
	h.store = tamperStore{h.store}
	r := h.fails(1, "history: x-1: history of \"x-1\": entry 1 (seq 2): content does not match its hash (entry edited)", "history", "x-1", "--verify")
	contains(t, "history", r.stdout, "nobody will notice")
	if strings.Contains(r.stdout, "verified:") {
		t.Errorf("tampered history reported as verified:\n%s", r.stdout)
	}
	r = h.fails(1, "entry edited", "history", "x-1", "--verify", "-o", "json")
	contains(t, "history -o json", r.stdout, `"verified": false`, `"problem": "history of`)
	// Without --verify the history is shown and the command succeeds.
	h.ok("history", "x-1")
}

// brokenStore fails every call the way a lost database connection would.
type brokenStore struct{ relman.Store }

var errDisk = errors.New("disk I/O error")

func (brokenStore) Get(context.Context, string) (*relman.Release, error) { return nil, errDisk }
func (brokenStore) Create(context.Context, *relman.Release, ...relman.AuditEntry) error {
	return errDisk
}

func TestStorageFailures(t *testing.T) {
	h := newHarness(t)
	h.store = brokenStore{h.store}
	h.fails(3, "show: x: disk I/O error", "show", "x")
	h.fails(3, "create: y: disk I/O error", "create", "--id", "y", "--title", "t", "--version", "1.0.0")

	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return map[string]string{"RELMAN_STORE": "memory"}[k] })
	a.stores.Openers["memory"] = func(context.Context, string) (relman.Store, func() error, error) {
		return nil, nil, errors.New("permission denied")
	}
	if code := a.run(context.Background(), []string{"list"}); code != 3 || errb.String() != "releasectl: open store memory: permission denied\n" {
		t.Errorf("store that cannot open: exit %d, stderr %q", code, errb.String())
	}
}

func TestEnvironment(t *testing.T) {
	h := newHarness(t)
	h.env["RELMAN_ACTOR"] = "ci-bot"
	h.env["RELMAN_STORE"] = "memory"
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0")
	var r relman.Release
	if err := decodeStrict([]byte(h.ok("show", "x-1", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Owner != "ci-bot" || r.Requester != "ci-bot" {
		t.Errorf("owner %q requester %q, want ci-bot from RELMAN_ACTOR", r.Owner, r.Requester)
	}
	// --actor beats the environment.
	h.ok("fire", "x-1", "cancel", "--reason", "dup", "--actor", "olga")
	out := h.ok("history", "x-1")
	contains(t, "history", out, "olga", "cancel: proposed → cancelled")
	h.env["RELMAN_STORE"] = "cassandra"
	h.fails(2, `unknown store "cassandra"`, "list")
}

func TestDemoJSON(t *testing.T) {
	h := newHarness(t)
	var steps []demoResult
	if err := json.Unmarshal([]byte(h.ok("demo", "--now", "2026-03-02T09:00:00Z", "--id", "d-1", "-o", "json")), &steps); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, s := range steps {
		kinds[s.Kind]++
		if s.Step != i+1 || s.Say == "" || s.Actor == "" {
			t.Errorf("step %d: %+v", i+1, s)
		}
	}
	if kinds["refused"] != 7 || kinds["approval"] != 2 || kinds["assess"] != 1 || kinds["rollout"] != 4 || kinds["verify"] != 1 || steps[len(steps)-1].Kind != "verify" {
		t.Errorf("demo steps by kind: %v", kinds)
	}
	var r relman.Release
	if err := decodeStrict([]byte(h.ok("show", "d-1", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Stage != relman.StageRolledBack || r.Deployments[1].State != relman.RolloutRolledBack {
		t.Errorf("after demo the release is %s, deployments %+v; want rolled back by its canary", r.Stage, r.Deployments)
	}
	if err := decodeStrict([]byte(h.ok("show", "d-1-fix", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Stage != relman.StageClosed || len(r.Deployments) != 2 || r.Deployments[1].State != relman.RolloutSucceeded {
		t.Errorf("after demo the fix is %s, deployments %+v", r.Stage, r.Deployments)
	}
	h.ok("history", "d-1", "--verify")
	h.ok("history", "d-1-fix", "--verify")
	// Same id again: refused, the store keeps the first.
	h.fails(1, "d-1: a release with this id already exists", "demo", "--id", "d-1")
}

func TestEdit(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0", "--problem", "slow", "--value", "10",
		"--task", "build@dev:2h", "--task", "migrate")
	h.fails(1, "business case incomplete: missing cost, feasibility", "fire", "x-1", "approve", "--actor", "carl")

	out := h.ok("edit", "x-1", "--cost", "5", "--feasibility", "medium", "--reason", "estimated")
	contains(t, "edit", out, "x-1: changed business_case")
	h.ok("fire", "x-1", "approve", "--actor", "carl")

	// A task given again by name is replaced: that is how a team is assigned.
	h.fails(1, "tasks-owned: task has no owning team: migrate", "check", "x-1", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-04T23:00:00Z")
	contains(t, "edit task", h.ok("edit", "x-1", "--task", "migrate@ops:1h", "--label", "jira=X-1"), "changed tasks, labels")
	h.ok("check", "x-1", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-04T23:00:00Z")

	// JSON over the stored release, from standard input.
	h.stdin = `{"rollback_plan": "redeploy 0.9.9", "labels": {"team": "core"}}`
	contains(t, "edit -f -", h.ok("edit", "x-1", "-f", "-"), "changed rollback_plan, labels")
	contains(t, "edit nothing", h.ok("edit", "x-1", "--title", "X"), "x-1: nothing changed")
	h.ok("edit", "x-1", "--label", "jira=")

	var r relman.Release
	if err := decodeStrict([]byte(h.ok("show", "x-1", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Case.Cost != 5 || r.RollbackPlan != "redeploy 0.9.9" || len(r.Tasks) != 2 || r.Tasks[1].Team != "ops" ||
		r.Labels["team"] != "core" || r.Labels["jira"] != "" || r.Stage != relman.StageApproved {
		t.Errorf("after edits: %+v", r)
	}
	rev := r.Revision

	h.stdin = `{"stage": "closed"}`
	h.fails(2, "edit: x-1: invalid: stage: readonly", "edit", "x-1", "-f", "-")
	h.stdin = `{"rollback_plan": 7}`
	h.fails(2, "edit: standard input: line 1, column", "edit", "x-1", "-f", "-")
	h.fails(2, "invalid: version: semver", "edit", "x-1", "--version", "v2")
	h.fails(2, "flag provided but not defined: -id", "edit", "x-1", "--id", "y")
	h.fails(4, "edit: nope: no such release", "edit", "nope", "--title", "t")
	if err := decodeStrict([]byte(h.ok("show", "x-1", "-o", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Revision != rev {
		t.Errorf("refused edits changed the release: revision %d, want %d", r.Revision, rev)
	}
	h.ok("fire", "x-1", "cancel", "--reason", "dup")
	h.fails(1, "terminal stage", "edit", "x-1", "--title", "Y")
}

func TestRiskAndApprovals(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0", "--service", "web", "--rollback", "redeploy")
	h.fails(2, "risk: missing action", "risk")
	h.fails(2, `risk: unknown action "score"`, "risk", "score", "x-1")
	h.fails(2, "risk add: missing --risk or --title", "risk", "add", "x-1", "--title", "t")
	h.fails(2, "invalid: likelihood: range=1..5", "risk", "add", "x-1", "--risk", "r1", "--title", "t", "--likelihood", "9", "--impact", "1")
	h.fails(2, "status: oneof", "risk", "add", "x-1", "--risk", "r1", "--title", "t", "--likelihood", "1", "--impact", "1", "--status", "gone")
	h.fails(2, "risk: missing <risk-id>", "risk", "remove", "x-1")
	h.fails(4, `risk remove: x-1: no risk "r9" in the register`, "risk", "remove", "x-1", "r9")
	h.fails(4, "risk: nope: no such release", "risk", "assess", "nope")
	contains(t, "risk list", h.ok("risk", "list", "x-1"), "x-1: the risk register is empty")

	h.ok("risk", "add", "x-1", "--risk", "r1", "--title", "outage", "--likelihood", "5", "--impact", "5")
	var as relman.Assessment
	if err := json.Unmarshal([]byte(h.ok("risk", "assess", "x-1", "-o", "json")), &as); err != nil {
		t.Fatal(err)
	}
	if as.Level != relman.LevelCritical || len(as.Results) == 0 {
		t.Errorf("assessment: %+v", as)
	}
	contains(t, "show", h.ok("show", "x-1"), "critical risk", "critical-risk normal change: still needs 3 more from role cab (have 0 of 3) and 1 more from role change-manager (have 0 of 1)")
	contains(t, "risk remove", h.ok("risk", "remove", "x-1", "r1"), "x-1: risk r1 removed")
	contains(t, "show", h.ok("show", "x-1"), "(stale: the release changed since)")

	h.fails(2, "reject: missing --reason", "reject", "x-1", "--actor", "dana", "--role", "cab")
	h.fails(2, "reject: missing <id>", "reject")
	h.fails(2, "approve: missing <id>", "approve")
	out := h.ok("reject", "x-1", "--actor", "dana", "--role", "cab", "--reason", "no load test")
	contains(t, "reject", out, "x-1: rejected by dana as cab")
	contains(t, "show", h.ok("show", "x-1"), "reject by dana")
	h.fails(4, "approve: nope: no such release", "approve", "nope", "--actor", "carl")
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.ok("demo", "--now", "2026-03-02T09:00:00Z", "--id", "d-1")
	h.ok("demo", "--now", "2026-03-09T09:00:00Z", "--id", "d-2")
	h.ok("create", "--id", "other", "--title", "O", "--version", "1.0.0", "--service", "web", "--now", "2026-03-03T00:00:00Z")

	var progress bytes.Buffer
	h.progress = &progress
	out := h.ok("metrics", "--from", "2026-03-01", "--to", "2026-04-01")
	// Each demo leaves a release rolled back by its canary and its fix,
	// closed: 4 deployments, 2 of them failures.
	contains(t, "metrics", out, "2026-03-01 00:00 UTC to 2026-04-01 00:00 UTC: 5 releases read", "SCOPE", "FAILURE RATE",
		"all", "service invoices", "service pdf-render", "3h 4m (2)")
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "all ") {
			if f := strings.Fields(l); f[1] != "4" || f[2] != "4" || f[4] != "2" || f[5] != "50%" || f[11] != "2" {
				t.Errorf("overall row %q: want 4 releases, 4 deployments, 2 failures, 50%%, 2 rollbacks", l)
			}
		}
	}
	if p := progress.String(); !strings.Contains(p, "metrics: ") || !strings.HasSuffix(p, "\r\033[K") {
		t.Errorf("progress %q: want a count, then the line cleared", p)
	}
	h.progress = nil

	contains(t, "metrics by team", h.ok("metrics", "--from", "2026-03-01", "--to", "2026-04-01", "--by", "team"), "team billing", "team platform")
	var rep relman.MetricsReport
	if err := decodeStrict([]byte(h.ok("metrics", "--days", "5", "--now", "2026-03-14T00:00:00Z", "--service", "invoices", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Overall.Deployments != 2 || rep.Query.From.Format("2006-01-02") != "2026-03-09" {
		t.Errorf("last 5 days of invoices: %d deployments from %s", rep.Overall.Deployments, rep.Query.From)
	}
	h.fails(2, "--by must be service, team or none", "metrics", "--by", "day")
	h.fails(2, "the period ends", "metrics", "--from", "2026-04-01", "--to", "2026-03-01")
	h.fails(2, "metrics: --from:", "metrics", "--from", "last week")
	h.fails(2, "--days must be at least 1", "metrics", "--days", "0")
}

func TestFeedbackAndIncidents(t *testing.T) {
	h := newHarness(t)
	// The demo leaves d-1 rolled back by its canary, and its fix d-1-fix
	// deployed on 5 March and closed.
	h.ok("demo", "--now", "2026-03-02T09:00:00Z", "--id", "d-1")
	h.ok("create", "--id", "new-1", "--title", "N", "--version", "1.0.0")

	contains(t, "feedback", h.ok("feedback", "d-1-fix", "4", "--comment", "fast", "--source", "survey", "--now", "2026-03-06T10:00:00Z"), "d-1-fix: feedback 4/5 recorded (1 in all)")
	h.ok("feedback", "d-1-fix", "2", "--now", "2026-03-06T11:00:00Z")
	out := h.ok("incident", "open", "d-1-fix", "INC0012345", "--severity", "p2", "--summary", "totals wrong for EUR", "--at", "2026-03-06T23:00:00Z")
	contains(t, "incident open", out, "d-1-fix: incident INC0012345 (high, caused) linked")
	contains(t, "incident resolve", h.ok("incident", "resolve", "d-1-fix", "INC0012345", "--at", "2026-03-07T01:30:00Z"), "d-1-fix: incident INC0012345 resolved")
	contains(t, "show", h.ok("show", "d-1-fix"), "INC0012345 (high, caused) opened 2026-03-06 23:00 UTC, resolved 2026-03-07 01:30 UTC: totals wrong for EUR",
		"2 rating(s), mean 3.0/5")

	out = h.ok("metrics", "--from", "2026-03-01", "--to", "2026-04-01", "--by", "none")
	contains(t, "metrics", out, "2h 30m (1)", "3.0 (2)")
	for _, l := range strings.Split(out, "\n") {
		// Both deployments failed: d-1 was rolled back, d-1-fix caused an incident.
		if f := strings.Fields(l); len(f) > 5 && f[0] == "all" && (f[4] != "2" || f[5] != "100%") {
			t.Errorf("overall row %q: want 2 failures, 100%%", l)
		}
	}

	h.fails(2, `rating must be a whole number from 1 to 5, not "6"`, "feedback", "d-1", "6")
	h.fails(2, "feedback: missing <rating>", "feedback", "d-1")
	h.fails(1, "feedback: new-1: not allowed at the release's stage: cannot add feedback on \"new-1\" at stage proposed", "feedback", "new-1", "5")
	h.fails(2, "incident: missing action", "incident")
	h.fails(2, `incident: unknown action "close"`, "incident", "close", "d-1", "INC1")
	h.fails(2, "incident open: missing --severity", "incident", "open", "d-1", "INC2")
	h.fails(2, `--severity "sev9"`, "incident", "open", "d-1", "INC2", "--severity", "sev9")
	h.fails(1, `incident open: d-1-fix: incident "INC0012345" is already linked`, "incident", "open", "d-1-fix", "INC0012345", "--severity", "low")
	h.fails(1, "already resolved", "incident", "resolve", "d-1-fix", "INC0012345")
	h.fails(4, `no incident "INC404"`, "incident", "resolve", "d-1", "INC404")
	h.fails(4, "incident: nope: no such release", "incident", "resolve", "nope", "INC1")
	h.fails(2, "incident: --at:", "incident", "open", "d-1", "INC3", "--severity", "low", "--at", "at noon")
	h.ok("incident", "open", "d-1", "INC3", "--severity", "low", "--at", "2026-03-05T00:00:00Z")
	h.fails(2, "resolved_at: gtefield", "incident", "resolve", "d-1", "INC3", "--at", "2026-03-04T00:00:00Z")
}

func TestCalendarCommands(t *testing.T) {
	h := newHarness(t)
	// Weekly maintenance, Saturday 22:00–02:00 in Berlin; a freeze on invoices.
	out := h.ok("window", "add", "weekend", "--name", "Weekend maintenance", "--kind", "maintenance", "--tz", "Europe/Berlin",
		"--start", "2026-03-07 22:00", "--end", "2026-03-08 02:00", "--rrule", "FREQ=WEEKLY;BYDAY=SA", "--exdate", "2026-03-14 22:00",
		"--now", "2026-03-02T09:00:00Z")
	contains(t, "window add", out, "window weekend saved (maintenance); next occurrence 2026-03-07 21:00 – 2026-03-08 01:00 UTC")
	h.ok("window", "add", "q1", "--name", "Quarter close", "--kind", "freeze", "--start", "2026-03-28", "--end", "2026-04-02",
		"--service", "invoices", "--reason", "finance closes Q1")
	out = h.ok("window", "list", "--now", "2026-03-02T09:00:00Z")
	contains(t, "window list", out, "ID", "q1", "freeze", "Quarter close", "2026-03-28 00:00 – 2026-04-02 00:00", "invoices",
		"weekend", "Europe/Berlin", "FREQ=WEEKLY;BYDAY=SA", "all", "2026-03-07 21:00 – 2026-03-08 01:00 UTC")

	h.fails(2, "window add: missing --name, --kind, --start, --end", "window", "add", "w")
	h.fails(2, `rrule FREQ=WEEKY: unknown frequency`, "window", "add", "w", "--name", "n", "--kind", "freeze", "--start", "2026-03-01", "--end", "2026-03-02", "--rrule", "FREQ=WEEKY")
	h.fails(2, `--tz "Mars/Olympus" is not an IANA time zone`, "window", "add", "w", "--name", "n", "--kind", "freeze", "--start", "2026-03-01", "--end", "2026-03-02", "--tz", "Mars/Olympus")
	h.fails(2, "kind: oneof", "window", "add", "w", "--name", "n", "--kind", "blackout", "--start", "2026-03-01", "--end", "2026-03-02")
	h.fails(2, "window add: --start:", "window", "add", "w", "--name", "n", "--kind", "freeze", "--start", "soon", "--end", "2026-03-02")
	h.fails(2, `window: unknown action "edit"`, "window", "edit")
	h.fails(4, `window remove: no window "nope"`, "window", "remove", "nope")

	// A release planned outside maintenance is refused, with the reason;
	// the slot command finds the next allowed window.
	h.ok("create", "--id", "inv-1", "--title", "Invoices", "--version", "1.0.0", "--service", "invoices", "--team", "billing",
		"--problem", "p", "--value", "1", "--cost", "1", "--feasibility", "high")
	h.ok("fire", "inv-1", "approve", "--actor", "carl")
	h.fails(1, "plan refused by 1 gate(s): calendar: calendar refuses 2026-03-04T22:00:00Z – 2026-03-04T23:00:00Z: outside any maintenance window of service invoices (Weekend maintenance); next opens 2026-03-07T22:00:00+01:00", "fire", "inv-1", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-04T23:00:00Z")
	out = h.ok("slot", "--release", "inv-1", "--duration", "2h", "--after", "2026-03-02T09:00:00Z")
	contains(t, "slot", out, "2026-03-07 21:00–23:00 UTC", "book it: --window 2026-03-07T21:00:00Z/2026-03-07T23:00:00Z")
	h.ok("fire", "inv-1", "plan", "--window", "2026-03-07T21:00:00Z/2026-03-07T23:00:00Z")

	// A second release on the same service and team: the conflict gate
	// refuses the same window; with another service and team it plans.
	h.ok("create", "--id", "inv-2", "--title", "Invoices 2", "--version", "1.1.0", "--service", "invoices", "--team", "billing",
		"--problem", "p", "--value", "1", "--cost", "1", "--feasibility", "high")
	h.ok("fire", "inv-2", "approve", "--actor", "carl")
	h.fails(1, "conflicts: 2 scheduling conflict(s)", "fire", "inv-2", "plan", "--window", "2026-03-07T22:00:00Z/2026-03-07T23:30:00Z")
	out = h.ok("slot", "--release", "inv-2", "--duration", "1h", "--after", "2026-03-07T21:00:00Z")
	contains(t, "slot", out, "2026-03-07 23:00 – 2026-03-08 00:00 UTC")
	// Another service, the same team: the release's slot keeps clear of
	// billing's booking; the service alone does not.
	h.ok("create", "--id", "pdf-1", "--title", "PDF", "--version", "1.0.0", "--service", "pdf", "--team", "billing",
		"--problem", "p", "--value", "1", "--cost", "1", "--feasibility", "high")
	h.ok("fire", "pdf-1", "approve", "--actor", "carl")
	out = h.ok("slot", "--release", "pdf-1", "--duration", "1h", "--after", "2026-03-07T21:00:00Z")
	contains(t, "slot for a release", out, "2026-03-07 23:00 – 2026-03-08 00:00 UTC")
	out = h.ok("slot", "--service", "pdf", "--duration", "1h", "--after", "2026-03-07T21:00:00Z")
	contains(t, "slot for a service", out, "2026-03-07 21:00–22:00 UTC")

	// The freeze shows in the calendar view, beside the planned release.
	out = h.ok("calendar", "--from", "2026-03-06", "--days", "30", "--service", "invoices")
	contains(t, "calendar", out, "WHEN", "maintenance", "weekend", "release", "inv-1", "planned", "freeze", "q1", "Quarter close")
	if strings.Contains(out, "2026-03-14 21:00") {
		t.Errorf("the excluded occurrence of 14 March is shown:\n%s", out)
	}
	var events []calEvent
	if err := json.Unmarshal([]byte(h.ok("calendar", "--from", "2026-03-06", "--days", "2", "-o", "json")), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].What != "maintenance" || events[1].ID != "inv-1" {
		t.Errorf("calendar -o json: %+v", events)
	}

	contains(t, "conflicts", h.ok("conflicts"), "no conflicts")
	h.ok("conflicts", "--check")

	// Export, then import into a fresh store: the same windows come back.
	ics := h.ok("calendar", "--ics", "-", "--now", "2026-03-02T09:00:00Z")
	contains(t, "ics", ics, "BEGIN:VCALENDAR\r\n", "RRULE:FREQ=WEEKLY;BYDAY=SA", "BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "SUMMARY:Quarter close", "inv-1")
	dir := t.TempDir()
	file := filepath.Join(dir, "schedule.ics")
	if err := os.WriteFile(file, []byte(ics), 0o644); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	var progress bytes.Buffer
	h2.progress = &progress
	contains(t, "import", h2.ok("calendar", "import", file), "imported 2 window(s) from "+file)
	if p := progress.String(); !strings.HasPrefix(p, "\rimport: ") || !strings.Contains(p, "% of ") || !strings.HasSuffix(p, "\r\033[K") {
		t.Errorf("import progress %q: want the share read, then the line cleared", p)
	}
	h2.progress = nil
	if a, b := h.ok("window", "list", "-o", "json"), h2.ok("window", "list", "-o", "json"); a != b {
		t.Errorf("windows after export and import differ:\n%s\n%s", a, b)
	}
	bad := filepath.Join(dir, "bad.ics")
	if err := os.WriteFile(bad, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2.fails(2, "calendar: ", "calendar", "import", bad)
	h2.fails(2, "calendar import: open", "calendar", "import", filepath.Join(dir, "missing.ics"))
	h2.fails(2, "calendar: missing <file>", "calendar", "import")
}

func TestConflictsCheck(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"a-1", "b-1"} {
		h.ok("create", "--id", id, "--title", id, "--version", "1.0.0", "--service", "web-"+id, "--problem", "p", "--value", "1", "--cost", "1", "--feasibility", "high")
		h.ok("fire", id, "approve", "--actor", "carl")
		h.ok("fire", id, "plan", "--window", "2026-03-04T22:00:00Z/2026-03-04T23:00:00Z")
		// Plan both first, then add a freeze over them: the calendar now
		// reports what the gates did not see when they were planned.
	}
	h.ok("window", "add", "f", "--name", "Launch freeze", "--kind", "freeze", "--start", "2026-03-04", "--end", "2026-03-05")
	out := h.fails(1, "conflicts: 2 scheduling conflict(s)", "conflicts", "--check").stdout
	contains(t, "conflicts", out, "KIND", "freeze", "a-1", "b-1", `inside freeze "Launch freeze"`)
	h.fails(1, "no slot of 1h0m0s", "slot", "--service", "web-a-1", "--duration", "1h", "--horizon", "1h", "--after", "2026-03-04T10:00:00Z")
}

// plainStore hides the WindowStore ability of the store it wraps.
type plainStore struct{ relman.Store }

func TestStoreWithoutWindows(t *testing.T) {
	h := newHarness(t)
	h.store = plainStore{h.store}
	h.fails(3, "window: w1: the store memory does not keep calendar windows", "window", "add", "w1", "--name", "n", "--kind", "freeze",
		"--start", "2026-03-07", "--end", "2026-03-08")
	contains(t, "window list", h.ok("window", "list"), "no windows")
}

func TestEmergencyFreezeOverride(t *testing.T) {
	h := newHarness(t)
	h.ok("window", "add", "xmas", "--name", "Christmas freeze", "--kind", "freeze", "--start", "2026-12-20", "--end", "2027-01-04")
	h.ok("create", "--id", "fix-1", "--title", "Card payments down", "--version", "1.1.6", "--kind", "emergency", "--model", "emergency",
		"--service", "payments", "--problem", "payments fail", "--value", "100000", "--cost", "500", "--feasibility", "high", "--rollback", "redeploy")
	h.ok("fire", "fix-1", "approve", "--actor", "ecab-chair")
	win := []string{"--window", "2026-12-24T10:00:00Z/2026-12-24T11:00:00Z"}
	h.fails(1, `calendar: calendar refuses`, append([]string{"fire", "fix-1", "plan"}, win...)...)
	h.fails(1, "freeze override refused: a reason is required; olga does not hold role freeze-override",
		append([]string{"check", "fix-1", "plan", "--override-freeze"}, win...)...)
	h.ok(append([]string{"fire", "fix-1", "plan", "--override-freeze", "--role", "freeze-override", "--reason", "INC1: payments down"}, win...)...)
	out := h.ok("history", "fix-1")
	contains(t, "history", out, "plan: approved → planned", "INC1: payments down", "override=freeze", "override_by=olga")
}
