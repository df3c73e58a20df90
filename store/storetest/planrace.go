package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// The plan race: two releases on one service are planned into the same
// window at the same moment, by two Managers on two handles of one
// database, in one process or in two. A before-hook of plan makes each
// wait for the other to reach the same point (or for rendezvousWait):
// without a schedule lock that holds across handles, both would pass the
// conflicts gate before either commits. Exactly one must be booked; the
// other must be refused by the conflicts gate.

const rendezvousWait = 500 * time.Millisecond

var planner = relman.Actor{ID: "alice", Roles: []string{"release-manager"}}

// approvedReleases creates releases ids, all deploying service invoices
// (each with a team of its own, so the only conflict is the service), and
// approves them. It returns a window for them to be planned into.
func approvedReleases(t *testing.T, s relman.Store, ids ...string) relman.Span {
	t.Helper()
	ctx := context.Background()
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		r := Minimal(id)
		r.Services = []string{"invoices"}
		r.Teams = []string{"team-" + id}
		r.Tasks = []relman.Task{{Name: "build", Team: "team-" + id, Duration: time.Hour}}
		r.Case = relman.BusinessCase{Problem: "slow invoices", ExpectedValue: 50000, Cost: 12000, Feasibility: relman.FeasibilityHigh}
		if _, err := m.Create(ctx, r, planner); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		if _, err := m.Fire(ctx, id, relman.EventApprove, relman.Request{Actor: planner}); err != nil {
			t.Fatalf("approve %s: %v", id, err)
		}
	}
	start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	return relman.Span{Start: start, End: start.Add(2 * time.Hour)}
}

// plan fires plan on id into win and describes the outcome: "booked",
// "conflict" (refused by the conflicts gate with a same-service
// conflict), or the error.
func plan(ctx context.Context, m *relman.Manager, id string, win relman.Span) string {
	_, err := m.Fire(ctx, id, relman.EventPlan, relman.Request{Actor: planner, Window: &win})
	if err == nil {
		return "booked"
	}
	var ge *relman.GateError
	var ce *relman.ConflictError
	if errors.As(err, &ge) && len(ge.Failures) == 1 && ge.Failures[0].Gate == relman.GateConflicts &&
		errors.Is(err, relman.ErrSchedulingConflict) && errors.As(err, &ce) &&
		slices.ContainsFunc(ce.Conflicts, func(c relman.Conflict) bool { return c.Kind == relman.ConflictService && c.Service == "invoices" }) {
		return "conflict"
	}
	return "error: " + err.Error()
}

// checkBookedOnce checks the outcomes of the two plans and the store: one
// release booked, the other refused, no conflict left.
func checkBookedOnce(t *testing.T, s relman.Store, outcomes []string) {
	t.Helper()
	slices.Sort(outcomes)
	if !slices.Equal(outcomes, []string{"booked", "conflict"}) {
		t.Fatalf("plan outcomes %q, want one booked and one conflict", outcomes)
	}
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	planned, err := m.Planned(ctx)
	if err != nil || len(planned) != 1 {
		t.Errorf("Planned: %d releases, %v; want 1", len(planned), err)
	}
	if cs, err := m.Conflicts(ctx); err != nil || len(cs) != 0 {
		t.Errorf("Conflicts: %v, %v; want none", cs, err)
	}
}

// PlanRaceTwoHandles runs the plan race in this process: two releases on
// one service are planned into the same window at the same moment, by two
// Managers on two handles of one new database (p.NewDB, p.Open). A
// before-hook of plan makes each wait for the other to reach it: without
// a schedule lock that holds across handles, both would pass the
// conflicts gate before either commits. Exactly one must be booked; the
// other must be refused by the conflicts gate.
func PlanRaceTwoHandles(t *testing.T, p Processes) {
	db := p.NewDB(t)
	a, b := p.open(t, db), p.open(t, db)
	win := approvedReleases(t, a, "r1", "r2")
	arrived := make(chan struct{}, 2)
	rendezvous := func(context.Context, *relman.Release, relman.Transition) error {
		arrived <- struct{}{}
		deadline := time.After(rendezvousWait)
		for len(arrived) < 2 {
			select {
			case <-deadline:
				return nil
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	outcomes := make([]string, 2)
	var wg sync.WaitGroup
	for i, s := range []relman.Store{a, b} {
		m, err := relman.NewManager(s, relman.WithBeforeHook(relman.EventPlan, "rendezvous", rendezvous))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { outcomes[i] = plan(context.Background(), m, fmt.Sprintf("r%d", i+1), win) })
	}
	wg.Wait()
	checkBookedOnce(t, a, outcomes)
}

// planChild is Child in "plan" mode: it plans its release into the
// window, meeting the other planner through the parent: its before-hook
// says ARRIVED and waits for a line on stdin (or for rendezvousWait).
// It says RESULT and the outcome.
func (p Processes) planChild(t *testing.T, s relman.Store) {
	start, end, _ := strings.Cut(os.Getenv(p.Env+envWindow), "/")
	var win relman.Span
	var err1, err2 error
	win.Start, err1 = time.Parse(time.RFC3339, start)
	win.End, err2 = time.Parse(time.RFC3339, end)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	goLine := make(chan struct{}, 1)
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		goLine <- struct{}{}
	}()
	m, err := relman.NewManager(s, relman.WithBeforeHook(relman.EventPlan, "rendezvous",
		func(context.Context, *relman.Release, relman.Transition) error {
			fmt.Println("ARRIVED")
			select {
			case <-goLine:
			case <-time.After(rendezvousWait):
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT %s\n", plan(context.Background(), m, os.Getenv(p.Env+envRelease), win))
}

// PlanRaceProcesses runs the plan race of PlanRaceTwoHandles in two child
// processes (see Processes), which the parent lets plan once both have
// reached the before-hook.
func PlanRaceProcesses(t *testing.T, p Processes) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	db := p.NewDB(t)
	s := p.open(t, db)
	win := approvedReleases(t, s, "r1", "r2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type event struct {
		child int
		line  string
	}
	events := make(chan event)
	stdins := make([]io.WriteCloser, 2)
	for i := range 2 {
		_, stdin, stdout := p.start(t, ctx, "plan", p.env(envDB, db), p.env(envRelease, fmt.Sprintf("r%d", i+1)),
			p.env(envWindow, win.Start.Format(time.RFC3339)+"/"+win.End.Format(time.RFC3339)))
		stdins[i] = stdin
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				events <- event{i, sc.Text()}
			}
			events <- event{i, "EOF"}
		}()
	}
	arrived := 0
	outcomes := make([]string, 2)
	for done := 0; done < 2; {
		select {
		case e := <-events:
			switch {
			case e.line == "ARRIVED":
				if arrived++; arrived == 2 {
					for _, w := range stdins {
						fmt.Fprintln(w, "GO")
					}
				}
			case strings.HasPrefix(e.line, "RESULT "):
				outcomes[e.child] = strings.TrimPrefix(e.line, "RESULT ")
			case e.line == "EOF":
				done++
			}
		case <-ctx.Done():
			t.Fatal("children did not finish")
		}
	}
	checkBookedOnce(t, s, outcomes)
}
