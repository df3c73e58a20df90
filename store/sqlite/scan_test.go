package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// TestScanBatches scans more releases than one batch, with one read
// connection, while fn reads each release's history from the store: Scan
// must hold no connection while fn runs, and visit each release once.
func TestScanBatches(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "scan.db"), sqlite.Options{MaxReaders: 1, RelaxedSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.ScanBatches(t, s)
}
