package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// rawEdits edits the file at path with plain SQL, as its owner could.
func rawEdits(t *testing.T, path string) storetest.RawEdits {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec := func(t *testing.T, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return storetest.RawEdits{
		Open: func(t *testing.T) relman.Store {
			s, err := sqlite.Open(path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		SetEntry: func(t *testing.T, e relman.AuditEntry) {
			var details any
			if e.Details != nil {
				b, _ := json.Marshal(e.Details)
				details = string(b)
			}
			exec(t, `UPDATE audit SET at = ?, actor = ?, action = ?, event = ?, from_stage = ?, to_stage = ?, reason = ?, details = ?,
				prev_hash = ?, hash = ?, doc_digest = ?, key_id = ?, sig = ? WHERE release_id = ? AND seq = ?`,
				e.At.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Actor, string(e.Action), string(e.Event), string(e.From), string(e.To),
				e.Reason, details, e.PrevHash, e.Hash, null(e.DocDigest), null(e.KeyID), null(e.Sig), e.ReleaseID, e.Seq)
		},
		DeleteEntries: func(t *testing.T, id string, after int64) {
			exec(t, "DELETE FROM outbox WHERE release_id = ? AND seq > ?", id, after)
			exec(t, "DELETE FROM audit WHERE release_id = ? AND seq > ?", id, after)
		},
		SetRelease: func(t *testing.T, r *relman.Release) {
			doc, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, "UPDATE releases SET doc = ?, stage = ?, updated_at = ? WHERE id = ?",
				string(doc), string(r.Stage), r.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"), r.ID)
		},
	}
}

func TestSignedTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relman.db")
	storetest.SignedTampering(t, rawEdits(t, path))
}

// A file at schema 3 takes migration 4 (the signature columns): its
// unsigned entries read back as they were, and a signed Manager's writes
// are kept and verify from then on.
func TestSignedMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relman.db")
	old, err := sqlite.OpenAt(path, sqlite.Options{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.Minimal("rel-1")
	r.Stage = "a"
	storetest.Put(t, old, r)
	old.Close()
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.SignedAfterUnsigned(t, s, "rel-1")
}
