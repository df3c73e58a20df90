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
	OpenOutbox: func(_ *testing.T, schema string) (relman.Store, error) {
		return postgres.Open(context.Background(), os.Getenv(dsnEnv), postgres.Options{Schema: schema, Outbox: true})
	},
}

// TestRunnerProcesses runs 3 runner processes over 1,000 scheduled jobs
// in one schema, kills one with SIGKILL on the way, and checks that every
// job fired exactly once and every notification reached a webhook
// receiver that failed and went down meanwhile.
func TestRunnerProcesses(t *testing.T) { storetest.RunnerProcesses(t, procs, 3, 1000, true) }

// TestKilledBeforeDelivery: changes committed by a process killed before
// any runner ran are delivered all the same.
func TestKilledBeforeDelivery(t *testing.T) { storetest.KilledBeforeDelivery(t, procs) }

// TestRolloutKilled: a rollout whose driver is killed mid-step is taken
// over and no step is deployed twice.
func TestRolloutKilled(t *testing.T) { storetest.RolloutKilled(t, procs) }

// TestChild is the child process of the multi-process tests; run on its
// own it skips.
func TestChild(t *testing.T) { storetest.Child(t, procs) }

// TestMultiProcessWriters runs 2 processes × 8 goroutines firing
// transitions on 4 shared releases in one new schema: they race to
// migrate it and to create the releases, then contend on every write.
func TestMultiProcessWriters(t *testing.T) { storetest.MultiProcessWriters(t, procs, 2, 15) }
