package relman

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Signer signs the audit trail a Manager writes (see WithSigner): every
// entry, and the head of every release it writes, with an Ed25519 key
// known by an id. Auditors verify with the public key alone (Keyring).
type Signer struct {
	keyID string
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
}

// NewSigner returns a Signer for the Ed25519 private key priv, whose
// signatures name keyID. An empty keyID means KeyID of the public key.
// It returns a *ValidationError for a key of the wrong size or a key id
// longer than 128 bytes.
func NewSigner(keyID string, priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, invalidParam("private_key", "len", fmt.Sprint(ed25519.PrivateKeySize))
	}
	pub := priv.Public().(ed25519.PublicKey)
	if keyID == "" {
		keyID = KeyID(pub)
	}
	if len(keyID) > maxKeyID {
		return nil, invalidParam("key_id", "max", fmt.Sprint(maxKeyID))
	}
	return &Signer{keyID: keyID, priv: slices.Clone(priv), pub: pub}, nil
}

const maxKeyID = 128

// valid reports whether s was made by NewSigner.
func (s *Signer) valid() bool {
	return len(s.priv) == ed25519.PrivateKeySize && len(s.pub) == ed25519.PublicKeySize && s.keyID != ""
}

// KeyID returns the id of the signer's key.
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return slices.Clone(s.pub) }

// Keyring returns a Keyring holding the signer's public key under its id.
func (s *Signer) Keyring() Keyring { return Keyring{s.keyID: s.Public()} }

// KeyID returns the default id of an Ed25519 public key: the first 16 hex
// digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Keyring holds the public keys that verify a signed audit trail, by key
// id. Several ids make key rotation work: entries keep the id of the key
// that signed them, so an old key stays in the keyring after a new one
// signs.
type Keyring map[string]ed25519.PublicKey

// WithSigner makes the Manager sign its audit trail with s (default: no
// signing; the trail is then only hash-chained). See the package
// documentation, "Audit", for what signing detects. The Manager's Verify
// then also checks signatures, with s's public key and those of
// WithKeyring.
func WithSigner(s *Signer) Option { return func(m *Manager) { m.signer = s } }

// WithKeyring gives the Manager the public keys its Verify and
// VerifyCheckpoint check signatures with. A Manager with a keyring, or a
// signer, verifies signed histories only: an unsigned release does not
// verify.
func WithKeyring(k Keyring) Option {
	return func(m *Manager) {
		if m.keys == nil {
			m.keys = Keyring{}
		}
		for id, pub := range k {
			m.keys[id] = pub
		}
	}
}

// Keyring returns the public keys the Manager verifies with: its signer's
// and those of WithKeyring; nil if it has none.
func (m *Manager) Keyring() Keyring { return maps.Clone(m.keyring()) }

// keyring returns the keys Verify checks with: the keyring's and the
// signer's, or nil if there are none.
func (m *Manager) keyring() Keyring {
	if m.signer == nil {
		return m.keys
	}
	k := Keyring{m.signer.keyID: m.signer.pub}
	for id, pub := range m.keys {
		if id != m.signer.keyID {
			k[id] = pub
		}
	}
	return k
}

// create and update are the Manager's only writes: they seal what they
// write (see seal) and save it, establishing the outcome of a write the
// store cannot vouch for (see storeUpdate).
func (m *Manager) create(ctx context.Context, r *Release, entries ...AuditEntry) error {
	if err := m.seal(r, entries); err != nil {
		return err
	}
	return m.storeCreate(ctx, r, entries...)
}

func (m *Manager) update(ctx context.Context, r *Release, entries ...AuditEntry) error {
	return m.write(ctx, r, false, entries)
}

// write is update; with give, on a Sharer, the store may keep r itself,
// which must not change afterwards (Fire hands over a new version it
// made for the store).
func (m *Manager) write(ctx context.Context, r *Release, give bool, entries []AuditEntry) error {
	fstore, records := m.store.(FeedbackStore)
	var moved []Feedback
	if records && len(r.Feedback) > 0 {
		// Feedback goes into records, the document keeps the summary
		// (numbering the pieces: on a copy, r's list may be shared).
		r.Feedback = slices.Clone(r.Feedback)
		summarizeFeedback(r)
		moved, r.Feedback = r.Feedback, nil
	}
	if err := m.seal(r, entries); err != nil {
		r.Feedback = moved
		return err
	}
	if sh, ok := m.store.(Sharer); ok && give && moved == nil {
		return m.storeWrite(ctx, r, entries, func() error { return sh.UpdateShared(ctx, r, entries...) })
	}
	if moved == nil {
		return m.storeUpdate(ctx, r, entries...)
	}
	err := m.storeWrite(ctx, r, entries, func() error { return fstore.UpdateFeedback(ctx, r, moved, entries...) })
	if err != nil {
		r.Feedback = moved
	}
	return err
}

