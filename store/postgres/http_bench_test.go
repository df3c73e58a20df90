package postgres_test

import (
	"testing"

	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// BenchmarkCheckOverHTTP compares a dry run through Manager.Check on
// PostgreSQL with the same dry run over HTTP on loopback (see
// storetest.CheckOverHTTP).
func BenchmarkCheckOverHTTP(b *testing.B) {
	storetest.CheckOverHTTP(b, newStore(b, testPool(b), postgres.Options{}))
}
