package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := []struct {
		name    string
		dsn     string
		is      error
		message string
	}{
		{"malformed", "postgres://[::1", relman.ErrInvalid, "invalid DSN"},
		{"bad port", "host=127.0.0.1 port=notanumber", relman.ErrInvalid, "invalid DSN"},
		{"nobody listening", "postgres://relman:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", postgres.ErrUnavailable, "cannot connect to relman@127.0.0.1:1/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, c.dsn, postgres.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.is) {
				t.Errorf("Open: err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("Open: message %q does not say %q", err, c.message)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open: message %q shows the password", err)
			}
		})
	}
	t.Run("unknown database", func(t *testing.T) {
		cfg, err := pgxpool.ParseConfig(dsn(t))
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.ConnConfig
		bad := fmt.Sprintf("postgres://%s@%s:%d/relman_no_such_db_%d?sslmode=disable", c.User, c.Host, c.Port, time.Now().UnixNano())
		_, err = postgres.Open(ctx, bad, postgres.Options{})
		var ce *postgres.ConnectError
		if !errors.As(err, &ce) || !errors.Is(err, postgres.ErrUnavailable) {
			t.Fatalf("Open: err = %v, want a *ConnectError", err)
		}
		if !strings.Contains(ce.Target, "relman_no_such_db_") {
			t.Errorf("ConnectError.Target = %q", ce.Target)
		}
	})
}

func TestOpenFromDSN(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn(t), postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Schema() != schema || s.Channel() != "relman_changes:"+schema {
		t.Errorf("Schema() = %q, Channel() = %q", s.Schema(), s.Channel())
	}
	m, _ := relman.NewManager(s)
	if _, err := m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Get(ctx, "r1"); err == nil {
		t.Errorf("Get after Close of an owned pool succeeded")
	}
}

// TestMigrationsRace starts several instances on one new schema at once:
// the advisory lock lets one migrate and the others see it done.
func TestMigrationsRace(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			p, err := pgxpool.New(ctx, dsn(t))
			if err != nil {
				errs <- err
				return
			}
			defer p.Close()
			_, err = postgres.New(ctx, p, postgres.Options{Schema: schema})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("New: %v", err)
		}
	}
	var rows, max int
	if err := pool.QueryRow(ctx, "SELECT count(*), max(version) FROM "+pgx.Identifier{schema, "relman_schema"}.Sanitize()).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.SchemaVersion || max != postgres.SchemaVersion {
		t.Errorf("relman_schema: %d rows, version %d; want %d", rows, max, postgres.SchemaVersion)
	}
}

func TestNewerSchema(t *testing.T) {
	for _, v := range []int{postgres.SchemaVersion + 1, 99} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			pool := testPool(t)
			ctx := context.Background()
			s := newStore(t, pool, postgres.Options{})
			if _, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{s.Schema(), "relman_schema"}.Sanitize()+" (version, name) VALUES ($1, 'from the future')", v); err != nil {
				t.Fatal(err)
			}
			_, err := postgres.New(ctx, pool, postgres.Options{Schema: s.Schema()})
			var se *postgres.SchemaError
			if !errors.Is(err, postgres.ErrNewerSchema) || !errors.As(err, &se) {
				t.Fatalf("New: err = %v, want a *SchemaError", err)
			}
			if se.Found != v || se.Supported != postgres.SchemaVersion {
				t.Errorf("SchemaError = %+v", se)
			}
			var n int
			pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.Schema(), "relman_schema"}.Sanitize()).Scan(&n)
			if n != postgres.SchemaVersion+1 {
				t.Errorf("refused New changed relman_schema: %d rows", n)
			}
		})
	}
}

// TestMigrate upgrades schemas written at older versions (1: releases
// and audit trail; 2: and windows) that hold releases: New migrates them
// in place and keeps every release and its history, and the upgraded
// schema has the due index and the outbox of version 3.
func TestMigrate(t *testing.T) {
	for v := 1; v < postgres.SchemaVersion; v++ {
		t.Run(fmt.Sprintf("FromV%d", v), func(t *testing.T) { testMigrateFrom(t, v) })
	}
}

func testMigrateFrom(t *testing.T, v int) {
	ctx := context.Background()
	pool := testPool(t)
	schema := freshSchema(t, pool)
	old, err := postgres.NewAt(ctx, pool, postgres.Options{Schema: schema}, v)
	if err != nil {
		t.Fatalf("NewAt version %d: %v", v, err)
	}
	versions := func() (n, max int) {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT count(*), max(version) FROM "+pgx.Identifier{schema, "relman_schema"}.Sanitize()).Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		return n, max
	}
	table := func(name string) bool {
		t.Helper()
		var ok bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, name}.Sanitize()).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var s *postgres.Store
	storetest.Upgrade(t, old, func(t *testing.T) relman.Store {
		if n, got := versions(); n != v || got != v || table("relman_windows") != (v >= 2) || table("relman_outbox") != (v >= 3) || table("relman_due_leases") != (v >= 3) {
			t.Fatalf("the version %d schema has %d migrations, version %d, tables windows %v, outbox %v, due_leases %v",
				v, n, got, table("relman_windows"), table("relman_outbox"), table("relman_due_leases"))
		}
		s, err = postgres.New(ctx, pool, postgres.Options{Schema: schema, Outbox: true})
		if err != nil {
			t.Fatalf("New on the version %d schema: %v", v, err)
		}
		if n, got := versions(); n != postgres.SchemaVersion || got != postgres.SchemaVersion {
			t.Errorf("after New: %d migrations, version %d; want %d", n, got, postgres.SchemaVersion)
		}
		if !table("relman_windows") || !table("relman_outbox") || !table("relman_due_leases") {
			t.Errorf("after New the tables windows %v, outbox %v, due_leases %v", table("relman_windows"), table("relman_outbox"), table("relman_due_leases"))
		}
		var due int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "relman_releases"}.Sanitize()+" WHERE due_at IS NOT NULL").Scan(&due); err != nil || (due != 0 && v < 3) {
			t.Errorf("%d migrated releases have a due time (%v), want none", due, err)
		}
		return s
	})
	// Another instance starting later applies nothing again.
	again, err := postgres.New(ctx, pool, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := versions(); n != postgres.SchemaVersion {
		t.Errorf("after another New: %d migrations", n)
	}
	if list, err := again.ListWindows(ctx); err != nil || len(list) != 1 {
		t.Errorf("ListWindows: %d windows, %v", len(list), err)
	}
}

