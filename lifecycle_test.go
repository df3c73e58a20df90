package relman_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// TestDefaultLifecycleTable pins the default lifecycle to the table in
// DESIGN.md and doc.go.
func TestDefaultLifecycleTable(t *testing.T) {
	before := []relman.Stage{"proposed", "approved", "planned", "building", "testing", "verified", "authorized"}
	want := []relman.EventSpec{
		{Name: "approve", From: []relman.Stage{"proposed"}, To: "approved"},
		{Name: "reject", From: []relman.Stage{"proposed"}, To: "rejected"},
		{Name: "plan", From: []relman.Stage{"approved"}, To: "planned"},
		{Name: "start", From: []relman.Stage{"planned"}, To: "building"},
		{Name: "submit", From: []relman.Stage{"building"}, To: "testing"},
		{Name: "fail", From: []relman.Stage{"testing"}, To: "building"},
		{Name: "pass", From: []relman.Stage{"testing"}, To: "verified"},
		{Name: "authorize", From: []relman.Stage{"verified"}, To: "authorized"},
		{Name: "deploy", From: []relman.Stage{"authorized"}, To: "deploying"},
		{Name: "complete", From: []relman.Stage{"deploying"}, To: "operating"},
		{Name: "rollback", From: []relman.Stage{"deploying", "operating"}, To: "rolled_back"},
		{Name: "close", From: []relman.Stage{"operating"}, To: "closed"},
		{Name: "cancel", From: before, To: "cancelled"},
		{Name: "replan", From: []relman.Stage{"planned", "building", "testing", "verified", "authorized"}, To: "planned"},
	}
	lc := relman.DefaultLifecycle()
	got := lc.Events()
	for i := range got {
		got[i].Doc = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default events (-want +got):\n%s", diff)
	}
	for _, st := range []relman.Stage{"rejected", "closed", "cancelled", "rolled_back"} {
		if !lc.Terminal(st) {
			t.Errorf("%s should be terminal", st)
		}
	}
	if lc.Terminal(relman.StageOperating) || lc.Initial() != relman.StageProposed {
		t.Errorf("operating terminal or wrong initial stage %q", lc.Initial())
	}
	if got := lc.Available(relman.StageTesting); !slices.Equal(got, []relman.Event{"fail", "pass", "cancel", "replan"}) {
		t.Errorf("Available(testing) = %v", got)
	}
	gates := map[relman.Event][]string{
		"approve": {"business-case"}, "reject": {"reason"}, "plan": {"window", "tasks-owned"},
		"fail": {"failed-test"}, "pass": {"tests-passed"}, "deploy": {"in-window"},
		"rollback": {"reason"}, "close": {"review"}, "cancel": {"reason"},
	}
	for ev, names := range gates {
		for _, n := range names {
			if !slices.Contains(lc.Gates(ev), n) {
				t.Errorf("event %s lacks gate %q (has %v)", ev, n, lc.Gates(ev))
			}
		}
	}
	if !slices.Contains(lc.Gates(relman.EventAuthorize), "rollback-plan") {
		t.Errorf("authorize lacks the rollback-plan gate: %v", lc.Gates(relman.EventAuthorize))
	}
}

