package relman_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/relman-dev/relman"
)

// FuzzLevelText: decoding never panics, and what decodes re-encodes to
// the same text.
func FuzzLevelText(f *testing.F) {
	for _, s := range []string{"low", "medium", "high", "critical", "", "severe", "HIGH", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l relman.Level
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return
		}
		b, err := l.MarshalText()
		if err != nil || string(b) != s {
			t.Fatalf("%q decoded to %d, re-encoded to %q, %v", s, l, b, err)
		}
	})
}

// FuzzRegister: a register decoded from any JSON is either refused with
// an error or scored, never a panic, by every assessor.
func FuzzRegister(f *testing.F) {
	f.Add(`[{"id":"a","title":"t","likelihood":3,"impact":4,"status":"open"}]`)
	f.Add(`[{"id":"a","likelihood":-1,"impact":99,"residual_likelihood":7}]`)
	f.Fuzz(func(t *testing.T, s string) {
		var risks []relman.Risk
		if json.Unmarshal([]byte(s), &risks) != nil {
			return
		}
		r := newRelease("fz")
		r.Risks = risks
		m := relman.DefaultMatrix()
		_, lvl, _, err := m.RegisterScore(risks)
		if err == nil && !lvl.Valid() {
			t.Fatalf("level %d for %s", lvl, s)
		}
		_, _ = relman.Assess(context.Background(), r, relman.Env{}, relman.RegisterAssessor(), relman.FactorModel{})
		_ = r.Validate()
	})
}

// Concurrent approvals of one release are all kept: the Manager retries
// on revision conflicts.
func TestConcurrentApprovals(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, relman.WithRetries(50))
	if _, err := m.Create(ctx, newRelease("cc-1"), alice); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			a := relman.Actor{ID: string(rune('a' + i)), Roles: []string{relman.RoleCAB}}
			if _, err := m.Approve(ctx, "cc-1", a, relman.RoleCAB, "ok"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r, _ := m.Get(ctx, "cc-1")
	if len(r.Approvals) != 8 {
		t.Errorf("%d approvals kept, want 8", len(r.Approvals))
	}
	if err := m.Verify(ctx, "cc-1"); err != nil {
		t.Error(err)
	}
}
