package sqlite_test

import (
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFireSigned compares a transition fired through a Manager with
// a signer (relman.WithSigner: the release digest, one Ed25519 signature
// for the entry and the head, three more columns) with the same through a
// Manager without one, each on a file of its own with the same settings.
// Target: signing costs at most 25 % of a transition. The two run
// interleaved (storetest.CompareSigned); the result is plain-ns/op,
// signed-ns/op and signing-cost-%.
func BenchmarkFireSigned(b *testing.B) {
	for _, relaxed := range []bool{false, true} {
		name := "sync=full"
		if relaxed {
			name = "sync=normal"
		}
		b.Run(name, func(b *testing.B) {
			opts := sqlite.Options{RelaxedSync: relaxed}
			storetest.CompareSigned(b, signedStep(b, opts, nil), signedStep(b, opts, storetest.BenchSigner(b)))
		})
	}
}

// signedStep returns a function that fires one transition through a
// Manager with signer sg (none if nil) on a store of its own.
func signedStep(b *testing.B, opts sqlite.Options, sg *relman.Signer) func() {
	path, _ := benchFile(b)
	s, err := sqlite.Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	mopts := []relman.Option{relman.WithLifecycle(storetest.LoopLifecycle(b))}
	if sg != nil {
		mopts = append(mopts, relman.WithSigner(sg))
	}
	m, err := relman.NewManager(s, mopts...)
	if err != nil {
		b.Fatal(err)
	}
	return storetest.FireStep(b, m, "bench")
}
