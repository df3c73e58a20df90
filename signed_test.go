package relman_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// testKey is a fixed Ed25519 key, so that failures reproduce.
func testKey(t testing.TB, id string, seed byte) *relman.Signer {
	return storetest.FixedSigner(t, id, seed)
}

// wantFault checks that err is a *HistoryError with fault f.
func wantFault(t *testing.T, err error, f relman.HistoryFault) *relman.HistoryError {
	t.Helper()
	var he *relman.HistoryError
	if !errors.As(err, &he) || !errors.Is(err, relman.ErrCorruptHistory) {
		t.Fatalf("err = %v, want *HistoryError with fault %s", err, f)
	}
	if he.Fault != f {
		t.Fatalf("fault = %s, want %s: %v", he.Fault, f, err)
	}
	return he
}

// reseal rewrites the chain from entry i on with recomputed hashes, as an
// attacker who knows the (public) hashing scheme can, keeping the old
// signature fields, and moves r's head to the new last hash.
func reseal(r *relman.Release, h []relman.AuditEntry, i int) {
	fake := &relman.Release{ID: r.ID}
	if i > 0 {
		fake.Head = relman.AuditHead{Seq: h[i-1].Seq, Hash: h[i-1].Hash}
	}
	for j := i; j < len(h); j++ {
		e := h[j]
		s := fake.Record(e)
		s.DocDigest, s.KeyID, s.Sig = e.DocDigest, e.KeyID, e.Sig
		h[j] = s
	}
	r.Head.Seq, r.Head.Hash = fake.Head.Seq, fake.Head.Hash
}

func TestSignedAuditDetectsTampering(t *testing.T) {
	sg := testKey(t, "k1", 1)
	m, c := newManager(t, relman.WithSigner(sg))
	walk(t, m, c, "r")
	ctx := context.Background()
	if err := m.Verify(ctx, "r"); err != nil {
		t.Fatalf("Verify clean: %v", err)
	}
	r, _ := m.Get(ctx, "r")
	h, _ := m.History(ctx, "r")
	for _, e := range h {
		if e.Sig == "" || e.KeyID != "k1" || len(e.DocDigest) != 64 {
			t.Fatalf("entry %d not signed: %+v", e.Seq, e)
		}
	}
	if r.Head.Sig != h[len(h)-1].Sig {
		t.Errorf("head signature differs from the last entry's")
	}
	keys := sg.Keyring()
	verify := func(edit func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry) error {
		rc := r.Clone()
		hc := edit(rc, append([]relman.AuditEntry(nil), h...))
		return relman.VerifySigned(rc, hc, keys)
	}
	if err := verify(func(_ *relman.Release, h []relman.AuditEntry) []relman.AuditEntry { return h }); err != nil {
		t.Fatalf("VerifySigned clean: %v", err)
	}

	t.Run("RewriteAndReseal", func(t *testing.T) {
		var unsignedOK error
		err := verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry {
			h[2].Actor = "mallory"
			reseal(r, h, 2)
			unsignedOK = relman.VerifyHistory(h, &r.Head)
			return h
		})
		if unsignedOK != nil {
			t.Fatalf("the reseal should fool the unsigned chain: %v", unsignedOK)
		}
		if he := wantFault(t, err, relman.FaultResealed); he.Index != 2 {
			t.Errorf("index %d, want 2", he.Index)
		}
	})
	t.Run("TruncateAndMoveHead", func(t *testing.T) {
		err := verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry {
			h = h[:len(h)-2]
			r.Head.Seq, r.Head.Hash = h[len(h)-1].Seq, h[len(h)-1].Hash
			return h
		})
		wantFault(t, err, relman.FaultHead)
	})
	t.Run("ReleaseRowEdited", func(t *testing.T) {
		err := verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry {
			r.Approvals = append(r.Approvals, relman.Approval{Approver: "mallory", Decision: relman.DecisionApprove})
			return h
		})
		wantFault(t, err, relman.FaultDocument)
		err = verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry {
			r.Stage = relman.StageAuthorized
			return h
		})
		wantFault(t, err, relman.FaultDocument)
	})
	t.Run("SignatureRemoved", func(t *testing.T) {
		err := verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry {
			h[4].Sig, h[4].KeyID, h[4].DocDigest = "", "", ""
			return h
		})
		wantFault(t, err, relman.FaultUnsigned)
		err = verify(func(r *relman.Release, h []relman.AuditEntry) []relman.AuditEntry { r.Head.Sig = ""; return h })
		wantFault(t, err, relman.FaultUnsigned)
	})
	t.Run("UnknownKey", func(t *testing.T) {
		err := relman.VerifySigned(r, h, testKey(t, "k2", 2).Keyring())
		wantFault(t, err, relman.FaultUnknownKey)
		other := relman.Keyring{"k1": testKey(t, "k1", 3).Public()}
		wantFault(t, relman.VerifySigned(r, h, other), relman.FaultResealed)
	})
	t.Run("NaiveTamperings", func(t *testing.T) {
		for name, edit := range storetest.NaiveTamperings() {
			err := verify(func(_ *relman.Release, h []relman.AuditEntry) []relman.AuditEntry { return edit(h) })
			if !errors.Is(err, relman.ErrCorruptHistory) {
				t.Errorf("%s: err = %v, want ErrCorruptHistory", name, err)
			}
		}
	})
}

