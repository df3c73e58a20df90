package relman_test

import (
	"context"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFireSigned compares a transition on the memory store through a
// Manager with a signer (relman.WithSigner) with the same through one
// without, interleaved (storetest.CompareSigned): plain-ns/op,
// signed-ns/op and signing-cost-%. In memory nothing hides the digest
// and the Ed25519 signature, so this is signing's cost in full; on
// SQLite see store/sqlite's BenchmarkFireSigned.
func BenchmarkFireSigned(b *testing.B) {
	step := func(sg *relman.Signer) func() {
		opts := []relman.Option{relman.WithLifecycle(storetest.LoopLifecycle(b))}
		if sg != nil {
			opts = append(opts, relman.WithSigner(sg))
		}
		m, err := relman.NewManager(memory.New(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		r := storetest.Full("bench")
		r.TestResults, r.Approvals, r.Assessment, r.Review, r.Feedback, r.Incidents, r.Scheduled = nil, nil, nil, nil, nil, nil, nil
		if _, err := m.Create(context.Background(), r, alice); err != nil {
			b.Fatal(err)
		}
		return storetest.FireStep(b, m, "bench")
	}
	storetest.CompareSigned(b, step(nil), step(storetest.BenchSigner(b)))
}
