package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// withDurations changes only durations: everything else encodes as
// encoding/json would.
func TestWithDurations(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := &relman.Release{ID: "x", Title: "X", Version: "1.0.0", Window: &relman.Span{Start: at, End: at.Add(time.Hour)},
		Tasks:  []relman.Task{{Name: "migrate", Team: "db", Duration: 90 * time.Minute}},
		Labels: map[string]string{"a": "<b>"}, Revision: 3, Stage: relman.StagePlanned,
		Rollout: &relman.Rollout{Environment: "prod", Plan: relman.RolloutPlan{Steps: []relman.RolloutStep{{Percent: 5, Bake: 10 * time.Minute}},
			Verification: relman.Verification{Interval: time.Minute, Measurements: 2}}}}
	var plain, ours bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(&ours, r); err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = json.Unmarshal(plain.Bytes(), &a)
	_ = json.Unmarshal(ours.Bytes(), &b)
	if got := b["tasks"].([]any)[0].(map[string]any)["duration"]; got != "1h30m0s" {
		t.Errorf("task duration %v", got)
	}
	ro := b["rollout"].(map[string]any)["plan"].(map[string]any)
	if ro["steps"].([]any)[0].(map[string]any)["bake"] != "10m0s" || ro["verification"].(map[string]any)["interval"] != "1m0s" {
		t.Errorf("rollout plan %v", ro)
	}
	// Everything else is the same.
	a["tasks"], b["tasks"], a["rollout"], b["rollout"] = nil, nil, nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("other fields differ:\nencoding/json %s\nreleasectl    %s", ja, jb)
	}
}

// What releasectl writes it reads back: show -o json | edit -f - keeps
// every duration.
func TestDurationsRoundTrip(t *testing.T) {
	r := relman.Release{ID: "x", Tasks: []relman.Task{{Name: "a", Duration: 90 * time.Minute}, {Name: "b"}}}
	var out bytes.Buffer
	if err := writeJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	var back relman.Release
	if err := decodeStrict(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Tasks) != 2 || back.Tasks[0].Duration != 90*time.Minute || back.Tasks[1].Duration != 0 {
		t.Errorf("read back %+v from %s", back.Tasks, out.Bytes())
	}
	// Nanoseconds, as encoding/json writes them, are still read.
	if err := decodeStrict([]byte(`{"id": "x", "tasks": [{"name": "a", "duration": 60000000000}]}`), &back); err != nil || back.Tasks[0].Duration != time.Minute {
		t.Errorf("nanoseconds: %v %+v", err, back.Tasks)
	}
}