func TestSignedAuditKeyRotationAndUnsignedPrefix(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	c := &clock{now: t0}
	plain, _ := relman.NewManager(s, relman.WithClock(c.Now))
	if _, err := plain.Create(ctx, newRelease("r"), alice); err != nil {
		t.Fatal(err)
	}
	fire(t, plain, "r", relman.EventApprove, relman.Request{})
	k1, k2 := testKey(t, "k1", 1), testKey(t, "k2", 2)
	m1, _ := relman.NewManager(s, relman.WithClock(c.Now), relman.WithSigner(k1))
	wantFault(t, m1.Verify(ctx, "r"), relman.FaultUnsigned) // never signed yet
	fire(t, m1, "r", relman.EventPlan, relman.Request{Window: &relman.Span{Start: t0.Add(24e9 * 3600), End: t0.Add(26e9 * 3600)}})
	if err := m1.Verify(ctx, "r"); err != nil {
		t.Fatalf("unsigned prefix then k1: %v", err)
	}
	m2, _ := relman.NewManager(s, relman.WithClock(c.Now), relman.WithSigner(k2), relman.WithKeyring(k1.Keyring()))
	fire(t, m2, "r", relman.EventStart, relman.Request{})
	if err := m2.Verify(ctx, "r"); err != nil {
		t.Fatalf("k1 then k2 with both keys: %v", err)
	}
	wantFault(t, m1.Verify(ctx, "r"), relman.FaultUnknownKey)
	// A write without the key after signed ones is found.
	fire(t, plain, "r", relman.EventSubmit, relman.Request{})
	wantFault(t, m2.Verify(ctx, "r"), relman.FaultUnsigned)
	if err := plain.Verify(ctx, "r"); err != nil {
		t.Errorf("the unsigned chain still verifies: %v", err)
	}
}

