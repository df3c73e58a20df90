package relman

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Action says what kind of change an audit entry records.
type Action string

// The actions recorded in the audit trail.
const (
	ActionCreate     Action = "create"     // the release was created
	ActionTransition Action = "transition" // an event moved the release
	ActionEdit       Action = "edit"       // the release's data was changed
	ActionApproval   Action = "approval"   // an approver decided
	ActionVoid       Action = "void"       // approvals were voided
	ActionOverride   Action = "override"   // a gate was overridden
	ActionRisk       Action = "risk"       // the risk register changed
	ActionFeedback   Action = "feedback"   // operation data was recorded
	ActionSchedule   Action = "schedule"   // an event was scheduled, cancelled, deferred, failed or expired
)

// RunnerActor is the actor id of the audit entries the Manager writes on
// its own behalf when something falls due (RunDue): an approval's expiry,
// a scheduled event deferred, failed or expired. A scheduled event that
// fires is recorded under the actor who scheduled it.
const RunnerActor = "relman.runner"

// AuditEntry is one entry of a release's history. Entries are
// hash-chained: Hash covers every other field and PrevHash (but not the
// signature fields), so an edited, dropped, inserted or reordered entry is
// detected by VerifyHistory. A Manager with a signer (WithSigner) also
// fills DocDigest, KeyID and Sig: the signature covers the entry's Hash,
// the digest of the release document as that write saved it, and the key
// id (see VerifySigned).
type AuditEntry struct {
	ReleaseID string            `json:"release_id"`
	Seq       int64             `json:"seq"` // 1, 2, 3 … within the release
	At        time.Time         `json:"at"`
	Actor     string            `json:"actor"`
	Action    Action            `json:"action"`
	Event     Event             `json:"event,omitempty"`
	From      Stage             `json:"from,omitempty"`
	To        Stage             `json:"to,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	PrevHash  string            `json:"prev_hash,omitempty"`
	Hash      string            `json:"hash"`
	DocDigest string            `json:"doc_digest,omitempty"` // signed: DocDigest of the release after the write
	KeyID     string            `json:"key_id,omitempty"`     // signed: the signing key's id
	Sig       string            `json:"sig,omitempty"`        // signed: Ed25519 signature, base64
}

// Record chains e onto r's history: it sets e.ReleaseID, e.Seq, e.PrevHash
// and e.Hash, advances r.Head and returns the sealed entry. The Manager
// calls it for every change it makes; a Store never does. Store tests use
// it to build valid histories.
func (r *Release) Record(e AuditEntry) AuditEntry {
	e.ReleaseID = r.ID
	e.Seq = r.Head.Seq + 1
	e.PrevHash = r.Head.Hash
	e.At = e.At.UTC()
	e.Hash = e.computeHash()
	r.Head = AuditHead{Seq: e.Seq, Hash: e.Hash}
	return e
}

// computeHash returns the hex SHA-256 of a length-prefixed encoding of
// every field but Hash.
func (e *AuditEntry) computeHash() string {
	var stack [512]byte
	b := stack[:0]
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(e.ReleaseID)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixNano()))
	str(e.Actor)
	str(string(e.Action))
	str(string(e.Event))
	str(string(e.From))
	str(string(e.To))
	str(e.Reason)
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Details)))
	switch len(e.Details) {
	case 0:
	case 1:
		for k, v := range e.Details {
			str(k)
			str(v)
		}
	default:
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			str(k)
			str(e.Details[k])
		}
	}
	str(e.PrevHash)
	sum := sha256.Sum256(b)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	return string(hx[:])
}

// VerifyHistory checks a release's history as returned by Store.History:
// sequence numbers 1, 2, 3 … in order, each entry's hash matching its
// content and chained to the previous one, and every entry naming the same
// release. When head is non-nil (a release's Head), the last entry must
// match it, so entries dropped from the end are found too. It returns nil
// or a *HistoryError naming the first bad entry.
func VerifyHistory(entries []AuditEntry, head *AuditHead) error {
	prev := ""
	id := ""
	if len(entries) > 0 {
		id = entries[0].ReleaseID
	}
	for i := range entries {
		e := &entries[i]
		fail := func(f HistoryFault, format string, args ...any) error {
			return &HistoryError{ReleaseID: id, Index: i, Seq: e.Seq, Fault: f, Problem: fmt.Sprintf(format, args...)}
		}
		switch {
		case e.ReleaseID != id:
			return fail(FaultRelease, "belongs to release %q", e.ReleaseID)
		case e.Seq != int64(i+1):
			return fail(FaultSequence, "sequence number %d where %d was expected (entry removed, inserted or reordered)", e.Seq, i+1)
		case e.PrevHash != prev:
			return fail(FaultLink, "previous-hash link broken (entry removed, inserted or reordered)")
		case e.computeHash() != e.Hash:
			return fail(FaultEdited, "content does not match its hash (entry edited)")
		}
		prev = e.Hash
	}
	if head != nil {
		n := int64(len(entries))
		if head.Seq != n || head.Hash != prev {
			return &HistoryError{ReleaseID: id, Index: len(entries), Seq: head.Seq, Fault: FaultHead,
				Problem: fmt.Sprintf("release head is entry %d but history ends at entry %d (entries missing at the end)", head.Seq, n)}
		}
	}
	return nil
}
