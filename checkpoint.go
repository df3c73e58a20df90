package relman

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Checkpoint is a signed statement of the heads of release histories at
// one moment: each release's sequence number and head hash, a Merkle root
// over them, and the signature of the root. A host takes one now and then
// (Manager.Checkpoint) and keeps it where the database's owner cannot
// write (another system, a write-once bucket, a transparency log; the
// root alone is enough to publish if the heads are kept too). Verifying
// against it (Manager.VerifyCheckpoint) detects what a signed trail alone
// cannot: entries deleted from the end of a history together with the
// release row put back as it was before them.
type Checkpoint struct {
	At    time.Time        `json:"at"`
	Heads []CheckpointHead `json:"heads"` // sorted by release id, one each
	Root  string           `json:"root"`  // hex Merkle root over Heads (see MerkleRoot)
	KeyID string           `json:"key_id"`
	Sig   string           `json:"sig"` // Ed25519 signature of At, Root and KeyID, base64
}

// CheckpointHead is one release's head in a Checkpoint.
type CheckpointHead struct {
	ReleaseID string `json:"release_id"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
}

// MerkleRoot returns the hex root of a binary Merkle tree over heads, in
// the order given: a leaf is SHA-256(0x00, release id, seq, hash), each
// length-prefixed; a node is SHA-256(0x01, left, right); a lone node at
// the end of a level moves up as it is. No heads give SHA-256 of nothing.
func MerkleRoot(heads []CheckpointHead) string {
	if len(heads) == 0 {
		sum := sha256.Sum256(nil)
		return hex.EncodeToString(sum[:])
	}
	level := make([][sha256.Size]byte, len(heads))
	for i, h := range heads {
		b := append([]byte{0}, appendStr(nil, h.ReleaseID)...)
		b = binary.BigEndian.AppendUint64(b, uint64(h.Seq))
		level[i] = sha256.Sum256(appendStr(b, h.Hash))
	}
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			b := make([]byte, 0, 1+2*sha256.Size)
			b = append(append(append(b, 1), level[i][:]...), level[i+1][:]...)
			next = append(next, sha256.Sum256(b))
		}
		level = next
	}
	return hex.EncodeToString(level[0][:])
}

func checkpointMessage(at time.Time, root, keyID string) []byte {
	b := append([]byte(nil), "relman checkpoint v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = appendStr(b, root)
	return appendStr(b, keyID)
}

// Checkpoint returns a signed checkpoint of the heads of the releases
// ids, or of every release when there are none (read with Scan if the
// store is a Scanner, else page by page with List and a cursor). The Manager must have
// a signer (WithSigner); otherwise the error matches ErrInvalid. A
// release that does not exist is an error matching ErrNotFound.
func (m *Manager) Checkpoint(ctx context.Context, ids ...string) (*Checkpoint, error) {
	if m.signer == nil {
		return nil, fmt.Errorf("relman: checkpoint: %w", invalid("signer", "required"))
	}
	var heads []CheckpointHead
	add := func(r *Release) error {
		heads = append(heads, CheckpointHead{ReleaseID: r.ID, Seq: r.Head.Seq, Hash: r.Head.Hash})
		return nil
	}
	if len(ids) > 0 {
		for _, id := range ids {
			r, err := m.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			add(r)
		}
	} else if err := scanAll(ctx, m.store, Query{}, add); err != nil {
		return nil, err
	}
	slices.SortFunc(heads, func(a, b CheckpointHead) int { return strings.Compare(a.ReleaseID, b.ReleaseID) })
	heads = slices.CompactFunc(heads, func(a, b CheckpointHead) bool { return a.ReleaseID == b.ReleaseID })
	cp := &Checkpoint{At: m.Now(), Heads: heads, Root: MerkleRoot(heads), KeyID: m.signer.keyID}
	cp.Sig = m.signer.sign(checkpointMessage(cp.At, cp.Root, cp.KeyID))
	return cp, nil
}

// ErrCheckpoint: a checkpoint does not verify (its signature, its root or
// its heads are not what was signed). *CheckpointError matches it.
var ErrCheckpoint = errors.New("relman: checkpoint does not verify")

// CheckpointError reports a checkpoint that is not what its key signed.
// It matches ErrCheckpoint.
type CheckpointError struct {
	Problem string
}

// Error describes the failure in one line.
func (e *CheckpointError) Error() string { return "relman: checkpoint: " + e.Problem }

// Is reports whether target is ErrCheckpoint.
func (e *CheckpointError) Is(target error) bool { return target == ErrCheckpoint }

// Verify checks the checkpoint itself: its heads sorted and distinct,
// their Merkle root, and its signature with a key of keys. It returns nil
// or a *CheckpointError.
func (cp *Checkpoint) Verify(keys Keyring) error {
	if cp == nil {
		return &CheckpointError{Problem: "missing"}
	}
	for i := 1; i < len(cp.Heads); i++ {
		if cp.Heads[i-1].ReleaseID >= cp.Heads[i].ReleaseID {
			return &CheckpointError{Problem: "heads are not sorted by release id, one each"}
		}
	}
	if MerkleRoot(cp.Heads) != cp.Root {
		return &CheckpointError{Problem: "heads do not match the root (heads edited)"}
	}
	known, ok := keys.verifySig(cp.KeyID, cp.Sig, checkpointMessage(cp.At, cp.Root, cp.KeyID))
	switch {
	case !known:
		return &CheckpointError{Problem: fmt.Sprintf("signed by key %q, which is not in the keyring", cp.KeyID)}
	case !ok:
		return &CheckpointError{Problem: "signature does not verify"}
	}
	return nil
}

// head returns the checkpoint's head of release id.
func (cp *Checkpoint) head(id string) (CheckpointHead, bool) {
	i, ok := slices.BinarySearchFunc(cp.Heads, id, func(h CheckpointHead, id string) int { return strings.Compare(h.ReleaseID, id) })
	if !ok {
		return CheckpointHead{}, false
	}
	return cp.Heads[i], true
}

// checkAgainst checks that entries (a verified history) still hold the
// checkpoint's head h: at least h.Seq entries, entry h.Seq with hash
// h.Hash.
func checkAgainst(h CheckpointHead, entries []AuditEntry) error {
	n := int64(len(entries))
	switch {
	case n < h.Seq:
		return &HistoryError{ReleaseID: h.ReleaseID, Index: len(entries), Seq: h.Seq, Fault: FaultTruncated,
			Problem: fmt.Sprintf("history has %d entries but the checkpoint recorded %d (entries deleted and head moved back)", n, h.Seq)}
	case h.Seq > 0 && entries[h.Seq-1].Hash != h.Hash:
		return &HistoryError{ReleaseID: h.ReleaseID, Index: int(h.Seq - 1), Seq: h.Seq, Fault: FaultForked,
			Problem: "entry differs from the checkpoint's head (history rewritten up to the checkpoint)"}
	}
	return nil
}

// VerifyCheckpoint checks the store against cp: cp itself (Verify, with
// the Manager's keys), then, for every release cp names, its history
// (VerifySigned) and that the history still holds cp's head for it, so
// that entries deleted from the end (FaultTruncated) or rewritten before
// it (FaultForked) are found even when the release row was put back as it
// was. A release cp names that no longer exists is FaultTruncated too.
// It returns nil, a *CheckpointError, or the *HistoryError of every
// release that fails, joined (errors.Join). The Manager must have a
// signer or a keyring, or the error matches ErrInvalid.
func (m *Manager) VerifyCheckpoint(ctx context.Context, cp *Checkpoint) error {
	keys := m.keyring()
	if len(keys) == 0 {
		return fmt.Errorf("relman: verify checkpoint: %w", invalid("keyring", "required"))
	}
	if err := cp.Verify(keys); err != nil {
		return err
	}
	var errs []error
	for _, h := range cp.Heads {
		r, err := m.store.Get(ctx, h.ReleaseID)
		var entries []AuditEntry
		if err == nil {
			entries, err = m.store.History(ctx, h.ReleaseID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			err = &HistoryError{ReleaseID: h.ReleaseID, Seq: h.Seq, Fault: FaultTruncated, Problem: "release missing (deleted)"}
		case err == nil:
			if err = VerifySigned(r, entries, keys); err == nil {
				err = checkAgainst(h, entries)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptHistory) {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
