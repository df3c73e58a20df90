package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/relman-dev/relman"
)

// feedbackLog is one version of a release's feedback records, in the
// order they were added.
type feedbackLog struct {
	recs   chunks[relman.Feedback]
	maxSeq int64
	sorted bool // by Seq, as they are when each write numbers on from the last
}

// appended returns the log with fs added, or an error matching
// relman.ErrConflict if one of their Seq is taken. l may be nil (no
// records yet).
func (l *feedbackLog) appended(fs []relman.Feedback) (*feedbackLog, error) {
	n := feedbackLog{sorted: true}
	if l != nil {
		n = *l
	}
	after := true // each Seq above the one before, the first above maxSeq
	prev := n.maxSeq
	for _, f := range fs {
		if f.Seq <= prev {
			after = false
			break
		}
		prev = f.Seq
	}
	if !after {
		seen := make(map[int64]bool, n.recs.n+len(fs))
		n.recs.each(func(f *relman.Feedback) bool { seen[f.Seq] = true; return true })
		for _, f := range fs {
			if seen[f.Seq] {
				return nil, fmt.Errorf("feedback seq %d is taken: %w", f.Seq, relman.ErrConflict)
			}
			seen[f.Seq] = true
		}
		n.sorted = false
	}
	for _, f := range fs {
		n.maxSeq = max(n.maxSeq, f.Seq)
	}
	n.recs = n.recs.appended(fs...)
	return &n, nil
}

// UpdateFeedback implements relman.FeedbackStore. Appending records costs
// O(len(fs)) however many the release has, unless fs does not number on
// from them (then the store checks every Seq).
func (s *Store) UpdateFeedback(ctx context.Context, r *relman.Release, fs []relman.Feedback, entries ...relman.AuditEntry) error {
	return s.update(ctx, "update feedback", r, fs, entries, false)
}

// Feedback implements relman.FeedbackStore. It finds the first record by
// binary search, so a page costs O(log m + n) for m records.
func (s *Store) Feedback(ctx context.Context, id string, after int64, n int) ([]relman.Feedback, error) {
	if n < 1 || n > relman.MaxPage {
		return nil, fmt.Errorf("memory: feedback %q: %w", id, &relman.ValidationError{Fields: []relman.FieldError{{Field: "n", Rule: "range", Param: "1..1000"}}})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: feedback %q: %w", id, err)
	}
	r := s.find(id)
	if r == nil {
		return nil, fmt.Errorf("memory: feedback %q: %w", id, relman.ErrNotFound)
	}
	l := r.fb.Load()
	if l == nil {
		return nil, nil
	}
	var out []relman.Feedback
	if l.sorted {
		l.recs.from(func(f *relman.Feedback) bool { return f.Seq <= after }, func(f *relman.Feedback) bool {
			out = append(out, *f)
			return len(out) < n
		})
		return out, nil
	}
	l.recs.each(func(f *relman.Feedback) bool {
		if f.Seq > after {
			out = append(out, *f)
		}
		return true
	})
	slices.SortFunc(out, func(a, b relman.Feedback) int { return cmp.Compare(a.Seq, b.Seq) })
	return out[:min(n, len(out))], nil
}

// FeedbackRatings implements relman.FeedbackStore. It reads every record.
func (s *Store) FeedbackRatings(ctx context.Context, from, to time.Time) (map[string][5]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: feedback ratings: %w", err)
	}
	type withRecords struct {
		id string
		l  *feedbackLog
	}
	var all []withRecords
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for id, r := range sh.recs {
			if l := r.fb.Load(); l != nil {
				all = append(all, withRecords{id, l})
			}
		}
		sh.mu.RUnlock()
	}
	out := make(map[string][5]int)
	for _, w := range all {
		var c [5]int
		found := false
		w.l.recs.each(func(f *relman.Feedback) bool {
			if !f.At.Before(from) && f.At.Before(to) && f.Rating >= 1 && f.Rating <= 5 {
				c[f.Rating-1]++
				found = true
			}
			return true
		})
		if found {
			out[w.id] = c
		}
	}
	return out, nil
}
