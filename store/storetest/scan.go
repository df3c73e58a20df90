package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/relman-dev/relman"
)

// ScanBatches checks Scan on s, an empty store: it creates 600 releases,
// more than one batch, and scans them all and a third of them while fn
// reads each release's history from the store. Scan must visit each
// release once and hold no connection while fn runs, so a store made
// with a single connection (or reader) shows if it does. Run checks it on
// the stores newStore makes (subtest "Scanner/Batches"); call ScanBatches
// for a store opened with one connection.
func ScanBatches(t *testing.T, s interface {
	relman.Store
	relman.Scanner
}) {
	ctx := context.Background()
	const n = 600
	for i := range n {
		r := Minimal(fmt.Sprintf("r%04d", i))
		if i%3 == 0 {
			r.Services = []string{"billing"}
		}
		e := r.Record(relman.AuditEntry{At: r.CreatedAt, Actor: "c", Action: relman.ActionCreate, To: r.Stage})
		if err := s.Create(ctx, r, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		q    relman.Query
		want int
	}{{relman.Query{}, n}, {relman.Query{Service: "billing"}, n / 3}} {
		seen := map[string]bool{}
		err := s.Scan(ctx, c.q, func(r *relman.Release) error {
			if seen[r.ID] {
				t.Errorf("%s visited twice", r.ID)
			}
			seen[r.ID] = true
			h, err := s.History(ctx, r.ID)
			if err != nil || len(h) != 1 {
				return fmt.Errorf("history of %s: %d entries, %v", r.ID, len(h), err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan(%+v): %v", c.q, err)
		}
		if len(seen) != c.want {
			t.Errorf("Scan(%+v) visited %d releases, want %d", c.q, len(seen), c.want)
		}
	}
}
