package postgres_test

import (
	"testing"

	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// TestUpdateReindexes checks that List sees the services, teams, kind and
// times an Update changes, and not those a refused Update carried.
func TestUpdateReindexes(t *testing.T) {
	storetest.UpdateReindexes(t, newStore(t, testPool(t), postgres.Options{}))
}
