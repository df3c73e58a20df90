package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// FixedSigner returns a Signer with a fixed key (seed bytes all seed), so
// that failures reproduce.
func FixedSigner(t testing.TB, id string, seed byte) *relman.Signer {
	t.Helper()
	b := make([]byte, ed25519.SeedSize)
	for i := range b {
		b[i] = seed
	}
	s, err := relman.NewSigner(id, ed25519.NewKeyFromSeed(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signedManager returns a Manager over s with LoopLifecycle, a fixed
// clock and sg as signer (none if nil).
func signedManager(t testing.TB, s relman.Store, sg *relman.Signer) *relman.Manager {
	t.Helper()
	opts := []relman.Option{relman.WithLifecycle(LoopLifecycle(t)), relman.WithClock(func() time.Time { return base })}
	if sg != nil {
		opts = append(opts, relman.WithSigner(sg))
	}
	m, err := relman.NewManager(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// signedHistory creates release id through m and fires n events on it,
// with an edit in the middle.
func signedHistory(t testing.TB, m *relman.Manager, id string, n int) {
	t.Helper()
	ctx := context.Background()
	r := Full(id)
	r.TestResults, r.Approvals, r.Assessment, r.Review, r.Feedback, r.Incidents, r.Scheduled = nil, nil, nil, nil, nil, nil, nil
	if _, err := m.Create(ctx, r, relman.Actor{ID: "alice"}); err != nil {
		t.Fatalf("Create %q: %v", id, err)
	}
	for i := range n {
		if i == n/2 {
			if _, err := m.Edit(ctx, id, relman.Actor{ID: "bob"}, "relabel", func(r *relman.Release) error {
				r.Labels["step"] = "half"
				return nil
			}); err != nil {
				t.Fatalf("Edit %q: %v", id, err)
			}
		}
		if _, err := FireNext(ctx, m, id, "alice"); err != nil {
			t.Fatalf("Fire on %q: %v", id, err)
		}
	}
}

// runSigned checks that a store keeps what a signed audit trail needs:
// the signature fields of entries, exactly, and releases whose document
// digest is the one signed when they were written.
func runSigned(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	t.Run("Signed/EntriesRoundTrip", func(t *testing.T) {
		s := newStore(t)
		r := create(t, s, Minimal("rel-1"))
		var entries []relman.AuditEntry
		for i, a := range []relman.Action{relman.ActionEdit, relman.ActionVoid} {
			e := r.Record(relman.AuditEntry{At: base.Add(time.Duration(i+1) * time.Second), Actor: "alice", Action: a, Reason: "signed"})
			e.DocDigest = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
			e.KeyID = "key-2026 ✓"
			e.Sig = "c2lnbmF0dXJlIG9mIGVudHJ5IGJ5dGVzIGluIGJhc2U2NA=="
			entries = append(entries, e)
		}
		r.Head.DocDigest, r.Head.KeyID, r.Head.Sig = entries[1].DocDigest, entries[1].KeyID, entries[1].Sig
		if err := s.Update(ctx, r, entries...); err != nil {
			t.Fatalf("Update: %v", err)
		}
		h, err := s.History(ctx, "rel-1")
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if diff := cmp.Diff(entries, h[1:]); diff != "" {
			t.Errorf("signed entries differ after a round trip (-want +got):\n%s", diff)
		}
		if h[0].Sig != "" || h[0].KeyID != "" || h[0].DocDigest != "" {
			t.Errorf("an unsigned entry came back signed: %+v", h[0])
		}
		got, _ := s.Get(ctx, "rel-1")
		if got.Head != r.Head {
			t.Errorf("signed head %+v came back as %+v", r.Head, got.Head)
		}
	})
	t.Run("Signed/Rollout", func(t *testing.T) { testSignedRollout(t, newStore(t)) })
	t.Run("Signed/Verifies", func(t *testing.T) {
		s := newStore(t)
		sg := FixedSigner(t, "k1", 1)
		m := signedManager(t, s, sg)
		signedHistory(t, m, "rel-1", 6)
		r, err := s.Get(ctx, "rel-1")
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, "rel-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := relman.VerifySigned(r, h, sg.Keyring()); err != nil {
			t.Fatalf("VerifySigned: %v", err)
		}
		if d, _ := relman.DocDigest(r); d != r.Head.DocDigest {
			t.Errorf("the stored release's digest changed on the way (%s, signed %s)", d, r.Head.DocDigest)
		}
		cp, err := m.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.VerifyCheckpoint(ctx, cp); err != nil {
			t.Fatalf("VerifyCheckpoint: %v", err)
		}
		// Notifications carry the entries as signed.
		if ob, ok := s.(relman.Outbox); ok && ob.OutboxEnabled() {
			ns, err := ob.ListNotifications(ctx, false, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != len(h) {
				t.Fatalf("%d notifications for %d entries", len(ns), len(h))
			}
			for i, n := range ns {
				if diff := cmp.Diff(h[i], n.Entry); diff != "" {
					t.Errorf("notification %d differs from its entry (-want +got):\n%s", i, diff)
				}
			}
		}
	})
}

// testSignedRollout rolls a release out through a signed Manager: the
// runner's writes (claims, measurements, promotions, some without an
// entry of their own) are signed too and the history verifies.
func testSignedRollout(t *testing.T, s relman.Store) {
	sg := FixedSigner(t, "k1", 1)
	f := &rolloutFixture{c: &clock{now: base}, dep: &recordingDeployer{}, probe: &errorRate{byStep: map[int]float64{}}}
	m, err := relman.NewManager(s, relman.WithClock(f.c.Now), relman.WithEnvironments(rolloutEnvs), relman.WithDeployer(f.dep),
		relman.WithProbe("rate", f.probe), relman.WithSigner(sg))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	ToDeploying(t, m, func(t time.Time) { f.c.Set(t) }, "rel-1")
	f.succeed(t, "rel-1", "test")
	if err := m.Verify(context.Background(), "rel-1"); err != nil {
		t.Fatalf("Verify after a signed rollout: %v", err)
	}
	r := f.get(t, "rel-1")
	if r.Head.Sig == "" {
		t.Errorf("head not signed: %+v", r.Head)
	}
}

// RawEdits are the changes a database's owner can make behind relman's
// back, which SignedTampering makes. Each backend implements them with
// its own SQL.
type RawEdits struct {
	// Open returns a new handle on the database the edits change, whose
	// reads see them (no cache from before).
	Open func(t *testing.T) relman.Store
	// SetEntry overwrites every column of the stored entry (e.ReleaseID,
	// e.Seq) with e's fields.
	SetEntry func(t *testing.T, e relman.AuditEntry)
	// DeleteEntries deletes the entries of release id after sequence
	// number after (and whatever refers to them, such as outbox rows).
	DeleteEntries func(t *testing.T, id string, after int64)
	// SetRelease overwrites the stored row of release r.ID with r (its
	// document and the columns derived from it), keeping its revision.
	SetRelease func(t *testing.T, r *relman.Release)
}

// faultOf returns the fault of a *HistoryError, or "" for another error.
func faultOf(err error) relman.HistoryFault {
	var he *relman.HistoryError
	if errors.As(err, &he) && errors.Is(err, relman.ErrCorruptHistory) {
		return he.Fault
	}
	return ""
}

// SignedTampering checks, on a real database, that a signed audit trail
// detects and names what its owner can do with SQL: (a) rewrite an
// entry and reseal every hash and the head (FaultResealed; the unsigned
// chain is fooled); (b) delete the last entries and move the head back
// (FaultHead), or also put back the release row as it was before them
// (found against a checkpoint only: FaultTruncated); (c) edit the release
// row, its stage or an injected approval (FaultDocument). The nine naive
// tamperings of an entry list are still detected too.
func SignedTampering(t *testing.T, edits RawEdits) {
	ctx := context.Background()
	sg := FixedSigner(t, "k1", 1)
	keys := relman.WithKeyring(sg.Keyring())
	verify := func(t *testing.T, id string) error {
		t.Helper()
		m, err := relman.NewManager(edits.Open(t), relman.WithLifecycle(LoopLifecycle(t)), keys)
		if err != nil {
			t.Fatal(err)
		}
		return m.Verify(ctx, id)
	}
	plainVerify := func(t *testing.T, id string) error {
		t.Helper()
		return signedManager(t, edits.Open(t), nil).Verify(ctx, id)
	}
	s := edits.Open(t)
	m := signedManager(t, s, sg)
	for _, id := range []string{"reseal", "truncate", "rollback", "stage", "approval", "naive"} {
		signedHistory(t, m, id, 8)
		if err := verify(t, id); err != nil {
			t.Fatalf("%s before tampering: %v", id, err)
		}
	}
	// A release's state before its last two entries, as a backup holds it.
	if _, err := FireNext(ctx, m, "rollback", "alice"); err != nil {
		t.Fatal(err)
	}
	backup, _ := s.Get(ctx, "rollback")
	backupSeq := backup.Head.Seq
	for range 2 {
		if _, err := FireNext(ctx, m, "rollback", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := m.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("RewriteAndReseal", func(t *testing.T) {
		h, _ := s.History(ctx, "reseal")
		r, _ := s.Get(ctx, "reseal")
		fake := &relman.Release{ID: r.ID, Head: relman.AuditHead{Seq: h[0].Seq, Hash: h[0].Hash}}
		h[1].Actor = "mallory"
		for i := 1; i < len(h); i++ {
			e := fake.Record(h[i])
			e.DocDigest, e.KeyID, e.Sig = h[i].DocDigest, h[i].KeyID, h[i].Sig
			edits.SetEntry(t, e)
		}
		r.Head.Seq, r.Head.Hash = fake.Head.Seq, fake.Head.Hash
		edits.SetRelease(t, r)
		if err := plainVerify(t, "reseal"); err != nil {
			t.Fatalf("the reseal should fool the unsigned chain, got %v", err)
		}
		err := verify(t, "reseal")
		if faultOf(err) != relman.FaultResealed {
			t.Fatalf("err = %v, want fault %s", err, relman.FaultResealed)
		}
		if he := new(relman.HistoryError); errors.As(err, &he) && he.Seq != 2 {
			t.Errorf("reported entry %d, want 2: %v", he.Seq, err)
		}
	})
	t.Run("TruncateAndMoveHead", func(t *testing.T) {
		h, _ := s.History(ctx, "truncate")
		r, _ := s.Get(ctx, "truncate")
		keep := h[len(h)-3]
		edits.DeleteEntries(t, "truncate", keep.Seq)
		r.Head.Seq, r.Head.Hash = keep.Seq, keep.Hash
		edits.SetRelease(t, r)
		if err := plainVerify(t, "truncate"); err != nil {
			t.Fatalf("moving the head back should fool the unsigned chain, got %v", err)
		}
		if err := verify(t, "truncate"); faultOf(err) != relman.FaultHead {
			t.Fatalf("err = %v, want fault %s", err, relman.FaultHead)
		}
	})
	t.Run("TruncateAndRestoreRow", func(t *testing.T) {
		edits.DeleteEntries(t, "rollback", backupSeq)
		edits.SetRelease(t, backup)
		if err := verify(t, "rollback"); err != nil {
			t.Fatalf("without a checkpoint a restored row and truncated history verify (documented), got %v", err)
		}
		cm := signedManager(t, edits.Open(t), sg)
		err := cm.VerifyCheckpoint(ctx, cp)
		// The other subtests' releases fail too: one *HistoryError each.
		var found *relman.HistoryError
		var all []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			all = j.Unwrap()
		}
		for _, e := range all {
			if he := new(relman.HistoryError); errors.As(e, &he) && he.ReleaseID == "rollback" {
				found = he
			}
		}
		if found == nil || found.Fault != relman.FaultTruncated {
			t.Fatalf("VerifyCheckpoint: err = %v, want fault %s on release rollback", err, relman.FaultTruncated)
		}
	})
	t.Run("ReleaseRowEdited/Stage", func(t *testing.T) {
		r, _ := s.Get(ctx, "stage")
		r.Stage = map[relman.Stage]relman.Stage{"a": "b", "b": "a"}[r.Stage]
		edits.SetRelease(t, r)
		if err := plainVerify(t, "stage"); err != nil {
			t.Fatalf("a row edit is invisible to the unsigned chain, got %v", err)
		}
		if err := verify(t, "stage"); faultOf(err) != relman.FaultDocument {
			t.Fatalf("err = %v, want fault %s", err, relman.FaultDocument)
		}
	})
	t.Run("ReleaseRowEdited/InjectedApproval", func(t *testing.T) {
		r, _ := s.Get(ctx, "approval")
		r.Approvals = append(r.Approvals, relman.Approval{Approver: "mallory", Role: "cab", Decision: relman.DecisionApprove, At: base})
		edits.SetRelease(t, r)
		if err := verify(t, "approval"); faultOf(err) != relman.FaultDocument {
			t.Fatalf("err = %v, want fault %s", err, relman.FaultDocument)
		}
	})
	t.Run("NaiveTamperings", func(t *testing.T) {
		s2 := edits.Open(t)
		r, _ := s2.Get(ctx, "naive")
		h, _ := s2.History(ctx, "naive")
		for name, edit := range NaiveTamperings() {
			err := relman.VerifySigned(r, edit(append([]relman.AuditEntry(nil), h...)), sg.Keyring())
			if faultOf(err) == "" {
				t.Errorf("%s: err = %v, want a *HistoryError", name, err)
			}
		}
	})
}

// NaiveTamperings returns the nine ways to tamper with a history (of at
// least 8 entries) that the unsigned hash chain already detects, by
// name: an entry's reason, actor or details edited, an entry removed,
// inserted twice or swapped with its neighbour, the history truncated,
// an entry moved to another release, and an entry rewritten and resealed
// without resealing the ones after it. Each edits the slice it is given.
func NaiveTamperings() map[string]func(h []relman.AuditEntry) []relman.AuditEntry {
	return map[string]func(h []relman.AuditEntry) []relman.AuditEntry{
		"edited reason":  func(h []relman.AuditEntry) []relman.AuditEntry { h[5].Reason = "x"; return h },
		"edited actor":   func(h []relman.AuditEntry) []relman.AuditEntry { h[2].Actor = "mallory"; return h },
		"edited details": func(h []relman.AuditEntry) []relman.AuditEntry { h[3].Details = map[string]string{"x": "y"}; return h },
		"removed":        func(h []relman.AuditEntry) []relman.AuditEntry { return append(h[:4:4], h[5:]...) },
		"inserted":       func(h []relman.AuditEntry) []relman.AuditEntry { return append(append(h[:4:4], h[3]), h[4:]...) },
		"reordered":      func(h []relman.AuditEntry) []relman.AuditEntry { h[6], h[7] = h[7], h[6]; return h },
		"truncated":      func(h []relman.AuditEntry) []relman.AuditEntry { return h[:len(h)-2] },
		"other release":  func(h []relman.AuditEntry) []relman.AuditEntry { h[1].ReleaseID = "other"; return h },
		"re-sealed edit": func(h []relman.AuditEntry) []relman.AuditEntry {
			fake := &relman.Release{ID: h[0].ReleaseID, Head: relman.AuditHead{Seq: 2, Hash: h[1].Hash}}
			h[2] = fake.Record(relman.AuditEntry{At: h[2].At, Actor: "mallory", Action: h[2].Action})
			return h
		},
	}
}

// SignedAfterUnsigned checks, on s just migrated to the signed schema
// with release id holding an unsigned history on LoopLifecycle, that the
// unsigned history still verifies, and that a signed write on top of it
// verifies too (the first signed entry chains over the unsigned prefix).
func SignedAfterUnsigned(t *testing.T, s relman.Store, id string) {
	t.Helper()
	ctx := context.Background()
	plain, _ := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(t)))
	if err := plain.Verify(ctx, id); err != nil {
		t.Fatalf("unsigned history after the migration: %v", err)
	}
	sg := FixedSigner(t, "k", 9)
	m, _ := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(t)), relman.WithSigner(sg),
		relman.WithClock(func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }))
	if _, err := m.Fire(ctx, id, "go", relman.Request{Actor: relman.Actor{ID: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(ctx, id); err != nil {
		t.Fatalf("signed after an unsigned prefix: %v", err)
	}
}
