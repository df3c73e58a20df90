// Package scaletest holds the tests that store/sqlite and store/postgres
// share of what they do to scale: relman.PlanIndex, relman.FeedbackStore
// and List cursors (Query.After). They check the stores' own edges (time
// precision, index maintenance on every write) beside the conformance
// suite of store/storetest.
package scaletest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/storetest"
)

// Store is a store with every ability these tests check.
type Store interface {
	relman.Store
	relman.PlanIndex
	relman.FeedbackStore
}

var base = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func put(t *testing.T, s relman.Store, id string, stage relman.Stage, start, end time.Time, services ...string) *relman.Release {
	t.Helper()
	r := storetest.Minimal(id)
	r.Stage, r.Services = stage, services
	if !start.IsZero() {
		r.Window = &relman.Span{Start: start, End: end}
	}
	return storetest.Put(t, s, r)
}

func update(t *testing.T, s relman.Store, r *relman.Release, change func(r *relman.Release)) {
	t.Helper()
	change(r)
	e := r.Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "t", Action: relman.ActionEdit})
	if err := s.Update(context.Background(), r, e); err != nil {
		t.Fatalf("Update %s: %v", r.ID, err)
	}
}

func overlapping(t *testing.T, s relman.PlanIndex, from, to time.Time, services []string) []string {
	t.Helper()
	ids := []string{}
	if err := s.Overlapping(context.Background(), from, to, services, func(r *relman.Release) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		t.Fatalf("Overlapping(%v, %v, %v): %v", from, to, services, err)
	}
	return ids
}

