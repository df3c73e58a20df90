package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// The reliability tests run writers in child processes: the test binary
// re-executed with childEnv set runs TestChild, which does what the
// variables ask and reports on stdout.
const (
	childEnv   = "RELMAN_POSTGRES_CHILD" // "writer", "endless", "lock" or "plan"
	childDB    = "RELMAN_POSTGRES_CHILD_SCHEMA"
	childProc  = "RELMAN_POSTGRES_CHILD_PROC"
	childRels  = "RELMAN_POSTGRES_CHILD_RELEASES"
	childGor   = "RELMAN_POSTGRES_CHILD_GOROUTINES"
	childFires = "RELMAN_POSTGRES_CHILD_FIRES"
)

// loopLifecycle has two stages and an event each way, so a release can
// take any number of transitions.
func loopLifecycle(t testing.TB) *relman.Lifecycle {
	t.Helper()
	lc, err := relman.NewLifecycle(relman.LifecycleSpec{
		Initial: "a",
		Stages:  []relman.Stage{"a", "b"},
		Events: []relman.EventSpec{
			{Name: "go", From: []relman.Stage{"a"}, To: "b"},
			{Name: "back", From: []relman.Stage{"b"}, To: "a"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

func nextEvent(st relman.Stage) relman.Event {
	if st == "a" {
		return "go"
	}
	return "back"
}

// fireNext fires the event that leads out of the release's current stage.
// It returns nil and false when another writer moved the release first.
func fireNext(ctx context.Context, m *relman.Manager, id, actor string) (*relman.Release, error) {
	r, err := m.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	got, err := m.Fire(ctx, id, nextEvent(r.Stage), relman.Request{Actor: relman.Actor{ID: actor}})
	if errors.Is(err, relman.ErrInvalidTransition) || errors.Is(err, relman.ErrConflict) {
		return nil, nil
	}
	return got, err
}

func envInt(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		panic(name + ": " + err.Error())
	}
	return n
}

func relID(i int) string { return fmt.Sprintf("shared-%d", i) }

// TestChild is the child process of the reliability tests; run on its own
// it skips.
func TestChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("helper process for the multi-process tests")
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, os.Getenv(dsnEnv), postgres.Options{Schema: os.Getenv(childDB)})
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	defer s.Close()
	switch mode {
	case "lock":
		holdLock(t, s)
		return
	case "plan":
		planChild(t, s)
		return
	}
	m, err := relman.NewManager(s, relman.WithLifecycle(loopLifecycle(t)), relman.WithRetries(10))
	if err != nil {
		t.Fatal(err)
	}
	proc, rels, gors := envInt(childProc), envInt(childRels), envInt(childGor)
	for i := range rels { // every child tries; one wins each
		if _, err := m.Create(ctx, storetest.Minimal(relID(i)), relman.Actor{ID: "creator"}); err != nil && !errors.Is(err, relman.ErrExists) {
			t.Fatalf("create: %v", err)
		}
	}
	var mu sync.Mutex
	counts := map[string]int{} // "release actor" → transitions
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range gors {
		actor := fmt.Sprintf("p%d-g%d", proc, g)
		wg.Go(func() {
			fires := -1
			if mode == "writer" {
				fires = envInt(childFires)
			}
			for i, done := 0, 0; fires < 0 || done < fires; i++ {
				id := relID((i + g + proc) % rels)
				r, err := fireNext(ctx, m, id, actor)
				if err != nil {
					fmt.Printf("ERROR %v\n", err)
					t.Errorf("fire: %v", err)
					return
				}
				if r == nil {
					continue
				}
				done++
				if mode == "endless" { // acknowledge each committed transition
					out.Lock()
					fmt.Printf("ACK %s %d %s\n", r.ID, r.Head.Seq, r.Head.Hash)
					out.Unlock()
				}
				mu.Lock()
				counts[id+" "+actor]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b, _ := json.Marshal(counts)
	fmt.Printf("RESULT %s\n", b)
}

// child starts the test binary as a child process.
func child(t *testing.T, ctx context.Context, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// verify checks every release of the store: the chain verifies, the
// revision counts the history, each transition leaves from the stage the
// previous one reached, and the transitions per actor are want.
func verify(t *testing.T, s relman.Store, ids []string, want map[string]int) {
	t.Helper()
	ctx := context.Background()
	got := map[string]int{}
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get %s: %v", id, err)
		}
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatalf("History %s: %v", id, err)
		}
		if err := relman.VerifyHistory(h, &r.Head); err != nil {
			t.Errorf("release %s: %v", id, err)
		}
		if r.Revision != int64(len(h)) {
			t.Errorf("release %s: revision %d but %d history entries (lost update)", id, r.Revision, len(h))
		}
		for i := 1; i < len(h); i++ {
			if h[i].From != h[i-1].To {
				t.Errorf("release %s: entry %d leaves %q but entry %d reached %q", id, h[i].Seq, h[i].From, h[i-1].Seq, h[i-1].To)
				break
			}
			got[id+" "+h[i].Actor]++
		}
		if len(h) > 0 && r.Stage != h[len(h)-1].To {
			t.Errorf("release %s: stage %q but history ends in %q", id, r.Stage, h[len(h)-1].To)
		}
	}
	if want != nil {
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d transitions stored, %d reported", k, got[k], n)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d (release, actor) pairs stored, %d reported", len(got), len(want))
		}
	}
}

// TestMultiProcessWriters runs 2 processes × 8 goroutines firing
// transitions on 4 shared releases in one new schema: they race to
// migrate it and to create the releases, then contend on every write. No
// update may be lost: the counts the writers report are the counts stored,
// and every chain verifies.
func TestMultiProcessWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	pool := testPool(t)
	schema := freshSchema(t, pool)
	const procs, gors, fires, rels = 2, 8, 15, 4
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type res struct {
		out []byte
		err error
	}
	results := make(chan res, procs)
	for p := range procs {
		cmd := child(t, ctx, childEnv+"=writer", childDB+"="+schema, fmt.Sprintf("%s=%d", childProc, p),
			fmt.Sprintf("%s=%d", childRels, rels), fmt.Sprintf("%s=%d", childGor, gors), fmt.Sprintf("%s=%d", childFires, fires))
		go func() {
			out, err := cmd.Output()
			results <- res{out, err}
		}()
	}
	want := map[string]int{}
	total := 0
	for range procs {
		r := <-results
		if r.err != nil {
			t.Fatalf("child: %v\n%s", r.err, r.out)
		}
		var counts map[string]int
		for line := range strings.Lines(string(r.out)) {
			if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
				if err := json.Unmarshal([]byte(rest), &counts); err != nil {
					t.Fatal(err)
				}
			}
		}
		if counts == nil {
			t.Fatalf("child reported nothing:\n%s", r.out)
		}
		for k, n := range counts {
			want[k] += n
			total += n
		}
	}
	if total != procs*gors*fires {
		t.Fatalf("children reported %d transitions, want %d", total, procs*gors*fires)
	}
	s := newStore(t, pool, postgres.Options{Schema: schema})
	ids := make([]string, rels)
	for i := range ids {
		ids[i] = relID(i)
	}
	verify(t, s, ids, want)
	all, err := s.List(ctx, relman.Query{})
	if err != nil || len(all) != rels {
		t.Errorf("List: %d releases, %v; want %d", len(all), err, rels)
	}
	var sum int64
	for _, r := range all {
		sum += r.Revision - 1
	}
	if sum != int64(total) {
		t.Errorf("revisions add up to %d transitions, want %d", sum, total)
	}
}
