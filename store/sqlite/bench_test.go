package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkFire compares a transition fired through relman.Manager on the
// SQLite store with the same SQL done by hand on the raw driver: a
// revision-checked UPDATE of the release and the INSERT of its audit row,
// in one BEGIN IMMEDIATE transaction, on the same file settings (WAL,
// synchronous=FULL by default, NORMAL for "relaxed"). Target: manager
// throughput ≥ 70 % of raw.
//
// The two run interleaved, one operation each in turn, so that the noise of
// a shared machine (fsync times vary several-fold) hits both alike; the
// result is three metrics: manager-ns/op, raw-ns/op and manager/raw-%
// (throughput of the manager as a percentage of raw).
func BenchmarkFire(b *testing.B) {
	for _, relaxed := range []bool{false, true} {
		name := "sync=full"
		if relaxed {
			name = "sync=normal"
		}
		b.Run(name, func(b *testing.B) {
			storetest.CompareFire(b, managerStep(b, relaxed), rawStep(b, relaxed))
		})
	}
}

// BenchmarkFireOutbox compares a transition fired through relman.Manager
// on a store with Options.Outbox (one notification row per audit entry,
// in the same transaction) with the same on a store without it, on the
// same file settings. Target: the outbox costs at most 15 % of a
// transition. The notifications are not drained, as no runner runs.
//
// The two run interleaved, as in BenchmarkFire; the result is three
// metrics: plain-ns/op, outbox-ns/op and outbox-cost-%.
func BenchmarkFireOutbox(b *testing.B) {
	for _, relaxed := range []bool{false, true} {
		name := "sync=full"
		if relaxed {
			name = "sync=normal"
		}
		b.Run(name, func(b *testing.B) {
			storetest.CompareOutbox(b, managerStepWith(b, sqlite.Options{RelaxedSync: relaxed}),
				managerStepWith(b, sqlite.Options{RelaxedSync: relaxed, Outbox: true}))
		})
	}
}

// benchFile makes a store file holding one release in stage "a".
func benchFile(b testing.TB) (path string, r *relman.Release) {
	path = filepath.Join(b.TempDir(), "bench.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r = storetest.Full("bench")
	r.Stage = "a"
	storetest.Put(b, s, r)
	return path, r
}

// managerStep returns a function that fires one transition through a
// Manager on a store of its own.
func managerStep(b testing.TB, relaxed bool) func() {
	return managerStepWith(b, sqlite.Options{RelaxedSync: relaxed})
}

// managerStepWith is managerStep on a store opened with opts.
func managerStepWith(b testing.TB, opts sqlite.Options) func() {
	path, _ := benchFile(b)
	s, err := sqlite.Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	m, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
	if err != nil {
		b.Fatal(err)
	}
	return storetest.FireStep(b, m, "bench")
}

// rawStep returns a function that does, by hand on the raw driver, the SQL
// of one transition: the revision-checked UPDATE and the audit INSERT in
// one transaction.
func rawStep(b testing.TB, relaxed bool) func() {
	path, r := benchFile(b)
	sync := "FULL"
	if relaxed {
		sync = "NORMAL"
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=synchronous("+sync+")&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	upd, err := db.Prepare("UPDATE releases SET revision = ?, stage = ?, updated_at = ?, doc = ? WHERE id = ? AND revision = ?")
	if err != nil {
		b.Fatal(err)
	}
	ins, err := db.Prepare("INSERT INTO audit (release_id, seq, at, actor, action, event, from_stage, to_stage, reason, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		b.Fatal(err)
	}
	doc, _ := json.Marshal(r)
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	rev, seq := r.Revision, r.Head.Seq
	stages := [2]string{"a", "b"}
	return func() {
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
		from, to := stages[seq%2], stages[(seq+1)%2]
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		res, err := tx.Stmt(upd).Exec(rev+1, to, now, doc, "bench", rev)
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			b.Fatal("conflict")
		}
		seq++
		if _, err := tx.Stmt(ins).Exec("bench", seq, now, "bench", "transition", "go", from, to, "", nil, hash, hash); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		rev++
	}
}

// BenchmarkRunners measures scheduled jobs done per second by 1 and by 3
// runners sharing one file, each with a handle of its own (metric jobs/s).
func BenchmarkRunners(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) {
			storetest.RunnerThroughput(b, func(b *testing.B) relman.Store {
				s, err := sqlite.Open(filepath.Join(b.TempDir(), "relman.db"), sqlite.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}, func(b *testing.B, s relman.Store) relman.Store {
				st, err := sqlite.Open(s.(*sqlite.Store).Path(), sqlite.Options{BusyTimeout: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				return st
			}, n)
		})
	}
}

// BenchmarkCheckOverHTTP compares a dry run through Manager.Check on the
// SQLite store (the embedded default) with the same dry run over HTTP on
// loopback through httpapi's handler over that Manager (a kept-alive
// connection, authentication, JSON both ways), interleaved, and reports
// http/direct. httpapi's own BenchmarkCheckOverHTTP does the same on the
// memory store, where the network round trip dominates.
func BenchmarkCheckOverHTTP(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "relman.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, err := relman.NewManager(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := storetest.Minimal("inv-1")
	r.Case = relman.BusinessCase{Problem: "slow", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh}
	if _, err := m.Create(ctx, r, relman.Actor{ID: "olga"}); err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.New(m, httpapi.Options{Authenticate: func(r *http.Request) (relman.Actor, error) {
		return relman.Actor{ID: r.Header.Get("X-Actor")}, nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	req := relman.Request{Actor: relman.Actor{ID: "carl"}}
	var direct, overHTTP time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := m.Check(ctx, "inv-1", relman.EventApprove, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		hr, _ := http.NewRequest("POST", srv.URL+"/releases/inv-1/events/approve/check", nil)
		hr.Header.Set("X-Actor", "carl")
		res, err := client.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		var c struct{ Allowed bool }
		err = json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		if err != nil || !c.Allowed {
			b.Fatalf("%v %+v", err, c)
		}
		direct += t1.Sub(t0)
		overHTTP += time.Since(t1)
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/op")
	b.ReportMetric(float64(overHTTP.Nanoseconds())/float64(b.N), "http-ns/op")
	b.ReportMetric(float64(overHTTP)/float64(direct), "http/direct")
}
