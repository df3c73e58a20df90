package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/postgres"
)

// Only PostgreSQL announces changes across processes.
func TestFollowStoreMemory(t *testing.T) {
	if ok, err := followStore(context.Background(), memory.New(), httpapi.NewBroker(0)); ok || err != nil {
		t.Fatalf("followStore(memory) = %v, %v", ok, err)
	}
}

// TestFollowPostgres follows, over GET /events of one instance, a change
// another instance commits to the same PostgreSQL tables.
func TestFollowPostgres(t *testing.T) {
	dsn := os.Getenv("RELMAN_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("RELMAN_POSTGRES_DSN is not set; skipping the PostgreSQL change stream test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := fmt.Sprintf("relman_serve_test_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	open := func() *postgres.Store {
		st, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	here, there := open(), open()
	t.Cleanup(func() {
		_, _ = here.Pool().Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})

	broker := httpapi.NewBroker(0)
	m, err := relman.NewManager(here, broker.Option())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := followStore(ctx, here, broker); !ok || err != nil {
		t.Fatalf("followStore(postgres) = %v, %v", ok, err)
	}
	h, err := httpapi.New(m, httpapi.Options{Events: broker, Authenticate: headerAuth("")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	req.Header.Set("X-Relman-Actor", "olga")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() && lines.Text() != ": connected" {
	}

	other, err := relman.NewManager(there) // another process, as it were
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create(ctx, &relman.Release{ID: "pg-1", Title: "T", Version: "1.0.0", Kind: relman.KindMinor,
		Model: relman.ModelNormal, Requester: "a", Owner: "b"}, relman.Actor{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			var c httpapi.Change
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				t.Fatal(err)
			}
			if c.ReleaseID != "pg-1" || c.Revision != 1 || c.Stage != relman.StageProposed {
				t.Fatalf("change %+v", c)
			}
			return
		}
	}
	t.Fatalf("the stream ended without the change: %v", lines.Err())
}