func TestNewLifecycleRejectsBadSpecs(t *testing.T) {
	gate := relman.GateFunc(func(context.Context, *relman.Release, relman.Transition) error { return nil })
	small := func() relman.LifecycleSpec {
		return relman.LifecycleSpec{
			Initial: "a", Stages: []relman.Stage{"a", "b"}, Terminal: []relman.Stage{"b"},
			Events: []relman.EventSpec{{Name: "go", From: []relman.Stage{"a"}, To: "b"}},
		}
	}
	cases := []struct {
		name   string
		change func(s *relman.LifecycleSpec)
		want   string
	}{
		{"unknown target", func(s *relman.LifecycleSpec) { s.Events[0].To = "z" }, `leads to unknown stage "z"`},
		{"unknown source", func(s *relman.LifecycleSpec) { s.Events[0].From = []relman.Stage{"a", "y"} }, `fires from unknown stage "y"`},
		{"unreachable", func(s *relman.LifecycleSpec) { s.AddStage("island", true) }, `stage "island" cannot be reached`},
		{"duplicate event", func(s *relman.LifecycleSpec) {
			s.AddEvent(relman.EventSpec{Name: "go", From: []relman.Stage{"a"}, To: "b"})
		}, `duplicate event "go"`},
		{"duplicate stage", func(s *relman.LifecycleSpec) { s.Stages = append(s.Stages, "a") }, `duplicate stage "a"`},
		{"gate on unknown event", func(s *relman.LifecycleSpec) { s.AddGate("nope", "g", gate) }, `gate "g" on unknown event "nope"`},
		{"nil gate", func(s *relman.LifecycleSpec) { s.AddGate("go", "g", nil) }, `needs a name and a gate`},
		{"before-hook on unknown event", func(s *relman.LifecycleSpec) {
			s.OnBefore("nope", "h", func(context.Context, *relman.Release, relman.Transition) error { return nil })
		}, `before-hook "h" on unknown event "nope"`},
		{"after-hook on unknown event", func(s *relman.LifecycleSpec) { s.OnAfter("nope", func(context.Context, relman.TransitionEvent) {}) }, `after-hook on unknown event "nope"`},
		{"enter-hook on unknown stage", func(s *relman.LifecycleSpec) { s.OnEnter("nope", func(context.Context, relman.TransitionEvent) {}) }, `enter-hook on unknown stage "nope"`},
		{"effect on unknown event", func(s *relman.LifecycleSpec) { s.AddEffect("nope", "e", relman.SetWindow()) }, `effect "e" on unknown event "nope"`},
		{"dead end", func(s *relman.LifecycleSpec) { s.Terminal = nil }, `stage "b" is not terminal but no event leaves it`},
		{"bad initial", func(s *relman.LifecycleSpec) { s.Initial = "q" }, `initial stage "q" is not a stage`},
		{"event from terminal", func(s *relman.LifecycleSpec) {
			s.AddEvent(relman.EventSpec{Name: "back", From: []relman.Stage{"b"}, To: "a"})
		}, `fires from terminal stage "b"`},
		{"empty event name", func(s *relman.LifecycleSpec) {
			s.AddEvent(relman.EventSpec{Name: "", From: []relman.Stage{"a"}, To: "b"})
		}, `invalid event name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := small()
			c.change(&s)
			_, err := relman.NewLifecycle(s)
			var le *relman.LifecycleError
			if !errors.As(err, &le) || !errors.Is(err, relman.ErrInvalid) {
				t.Fatalf("err = %v, want *LifecycleError matching ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	if _, err := relman.NewLifecycle(small()); err != nil {
		t.Fatalf("valid spec refused: %v", err)
	}
}

func TestDiagrams(t *testing.T) {
	lc := relman.DefaultLifecycle()
	mm := lc.Mermaid()
	for _, line := range []string{"stateDiagram-v2", "[*] --> proposed", "testing --> building: fail", "operating --> rolled_back: rollback", "closed --> [*]"} {
		if !strings.Contains(mm, line) {
			t.Errorf("Mermaid lacks %q:\n%s", line, mm)
		}
	}
	dot := lc.DOT()
	for _, line := range []string{"digraph lifecycle {", `"testing" -> "verified" [label="pass"];`, `"closed" [label="closed", peripheries=2];`} {
		if !strings.Contains(dot, line) {
			t.Errorf("DOT lacks %q:\n%s", line, dot)
		}
	}
	if n := strings.Count(mm, "-->"); n != 1+25+4 {
		t.Errorf("Mermaid has %d arrows, want 30 (1 start, 25 transitions, 4 terminal)", n)
	}
}

// TestExtendDefault adds a stage, an event, a gate and hooks to the
// default lifecycle and runs a release through the new path.
func TestExtendDefault(t *testing.T) {
	spec := relman.DefaultSpec()
	spec.AddStage("security_review", false)
	spec.AddEvent(relman.EventSpec{Name: "review_security", From: []relman.Stage{relman.StageVerified}, To: "security_review"})
	spec.AddEvent(relman.EventSpec{Name: "clear", From: []relman.Stage{"security_review"}, To: relman.StageVerified})
	spec.AddGate("clear", "signed-off", relman.GateFunc(func(_ context.Context, r *relman.Release, _ relman.Transition) error {
		if r.Labels["security"] != "ok" {
			return errors.New("security sign-off missing")
		}
		return nil
	}))
	var entered []relman.Stage
	spec.OnEnter("security_review", func(_ context.Context, ev relman.TransitionEvent) { entered = append(entered, ev.Release.Stage) })
	lc, err := relman.NewLifecycle(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, c := newManager(t, relman.WithLifecycle(lc))
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("ext"), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "ext", relman.EventApprove, relman.Request{})
	if err := m.Check(ctx, "ext", "review_security", relman.Request{Actor: alice}); !errors.Is(err, relman.ErrInvalidTransition) {
		t.Fatalf("review_security from approved: %v, want ErrInvalidTransition", err)
	}
	fire(t, m, "ext", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now.Add(time.Hour), End: c.now.Add(2 * time.Hour)}})
	fire(t, m, "ext", relman.EventStart, relman.Request{})
	fire(t, m, "ext", relman.EventSubmit, relman.Request{})
	if _, err := m.RecordTest(ctx, "ext", alice, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "ext", relman.EventPass, relman.Request{})
	fire(t, m, "ext", "review_security", relman.Request{})
	if len(entered) != 1 || entered[0] != "security_review" {
		t.Errorf("enter hook saw %v, want [security_review]", entered)
	}
	if _, err := m.Fire(ctx, "ext", "clear", relman.Request{Actor: alice}); err == nil || !strings.Contains(err.Error(), "security sign-off missing") {
		t.Fatalf("clear without sign-off: %v", err)
	}
	if _, err := m.Edit(ctx, "ext", alice, "signed", func(r *relman.Release) error {
		r.Labels = map[string]string{"security": "ok"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := fire(t, m, "ext", "clear", relman.Request{}); r.Stage != relman.StageVerified {
		t.Errorf("stage after clear = %s", r.Stage)
	}
	if got := lc.Available(relman.StageVerified); !slices.Contains(got, "review_security") {
		t.Errorf("Available(verified) = %v", got)
	}
	// The shared default lifecycle is untouched.
	if relman.DefaultLifecycle().IsStage("security_review") {
		t.Errorf("extending DefaultSpec changed the shared default lifecycle")
	}
}