func TestCheckpointDetectsTruncation(t *testing.T) {
	sg := testKey(t, "k1", 1)
	ctx := context.Background()
	s := memory.New()
	c := &clock{now: t0}
	m, _ := relman.NewManager(s, relman.WithClock(c.Now), relman.WithSigner(sg))
	for _, id := range []string{"a", "b", "c"} {
		if _, err := m.Create(ctx, newRelease(id), alice); err != nil {
			t.Fatal(err)
		}
	}
	fire(t, m, "b", relman.EventApprove, relman.Request{})
	old, _ := m.Get(ctx, "b") // the row as a backup holds it
	fire(t, m, "b", relman.EventPlan, relman.Request{Window: &relman.Span{Start: t0.Add(24e9 * 3600), End: t0.Add(26e9 * 3600)}})
	cp, err := m.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Heads) != 3 || cp.Heads[1].ReleaseID != "b" || cp.Heads[1].Seq != 3 {
		t.Fatalf("checkpoint heads %+v", cp.Heads)
	}
	if err := m.VerifyCheckpoint(ctx, cp); err != nil {
		t.Fatalf("VerifyCheckpoint clean: %v", err)
	}
	one, err := m.Checkpoint(ctx, "b")
	if err != nil || len(one.Heads) != 1 {
		t.Fatalf("Checkpoint(b): %+v, %v", one, err)
	}
	// Truncate b and restore its row from before: VerifySigned cannot
	// tell, the checkpoint can.
	h, _ := m.History(ctx, "b")
	if err := relman.VerifySigned(old, h[:2], sg.Keyring()); err != nil {
		t.Fatalf("the rolled-back state verifies alone (documented): %v", err)
	}
	rolled, _ := relman.NewManager(rollbackStore{s, old, h[:2]}, relman.WithKeyring(sg.Keyring()))
	if err := rolled.Verify(ctx, "b"); err != nil {
		t.Fatalf("Verify of the rolled-back state: %v", err)
	}
	he := wantFault(t, rolled.VerifyCheckpoint(ctx, cp), relman.FaultTruncated)
	if he.ReleaseID != "b" {
		t.Errorf("truncation reported on %q", he.ReleaseID)
	}
	bad := &relman.Checkpoint{}
	*bad = *cp
	bad.Heads = append([]relman.CheckpointHead(nil), cp.Heads...)
	bad.Heads[1].Seq = 2
	if err := bad.Verify(sg.Keyring()); !errors.Is(err, relman.ErrCheckpoint) {
		t.Errorf("edited checkpoint: %v, want ErrCheckpoint", err)
	}
	if err := cp.Verify(testKey(t, "k1", 9).Keyring()); !errors.Is(err, relman.ErrCheckpoint) {
		t.Errorf("checkpoint with another key: %v, want ErrCheckpoint", err)
	}
	// Fire on a and the checkpoint still holds (history grows past it).
	fire(t, m, "a", relman.EventApprove, relman.Request{})
	if err := m.VerifyCheckpoint(ctx, cp); err != nil {
		t.Fatalf("VerifyCheckpoint after growth: %v", err)
	}
	plain, _ := relman.NewManager(s)
	if _, err := plain.Checkpoint(ctx); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("Checkpoint without a signer: %v, want ErrInvalid", err)
	}
	if err := plain.VerifyCheckpoint(ctx, cp); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("VerifyCheckpoint without keys: %v, want ErrInvalid", err)
	}
}

func TestNewSignerRefusesBadKeys(t *testing.T) {
	if _, err := relman.NewSigner("k", ed25519.PrivateKey{1, 2}); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("short key: %v", err)
	}
	if _, err := relman.NewManager(memory.New(), relman.WithSigner(&relman.Signer{})); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("zero Signer: %v", err)
	}
	sg := testKey(t, "", 1)
	if sg.KeyID() != relman.KeyID(sg.Public()) || len(sg.KeyID()) != 16 {
		t.Errorf("default key id %q", sg.KeyID())
	}
}

// rollbackStore shows release r.ID as r with history h: the state after a
// truncation that put back an older row.
type rollbackStore struct {
	relman.Store
	r *relman.Release
	h []relman.AuditEntry
}

func (s rollbackStore) Get(ctx context.Context, id string) (*relman.Release, error) {
	if id == s.r.ID {
		return s.r.Clone(), nil
	}
	return s.Store.Get(ctx, id)
}

func (s rollbackStore) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	if id == s.r.ID {
		return append([]relman.AuditEntry(nil), s.h...), nil
	}
	return s.Store.History(ctx, id)
}
