package postgres_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// rawEdits edits the tables in schema with plain SQL, as the database's
// owner could.
func rawEdits(t *testing.T, schema string) storetest.RawEdits {
	pool := testPool(t)
	q := pgx.Identifier{schema}.Sanitize() + "."
	exec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	null := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return storetest.RawEdits{
		Open: func(t *testing.T) relman.Store {
			s, err := postgres.New(context.Background(), pool, postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		SetEntry: func(t *testing.T, e relman.AuditEntry) {
			var details *string
			if e.Details != nil {
				b, _ := json.Marshal(e.Details)
				details = null(string(b))
			}
			exec(t, `UPDATE `+q+`relman_audit SET at = $1, at_nanos = $2, actor = $3, action = $4, event = $5, from_stage = $6, to_stage = $7,
				reason = $8, details = $9::jsonb, prev_hash = $10, hash = $11, doc_digest = $12, key_id = $13, sig = $14 WHERE release_id = $15 AND seq = $16`,
				e.At, int32(e.At.Nanosecond()%1000), e.Actor, string(e.Action), string(e.Event), string(e.From), string(e.To),
				e.Reason, details, e.PrevHash, e.Hash, null(e.DocDigest), null(e.KeyID), null(e.Sig), e.ReleaseID, e.Seq)
		},
		DeleteEntries: func(t *testing.T, id string, after int64) {
			exec(t, "DELETE FROM "+q+"relman_outbox WHERE release_id = $1 AND seq > $2", id, after)
			exec(t, "DELETE FROM "+q+"relman_audit WHERE release_id = $1 AND seq > $2", id, after)
		},
		SetRelease: func(t *testing.T, r *relman.Release) {
			doc, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, "UPDATE "+q+"relman_releases SET doc = $1, stage = $2, updated_at = $3 WHERE id = $4", doc, string(r.Stage), r.UpdatedAt, r.ID)
		},
	}
}

func TestSignedTampering(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	if _, err := postgres.New(context.Background(), pool, postgres.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	storetest.SignedTampering(t, rawEdits(t, schema))
}

// A schema at version 3 takes migration 4 (the signature columns): its
// unsigned entries read back as they were, and a signed Manager's writes
// are kept and verify from then on.
func TestSignedMigration(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	old, err := postgres.NewAt(ctx, pool, postgres.Options{Schema: schema}, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.Minimal("rel-1")
	r.Stage = "a"
	storetest.Put(t, old, r)
	s, err := postgres.New(ctx, pool, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	storetest.SignedAfterUnsigned(t, s, "rel-1")
}
