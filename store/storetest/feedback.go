package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/relman-dev/relman"
)

// feedbackRecords returns n feedback records numbered from seq, one an
// hour from at, ratings cycling 1..5.
func feedbackRecords(seq int64, n int, at time.Time) []relman.Feedback {
	var fs []relman.Feedback
	for i := range n {
		s := seq + int64(i)
		fs = append(fs, relman.Feedback{Rating: int(s-1)%5 + 1, Comment: fmt.Sprintf("comment %d ✓", s), Source: "survey",
			At: at.Add(time.Duration(i) * time.Hour), By: "uma", Seq: s})
	}
	return fs
}

// runFeedback checks the relman.FeedbackStore ability, if the store has it.
func runFeedback(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	open := func(t *testing.T) (relman.Store, relman.FeedbackStore) {
		s := newStore(t)
		fs, ok := s.(relman.FeedbackStore)
		if !ok {
			t.Skip("the store is no relman.FeedbackStore")
		}
		return s, fs
	}
	operating := func(t *testing.T, s relman.Store, id string) *relman.Release {
		r := Minimal(id)
		r.Stage = relman.StageOperating
		r.FeedbackSummary = &relman.FeedbackSummary{}
		return create(t, s, r)
	}
	// add saves r with fs and one entry, summarizing fs on r.
	add := func(s relman.FeedbackStore, r *relman.Release, fs []relman.Feedback) error {
		sum := *r.FeedbackSummary
		for _, f := range fs {
			sum.Count++
			sum.Counts[f.Rating-1]++
			sum.Last = f.At
		}
		r.FeedbackSummary = &sum
		e := r.Record(relman.AuditEntry{At: base, Actor: "uma", Action: relman.ActionFeedback})
		return s.UpdateFeedback(ctx, r, fs, e)
	}
	read := func(t *testing.T, fs relman.FeedbackStore, id string, after int64, n int) []relman.Feedback {
		t.Helper()
		got, err := fs.Feedback(ctx, id, after, n)
		if err != nil {
			t.Fatalf("Feedback(%q, %d, %d): %v", id, after, n, err)
		}
		return got
	}
	// unchanged checks that r is stored as want, with hist history
	// entries and the feedback records recs.
	unchanged := func(t *testing.T, s relman.Store, fs relman.FeedbackStore, want *relman.Release, hist int, recs []relman.Feedback) {
		t.Helper()
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("a refused UpdateFeedback changed the release (-want +got):\n%s", d)
		}
		if h, _ := s.History(ctx, want.ID); len(h) != hist {
			t.Errorf("a refused UpdateFeedback left %d history entries, want %d", len(h), hist)
		}
		if d := cmp.Diff(recs, read(t, fs, want.ID, 0, relman.MaxPage)); d != "" {
			t.Errorf("a refused UpdateFeedback changed the records (-want +got):\n%s", d)
		}
	}

	t.Run("FeedbackStore/AppendAndPage", func(t *testing.T) {
		s, fs := open(t)
		r := operating(t, s, "rel-1")
		if got := read(t, fs, "rel-1", 0, 10); len(got) != 0 {
			t.Errorf("Feedback before any = %v, want none", got)
		}
		first := feedbackRecords(1, 3, base)
		if err := add(fs, r, first); err != nil {
			t.Fatalf("UpdateFeedback: %v", err)
		}
		if r.Revision != 2 {
			t.Errorf("UpdateFeedback set Revision = %d, want 2", r.Revision)
		}
		second := feedbackRecords(4, 4, base.Add(24*time.Hour))
		if err := add(fs, r, second); err != nil {
			t.Fatalf("second UpdateFeedback: %v", err)
		}
		got, err := s.Get(ctx, "rel-1")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Errorf("stored release differs (-want +got):\n%s", d)
		}
		if h, _ := s.History(ctx, "rel-1"); len(h) != 3 || h[2].Action != relman.ActionFeedback {
			t.Errorf("history after two UpdateFeedback: %d entries, want 3 ending in feedback", len(h))
		}
		all := append(append([]relman.Feedback(nil), first...), second...)
		for _, c := range []struct {
			after int64
			n     int
			want  []relman.Feedback
		}{
			{0, 100, all}, {0, 2, all[:2]}, {2, 3, all[2:5]}, {5, 100, all[5:]}, {7, 100, nil}, {100, 1, nil},
		} {
			if d := cmp.Diff(c.want, read(t, fs, "rel-1", c.after, c.n), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Feedback(after %d, n %d) (-want +got):\n%s", c.after, c.n, d)
			}
		}
		// Paging by the last Seq reads every record once.
		var paged []relman.Feedback
		for after := int64(0); ; {
			page := read(t, fs, "rel-1", after, 3)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].Seq
		}
		if d := cmp.Diff(all, paged); d != "" {
			t.Errorf("paging by Seq (-want +got):\n%s", d)
		}
		// Records belong to their release.
		operating(t, s, "rel-2")
		if got := read(t, fs, "rel-2", 0, 10); len(got) != 0 {
			t.Errorf("Feedback of another release = %v, want none", got)
		}
	})

	t.Run("FeedbackStore/StaleRevision", func(t *testing.T) {
		s, fs := open(t)
		r := operating(t, s, "rel-1")
		if err := add(fs, r, feedbackRecords(1, 2, base)); err != nil {
			t.Fatal(err)
		}
		stale := r.Clone()
		r.Title = "moved on"
		update(t, s, r)
		want := r.Clone()
		stale.Title = "stale"
		if err := add(fs, stale, feedbackRecords(3, 2, base)); !errors.Is(err, relman.ErrConflict) {
			t.Fatalf("UpdateFeedback at a stale revision = %v, want ErrConflict", err)
		}
		if stale.Revision != 2 {
			t.Errorf("a refused UpdateFeedback changed the caller's Revision to %d, want 2", stale.Revision)
		}
		unchanged(t, s, fs, want, 3, feedbackRecords(1, 2, base))
	})

	t.Run("FeedbackStore/DuplicateSeq", func(t *testing.T) {
		s, fs := open(t)
		r := operating(t, s, "rel-1")
		if err := add(fs, r, feedbackRecords(1, 3, base)); err != nil {
			t.Fatal(err)
		}
		for name, dup := range map[string][]relman.Feedback{
			"taken":      feedbackRecords(3, 2, base),
			"twice":      append(feedbackRecords(4, 1, base), feedbackRecords(4, 1, base)...),
			"taken last": append(feedbackRecords(4, 1, base), feedbackRecords(1, 1, base)...),
		} {
			t.Run(name, func(t *testing.T) {
				want := r.Clone()
				try := r.Clone()
				if err := add(fs, try, dup); !errors.Is(err, relman.ErrConflict) {
					t.Fatalf("UpdateFeedback with Seq %d..%d = %v, want ErrConflict", dup[0].Seq, dup[len(dup)-1].Seq, err)
				}
				if try.Revision != want.Revision {
					t.Errorf("a refused UpdateFeedback changed the caller's Revision to %d, want %d", try.Revision, want.Revision)
				}
				unchanged(t, s, fs, want, 2, feedbackRecords(1, 3, base))
			})
		}
	})

	t.Run("FeedbackStore/NotFound", func(t *testing.T) {
		_, fs := open(t)
		if _, err := fs.Feedback(ctx, "nope", 0, 10); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("Feedback of an unknown release = %v, want ErrNotFound", err)
		}
		r := Minimal("nope")
		r.Revision = 1
		r.FeedbackSummary = &relman.FeedbackSummary{}
		if err := add(fs, r, feedbackRecords(1, 1, base)); !errors.Is(err, relman.ErrNotFound) {
			t.Errorf("UpdateFeedback of an unknown release = %v, want ErrNotFound", err)
		}
		if got, err := fs.FeedbackRatings(ctx, base.Add(-time.Hour), base.Add(time.Hour)); err != nil || len(got) != 0 {
			t.Errorf("FeedbackRatings after a refused UpdateFeedback = %v, %v; want none", got, err)
		}
	})

	t.Run("FeedbackStore/NoRecords", func(t *testing.T) {
		// An UpdateFeedback with no records is an Update.
		s, fs := open(t)
		r := operating(t, s, "rel-1")
		r.Title = "edited"
		if err := add(fs, r, nil); err != nil {
			t.Fatalf("UpdateFeedback with no records: %v", err)
		}
		if r.Revision != 2 {
			t.Errorf("UpdateFeedback with no records set Revision = %d, want 2", r.Revision)
		}
		got, err := s.Get(ctx, "rel-1")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Errorf("stored release differs (-want +got):\n%s", d)
		}
		if h, _ := s.History(ctx, "rel-1"); len(h) != 2 {
			t.Errorf("history after UpdateFeedback with no records: %d entries, want 2", len(h))
		}
		if got := read(t, fs, "rel-1", 0, relman.MaxPage); len(got) != 0 {
			t.Errorf("Feedback after UpdateFeedback with no records = %v, want none", got)
		}
	})

	t.Run("FeedbackStore/PageSize", func(t *testing.T) {
		// n is 1..MaxPage, as for Manager.Feedback.
		s, fs := open(t)
		r := operating(t, s, "rel-1")
		if err := add(fs, r, feedbackRecords(1, 3, base)); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, -1, relman.MaxPage + 1} {
			if got, err := fs.Feedback(ctx, "rel-1", 0, n); !errors.Is(err, relman.ErrInvalid) {
				t.Errorf("Feedback(n=%d) = %d records, %v; want ErrInvalid", n, len(got), err)
			}
		}
		if got := read(t, fs, "rel-1", 0, relman.MaxPage); len(got) != 3 {
			t.Errorf("Feedback(n=MaxPage) = %d records, want 3", len(got))
		}
		if got := read(t, fs, "rel-1", 0, 1); len(got) != 1 || got[0].Seq != 1 {
			t.Errorf("Feedback(n=1) = %+v, want the record of Seq 1", got)
		}
	})

	t.Run("FeedbackStore/Precision", func(t *testing.T) {
		// Times are kept to the nanosecond, whatever their zone, and
		// FeedbackRatings' [from, to) holds to the nanosecond.
		s, fs := open(t)
		paris := time.FixedZone("CET", 3600)
		// rel-1: ratings 1, 2, 3 at base, base+1ns (written in another
		// zone) and base+2h; rel-2: ratings 1, 2 both at base+5h.
		r1 := operating(t, s, "rel-1")
		recs1 := feedbackRecords(1, 3, base)
		recs1[1].At = base.Add(time.Nanosecond).In(paris)
		if err := add(fs, r1, recs1); err != nil {
			t.Fatal(err)
		}
		r2 := operating(t, s, "rel-2")
		five := base.Add(5 * time.Hour)
		recs2 := feedbackRecords(1, 2, five)
		recs2[1].At = five
		if err := add(fs, r2, recs2); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(recs1, read(t, fs, "rel-1", 0, 10)); d != "" {
			t.Errorf("records read back (-want +got):\n%s", d)
		}
		for _, c := range []struct {
			name     string
			from, to time.Time
			want     map[string][5]int
		}{
			{"from 1 ns after base", base.Add(time.Nanosecond), five, map[string][5]int{"rel-1": {0, 1, 1, 0, 0}}},
			{"one nanosecond", base, base.Add(time.Nanosecond), map[string][5]int{"rel-1": {1, 0, 0, 0, 0}}},
			{"the next nanosecond", base.Add(time.Nanosecond), base.Add(2 * time.Nanosecond), map[string][5]int{"rel-1": {0, 1, 0, 0, 0}}},
			{"to the nanosecond of rel-2's", base, five, map[string][5]int{"rel-1": {1, 1, 1, 0, 0}}},
			{"to 1 ns after rel-2's", base, five.Add(time.Nanosecond), map[string][5]int{"rel-1": {1, 1, 1, 0, 0}, "rel-2": {1, 1, 0, 0, 0}}},
			{"in another zone", base.In(paris), five.Add(time.Nanosecond).In(paris), map[string][5]int{"rel-1": {1, 1, 1, 0, 0}, "rel-2": {1, 1, 0, 0, 0}}},
			{"empty period", five, five, map[string][5]int{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := fs.FeedbackRatings(ctx, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("FeedbackRatings(%v, %v) (-want +got):\n%s", c.from, c.to, d)
				}
			})
		}
	})

	t.Run("FeedbackStore/Ratings", func(t *testing.T) {
		s, fs := open(t)
		// rel-1: ratings 1..5 at base+0h..4h, then 1..5 at base+5h..9h.
		r1 := operating(t, s, "rel-1")
		if err := add(fs, r1, feedbackRecords(1, 5, base)); err != nil {
			t.Fatal(err)
		}
		if err := add(fs, r1, feedbackRecords(6, 5, base.Add(5*time.Hour))); err != nil {
			t.Fatal(err)
		}
		// rel-2: ratings 1, 2 at base+100h, base+101h.
		r2 := operating(t, s, "rel-2")
		if err := add(fs, r2, feedbackRecords(1, 2, base.Add(100*time.Hour))); err != nil {
			t.Fatal(err)
		}
		operating(t, s, "rel-3") // none
		for _, c := range []struct {
			name     string
			from, to time.Time
			want     map[string][5]int
		}{
			{"all", base.Add(-time.Hour), base.Add(1000 * time.Hour), map[string][5]int{"rel-1": {2, 2, 2, 2, 2}, "rel-2": {1, 1, 0, 0, 0}}},
			{"from inclusive, to exclusive", base.Add(time.Hour), base.Add(4 * time.Hour), map[string][5]int{"rel-1": {0, 1, 1, 1, 0}}},
			{"across both writes", base.Add(4 * time.Hour), base.Add(6 * time.Hour), map[string][5]int{"rel-1": {1, 0, 0, 0, 1}}},
			{"one of rel-2", base.Add(101 * time.Hour), base.Add(102 * time.Hour), map[string][5]int{"rel-2": {0, 1, 0, 0, 0}}},
			{"none", base.Add(200 * time.Hour), base.Add(300 * time.Hour), map[string][5]int{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := fs.FeedbackRatings(ctx, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 && len(c.want) == 0 {
					return
				}
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("FeedbackRatings (-want +got):\n%s", d)
				}
			})
		}
	})
}
