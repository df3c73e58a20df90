package relman_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// A Manager with a signer signs every audit entry and the release's head;
// an auditor verifies with the public key alone, offline, from a bundle.
// An edited release row (here its stage) no longer verifies, and the
// error names what was found.
func ExampleWithSigner() {
	ctx := context.Background()
	seed := bytes.Repeat([]byte{42}, ed25519.SeedSize) // use crypto/rand in real life
	signer, err := relman.NewSigner("ops-2026", ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	m, _ := relman.NewManager(memory.New(), relman.WithSigner(signer))
	if _, err := m.Create(ctx, newRelease("pay-1.2.0"), alice); err != nil {
		panic(err)
	}
	if _, err := m.Fire(ctx, "pay-1.2.0", relman.EventCancel, relman.Request{Actor: alice, Reason: "superseded"}); err != nil {
		panic(err)
	}
	fmt.Println("verify:", m.Verify(ctx, "pay-1.2.0"))

	// Export a bundle; verify it with the public key only.
	r, _ := m.Get(ctx, "pay-1.2.0")
	h, _ := m.History(ctx, "pay-1.2.0")
	var bundle bytes.Buffer
	if err := relman.ExportBundle(&bundle, r, h, nil); err != nil {
		panic(err)
	}
	keys := relman.Keyring{"ops-2026": signer.Public()}
	rep, err := relman.VerifyBundle(bytes.NewReader(bundle.Bytes()), keys)
	fmt.Println("bundle:", rep.Entries, "entries, signed by", rep.KeyIDs, err)

	// Someone edits the release row behind the library's back.
	r.Stage = relman.StageApproved
	err = relman.VerifySigned(r, h, keys)
	var he *relman.HistoryError
	if errors.As(err, &he) {
		fmt.Println("tampered:", he.Fault)
	}
	// Output:
	// verify: <nil>
	// bundle: 2 entries, signed by [ops-2026] <nil>
	// tampered: document
}
