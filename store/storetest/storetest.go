// Package storetest is the conformance suite every relman.Store must pass.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) relman.Store { return memory.New() })
//	}
//
// # One entry point
//
// Run is the single entry point, as database/sql/driver's and go-cloud's
// drivertest are: it checks the Store contract and every optional
// ability the stores newStore makes have, each in subtests named for the
// ability, and skips, with a message, those they lack:
//
//	Create/… Get/… Update/… List/… Context/…   the Store contract, with
//	                  List/Cursor… (Query.After) and List/UpdateReindexes
//	Scanner/…         relman.Scanner (Filters, Batches)
//	Windows/…         relman.WindowStore
//	Lock/…            relman.Locker
//	Due/…             relman.DueStore
//	Outbox/…          relman.Outbox with the outbox on; Outbox/Off with it off
//	PlanIndex/…       relman.PlanIndex
//	FeedbackStore/…   relman.FeedbackStore
//	Sharer/…          relman.Sharer
//	Rollout/… Signed/… Manager/…   a Manager on the store: rollouts,
//	                  signed audit trails, outcomes under deadlines
//
// A store with options that change what it does (an outbox, a cache)
// calls Run once per configuration, as store/memory does with and
// without its outbox.
//
// # Checks Run cannot make
//
// Some checks need what newStore cannot give, and stay exported for each
// backend to call from tests of its own:
//
//   - several handles or processes on one database: Processes, Child,
//     MultiProcessWriters, KilledWriter, PlanRaceTwoHandles,
//     PlanRaceProcesses, CrossProcessLock, RolloutKilled,
//     RunnerProcesses, KilledBeforeDelivery, and
//     ConcurrentNotificationClaims with more than one handle;
//   - a handle opened again on the same data: WindowsRoundTripExact (Run
//     checks WindowCases on one handle), Upgrade, SignedAfterUnsigned;
//   - access to the raw database: SignedTampering (RawEdits),
//     WindowsNewerFields (WindowDocs);
//   - a store opened in a way of its own: ScanBatches on one connection,
//     PutWindowInvalid with cases only that store refuses,
//     DeadlineOutcomes with more calls than Run makes.
//
// # Benchmarks
//
// RunScale is the one set of scale benchmarks: given a constructor of
// stores holding PopulatePlanned's 1k, 10k and 100k planned releases
// (ScaleSizes), it times plan Fire and NextSlot at each size, AddFeedback
// and Fire on a release with 100k feedback records against one with 10,
// and cursor paging through every release, and reports the ratios that
// should stay flat. Every backend calls it from its BenchmarkScale.
// CompareFire, CompareOutbox and CompareSigned interleave two ways of
// firing a transition; RunnerThroughput and CheckOverHTTP measure runners
// and the HTTP API on a store.
//
// # Helpers
//
// The package also holds helpers backends' own tests and benchmarks
// share (Minimal, Full, Put, Window, LoopLifecycle, NextEvent, FireNext,
// FireStep, LockFails, BenchSigner …).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// Run verifies that stores made by newStore meet the relman.Store
// contract, and checks every optional ability they have, skipping those
// they lack (see the package doc for the subtests of each). newStore is
// called for each subtest and must return an empty store; it should
// register its own cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) relman.Store) {
	t.Helper()
	ctx := context.Background()
	runWindows(t, newStore)
	runLocker(t, newStore)
	runDue(t, newStore)
	runOutbox(t, newStore)
	runRollouts(t, newStore)
	runSigned(t, newStore)
	runCursor(t, newStore)
	runPlanIndex(t, newStore)
	runFeedback(t, newStore)
	runSharer(t, newStore)
	runFolded(t, newStore)

	t.Run("Create/RoundTrip", func(t *testing.T) {
		s := newStore(t)
		r := Full("rel-1")
		e := r.Record(relman.AuditEntry{At: base, Actor: "alice", Action: relman.ActionCreate, To: r.Stage})
		if err := s.Create(ctx, r, e); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if r.Revision != 1 {
			t.Errorf("Create set Revision = %d, want 1", r.Revision)
		}
		got, err := s.Get(ctx, "rel-1")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("Get after Create differs (-want +got):\n%s", diff)
		}
		h, err := s.History(ctx, "rel-1")
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if diff := cmp.Diff([]relman.AuditEntry{e}, h); diff != "" {
			t.Errorf("History after Create differs (-want +got):\n%s", diff)
		}
		if err := relman.VerifyHistory(h, &got.Head); err != nil {
			t.Errorf("VerifyHistory: %v", err)
		}
	})

	t.Run("Get/ReturnsCopy", func(t *testing.T) {
		s := newStore(t)
		create(t, s, Full("rel-1"))
		a, _ := s.Get(ctx, "rel-1")
		a.Title = "changed by caller"
		a.Services[0] = "changed"
		a.Labels["env"] = "changed"
		b, _ := s.Get(ctx, "rel-1")
		if b.Title == a.Title || b.Services[0] == "changed" || b.Labels["env"] == "changed" {
			t.Errorf("modifying a returned release changed the stored one: %+v", b)
		}
	})

	t.Run("Create/Exists", func(t *testing.T) {
		s := newStore(t)
		create(t, s, Minimal("rel-1"))
		dup := Minimal("rel-1")
		dup.Title = "second"
		err := s.Create(ctx, dup)
		if !errors.Is(err, relman.ErrExists) {
			t.Fatalf("Create duplicate: err = %v, want ErrExists", err)
		}
		got, _ := s.Get(ctx, "rel-1")
		if got.Title == "second" {
			t.Errorf("duplicate Create overwrote the stored release")
		}
	})

	t.Run("Create/BadInput", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, nil); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Create(nil): err = %v, want ErrInvalid", err)
		}
		if err := s.Create(ctx, Minimal("")); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Create(empty id): err = %v, want ErrInvalid", err)
		}
		if err := s.Update(ctx, nil); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Update(nil): err = %v, want ErrInvalid", err)
		}
		if err := s.Update(ctx, Minimal("")); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Update(empty id): err = %v, want ErrInvalid", err)
		}
	})

	t.Run("Write/BadText", func(t *testing.T) {
		// Every store refuses what another could not keep: invalid UTF-8
		// and NUL bytes, wherever they are; nothing is written.
		bad := []struct {
			name string
			edit func(r *relman.Release)
			e    func(e *relman.AuditEntry)
		}{
			{"NUL in title", func(r *relman.Release) { r.Title = "a\x00b" }, nil},
			{"invalid label value", func(r *relman.Release) { r.Labels = map[string]string{"k": "\xff\xfe"} }, nil},
			{"invalid label key", func(r *relman.Release) { r.Labels = map[string]string{"\xc3": "v"} }, nil},
			{"NUL in an approval role", func(r *relman.Release) {
				r.Approvals = []relman.Approval{{Approver: "carl", Role: "c\x00ab", Decision: relman.DecisionApprove, At: base}}
			}, nil},
			{"invalid entry reason", nil, func(e *relman.AuditEntry) { e.Reason = "\xff" }},
			{"NUL in entry details", nil, func(e *relman.AuditEntry) { e.Details = map[string]string{"x": "\x00"} }},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				s := newStore(t)
				r := Minimal("rel-1")
				if c.edit != nil {
					c.edit(r)
				}
				e := r.Record(relman.AuditEntry{At: base, Actor: "alice", Action: relman.ActionCreate, To: r.Stage})
				if c.e != nil {
					c.e(&e)
				}
				if err := s.Create(ctx, r, e); !errors.Is(err, relman.ErrInvalid) {
					t.Fatalf("Create = %v, want ErrInvalid", err)
				}
				if _, err := s.Get(ctx, "rel-1"); !errors.Is(err, relman.ErrNotFound) {
					t.Errorf("after a refused Create, Get = %v, want ErrNotFound", err)
				}
				good := create(t, s, Minimal("rel-2"))
				upd := good.Clone()
				if c.edit != nil {
					c.edit(upd)
				}
				e = upd.Record(relman.AuditEntry{At: base, Actor: "alice", Action: relman.ActionEdit})
				if c.e != nil {
					c.e(&e)
				}
				if err := s.Update(ctx, upd, e); !errors.Is(err, relman.ErrInvalid) {
					t.Fatalf("Update = %v, want ErrInvalid", err)
				}
				got, err := s.Get(ctx, "rel-2")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(good, got); diff != "" {
					t.Errorf("a refused Update changed the release (-want +got):\n%s", diff)
				}
				if h, _ := s.History(ctx, "rel-2"); len(h) != 1 {
					t.Errorf("a refused Update left %d history entries, want 1", len(h))
				}
			})
		}
		t.Run("window", func(t *testing.T) {
			ws, ok := newStore(t).(relman.WindowStore)
			if !ok {
				t.Skip("no windows")
			}
			w := relman.Window{ID: "w1", Name: "bad\x00name", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: base, End: base.Add(time.Hour)}
			if err := ws.PutWindow(ctx, w); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("PutWindow with a NUL = %v, want ErrInvalid", err)
			}
		})
	})

	t.Run("Get/NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("Get: err = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, ""); !errors.Is(err, relman.ErrNotFound) && !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Get(\"\"): err = %v, want ErrNotFound or ErrInvalid", err)
		}
		if _, err := s.History(ctx, "nope"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("History: err = %v, want ErrNotFound", err)
		}
		r := Minimal("nope")
		r.Revision = 1
		if err := s.Update(ctx, r); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("Update: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Update/Sequence", func(t *testing.T) {
		s := newStore(t)
		r := create(t, s, Minimal("rel-1"))
		for i := range 3 {
			r.Title = fmt.Sprintf("title %d", i)
			e := r.Record(relman.AuditEntry{At: base.Add(time.Duration(i+1) * time.Minute), Actor: "bob", Action: relman.ActionEdit,
				Details: map[string]string{"i": fmt.Sprint(i)}})
			if err := s.Update(ctx, r, e); err != nil {
				t.Fatalf("Update %d: %v", i, err)
			}
			if r.Revision != int64(i+2) {
				t.Fatalf("Revision after update %d = %d, want %d", i, r.Revision, i+2)
			}
		}
		got, _ := s.Get(ctx, "rel-1")
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("stored release differs (-want +got):\n%s", diff)
		}
		h, _ := s.History(ctx, "rel-1")
		if len(h) != 4 {
			t.Fatalf("history length = %d, want 4", len(h))
		}
		for i, e := range h {
			if e.Seq != int64(i+1) {
				t.Errorf("history[%d].Seq = %d, want %d (order)", i, e.Seq, i+1)
			}
		}
		if err := relman.VerifyHistory(h, &got.Head); err != nil {
			t.Errorf("VerifyHistory: %v", err)
		}
	})

	t.Run("Update/StaleRevision", func(t *testing.T) {
		s := newStore(t)
		r := create(t, s, Minimal("rel-1"))
		a, b := r.Clone(), r.Clone()
		a.Title = "A"
		ea := a.Record(relman.AuditEntry{At: base, Actor: "a", Action: relman.ActionEdit})
		if err := s.Update(ctx, a, ea); err != nil {
			t.Fatalf("first Update: %v", err)
		}
		b.Title = "B"
		eb := b.Record(relman.AuditEntry{At: base, Actor: "b", Action: relman.ActionEdit})
		if err := s.Update(ctx, b, eb); !errors.Is(err, relman.ErrConflict) {
			t.Fatalf("stale Update: err = %v, want ErrConflict", err)
		}
		if b.Revision != 1 {
			t.Errorf("failed Update changed the caller's Revision to %d", b.Revision)
		}
		got, _ := s.Get(ctx, "rel-1")
		if got.Title != "A" || got.Revision != 2 {
			t.Errorf("after stale update: title %q revision %d, want A 2", got.Title, got.Revision)
		}
		h, _ := s.History(ctx, "rel-1")
		if len(h) != 2 || h[1].Actor != "a" {
			t.Errorf("stale update touched the history: %d entries", len(h))
		}
	})

	t.Run("Update/ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		create(t, s, Minimal("rel-1"))
		const writers, updates = 8, 10
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for u := 0; u < updates; {
					r, err := s.Get(ctx, "rel-1")
					if err != nil {
						errc <- err
						return
					}
					r.Labels = map[string]string{"last": fmt.Sprintf("w%d-u%d", w, u)}
					e := r.Record(relman.AuditEntry{At: base, Actor: fmt.Sprintf("w%d", w), Action: relman.ActionEdit})
					switch err := s.Update(ctx, r, e); {
					case err == nil:
						u++
					case errors.Is(err, relman.ErrConflict):
					default:
						errc <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatalf("writer: %v", err)
		}
		got, _ := s.Get(ctx, "rel-1")
		if want := int64(1 + writers*updates); got.Revision != want {
			t.Errorf("final revision = %d, want %d (lost update)", got.Revision, want)
		}
		h, _ := s.History(ctx, "rel-1")
		if want := 1 + writers*updates; len(h) != want {
			t.Errorf("history length = %d, want %d", len(h), want)
		}
		if err := relman.VerifyHistory(h, &got.Head); err != nil {
			t.Errorf("VerifyHistory: %v", err)
		}
	})

	t.Run("List/Filters", func(t *testing.T) {
		s := newStore(t)
		seedList(t, s)
		checkList(t, s, []listCase{
			{"all", relman.Query{}, []string{"r1", "r2", "r3", "r4"}},
			{"stage", relman.Query{Stages: []relman.Stage{relman.StagePlanned}}, []string{"r2", "r4"}},
			{"stages", relman.Query{Stages: []relman.Stage{relman.StageProposed, relman.StageClosed}}, []string{"r1", "r3"}},
			{"service", relman.Query{Service: "billing"}, []string{"r1", "r3"}},
			{"team", relman.Query{Team: "ops"}, []string{"r2", "r3"}},
			{"team via task", relman.Query{Team: "dba"}, []string{"r4"}},
			{"kind", relman.Query{Kind: relman.KindEmergency}, []string{"r4"}},
			{"combined", relman.Query{Service: "billing", Team: "ops"}, []string{"r3"}},
			{"none", relman.Query{Service: "nothing"}, nil},
		})
	})

	t.Run("List/OrderAndPaging", func(t *testing.T) {
		s := newStore(t)
		seedList(t, s)
		checkList(t, s, []listCase{
			{"created desc", relman.Query{Desc: true}, []string{"r4", "r3", "r2", "r1"}},
			{"updated", relman.Query{OrderBy: relman.OrderUpdated}, []string{"r3", "r1", "r4", "r2"}},
			{"id desc", relman.Query{OrderBy: relman.OrderID, Desc: true}, []string{"r4", "r3", "r2", "r1"}},
			{"page 1", relman.Query{Limit: 2}, []string{"r1", "r2"}},
			{"page 2", relman.Query{Limit: 2, Offset: 2}, []string{"r3", "r4"}},
			{"past end", relman.Query{Limit: 2, Offset: 10}, nil},
			{"filtered page", relman.Query{Stages: []relman.Stage{relman.StagePlanned}, Limit: 1, Offset: 1}, []string{"r4"}},
		})
	})

	t.Run("List/HostileFilters", func(t *testing.T) {
		s := newStore(t)
		hostile := []string{"%", "_", "bill%", "' OR '1'='1", `"; DROP TABLE releases; --`, `\`, "[a-z]*", "*", "ünï\x00code", "billing "}
		r := Minimal("h1")
		r.Services = []string{"billing", "a%b", "x_y"}
		r.Teams = []string{"o'brien"}
		create(t, s, r)
		for _, h := range hostile {
			for _, q := range []relman.Query{{Service: h}, {Team: h}, {Kind: relman.Kind(h)}} {
				got, err := s.List(ctx, q)
				if err != nil && !errors.Is(err, relman.ErrInvalid) {
					t.Errorf("List(%+v): %v", q, err)
				}
				if len(got) != 0 {
					t.Errorf("List(%+v) matched %v: filters must match literally", q, ids(got))
				}
			}
		}
		for _, lit := range []relman.Query{{Service: "a%b"}, {Service: "x_y"}, {Team: "o'brien"}} {
			got, err := s.List(ctx, lit)
			if err != nil || len(got) != 1 {
				t.Errorf("List(%+v) = %v, %v; want the one release with that literal value", lit, ids(got), err)
			}
		}
		if _, err := s.Get(ctx, "h1"); err != nil {
			t.Errorf("store damaged by hostile filters: %v", err)
		}
	})

	t.Run("List/BadQuery", func(t *testing.T) {
		s := newStore(t)
		for _, q := range []relman.Query{{Limit: -1}, {Offset: -1}, {Limit: relman.MaxPage + 1}, {OrderBy: "title; DROP"},
			{Stages: make([]relman.Stage, 101)}} {
			if _, err := s.List(ctx, q); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("List(%+v): err = %v, want ErrInvalid", q, err)
			}
		}
	})

	t.Run("Scanner/Filters", func(t *testing.T) {
		s := newStore(t)
		sc, ok := s.(relman.Scanner)
		if !ok {
			t.Skip("store is not a relman.Scanner")
		}
		seedList(t, s)
		for _, q := range []relman.Query{
			{}, {Stages: []relman.Stage{relman.StagePlanned}}, {Service: "billing"}, {Team: "dba"},
			{Kind: relman.KindEmergency}, {Service: "billing", Team: "ops"}, {Service: "nothing"},
			{Limit: 1, Offset: 1, Desc: true}, // order and paging are ignored
		} {
			var got []string
			err := sc.Scan(ctx, q, func(r *relman.Release) error {
				got = append(got, r.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("Scan(%+v): %v", q, err)
			}
			lq := q
			lq.Limit, lq.Offset, lq.Desc = 0, 0, false
			want, err := s.List(ctx, lq)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(ids(want), got); diff != "" {
				t.Errorf("Scan(%+v) differs from List (-want +got):\n%s", q, diff)
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := sc.Scan(ctx, relman.Query{}, func(*relman.Release) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("Scan with a failing fn: err = %v after %d calls, want stop after 1", err, n)
		}
		if err := sc.Scan(ctx, relman.Query{OrderBy: "x"}, func(*relman.Release) error { return nil }); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Scan with a bad query: %v, want ErrInvalid", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := sc.Scan(cctx, relman.Query{}, func(*relman.Release) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Scan with a cancelled context: %v, want context.Canceled", err)
		}
	})

	t.Run("Context/Cancelled", func(t *testing.T) {
		s := newStore(t)
		r := create(t, s, Minimal("rel-1"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Get(cctx, "rel-1"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get: err = %v, want context.Canceled", err)
		}
		if err := s.Create(cctx, Minimal("rel-2")); !errors.Is(err, context.Canceled) {
			t.Errorf("Create: err = %v, want context.Canceled", err)
		}
		r.Title = "cancelled"
		e := r.Clone().Record(relman.AuditEntry{At: base, Actor: "x", Action: relman.ActionEdit})
		if err := s.Update(cctx, r, e); !errors.Is(err, context.Canceled) {
			t.Errorf("Update: err = %v, want context.Canceled", err)
		}
		if _, err := s.List(cctx, relman.Query{}); !errors.Is(err, context.Canceled) {
			t.Errorf("List: err = %v, want context.Canceled", err)
		}
		if _, err := s.History(cctx, "rel-1"); !errors.Is(err, context.Canceled) {
			t.Errorf("History: err = %v, want context.Canceled", err)
		}
		got, err := s.Get(ctx, "rel-1")
		if err != nil || got.Title == "cancelled" || got.Revision != 1 {
			t.Errorf("cancelled Update wrote: %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, "rel-2"); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("cancelled Create wrote rel-2: %v", err)
		}
	})
}

var base = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Minimal returns a valid release with only the required fields set.
func Minimal(id string) *relman.Release {
	return &relman.Release{
		ID: id, Title: "Release " + id, Version: "1.0.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
		Requester: "rita", Owner: "olga", Stage: relman.StageProposed,
		CreatedAt: base, UpdatedAt: base, EnteredAt: base,
	}
}

// Full returns a valid release with every field set, to check that a
// store keeps all of them.
func Full(id string) *relman.Release {
	r := Minimal(id)
	r.Teams = []string{"web", "ops"}
	r.Services = []string{"billing", "api"}
	r.Case = relman.BusinessCase{Problem: "slow invoices", ExpectedValue: 12000.5, Cost: 3000, Feasibility: relman.FeasibilityHigh, Notes: "ünïcode ✓"}
	r.Window = &relman.Span{Start: base.Add(48 * time.Hour), End: base.Add(50 * time.Hour)}
	r.Tasks = []relman.Task{{Name: "build", Team: "web", Duration: 90 * time.Minute}, {Name: "deploy", Team: "ops", Duration: time.Hour, DependsOn: []string{"build"}}}
	r.RollbackPlan = "redeploy 1.2.3"
	r.RequiredSuites = []string{"unit", "e2e"}
	r.TestResults = []relman.TestResult{{Suite: "unit", Passed: true, At: base.Add(time.Hour), By: "ci", Detail: "412 passed"}}
	r.Approvals = []relman.Approval{{Approver: "carl", Role: "cab", Decision: relman.DecisionApprove, Comment: "ok", At: base.Add(2 * time.Hour), Void: true, VoidReason: "replanned"}}
	r.Risks = []relman.Risk{{ID: "r1", Title: "schema migration locks table", Category: "data", Likelihood: 3, Impact: 4,
		Mitigation: "online migration", Owner: "olga", Status: relman.RiskMitigated, ResidualLikelihood: 1, ResidualImpact: 4}}
	r.Assessment = &relman.Assessment{Level: relman.LevelHigh, At: base.Add(2 * time.Hour), Basis: "0123abcd",
		Results: []relman.Result{{Assessor: "register", Level: relman.LevelMedium, Reasons: []relman.Reason{{Factor: "risk:r1", Points: 4, Explanation: "x"}}},
			{Assessor: "factors", Level: relman.LevelHigh}}}
	r.Review = &relman.Review{Outcome: relman.OutcomeSuccessfulWithIssues, Summary: "fine", Lessons: []string{"a"}, FollowUp: []string{"b"}, By: "olga", At: base.Add(72 * time.Hour)}
	r.Feedback = []relman.Feedback{{Rating: 4, Comment: "faster ✓", Source: "survey", At: base.Add(80 * time.Hour), By: "uma"}}
	resolved := base.Add(75 * time.Hour)
	r.Incidents = []relman.Incident{
		{ID: "INC-1", Severity: relman.SeverityHigh, Relation: relman.RelationCaused, Summary: "timeouts", OpenedAt: base.Add(74 * time.Hour), ResolvedAt: &resolved, By: "olga"},
		{ID: "INC-2", Severity: relman.SeverityLow, Relation: relman.RelationRelated, OpenedAt: base.Add(76 * time.Hour)}, // still open
	}
	r.Labels = map[string]string{"env": "prod", "quote": `it's "quoted"`}
	r.Scheduled = []relman.ScheduledEvent{
		{ID: "s7", Event: relman.EventClose, Timing: relman.TimingAt, At: base.Add(90 * time.Hour), Expires: base.Add(96 * time.Hour),
			Actor: relman.Actor{ID: "olga", Roles: []string{"owner"}}, Reason: "close after a week", Params: map[string]string{"k": "v"},
			State: relman.SchedulePending, ScheduledAt: base.Add(3 * time.Hour)},
		{ID: "s5", Event: relman.EventComplete, Timing: relman.TimingWindow, At: base.Add(2 * time.Hour), Actor: relman.Actor{ID: "bot"},
			State: relman.ScheduleFired, Deferrals: 1, Result: "", ScheduledAt: base.Add(time.Hour), DoneAt: base.Add(3 * time.Hour)},
	}
	r.Stage = relman.StageOperating
	r.EnteredAt = base.Add(3 * time.Hour)
	r.UpdatedAt = base.Add(4 * time.Hour)
	return r
}

func create(t *testing.T, s relman.Store, r *relman.Release) *relman.Release { return Put(t, s, r) }

// Put stores r straight into s, not through a Manager, with a first
// (create) audit entry, and returns it at revision 1. It is for tests that
// need a release holding every field, as Full's does, which a Manager
// would refuse to create (evidence and approvals have their own methods).
func Put(t testing.TB, s relman.Store, r *relman.Release) *relman.Release {
	t.Helper()
	e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "creator", Action: relman.ActionCreate, To: r.Stage})
	if err := s.Create(context.Background(), r, e); err != nil {
		t.Fatalf("Create %q: %v", r.ID, err)
	}
	return r
}

