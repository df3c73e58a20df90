package relman_test

import (
	"context"
	"testing"

	"github.com/looplab/fsm"
	"github.com/relman-dev/relman"
)

// BenchmarkBareFSM is the baseline of BenchmarkFire: build a looplab FSM
// with the default lifecycle's event table and fire one event.
func BenchmarkBareFSM(b *testing.B) {
	var table fsm.Events
	for _, e := range relman.DefaultLifecycle().Events() {
		src := make([]string, len(e.From))
		for i, f := range e.From {
			src[i] = string(f)
		}
		table = append(table, fsm.EventDesc{Name: string(e.Name), Src: src, Dst: string(e.To)})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f := fsm.NewFSM(string(relman.StageTesting), table, nil)
		if err := f.Event(ctx, string(relman.EventFail)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFire fires one event through the Manager on the memory store
// with the default lifecycle and its gates: read, authorization, gates,
// state machine step, audit hash, revision-checked write. It alternates
// submit (no gate) and fail (the failed-test gate).
func BenchmarkFire(b *testing.B) {
	m, c := newManager(b)
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("bench"), alice); err != nil {
		b.Fatal(err)
	}
	fire(b, m, "bench", relman.EventApprove, relman.Request{})
	fire(b, m, "bench", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now, End: c.now.Add(1e12)}})
	fire(b, m, "bench", relman.EventStart, relman.Request{})
	if _, err := m.RecordTest(ctx, "bench", alice, relman.TestResult{Suite: "unit", Passed: false}); err != nil {
		b.Fatal(err)
	}
	req := relman.Request{Actor: alice, Reason: "benchmark"}
	events := [2]relman.Event{relman.EventSubmit, relman.EventFail}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Fire(ctx, "bench", events[i&1], req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
