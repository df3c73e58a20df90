package relman_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

func TestSlogHook(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	m, c := newManager(t, relman.WithAfterHook(relman.AnyEvent, relman.SlogHook(logger)))
	operate(t, m, c, "rel-1")
	c.Advance(2 * time.Hour)
	fire(t, m, "rel-1", relman.EventRollback, relman.Request{Reason: "error rate"})

	var recs []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	var events []string
	for _, r := range recs {
		events = append(events, r["event"].(string))
	}
	want := []string{"approve", "plan", "start", "submit", "pass", "authorize", "deploy", "complete", "rollback"}
	if !slices.Equal(events, want) {
		t.Fatalf("logged events %v, want %v", events, want)
	}
	last := recs[len(recs)-1]
	for k, v := range map[string]any{
		"level": "WARN", "msg": "relman transition", "release": "rel-1", "version": "2.4.0", "from": "operating",
		"to": "rolled_back", "actor": "alice", "reason": "error rate", "in_stage": float64(2 * time.Hour), "seq": float64(13), // assess and approval add two entries before authorize
		"at": c.now.Format(time.RFC3339Nano),
	} {
		if last[k] != v {
			t.Errorf("rollback record %s = %v (%T), want %v", k, last[k], last[k], v)
		}
	}
	if recs[0]["level"] != "INFO" {
		t.Errorf("approve logged at %v, want INFO", recs[0]["level"])
	}
	if _, ok := recs[0]["reason"]; ok {
		t.Error("empty reason logged")
	}

	// A disabled level writes nothing; a nil logger uses slog.Default.
	buf.Reset()
	quiet := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	h := relman.SlogHook(quiet)
	ev := relman.TransitionEvent{Release: &relman.Release{ID: "x"}, Transition: relman.Transition{Event: "e", To: relman.StageRolledBack}}
	h(context.Background(), ev)
	if buf.Len() != 0 {
		t.Errorf("disabled level wrote %q", buf.String())
	}
	prev := slog.Default()
	defer slog.SetDefault(prev)
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	relman.SlogHook(nil)(context.Background(), ev)
	if !bytes.Contains(buf.Bytes(), []byte(`"release":"x"`)) {
		t.Errorf("nil logger: default got %q", buf.String())
	}
}

// recorder is a MetricsRecorder for tests, the shape a Prometheus or
// OpenTelemetry adapter would have.
type recorder struct {
	mu          sync.Mutex
	transitions map[string]int
	inStage     map[relman.Stage][]time.Duration
	lead        []time.Duration
}

func (r *recorder) Transition(_ context.Context, ev relman.Event, from, to relman.Stage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transitions[fmt.Sprintf("%s:%s->%s", ev, from, to)]++
}

func (r *recorder) StageDuration(_ context.Context, st relman.Stage, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inStage[st] = append(r.inStage[st], d)
}

func (r *recorder) LeadTime(_ context.Context, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lead = append(r.lead, d)
}

func TestMetricsHook(t *testing.T) {
	rec := &recorder{transitions: map[string]int{}, inStage: map[relman.Stage][]time.Duration{}}
	m, c := newManager(t, relman.WithAfterHook(relman.AnyEvent, relman.MetricsHook(rec)))
	operate(t, m, c, "rel-1")
	if len(rec.transitions) != 8 || rec.transitions["deploy:authorized->deploying"] != 1 || rec.transitions["complete:deploying->operating"] != 1 {
		t.Errorf("transitions %v", rec.transitions)
	}
	// operate: authorized at t0, deploy at t0+1h, complete at t0+1h10m.
	if got := rec.inStage[relman.StageAuthorized]; len(got) != 1 || got[0] != time.Hour {
		t.Errorf("time in authorized %v, want [1h]", got)
	}
	if got := rec.inStage[relman.StageDeploying]; len(got) != 1 || got[0] != 10*time.Minute {
		t.Errorf("time in deploying %v, want [10m]", got)
	}
	if len(rec.lead) != 1 || rec.lead[0] != 70*time.Minute {
		t.Errorf("lead %v, want [1h10m]", rec.lead)
	}
	if _, err := relman.NewManager(m.Store(), relman.WithAfterHook(relman.AnyEvent, relman.MetricsHook(nil))); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("MetricsHook(nil): %v, want ErrInvalid from NewManager", err)
	}
}

// ExampleSlogHook logs every transition of a release as a structured
// record.
func ExampleSlogHook() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, _ := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return now }),
		relman.WithAfterHook(relman.AnyEvent, relman.SlogHook(logger)))
	ctx := context.Background()
	r := newRelease("rel-7")
	if _, err := m.Create(ctx, r, relman.Actor{ID: "olga"}); err != nil {
		fmt.Println(err)
		return
	}
	now = now.Add(90 * time.Minute)
	if _, err := m.Fire(ctx, "rel-7", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=INFO msg="relman transition" release=rel-7 version=2.4.0 event=approve from=proposed to=approved actor=carl at=2026-03-02T10:30:00.000Z in_stage=1h30m0s seq=2
}
