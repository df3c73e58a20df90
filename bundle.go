package relman

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// BundleFormat names the format of an audit bundle (see ExportBundle).
const BundleFormat = "relman-audit-bundle/1"

// MaxBundleSize is the largest audit bundle VerifyBundle reads: 64 MiB.
const MaxBundleSize = 64 << 20

// Bundle is a release's history exported to be verified offline, with
// the public keys only (see ExportBundle and VerifyBundle).
type Bundle struct {
	Format     string       `json:"format"`
	Release    *Release     `json:"release"`
	Entries    []AuditEntry `json:"entries"`
	KeyIDs     []string     `json:"key_ids"`              // the ids of the keys that signed, sorted
	Checkpoint *Checkpoint  `json:"checkpoint,omitempty"` // optional: a checkpoint the history must still hold
}

// BundleReport is what VerifyBundle found in a bundle that verifies.
type BundleReport struct {
	ReleaseID  string    `json:"release_id"`
	Stage      Stage     `json:"stage"`
	Entries    int       `json:"entries"`
	Unsigned   int       `json:"unsigned"` // entries written before signing was configured
	Head       AuditHead `json:"head"`
	KeyIDs     []string  `json:"key_ids"`
	Checkpoint bool      `json:"checkpoint"` // a checkpoint was included and the history holds its head
}

// ExportBundle writes release r and its history entries (as
// Store.History returns them), and optionally a checkpoint cp, as one
// JSON audit bundle to w. It does not verify them: VerifyBundle does,
// anywhere, with the public keys alone.
func ExportBundle(w io.Writer, r *Release, entries []AuditEntry, cp *Checkpoint) error {
	if r == nil {
		return invalid("release", "required")
	}
	b := Bundle{Format: BundleFormat, Release: r, Entries: entries, Checkpoint: cp}
	if b.Entries == nil {
		b.Entries = []AuditEntry{}
	}
	ids := []string{}
	for _, e := range entries {
		if e.KeyID != "" {
			ids = append(ids, e.KeyID)
		}
	}
	if r.Head.KeyID != "" {
		ids = append(ids, r.Head.KeyID)
	}
	slices.Sort(ids)
	b.KeyIDs = slices.Compact(ids)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&b)
}

// VerifyBundle reads an audit bundle (ExportBundle) from rd and verifies
// it with keys: the history as VerifySigned checks it against the
// release, and, if the bundle holds a checkpoint, the checkpoint's
// signature and that the history still holds the checkpoint's head of
// the release. The bundle is decoded strictly (no unknown fields, one
// JSON value, at most MaxBundleSize bytes).
//
// It returns a report and nil when the bundle verifies. Otherwise it
// returns an error matching ErrInvalid for a bundle it cannot read
// (malformed, too large, wrong format), or one matching ErrCorruptHistory
// (a *HistoryError naming the fault) or ErrCheckpoint (a
// *CheckpointError) for a bundle that was tampered with.
func VerifyBundle(rd io.Reader, keys Keyring) (*BundleReport, error) {
	data, err := io.ReadAll(io.LimitReader(rd, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("relman: read bundle: %w", err)
	}
	if len(data) > MaxBundleSize {
		return nil, badBundle("larger than %d bytes", MaxBundleSize)
	}
	var b Bundle
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&b); err != nil {
		return nil, badBundle("%v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, badBundle("data after the bundle")
	}
	switch {
	case b.Format != BundleFormat:
		return nil, badBundle("format %q, want %q", b.Format, BundleFormat)
	case b.Release == nil:
		return nil, badBundle("no release")
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("relman: verify bundle: %w", invalid("keyring", "required"))
	}
	r := b.Release
	if err := VerifySigned(r, b.Entries, keys); err != nil {
		return nil, err
	}
	rep := &BundleReport{ReleaseID: r.ID, Stage: r.Stage, Entries: len(b.Entries), Head: r.Head, KeyIDs: []string{}}
	for _, e := range b.Entries {
		if e.Sig == "" {
			rep.Unsigned++
		} else if !slices.Contains(rep.KeyIDs, e.KeyID) {
			rep.KeyIDs = append(rep.KeyIDs, e.KeyID)
		}
	}
	if !slices.Contains(rep.KeyIDs, r.Head.KeyID) {
		rep.KeyIDs = append(rep.KeyIDs, r.Head.KeyID)
	}
	slices.Sort(rep.KeyIDs)
	if cp := b.Checkpoint; cp != nil {
		if err := cp.Verify(keys); err != nil {
			return nil, err
		}
		h, ok := cp.head(r.ID)
		if !ok {
			return nil, &CheckpointError{Problem: fmt.Sprintf("does not name release %q", r.ID)}
		}
		if err := checkAgainst(h, b.Entries); err != nil {
			return nil, err
		}
		rep.Checkpoint = true
	}
	return rep, nil
}

func badBundle(format string, args ...any) error {
	return fmt.Errorf("relman: audit bundle: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