// PlanIndex checks Overlapping on s, an empty store: boundaries (windows
// that touch do not overlap, to the nanosecond, in any time zone), zero
// from and to, the services filter, the order, stages that hold no
// window, and that updates move releases in and out of the index.
func PlanIndex(t *testing.T, s Store) {
	h := func(n float64) time.Time { return base.Add(time.Duration(n * float64(time.Hour))) }
	paris := time.FixedZone("CET", 3600)
	p1 := put(t, s, "p1", relman.StagePlanned, h(0), h(1), "a")
	put(t, s, "p1a", relman.StageTesting, h(0), h(1), "x")
	p2 := put(t, s, "p2", relman.StageBuilding, h(1), h(2), "b")
	p3 := put(t, s, "p3", relman.StageDeploying, h(-1), h(3), "a", "c")
	// Starts half a second past the hour, ends 1 ns before 10:30 UTC,
	// written in another zone.
	put(t, s, "p4", relman.StageVerified, h(0).Add(500*time.Millisecond).In(paris), h(0.5).Add(-time.Nanosecond).In(paris), "d")
	put(t, s, "p5", relman.StageAuthorized, h(24*8), h(24*8+2), "a")
	put(t, s, "d1", relman.StageProposed, h(0), h(1), "a")
	put(t, s, "c1", relman.StageClosed, h(0), h(1), "a")
	put(t, s, "n1", relman.StagePlanned, time.Time{}, time.Time{}, "a")
	var zero time.Time
	cases := []struct {
		name     string
		from, to time.Time
		services []string
		want     []string
	}{
		{"hour", h(0), h(1), nil, []string{"p3", "p1", "p1a", "p4"}},
		{"next hour: touching windows do not overlap", h(1), h(2), nil, []string{"p3", "p2"}},
		{"everything", zero, zero, nil, []string{"p3", "p1", "p1a", "p4", "p2", "p5"}},
		{"no start", zero, h(0), nil, []string{"p3"}},
		{"no end", h(3), zero, nil, []string{"p5"}},
		{"from the nanosecond p4 ends", h(0.5).Add(-time.Nanosecond), h(0.6), nil, []string{"p3", "p1", "p1a"}},
		{"from 1 ns before p4 ends", h(0.5).Add(-2 * time.Nanosecond), h(0.6), nil, []string{"p3", "p1", "p1a", "p4"}},
		{"to the nanosecond p4 starts", h(0), h(0).Add(500 * time.Millisecond), nil, []string{"p3", "p1", "p1a"}},
		{"to 1 ns after p4 starts", h(0), h(0).Add(500*time.Millisecond + time.Nanosecond), nil, []string{"p3", "p1", "p1a", "p4"}},
		{"instant", h(0.25), h(0.25).Add(time.Nanosecond), nil, []string{"p3", "p1", "p1a", "p4"}},
		{"other zone", h(0).In(paris), h(1).In(paris), nil, []string{"p3", "p1", "p1a", "p4"}},
		{"service a", h(0), h(1), []string{"a"}, []string{"p3", "p1"}},
		{"services b, d", zero, zero, []string{"b", "d", "nope"}, []string{"p4", "p2"}},
		{"service of a proposed release", zero, zero, []string{"x", "c"}, []string{"p3", "p1a"}},
		{"no such service", zero, zero, []string{"nope"}, []string{}},
		{"nothing then", h(100), h(101), nil, []string{}},
		{"empty period", h(0.5), h(0.5), nil, []string{}},
		{"from after to", h(1), h(0), nil, []string{}},
	}
	for _, c := range cases {
		if got := overlapping(t, s, c.from, c.to, c.services); !slices.Equal(got, c.want) {
			t.Errorf("%s: Overlapping = %v, want %v", c.name, got, c.want)
		}
	}
	// fn's error stops it.
	stop := errors.New("stop")
	n := 0
	if err := s.Overlapping(context.Background(), zero, zero, nil, func(*relman.Release) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Overlapping with fn failing: %v after %d calls, want stop after 1", err, n)
	}

	// Updates keep the index: p1 leaves the planned stages, p2 moves, p3
	// changes services, d1 enters a planned stage, a title change of p5
	// keeps it.
	update(t, s, p1, func(r *relman.Release) { r.Stage = relman.StageOperating })
	update(t, s, p2, func(r *relman.Release) { r.Window = &relman.Span{Start: h(4), End: h(5)} })
	update(t, s, p3, func(r *relman.Release) { r.Services = []string{"e"} })
	d1, err := s.Get(context.Background(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, d1, func(r *relman.Release) { r.Stage = relman.StagePlanned })
	p5, err := s.Get(context.Background(), "p5")
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, p5, func(r *relman.Release) { r.Title = "renamed" })
	for _, c := range []struct {
		name     string
		from, to time.Time
		services []string
		want     []string
	}{
		{"hour after updates", h(0), h(1), nil, []string{"p3", "d1", "p1a", "p4"}},
		{"p2 moved out", h(1), h(2), nil, []string{"p3"}},
		{"p2 moved in", h(4), h(6), nil, []string{"p2"}},
		{"service a after updates", zero, zero, []string{"a"}, []string{"d1", "p5"}},
		{"service e", zero, zero, []string{"e"}, []string{"p3"}},
		{"service c gone", zero, zero, []string{"c"}, []string{}},
		{"service b moved", h(4), h(5), []string{"b"}, []string{"p2"}},
	} {
		if got := overlapping(t, s, c.from, c.to, c.services); !slices.Equal(got, c.want) {
			t.Errorf("%s: Overlapping = %v, want %v", c.name, got, c.want)
		}
	}
	// A window shortened and lengthened again: the longest window bound
	// follows (a window of 30 days before from is found).
	update(t, s, p2, func(r *relman.Release) { r.Window = &relman.Span{Start: h(-24 * 30), End: h(24 * 10)} })
	if got := overlapping(t, s, h(24*9), h(24*9+1), nil); !slices.Equal(got, []string{"p2"}) {
		t.Errorf("long window: Overlapping = %v, want [p2]", got)
	}
}