// seedList stores r1..r4, created in that order, updated in the order
// r3, r1, r4, r2.
func seedList(t *testing.T, s relman.Store) {
	mk := func(id string, stage relman.Stage, kind relman.Kind, created, updated int, services, teams []string, tasks []relman.Task) {
		r := Minimal(id)
		r.Stage, r.Kind = stage, kind
		r.CreatedAt = base.Add(time.Duration(created) * time.Hour)
		r.UpdatedAt = base.Add(time.Duration(updated) * time.Hour)
		r.Services, r.Teams, r.Tasks = services, teams, tasks
		create(t, s, r)
	}
	mk("r1", relman.StageProposed, relman.KindMinor, 1, 6, []string{"billing"}, []string{"web"}, nil)
	mk("r2", relman.StagePlanned, relman.KindMajor, 2, 8, []string{"api"}, []string{"ops"}, nil)
	mk("r3", relman.StageClosed, relman.KindPatch, 3, 5, []string{"billing", "api"}, []string{"web", "ops"}, nil)
	mk("r4", relman.StagePlanned, relman.KindEmergency, 4, 7, []string{"search"}, nil, []relman.Task{{Name: "migrate", Team: "dba"}})
}

// listCase is a query and the ids List must return for it, in order.
type listCase struct {
	name string
	q    relman.Query
	want []string
}

// checkList runs each case as a subtest of its name.
func checkList(t *testing.T, s relman.Store, cases []listCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.List(context.Background(), c.q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(c.want, ids(got)); diff != "" {
				t.Errorf("List(%+v) (-want +got):\n%s", c.q, diff)
			}
		})
	}
}

func ids(rs []*relman.Release) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
