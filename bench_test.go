package relman_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/looplab/fsm"
	"github.com/relman-dev/relman"
)

// BenchmarkBareFSM is the baseline of BenchmarkFire: build a looplab FSM
// with the default lifecycle's event table and fire one event.
func BenchmarkBareFSM(b *testing.B) {
	table := fsmTable()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f := fsm.NewFSM(string(relman.StageTesting), table, nil)
		if err := f.Event(ctx, string(relman.EventFail)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFire fires one event through the Manager on the memory store
// with the default lifecycle and its gates: read, authorization, gates,
// state machine step, audit hash, revision-checked write. It alternates
// submit (no gate) and fail (the failed-test gate).
func BenchmarkFire(b *testing.B) {
	m, req := fireBench(b)
	ctx := context.Background()
	events := [2]relman.Event{relman.EventSubmit, relman.EventFail}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Fire(ctx, "bench", events[i&1], req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// fireBench returns a Manager on the memory store holding release
// "bench" at stage building with a failed test, from which submit and
// fail alternate, and the request to fire them with.
func fireBench(b *testing.B) (*relman.Manager, relman.Request) {
	m, c := newManager(b)
	ctx := context.Background()
	if _, err := m.Create(ctx, newRelease("bench"), alice); err != nil {
		b.Fatal(err)
	}
	fire(b, m, "bench", relman.EventApprove, relman.Request{})
	fire(b, m, "bench", relman.EventPlan, relman.Request{Window: &relman.Span{Start: c.now, End: c.now.Add(1e12)}})
	fire(b, m, "bench", relman.EventStart, relman.Request{})
	if _, err := m.RecordTest(ctx, "bench", alice, relman.TestResult{Suite: "unit", Passed: false}); err != nil {
		b.Fatal(err)
	}
	return m, relman.Request{Actor: alice, Reason: "benchmark"}
}

// fsmTable is the default lifecycle's event table in looplab's form.
func fsmTable() fsm.Events {
	var table fsm.Events
	for _, e := range relman.DefaultLifecycle().Events() {
		src := make([]string, len(e.From))
		for i, f := range e.From {
			src[i] = string(f)
		}
		table = append(table, fsm.EventDesc{Name: string(e.Name), Src: src, Dst: string(e.To)})
	}
	return table
}

// floorEntry is the hand-written floor's audit entry: what happened, and
// a hash chained to the previous one.
type floorEntry struct {
	seq            int64
	at             time.Time
	actor, ev, to  string
	prevHash, hash [32]byte
}

// handWritten is the floor a Fire is compared with: a map from stage and
// event to the next stage, a switch for the one gate, and an append of a
// hash-chained audit entry. No validation, no copies, no store. The
// history is kept in chunks of 1,024 entries, as the memory store keeps
// its own, so that it grows without copying (a slice that doubles would
// copy and fault in ever larger arrays, and be no floor).
type handWritten struct {
	next    map[string]map[string]string
	stage   string
	failed  bool // the release has a failed test (the fail gate's evidence)
	history [][]floorEntry
	last    floorEntry // the newest entry
	n       int64      // entries in history
	buf     []byte
}

func newHandWritten(stage string) *handWritten {
	h := &handWritten{next: map[string]map[string]string{}, stage: stage, failed: true}
	for _, e := range relman.DefaultLifecycle().Events() {
		for _, f := range e.From {
			if h.next[string(f)] == nil {
				h.next[string(f)] = map[string]string{}
			}
			h.next[string(f)][string(e.Name)] = string(e.To)
		}
	}
	return h
}

func (h *handWritten) fire(ev, actor string, at time.Time) error {
	to, ok := h.next[h.stage][ev]
	if !ok {
		return errors.New("no transition")
	}
	switch ev {
	case string(relman.EventFail):
		if !h.failed {
			return errors.New("no failed test")
		}
	}
	e := floorEntry{seq: h.n + 1, at: at, actor: actor, ev: ev, to: to}
	if h.n > 0 {
		e.prevHash = h.last.hash
	}
	h.buf = binary.BigEndian.AppendUint64(h.buf[:0], uint64(e.seq))
	h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(at.UnixNano()))
	h.buf = append(append(append(append(h.buf, actor...), ev...), to...), e.prevHash[:]...)
	e.hash = sha256.Sum256(h.buf)
	if k := len(h.history); k == 0 || len(h.history[k-1]) == cap(h.history[k-1]) {
		h.history = append(h.history, make([]floorEntry, 0, 1024))
	}
	k := len(h.history) - 1
	h.history[k] = append(h.history[k], e)
	h.last, h.n = e, h.n+1
	h.stage = to
	return nil
}

// contractFloor is the least a Fire keeping Fire's contract can do: the
// FSM's step (a reused looplab FSM), a new immutable version of the
// release for the store to keep (a copy of the struct, its lists shared
// with the old one), the audit entry recorded on it (the hash chain) and
// appended to a chunked history, and a deep copy for the caller, who may
// change it. No validation, no gate, no lock.
type contractFloor struct {
	f       *fsm.FSM
	cur     *relman.Release
	history [][]relman.AuditEntry
	out     *relman.Release // the caller's copy, kept so it is not optimized away
}

func (c *contractFloor) fire(ctx context.Context, ev relman.Event, actor string, at time.Time) error {
	if err := c.f.Event(ctx, string(ev)); err != nil {
		return err
	}
	next := *c.cur
	next.Stage = relman.Stage(c.f.Current())
	next.UpdatedAt, next.EnteredAt = at, at
	e := next.Record(relman.AuditEntry{At: at, Actor: actor, Action: relman.ActionTransition, Event: ev, From: c.cur.Stage, To: next.Stage})
	if k := len(c.history); k == 0 || len(c.history[k-1]) == cap(c.history[k-1]) {
		c.history = append(c.history, make([]relman.AuditEntry, 0, 1024))
	}
	k := len(c.history) - 1
	c.history[k] = append(c.history[k], e)
	next.Revision++
	c.cur = &next
	c.out = next.Clone()
	return nil
}

// BenchmarkFireFloor compares, interleaved in each iteration, one Fire
// on the memory store (as BenchmarkFire: submit and fail in turn) with
// the same event on one reused looplab FSM (fsm-ns/op; the target is
// Fire ≤ 4× that), on the hand-written floor (floor-ns/op), and on the
// floor of Fire's contract (contract-ns/op: the FSM's step, the two
// copies of the release Fire must make, one kept immutable and one the
// caller's, and the hash-chained entry; see contractFloor). Fire's
// allocations are BenchmarkFire's.
func BenchmarkFireFloor(b *testing.B) {
	m, req := fireBench(b)
	ctx := context.Background()
	f := fsm.NewFSM(string(relman.StageBuilding), fsmTable(), nil)
	h := newHandWritten(string(relman.StageBuilding))
	cur, err := m.Get(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	c := &contractFloor{f: fsm.NewFSM(string(relman.StageBuilding), fsmTable(), nil), cur: cur}
	events := [2]relman.Event{relman.EventSubmit, relman.EventFail}
	var tFire, tFSM, tFloor, tContract time.Duration
	i := 0
	for b.Loop() {
		ev := events[i&1]
		t0 := time.Now()
		if _, err := m.Fire(ctx, "bench", ev, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := f.Event(ctx, string(ev)); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := h.fire(string(ev), alice.ID, t2); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := c.fire(ctx, ev, alice.ID, t3.UTC()); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		tFire += t1.Sub(t0)
		tFSM += t2.Sub(t1)
		tFloor += t3.Sub(t2)
		tContract += t4.Sub(t3)
		i++
	}
	n := float64(b.N)
	b.ReportMetric(float64(tFire.Nanoseconds())/n, "fire-ns/op")
	b.ReportMetric(float64(tFSM.Nanoseconds())/n, "fsm-ns/op")
	b.ReportMetric(float64(tFloor.Nanoseconds())/n, "floor-ns/op")
	b.ReportMetric(float64(tContract.Nanoseconds())/n, "contract-ns/op")
	b.ReportMetric(float64(tFire)/float64(tFSM), "fire/fsm")
	b.ReportMetric(float64(tFire)/float64(tFloor), "fire/floor")
	b.ReportMetric(float64(tFire)/float64(tContract), "fire/contract")
	b.ReportMetric(float64(tContract)/float64(tFSM), "contract/fsm")
}
