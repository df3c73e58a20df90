package relman_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// Paging with a cursor: each page starts just past the last release of
// the one before, whatever was created meanwhile, at the same cost on
// the last page as on the first.
func ExampleQuery_Cursor() {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m, _ := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { now = now.Add(time.Minute); return now }))
	for i := 1; i <= 5; i++ {
		_, err := m.Create(ctx, &relman.Release{ID: fmt.Sprintf("rel-%d", i), Title: "Release", Version: "1.0.0",
			Kind: relman.KindPatch, Model: relman.ModelStandard, Requester: "rita", Owner: "olga"}, relman.Actor{ID: "olga"})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	q := relman.Query{Limit: 2} // by creation time, the default order
	for {
		page, err := m.List(ctx, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		ids := make([]string, len(page))
		for i, r := range page {
			ids[i] = r.ID
		}
		fmt.Println(strings.Join(ids, " "))
		if len(page) < q.Limit {
			break
		}
		q.After = q.Cursor(page[len(page)-1])
	}
	// Output:
	// rel-1 rel-2
	// rel-3 rel-4
	// rel-5
}

// Feedback on a release in operation is kept as records (on every store
// relman ships); the release carries the counts.
func ExampleManager_Feedback() {
	ctx := context.Background()
	m, _ := relman.NewManager(memory.New())
	// A release that has been deployed and is in operation.
	r := &relman.Release{ID: "rel-1", Title: "Release", Version: "1.0.0", Kind: relman.KindPatch,
		Model: relman.ModelStandard, Requester: "rita", Owner: "olga", Stage: relman.StageOperating}
	if err := m.Store().Create(ctx, r, r.Record(relman.AuditEntry{At: time.Now(), Actor: "olga", Action: relman.ActionCreate, To: r.Stage})); err != nil {
		fmt.Println(err)
		return
	}
	for _, rating := range []int{5, 4, 2} {
		if _, err := m.AddFeedback(ctx, "rel-1", relman.Actor{ID: "support"}, relman.Feedback{Rating: rating, Source: "survey"}); err != nil {
			fmt.Println(err)
			return
		}
	}
	got, _ := m.Get(ctx, "rel-1")
	fmt.Printf("%d ratings, mean %.2f\n", got.FeedbackSummary.Count, got.FeedbackSummary.Mean())
	page, _ := m.Feedback(ctx, "rel-1", 1, 100) // after the first
	for _, f := range page {
		fmt.Println(f.Seq, f.Rating, f.By)
	}
	// Output:
	// 3 ratings, mean 3.67
	// 2 4 support
	// 3 2 support
}