// seal signs what one write saves, when the Manager has a signer: each
// entry gets the digest of r as saved, the key id and a signature, and
// r's head the same for its last entry (one signature serves both when
// the write has entries). Without a signer, it removes a head signature
// left from a signed write, since it no longer holds.
func (m *Manager) seal(r *Release, entries []AuditEntry) error {
	if m.signer == nil {
		if r.Head.Sig != "" {
			r.Head = AuditHead{Seq: r.Head.Seq, Hash: r.Head.Hash}
		}
		return nil
	}
	d, err := DocDigest(r)
	if err != nil {
		return fmt.Errorf("relman: sign %q: %w", r.ID, err)
	}
	k := m.signer.keyID
	for i := range entries {
		e := &entries[i]
		e.DocDigest, e.KeyID = d, k
		e.Sig = m.signer.sign(entryMessage(e.ReleaseID, e.Seq, e.Hash, d, k))
	}
	r.Head.DocDigest, r.Head.KeyID = d, k
	if n := len(entries); n > 0 && entries[n-1].Seq == r.Head.Seq && entries[n-1].Hash == r.Head.Hash {
		r.Head.Sig = entries[n-1].Sig
	} else {
		r.Head.Sig = m.signer.sign(entryMessage(r.ID, r.Head.Seq, r.Head.Hash, d, k))
	}
	return nil
}

func (s *Signer) sign(msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, msg))
}

// DocDigest returns the digest a signed audit trail binds a release's
// document with: the hex SHA-256 of the release's JSON encoding
// (encoding/json's Encoder, so with a final newline) with Revision and
// Head left zero (the store sets the one, the chain and its
// signature cover the other). Every Store returns a release exactly as
// it was saved (the conformance suite checks it), so the digest of what
// Store.Get returns matches the one signed when it was written, unless
// the stored document was changed.
func DocDigest(r *Release) (string, error) {
	c := *r
	c.Revision = 0
	c.Head = AuditHead{}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(&c); err != nil {
		return "", err
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])), nil
}

// entryMessage is what an entry's (or a head's) signature signs.
func entryMessage(releaseID string, seq int64, hash, digest, keyID string) []byte {
	b := make([]byte, 0, 64+len(releaseID)+len(hash)+len(digest)+len(keyID))
	b = append(b, "relman audit entry v1\x00"...)
	b = appendStr(b, releaseID)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = appendStr(b, hash)
	b = appendStr(b, digest)
	return appendStr(b, keyID)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// verifySig reports whether sig (base64) is keys[keyID]'s signature of
// msg; known is false when keys has no such id.
func (k Keyring) verifySig(keyID, sig string, msg []byte) (known, ok bool) {
	pub, known := k[keyID]
	if !known || len(pub) != ed25519.PublicKeySize {
		return false, false
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return true, false
	}
	return true, ed25519.Verify(pub, msg, raw)
}

// VerifySigned checks a signed audit trail: what VerifyHistory checks
// (with r's head), and then that every entry from the first signed one
// on carries a signature that verifies with a key of keys, that r's head
// is signed, and that r's document matches the digest its head signs.
// Entries before the first signed one were written before signing was
// configured; their hashes chain into the signed ones, so editing them is
// found too. It returns nil or a *HistoryError whose Fault names what was
// found: FaultResealed (an entry's signature does not verify: the entry
// was rewritten and resealed), FaultHead (the head's signature does not
// verify: entries deleted from the end and the head moved back),
// FaultUnsigned (a signature was removed, or
// a write was made without the key), FaultUnknownKey, or FaultDocument
// (the release row was edited).
//
// Truncation together with a release row restored to an earlier signed
// state (entries deleted from the end and the head moved back) is
// detected only against a Checkpoint taken since (VerifyCheckpoint).
func VerifySigned(r *Release, entries []AuditEntry, keys Keyring) error {
	if r == nil {
		return invalid("release", "required")
	}
	fail := func(i int, seq int64, f HistoryFault, format string, args ...any) error {
		return &HistoryError{ReleaseID: r.ID, Index: i, Seq: seq, Fault: f, Problem: fmt.Sprintf(format, args...)}
	}
	if len(entries) > 0 && entries[0].ReleaseID != r.ID {
		return fail(0, entries[0].Seq, FaultRelease, "belongs to release %q", entries[0].ReleaseID)
	}
	if err := VerifyHistory(entries, &r.Head); err != nil {
		return err
	}
	signed := false
	for i := range entries {
		e := &entries[i]
		if e.Sig == "" && e.KeyID == "" && e.DocDigest == "" {
			if signed {
				return fail(i, e.Seq, FaultUnsigned, "not signed, after signed entries (signature removed or written without the key)")
			}
			continue
		}
		signed = true
		known, ok := keys.verifySig(e.KeyID, e.Sig, entryMessage(e.ReleaseID, e.Seq, e.Hash, e.DocDigest, e.KeyID))
		switch {
		case !known:
			return fail(i, e.Seq, FaultUnknownKey, "signed by key %q, which is not in the keyring", e.KeyID)
		case !ok:
			return fail(i, e.Seq, FaultResealed, "signature does not verify (entry rewritten and resealed)")
		}
	}
	h := r.Head
	n := len(entries)
	if h.Sig == "" {
		return fail(n, h.Seq, FaultUnsigned, "release head is not signed (signature removed or written without the key)")
	}
	known, ok := keys.verifySig(h.KeyID, h.Sig, entryMessage(r.ID, h.Seq, h.Hash, h.DocDigest, h.KeyID))
	switch {
	case !known:
		return fail(n, h.Seq, FaultUnknownKey, "release head signed by key %q, which is not in the keyring", h.KeyID)
	case !ok:
		return fail(n, h.Seq, FaultHead, "release head's signature does not verify (head moved back after entries were deleted, or rewritten)")
	}
	d, err := DocDigest(r)
	if err != nil {
		return fail(n, h.Seq, FaultDocument, "release document cannot be encoded: %v", err)
	}
	if d != h.DocDigest {
		return fail(n, h.Seq, FaultDocument, "release document does not match its signed head (release row edited)")
	}
	return nil
}
