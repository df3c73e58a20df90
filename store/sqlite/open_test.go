package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// rawExec runs statements on a file through the plain driver, as another
// program would.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func rawInt(t *testing.T, path, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seeded makes a closed relman database holding n releases.
func seeded(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relman.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := storetest.Full(string(rune('a'+i%26)) + "-" + string(rune('a'+i/26)))
		r.RollbackPlan = string(bytes.Repeat([]byte("x"), 2000)) // fill pages
		storetest.Put(t, s, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open new file: %v", err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	create(t, s, "r1")
	s.Close()

	if v := rawInt(t, path, "PRAGMA user_version"); v != sqlite.SchemaVersion {
		t.Errorf("user_version = %d, want %d", v, sqlite.SchemaVersion)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM schema_migrations"); n != sqlite.SchemaVersion {
		t.Errorf("schema_migrations has %d rows, want %d", n, sqlite.SchemaVersion)
	}
	if v := rawInt(t, path, "PRAGMA application_id"); v != 0x726c6d6e {
		t.Errorf("application_id = %#x", v)
	}
	db, _ := sql.Open("sqlite", path)
	var mode string
	db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	db.Close()
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}

	// Reopening applies nothing again and keeps the data.
	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(context.Background(), "r1"); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM schema_migrations"); n != sqlite.SchemaVersion {
		t.Errorf("after reopen schema_migrations has %d rows", n)
	}
}

func create(t *testing.T, s relman.Store, id string) *relman.Release {
	t.Helper()
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Create(context.Background(), storetest.Minimal(id), relman.Actor{ID: "t"})
	if err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return r
}

// TestOpenRefuses checks that files Open must not touch are refused with
// the right typed error and left byte for byte as they were.
func TestOpenRefuses(t *testing.T) {
	cases := []struct {
		name   string
		make   func(t *testing.T) string
		kind   error
		detail string
	}{
		{"random bytes", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.db")
			b := make([]byte, 8192)
			rand.Read(b)
			os.WriteFile(p, b, 0o600)
			return p
		}, sqlite.ErrForeign, "not a SQLite file"},
		{"text file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.txt")
			os.WriteFile(p, []byte("hello, this is not a database\n"), 0o600)
			return p
		}, sqlite.ErrForeign, "not a SQLite file"},
		{"truncated header", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.db")
			os.WriteFile(p, []byte("SQLite format 3\x00\x10\x00"), 0o600)
			return p
		}, sqlite.ErrCorrupt, "truncated"},
		{"another program's database", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "other.db")
			rawExec(t, p, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO customers (name) VALUES ('ann')")
			return p
		}, sqlite.ErrForeign, "another program"},
		{"another program's application_id", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "other.db")
			rawExec(t, p, "PRAGMA application_id = 1234", "CREATE TABLE t (x)")
			return p
		}, sqlite.ErrForeign, "another program"},
		{"newer schema", func(t *testing.T) string {
			p := seeded(t, 1)
			rawExec(t, p, "PRAGMA user_version = 99")
			return p
		}, sqlite.ErrNewerSchema, "version 99"},
		{"next schema version", func(t *testing.T) string {
			p := seeded(t, 1)
			rawExec(t, p, fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion+1))
			return p
		}, sqlite.ErrNewerSchema, fmt.Sprintf("version %d, this program knows up to %d", sqlite.SchemaVersion+1, sqlite.SchemaVersion)},
		{"damaged pages", func(t *testing.T) string {
			p := seeded(t, 40)
			b := readFile(t, p)
			if len(b) < 16*4096 {
				t.Fatalf("seeded file too small: %d bytes", len(b))
			}
			for i := 4096 * 2; i < len(b)-4096; i += 97 { // every page but the first
				b[i] ^= 0x5a
			}
			os.WriteFile(p, b, 0o600)
			return p
		}, sqlite.ErrCorrupt, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.make(t)
			before := readFile(t, path)
			s, err := sqlite.Open(path, sqlite.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %v", c.kind)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("Open: err = %v, want %v", err, c.kind)
			}
			var oe *sqlite.OpenError
			if !errors.As(err, &oe) {
				t.Errorf("Open: err %T is not an *OpenError", err)
			} else if oe.Path != path {
				t.Errorf("OpenError.Path = %q, want %q", oe.Path, path)
			} else if c.kind == sqlite.ErrNewerSchema && (oe.Found <= sqlite.SchemaVersion || oe.Supported != sqlite.SchemaVersion) {
				t.Errorf("OpenError found version %d, supports %d; want more than %d and %[3]d", oe.Found, oe.Supported, sqlite.SchemaVersion)
			}
			if c.detail != "" && !bytes.Contains([]byte(err.Error()), []byte(c.detail)) {
				t.Errorf("Open: message %q does not say %q", err, c.detail)
			}
			if !bytes.Equal(before, readFile(t, path)) {
				t.Errorf("Open changed the refused file")
			}
			for _, suffix := range []string{"-wal", "-journal"} {
				if fi, err := os.Stat(path + suffix); err == nil && fi.Size() > 0 {
					t.Errorf("Open left a non-empty %s file", suffix)
				}
			}
		})
	}
}

func TestNewerSchemaFields(t *testing.T) {
	path := seeded(t, 0)
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	create(t, s, "r1")
	// A newer relman wrote a field this version does not know.
	rawExec(t, path, `UPDATE releases SET doc = json_set(doc, '$.from_the_future', 1), revision = revision + 1 WHERE id = 'r1'`)
	_, err = s.Get(context.Background(), "r1")
	if !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Fatalf("Get: err = %v, want ErrNewerSchema", err)
	}
	if _, err := s.List(context.Background(), relman.Query{}); !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Errorf("List: err = %v, want ErrNewerSchema", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := sqlite.Open(p, sqlite.Options{}); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want ErrInvalid", p, err)
		}
	}
	if _, err := sqlite.Open(filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), sqlite.Options{}); err == nil {
		t.Errorf("Open in a missing directory succeeded")
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "rel man.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	create(t, s, "r1")
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %q: %v", path, err)
	}
}

