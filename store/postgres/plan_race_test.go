package postgres_test

import (
	"testing"

	"github.com/relman-dev/relman/store/storetest"
)

// TestPlanRaceTwoHandles runs the plan race with two Stores (each with a
// pool of its own) over one schema in one process.
func TestPlanRaceTwoHandles(t *testing.T) { storetest.PlanRaceTwoHandles(t, procs) }

// TestPlanRaceProcesses runs the plan race in two child processes.
func TestPlanRaceProcesses(t *testing.T) { storetest.PlanRaceProcesses(t, procs) }
