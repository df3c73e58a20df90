package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// procs runs the multi-process scenarios of storetest on schemas of the
// test database: the test binary re-executed with RELMAN_POSTGRES_CHILD
// set runs TestChild, which connects with the DSN it inherits.
var procs = storetest.Processes{
	Env:   "RELMAN_POSTGRES_CHILD",
	NewDB: func(t *testing.T) string { return freshSchema(t, testPool(t)) },
	Open: func(t *testing.T, schema string) (relman.Store, error) {
		return postgres.New(context.Background(), testPool(t), postgres.Options{Schema: schema})
	},
	OpenChild: func(_ *testing.T, schema string) (relman.Store, error) {
		return postgres.Open(context.Background(), os.Getenv(dsnEnv), postgres.Options{Schema: schema})
	},
}

// TestChild is the child process of the multi-process tests; run on its
// own it skips.
func TestChild(t *testing.T) { storetest.Child(t, procs) }

// TestMultiProcessWriters runs 2 processes × 8 goroutines firing
// transitions on 4 shared releases in one new schema: they race to
// migrate it and to create the releases, then contend on every write.
func TestMultiProcessWriters(t *testing.T) { storetest.MultiProcessWriters(t, procs, 2, 15) }
