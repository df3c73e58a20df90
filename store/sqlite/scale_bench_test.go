package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkScale runs storetest.RunScale on files holding its
// populations, made once through Create (on a handle with RelaxedSync, to
// make them fast) and then opened with the default options.
func BenchmarkScale(b *testing.B) {
	dir := b.TempDir()
	storetest.RunScale(b, func(b *testing.B, n int) relman.Store {
		path := filepath.Join(dir, fmt.Sprintf("n%d.db", n))
		fill, err := sqlite.Open(path, sqlite.Options{RelaxedSync: true})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PopulatePlanned(b, fill, n, 1)
		if err := fill.Close(); err != nil {
			b.Fatal(err)
		}
		s, err := sqlite.Open(path, sqlite.Options{SkipIntegrityCheck: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}, storetest.ScaleOptions{})
}