func TestClosed(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "x.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Get(context.Background(), "r1"); err == nil {
		t.Errorf("Get after Close succeeded")
	}
}

// TestMigrate opens files written at older schema versions (1: releases
// and audit trail; 2: and windows) that hold releases: Open upgrades them
// in place and keeps every release and its history, and the upgraded file
// has the due index and the outbox of version 3.
func TestMigrate(t *testing.T) {
	for v := 1; v < sqlite.SchemaVersion; v++ {
		t.Run(fmt.Sprintf("FromV%d", v), func(t *testing.T) { testMigrateFrom(t, v) })
	}
}

func testMigrateFrom(t *testing.T, v int) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", v))
	old, err := sqlite.OpenAt(path, sqlite.Options{}, v)
	if err != nil {
		t.Fatalf("OpenAt version %d: %v", v, err)
	}
	table := func(name string) bool {
		return rawInt(t, path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '"+name+"'") == 1
	}
	var s *sqlite.Store
	storetest.Upgrade(t, old, func(t *testing.T) relman.Store {
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		if got := rawInt(t, path, "PRAGMA user_version"); got != int64(v) {
			t.Fatalf("the version %d file has user_version %d", v, got)
		}
		if table("windows") != (v >= 2) || table("outbox") != (v >= 3) || table("due_leases") != (v >= 3) {
			t.Fatalf("the version %d file has tables windows %v, outbox %v, due_leases %v", v, table("windows"), table("outbox"), table("due_leases"))
		}
		s, err = sqlite.Open(path, sqlite.Options{Outbox: true})
		if err != nil {
			t.Fatalf("Open the version %d file: %v", v, err)
		}
		if got := rawInt(t, path, "PRAGMA user_version"); got != sqlite.SchemaVersion {
			t.Errorf("after Open user_version = %d, want %d", got, sqlite.SchemaVersion)
		}
		if n := rawInt(t, path, "SELECT count(*) FROM schema_migrations"); n != sqlite.SchemaVersion {
			t.Errorf("after Open schema_migrations has %d rows, want %d", n, sqlite.SchemaVersion)
		}
		if !table("windows") || !table("outbox") || !table("due_leases") {
			t.Errorf("after Open the tables windows %v, outbox %v, due_leases %v", table("windows"), table("outbox"), table("due_leases"))
		}
		if n := rawInt(t, path, "SELECT count(*) FROM releases WHERE due_at IS NOT NULL"); n != 0 && v < 3 {
			t.Errorf("%d migrated releases have a due time, want none", n)
		}
		return s
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing again.
	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := rawInt(t, path, "SELECT count(*) FROM schema_migrations"); n != sqlite.SchemaVersion {
		t.Errorf("after reopen schema_migrations has %d rows", n)
	}
	if list, err := s.ListWindows(ctx); err != nil || len(list) != 1 {
		t.Errorf("ListWindows after reopen: %d windows, %v", len(list), err)
	}
	if r, err := s.Get(ctx, "r2"); err != nil || r.Stage != relman.StageApproved {
		t.Errorf("Get r2 after reopen: %v, %v", r, err)
	}
}

// TestOpenNewFileTogether opens a new file from several stores at once, as
// processes starting together do: each must see the file either empty or
// migrated, never half of each.
func TestOpenNewFileTogether(t *testing.T) {
	for range 20 {
		path := filepath.Join(t.TempDir(), "new.db")
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				s, err := sqlite.Open(path, sqlite.Options{})
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				s.Close()
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// TestOpenDirectory: a directory is refused with a typed error.
func TestOpenDirectory(t *testing.T) {
	_, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	var oe *sqlite.OpenError
	if !errors.As(err, &oe) || !errors.Is(err, sqlite.ErrForeign) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(a directory) = %v, want an *OpenError matching ErrForeign", err)
	}
}

// TestMigratePlanFeedback upgrades files of schema 2, 4 and 5, holding
// planned releases, a calendar window and feedback in a release document,
// to the plan index and feedback records of schema 5 and the plan index
// by team of schema 6.
func TestMigratePlanFeedback(t *testing.T) {
	for _, v := range []int{2, 4, 5} {
		t.Run(fmt.Sprintf("FromV%d", v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", v))
			old, err := sqlite.OpenAt(path, sqlite.Options{}, v)
			if err != nil {
				t.Fatal(err)
			}
			storetest.UpgradePlanFeedback(t, old, func(t *testing.T) relman.Store {
				if err := old.Close(); err != nil {
					t.Fatal(err)
				}
				s, err := sqlite.Open(path, sqlite.Options{})
				if err != nil {
					t.Fatalf("Open the version %d file: %v", v, err)
				}
				t.Cleanup(func() { s.Close() })
				if n := rawInt(t, path, "SELECT count(*) FROM plan_services"); n != 2 {
					t.Errorf("plan_services has %d rows after the upgrade, want 2 (pl1 and pl2)", n)
				}
				if n := rawInt(t, path, "SELECT count(*) FROM plan_teams"); n != 3 {
					t.Errorf("plan_teams has %d rows after the upgrade, want 3 (web and ops of pl1, dba of pl2)", n)
				}
				return s
			})
		})
	}
}
