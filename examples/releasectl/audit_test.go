package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
)

// rowEditStore shows release ids with another stage, as a release row
// edited behind the library's back would.
type rowEditStore struct{ relman.Store }

func (s rowEditStore) Get(ctx context.Context, id string) (*relman.Release, error) {
	r, err := s.Store.Get(ctx, id)
	if r != nil {
		r.Stage = relman.StageApproved
	}
	return r, err
}

func TestAuditSignedBundle(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.key")
	h := newHarness(t)
	out := h.ok("audit", "keygen", key, "--id", "ops-2026")
	contains(t, "keygen", out, "key ops-2026", key+".pub")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v", fi, err)
	}
	h.fails(2, "audit keygen", "audit", "keygen", key) // never overwrites a key
	h.env[envSigningKey] = key
	h.ok("create", "--id", "x-1", "--title", "X", "--version", "1.0.0")
	h.ok("fire", "x-1", "cancel", "--reason", "no longer needed")
	contains(t, "history --verify", h.ok("history", "x-1", "--verify"), "verified: 2 entries")
	cp := filepath.Join(dir, "cp.json")
	if err := os.WriteFile(cp, []byte(h.ok("audit", "checkpoint")), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := h.ok("audit", "export", "x-1", "--checkpoint", cp)
	bf := filepath.Join(dir, "bundle.json")
	if err := os.WriteFile(bf, []byte(bundle), 0o644); err != nil {
		t.Fatal(err)
	}
	// Verifying needs no store and no private key.
	delete(h.env, envSigningKey)
	out = h.ok("audit", "verify", bf, "--pubkey", key+".pub")
	contains(t, "verify", out, "verified: release x-1 (cancelled), 2 entries (0 unsigned", "signed by ops-2026", "holds its checkpoint")
	contains(t, "verify -o json", h.ok("audit", "verify", bf, "--pubkey", key+".pub", "-o", "json"), `"key_ids": [`, `"checkpoint": true`)

	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, []byte(strings.Replace(bundle, `"reason": "no longer needed"`, `"reason": "approved by the board"`, 1)), 0o644)
	h.fails(1, "TAMPERED", "audit", "verify", tampered, "--pubkey", key+".pub")
	os.WriteFile(tampered, []byte(strings.Replace(bundle, `"stage": "cancelled"`, `"stage": "approved"`, 1)), 0o644)
	h.fails(1, "release row edited", "audit", "verify", tampered, "--pubkey", key+".pub")
	os.WriteFile(tampered, []byte("{not json"), 0o644)
	h.fails(2, "audit verify", "audit", "verify", tampered, "--pubkey", key+".pub")
	h.fails(2, "--pubkey", "audit", "verify", bf)
	h.fails(2, "audit verify", "audit", "verify", bf, "--pubkey", bf)

	// Another key does not verify it.
	other := filepath.Join(dir, "other.key")
	h.ok("audit", "keygen", other, "--id", "ops-2026")
	h.fails(1, "TAMPERED", "audit", "verify", bf, "--pubkey", other+".pub")

	// A row edit is found by history --verify with the key.
	h.env[envSigningKey] = key
	h.store = rowEditStore{h.store}
	h.fails(1, "release row edited", "history", "x-1", "--verify")
	h.env[envSigningKey] = filepath.Join(dir, "missing.key")
	h.fails(2, envSigningKey, "show", "x-1")
}

func TestAuditCheckpointNeedsKey(t *testing.T) {
	h := newHarness(t)
	h.fails(2, envSigningKey, "audit", "checkpoint")
	h.fails(2, "audit: want", "audit")
}