func TestNewerSchemaFields(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	s := newStore(t, pool, postgres.Options{})
	m, _ := relman.NewManager(s)
	if _, err := m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	// A newer instance's write, revision-checked as every write is.
	if _, err := pool.Exec(ctx, "UPDATE "+pgx.Identifier{s.Schema(), "relman_releases"}.Sanitize()+` SET doc = doc || '{"from_the_future": 1}', revision = revision + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "r1"); !errors.Is(err, postgres.ErrNewerSchema) {
		t.Errorf("Get: err = %v, want ErrNewerSchema", err)
	}
}

// TestStringsPostgresCannotStore: a NUL byte cannot be stored in a text
// column; writing one is relman.ErrInvalid, reading by one finds nothing.
func TestStringsPostgresCannotStore(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	s := newStore(t, pool, postgres.Options{})
	r := storetest.Minimal("nul")
	r.Services = []string{"a\x00b"}
	if err := s.Create(ctx, r); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("Create with a NUL byte: err = %v, want ErrInvalid", err)
	}
	if _, err := s.Get(ctx, "x\x00y"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("Get(NUL id): err = %v, want ErrNotFound", err)
	}
}

// TestConnectionLoss kills the store's server connections mid-run: the
// next call may fail, with an error matching ErrUnavailable, and the ones
// after succeed on new connections; nothing committed is lost.
func TestConnectionLoss(t *testing.T) {
	admin := testPool(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	app := fmt.Sprintf("relman-test-loss-%d", time.Now().UnixNano())
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := newStore(t, pool, postgres.Options{Schema: freshSchema(t, admin)})
	m, _ := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	if _, err := m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	fired := 0
	for round := range 3 {
		for range 5 {
			if r, err := storetest.FireNext(ctx, m, "r1", "t"); err != nil || r == nil {
				t.Fatalf("fire: %v", err)
			}
			fired++
		}
		var killed int
		if err := admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatalf("round %d: no connection to terminate", round)
		}
		// The pool may hand out a dead connection once.
		for attempt := 0; ; attempt++ {
			r, err := storetest.FireNext(ctx, m, "r1", "t")
			if err == nil && r != nil {
				fired++
				break
			}
			if err != nil {
				t.Logf("round %d: %v", round, err)
			}
			if err != nil && !errors.Is(err, postgres.ErrUnavailable) {
				t.Fatalf("round %d: error after losing the connection does not match ErrUnavailable: %v", round, err)
			}
			if attempt > 10 {
				t.Fatalf("round %d: no recovery: %v", round, err)
			}
		}
	}
	r, err := s.Get(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != int64(1+fired) {
		t.Errorf("revision %d after %d transitions", r.Revision, fired)
	}
	if err := m.Verify(ctx, "r1"); err != nil {
		t.Error(err)
	}
}

// TestLongSchemaName: a schema name too long to make a channel name of is
// shortened, and notifications still flow.
func TestLongSchemaName(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	schema := freshSchema(t, pool)
	schema = (schema + strings.Repeat("x", 63))[:63]
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	s, err := postgres.New(ctx, pool, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Channel()); n > 63 {
		t.Fatalf("channel %q is %d bytes", s.Channel(), n)
	}
	sub, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	m, _ := relman.NewManager(s)
	if _, err := m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); c.ReleaseID != "r1" {
		t.Errorf("change = %+v", c)
	}
	if _, err := postgres.New(ctx, pool, postgres.Options{Schema: schema, Channel: strings.Repeat("c", 64)}); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("New with a 64-byte channel: err = %v, want ErrInvalid", err)
	}
}

// TestMigratePlanFeedback upgrades schemas of version 2 and 4, holding
// planned releases, a calendar window and feedback in a release document,
// to the plan index and feedback records of version 5.
func TestMigratePlanFeedback(t *testing.T) {
	for _, v := range []int{2, 4} {
		t.Run(fmt.Sprintf("FromV%d", v), func(t *testing.T) {
			ctx := context.Background()
			pool := testPool(t)
			schema := freshSchema(t, pool)
			old, err := postgres.NewAt(ctx, pool, postgres.Options{Schema: schema}, v)
			if err != nil {
				t.Fatal(err)
			}
			storetest.UpgradePlanFeedback(t, old, func(t *testing.T) relman.Store {
				s, err := postgres.New(ctx, pool, postgres.Options{Schema: schema})
				if err != nil {
					t.Fatalf("New on the version %d schema: %v", v, err)
				}
				var n int
				if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "relman_releases"}.Sanitize()+" WHERE plan IS NOT NULL").Scan(&n); err != nil || n != 2 {
					t.Errorf("%d releases have a plan after the upgrade (%v), want 2 (pl1 and pl2)", n, err)
				}
				return s
			})
		})
	}
}
