package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc/scaletest"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkScale measures how the costs that the plan index, feedback
// records and cursors keep flat grow with the data, on files with 1k,
// 10k and 100k planned releases (spread over two years, 1,000 services,
// 1-3 services and a window of 1-4 hours each), made once through Create
// (on a handle with RelaxedSync, to make them fast) and then opened with
// the default options:
//
//   - PlanFire: Fire(EventPlan) through a Manager (the conflicts gate
//     reads the releases overlapping the window). Target: n=100000/n=1000
//     ≤ 2.
//   - NextSlot: Manager.NextSlot for a service. Target: n=100000/n=1000
//     ≤ 3.
//   - Feedback: AddFeedback and Fire on a release with 100k feedback
//     records against one with 10. Target: big/small ≤ 1.5.
//   - ListCursor: every page of the 100k file by cursor. Target:
//     last/first about 1, and walk-ns/release the same for 10k and 100k.
func BenchmarkScale(b *testing.B) {
	dir := b.TempDir()
	var sizes []scaletest.Sized
	for _, n := range []int{1000, 10000, 100000} {
		path := filepath.Join(dir, fmt.Sprintf("n%d.db", n))
		fill, err := sqlite.Open(path, sqlite.Options{RelaxedSync: true})
		if err != nil {
			b.Fatal(err)
		}
		scaletest.Populate(b, fill, n, 1)
		if err := fill.Close(); err != nil {
			b.Fatal(err)
		}
		s, err := sqlite.Open(path, sqlite.Options{SkipIntegrityCheck: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		m, err := relman.NewManager(s)
		if err != nil {
			b.Fatal(err)
		}
		sizes = append(sizes, scaletest.Sized{N: n, S: s, M: m})
	}
	b.Run("PlanFire", func(b *testing.B) { scaletest.PlanFire(b, sizes) })
	b.Run("NextSlot", func(b *testing.B) { scaletest.NextSlot(b, sizes) })
	b.Run("Feedback", func(b *testing.B) {
		s := sizes[0].S.(*sqlite.Store)
		scaletest.FeedbackFixture(b, s, 10)
		scaletest.FeedbackFixture(b, s, 100000)
		loop, err := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(b)))
		if err != nil {
			b.Fatal(err)
		}
		scaletest.FeedbackCost(b, sizes[0].M, loop, 10, 100000)
	})
	for _, sz := range sizes[1:] {
		b.Run(fmt.Sprintf("ListCursor/n=%d", sz.N), func(b *testing.B) { scaletest.ListPages(b, sz.S, sz.N) })
	}
}