// Feedback checks UpdateFeedback, Feedback and FeedbackRatings on s, an
// empty store: the records are written with the release or not at all
// (a stale revision, a Seq taken), they page by Seq, and ratings count
// by period to the nanosecond.
func Feedback(t *testing.T, s Store) {
	ctx := context.Background()
	r := storetest.Put(t, s, storetest.Minimal("f1"))
	other := storetest.Put(t, s, storetest.Minimal("f2"))
	fb := func(seq int64, at time.Time) relman.Feedback {
		return relman.Feedback{Seq: seq, Rating: int(seq%5) + 1, Comment: fmt.Sprintf("comment %d ✓", seq), Source: "survey", At: at, By: "uma"}
	}
	write := func(r *relman.Release, fs ...relman.Feedback) error {
		c := r.Clone()
		e := c.Record(relman.AuditEntry{At: base, Actor: "t", Action: relman.ActionFeedback})
		err := s.UpdateFeedback(ctx, c, fs, e)
		if err == nil {
			*r = *c
		}
		return err
	}
	count := func(id string) (records, history int64, rev int64) {
		t.Helper()
		fs, err := s.Feedback(ctx, id, 0, relman.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(fs)), int64(len(h)), got.Revision
	}
	if err := write(r, fb(1, base), fb(2, base.Add(time.Nanosecond))); err != nil {
		t.Fatalf("UpdateFeedback: %v", err)
	}
	if got, err := s.Feedback(ctx, "f1", 0, 10); err != nil || len(got) != 2 || got[0] != fb(1, base) || !got[1].At.Equal(base.Add(time.Nanosecond)) || got[1].Seq != 2 {
		t.Errorf("Feedback = %+v, %v", got, err)
	}
	if n, h, rev := count("f1"); n != 2 || h != 2 || rev != 2 {
		t.Errorf("after one write: %d records, %d entries, revision %d; want 2, 2, 2", n, h, rev)
	}

	// A stale revision writes neither the release nor the records.
	stale := r.Clone()
	stale.Revision = 1
	if err := write(stale, fb(3, base)); !errors.Is(err, relman.ErrConflict) {
		t.Errorf("UpdateFeedback at a stale revision: %v, want ErrConflict", err)
	}
	// A Seq taken: nothing is written, the release's update neither.
	before := r.Clone()
	if err := write(r, fb(3, base), fb(2, base)); !errors.Is(err, relman.ErrConflict) {
		t.Errorf("UpdateFeedback with a Seq taken: %v, want ErrConflict", err)
	}
	if n, h, rev := count("f1"); n != 2 || h != 2 || rev != 2 || r.Revision != before.Revision {
		t.Errorf("after the failed writes: %d records, %d entries, revision %d; want 2, 2, 2", n, h, rev)
	}
	// An update with no feedback is an Update.
	if err := write(r); err != nil {
		t.Fatalf("UpdateFeedback with none: %v", err)
	}

	// Paging by Seq.
	var more []relman.Feedback
	for i := int64(3); i <= 27; i++ {
		more = append(more, fb(i, base.Add(time.Duration(i)*time.Hour)))
	}
	if err := write(r, more...); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for after := int64(0); ; {
		page, err := s.Feedback(ctx, "f1", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, f := range page {
			seqs = append(seqs, f.Seq)
		}
		after = page[len(page)-1].Seq
	}
	if len(seqs) != 27 || !slices.IsSorted(seqs) || seqs[0] != 1 || seqs[26] != 27 {
		t.Errorf("paged Seqs %v, want 1..27", seqs)
	}
	if got, err := s.Feedback(ctx, "f2", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("Feedback of a release without any = %v, %v; want none", got, err)
	}
	if _, err := s.Feedback(ctx, "nope", 0, 10); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("Feedback of an unknown release: %v, want ErrNotFound", err)
	}
	for _, n := range []int{0, -1, relman.MaxPage + 1} {
		if _, err := s.Feedback(ctx, "f1", 0, n); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Feedback(n=%d): %v, want ErrInvalid", n, err)
		}
	}
	if err := write(&relman.Release{ID: "nope", Revision: 1}, fb(1, base)); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("UpdateFeedback of an unknown release: %v, want ErrNotFound", err)
	}

	// Ratings by period, [from, to), to the nanosecond.
	if err := write(other, fb(1, base.Add(5*time.Hour)), fb(2, base.Add(5*time.Hour))); err != nil {
		t.Fatal(err)
	}
	ratings, err := s.FeedbackRatings(ctx, base.Add(time.Nanosecond), base.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// f1: seq 2 (at base+1ns, rating 3), 3 (rating 4), 4 (rating 5);
	// seq 1 is before from, seq 5 at to; f2's two at to.
	want := map[string][5]int{"f1": {0, 0, 1, 1, 1}}
	if !equalRatings(ratings, want) {
		t.Errorf("FeedbackRatings = %v, want %v", ratings, want)
	}
	ratings, err = s.FeedbackRatings(ctx, base, base.Add(5*time.Hour+time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][5]int{"f1": {1, 1, 1, 1, 1}, "f2": {0, 1, 1, 0, 0}}
	if !equalRatings(ratings, want) {
		t.Errorf("FeedbackRatings = %v, want %v", ratings, want)
	}
}

func equalRatings(a, b map[string][5]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Cursor checks List with Query.After on s, an empty store: for each
// order, ascending and descending, paging by cursor visits every release
// once, in the store's order, also when releases are added between pages
// (those past the cursor are seen, those before it not), with keys that
// differ by a nanosecond; a cursor that is not one is ErrInvalid.
func Cursor(t *testing.T, s relman.Store) {
	ctx := context.Background()
	for i := range 37 {
		r := storetest.Minimal(fmt.Sprintf("m%02d", (i*7)%37))
		// Ties (three releases a second) and keys a nanosecond apart.
		r.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		r.UpdatedAt = base.Add(time.Duration(37-i) * time.Nanosecond)
		r.Services = []string{[]string{"a", "b"}[i%2]}
		storetest.Put(t, s, r)
	}
	for _, o := range []relman.Order{relman.OrderCreated, relman.OrderUpdated, relman.OrderID} {
		for _, desc := range []bool{false, true} {
			for _, service := range []string{"", "a"} {
				t.Run(fmt.Sprintf("%s/desc=%v/service=%q", o, desc, service), func(t *testing.T) {
					cursorPages(t, s, relman.Query{OrderBy: o, Desc: desc, Service: service})
				})
			}
		}
	}
	for _, q := range []relman.Query{
		{After: "garbage!"},
		{After: relman.Query{OrderBy: relman.OrderID}.Cursor(storetest.Minimal("x"))},
		{After: relman.Query{}.Cursor(storetest.Minimal("x")), Offset: 1},
	} {
		if _, err := s.List(ctx, q); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("List(%+v): %v, want ErrInvalid", q, err)
		}
	}
}

var added int

func cursorPages(t *testing.T, s relman.Store, q relman.Query) {
	ctx := context.Background()
	full := q
	var skipped []string // added before the cursor
	var got []string
	q.Limit = 4
	for page := 0; ; page++ {
		rs, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got = append(got, r.ID)
		}
		if len(rs) < q.Limit {
			break
		}
		q.After = q.Cursor(rs[len(rs)-1])
		if page == 2 {
			// Add one release before the cursor and one after it (in
			// q's order): only the second is seen.
			added++
			early, late := storetest.Minimal(fmt.Sprintf("a%03d", added)), storetest.Minimal(fmt.Sprintf("z%03d", added))
			early.CreatedAt, early.UpdatedAt = base.Add(-time.Hour), base.Add(-time.Hour)
			late.CreatedAt, late.UpdatedAt = base.Add(time.Hour), base.Add(time.Hour)
			if q.Desc {
				early, late = late, early
			}
			early.Services, late.Services = []string{"a"}, []string{"a"}
			storetest.Put(t, s, early)
			storetest.Put(t, s, late)
			skipped = append(skipped, early.ID)
		}
	}
	all, err := s.List(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range all {
		if !slices.Contains(skipped, r.ID) {
			want = append(want, r.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged by cursor:\n%v\nwant\n%v", got, want)
	}
}
