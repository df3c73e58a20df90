package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
)

// TestWriteLockHeldElsewhere: while another process holds the write lock,
// Open of an up-to-date file and reads go on; a write waits for the busy
// timeout, fails without writing, and succeeds once the lock is released.
func TestWriteLockHeldElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	s0, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, s0, "r1")
	s0.Close()

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(path, sqlite.Options{BusyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open while another process writes: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "r1"); err != nil {
		t.Errorf("Get while another process writes: %v", err)
	}
	m, _ := relman.NewManager(s)
	start := time.Now()
	_, err = m.Edit(ctx, "r1", relman.Actor{ID: "t"}, "", func(r *relman.Release) error { r.Title = "changed"; return nil })
	if !errors.Is(err, sqlite.ErrBusy) {
		t.Fatalf("Edit while another process held the write lock: err = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Edit failed after %v, before the busy timeout", d)
	}
	t.Logf("while locked: %v", err)

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	got, err := m.Edit(ctx, "r1", relman.Actor{ID: "t"}, "", func(r *relman.Release) error { r.Title = "changed"; return nil })
	if err != nil {
		t.Fatalf("Edit after the lock was released: %v", err)
	}
	if got.Revision != r.Revision+1 {
		t.Errorf("revision %d, want %d (the failed edit must not have written)", got.Revision, r.Revision+1)
	}
}
