package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
	"github.com/relman-dev/relman/store/storetest"
)

// procs runs the multi-process scenarios of storetest on database files:
// the test binary re-executed with RELMAN_SQLITE_CHILD set runs TestChild.
var procs = storetest.Processes{
	Env:   "RELMAN_SQLITE_CHILD",
	NewDB: func(t *testing.T) string { return filepath.Join(t.TempDir(), "relman.db") },
	Open: func(_ *testing.T, path string) (relman.Store, error) {
		return sqlite.Open(path, sqlite.Options{})
	},
	OpenChild: func(_ *testing.T, path string) (relman.Store, error) {
		return sqlite.Open(path, sqlite.Options{BusyTimeout: time.Minute})
	},
	OpenOutbox: func(_ *testing.T, path string) (relman.Store, error) {
		return sqlite.Open(path, sqlite.Options{BusyTimeout: time.Minute, Outbox: true})
	},
}

// TestRunnerProcesses runs 3 runner processes over 1,000 scheduled jobs
// in one file, kills one with SIGKILL on the way, and checks that every
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

// TestMultiProcessWriters runs 4 processes × 8 goroutines firing
// transitions on 4 shared releases of one new file: they race to migrate
// it and to create the releases, then contend on every write.
func TestMultiProcessWriters(t *testing.T) { storetest.MultiProcessWriters(t, procs, 4, 20) }

// TestKilledWriter kills a writer process with SIGKILL in the middle of a
// stream of transitions, three times over. Each time the file must reopen
// cleanly (integrity check included), every chain must verify, and every
// transition the writer saw committed must be there.
func TestKilledWriter(t *testing.T) { storetest.KilledWriter(t, procs) }
