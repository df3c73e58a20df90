package storetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// Processes tells the multi-process scenarios (MultiProcessWriters,
// KilledWriter, PlanRaceTwoHandles, PlanRaceProcesses, CrossProcessLock)
// how to reach one database from several handles and processes.
//
// The scenarios run writers in child processes: the test binary
// re-executed with the variable Env set runs the test named TestChild,
// which must call Child with the same Processes. So a store that runs
// them has, beside the scenarios,
//
//	func TestChild(t *testing.T) { storetest.Child(t, procs) }
type Processes struct {
	// Env is the name of the variable that tells a child what to do, and
	// the prefix of the others that pass it its work (Env+"_DB" and so
	// on), for example "RELMAN_SQLITE_CHILD".
	Env string

	// NewDB returns the name of a new, empty database that Open can open
	// in this process and OpenChild in a child (a file path, a schema
	// name), and arranges for it to be removed when the test ends.
	NewDB func(t *testing.T) string

	// Open opens a handle on the database db in the test process. The
	// scenarios close the handle when they are done with it, if it is an
	// io.Closer.
	Open func(t *testing.T, db string) (relman.Store, error)

	// OpenChild opens a handle on db in a child process; nil means Open.
	OpenChild func(t *testing.T, db string) (relman.Store, error)

	// OpenOutbox opens a handle on db with its outbox enabled (see
	// relman.Outbox), in this process or a child. The runner scenarios
	// (RunnerProcesses, KilledBeforeDelivery) need it; nil skips them.
	OpenOutbox func(t *testing.T, db string) (relman.Store, error)
}

// The variables that pass a child its work, after Processes.Env.
const (
	envDB      = "_DB"
	envProc    = "_PROC"
	envRels    = "_RELEASES"
	envGor     = "_GOROUTINES"
	envFires   = "_FIRES"
	envRelease = "_RELEASE"
	envWindow  = "_WINDOW" // start/end, RFC 3339
)

// open opens db with p.Open, failing the test if it cannot, and closes
// the handle when the test ends.
func (p Processes) open(t *testing.T, db string) relman.Store {
	t.Helper()
	s, err := p.Open(t, db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeStore(s) })
	return s
}

// closeStore closes s if it is an io.Closer.
func closeStore(s relman.Store) {
	if c, ok := s.(io.Closer); ok {
		c.Close()
	}
}

// env returns the assignment of the variable Env+suffix to v, for a
// child's environment.
func (p Processes) env(suffix string, v any) string {
	return fmt.Sprintf("%s%s=%v", p.Env, suffix, v)
}

// envInt returns the variable Env+suffix as a number.
func (p Processes) envInt(suffix string) int {
	name := p.Env + suffix
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		panic(name + ": " + err.Error())
	}
	return n
}

// child starts the test binary as a child process running TestChild in
// the given mode, with the variables env.
func (p Processes) child(t *testing.T, ctx context.Context, mode string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), p.Env+"="+mode), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// start starts a child as child does, with pipes to its stdin and from
// its stdout, and kills it when the test ends if it is still running.
func (p Processes) start(t *testing.T, ctx context.Context, mode string, env ...string) (*exec.Cmd, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := p.child(t, ctx, mode, env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdin, stdout
}

// LoopLifecycle returns a lifecycle with two stages, "a" and "b", and an
// event each way ("go" and "back"), so a release can take any number of
// transitions. See FireNext.
func LoopLifecycle(t testing.TB) *relman.Lifecycle {
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

// NextEvent returns the event of LoopLifecycle that leads out of stage st.
func NextEvent(st relman.Stage) relman.Event {
	if st == "a" {
		return "go"
	}
	return "back"
}

// FireNext fires, on a Manager with LoopLifecycle, the event that leads
// out of the release's current stage, as actor. It returns nil and no
// error when another writer moved the release first.
func FireNext(ctx context.Context, m *relman.Manager, id, actor string) (*relman.Release, error) {
	r, err := m.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	got, err := m.Fire(ctx, id, NextEvent(r.Stage), relman.Request{Actor: relman.Actor{ID: actor}})
	if errors.Is(err, relman.ErrInvalidTransition) || errors.Is(err, relman.ErrConflict) {
		return nil, nil
	}
	return got, err
}

func relID(i int) string { return fmt.Sprintf("shared-%d", i) }

// Child is the body of the test TestChild, the child process of the
// multi-process scenarios. Run on its own (without the variable p.Env)
// it skips. It opens the database the parent named with p.OpenChild,
// does what the variables ask and reports on stdout.
func Child(t *testing.T, p Processes) {
	mode := os.Getenv(p.Env)
	if mode == "" {
		t.Skip("helper process for the multi-process tests")
	}
	ctx := context.Background()
	open := p.OpenChild
	if open == nil {
		open = p.Open
	}
	if mode == "runner" || mode == "commit" {
		open = p.OpenOutbox
	}
	s, err := open(t, os.Getenv(p.Env+envDB))
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	defer closeStore(s)
	switch mode {
	case "lock":
		holdLock(t, s)
		return
	case "plan":
		p.planChild(t, s)
		return
	case "runner":
		p.runnerChild(t, s)
		return
	case "commit":
		p.commitChild(t, s)
		return
	case "rollout":
		p.rolloutChild(t, s)
		return
	}
	m, err := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(t)), relman.WithRetries(10))
	if err != nil {
		t.Fatal(err)
	}
	proc, rels, gors := p.envInt(envProc), p.envInt(envRels), p.envInt(envGor)
	for i := range rels { // every child tries; one wins each
		if _, err := m.Create(ctx, Minimal(relID(i)), relman.Actor{ID: "creator"}); err != nil && !errors.Is(err, relman.ErrExists) {
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
				fires = p.envInt(envFires)
			}
			for i, done := 0, 0; fires < 0 || done < fires; i++ {
				id := relID((i + g + proc) % rels)
				r, err := FireNext(ctx, m, id, actor)
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

// MultiProcessWriters runs procs child processes × 8 goroutines, each
// goroutine firing fires transitions on 4 shared releases of one new
// database: they race to migrate it and to create the releases, then
// contend on every write. No update may be lost: the counts the writers
// report are the counts stored, and every chain verifies.
func MultiProcessWriters(t *testing.T, p Processes, procs, fires int) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const gors, rels = 8, 4
	db := p.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type res struct {
		out []byte
		err error
	}
	results := make(chan res, procs)
	for proc := range procs {
		cmd := p.child(t, ctx, "writer", p.env(envDB, db), p.env(envProc, proc),
			p.env(envRels, rels), p.env(envGor, gors), p.env(envFires, fires))
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
	s := p.open(t, db)
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

// KilledWriter kills a writer process with SIGKILL in the middle of a
// stream of transitions, three times over. Each time the database must
// reopen cleanly with p.Open, every chain must verify, every transition
// the writer saw committed must be there, and the store must take a
// write.
func KilledWriter(t *testing.T, p Processes) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const rels = 3
	db := p.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ids := make([]string, rels)
	for i := range ids {
		ids[i] = relID(i)
	}
	for round := range 3 {
		cmd := p.child(t, ctx, "endless", p.env(envDB, db), p.env(envProc, round),
			p.env(envRels, rels), p.env(envGor, 4))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]string{} // "id seq" → hash
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && len(acked) < 60 {
			f := strings.Fields(sc.Text())
			if len(f) == 4 && f[0] == "ACK" {
				acked[f[1]+" "+f[2]] = f[3]
			}
		}
		// Kill while it writes.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		go func() {
			for sc.Scan() {
			}
		}()
		if err := cmd.Wait(); !killedBySIGKILL(err) {
			t.Fatalf("round %d: writer ended with %v, want killed by SIGKILL", round, err)
		}
		if len(acked) < 60 {
			t.Fatalf("round %d: writer acknowledged only %d transitions", round, len(acked))
		}

		s, err := p.Open(t, db)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		verify(t, s, ids, nil)
		for k, hash := range acked {
			id, seq, _ := strings.Cut(k, " ")
			n, _ := strconv.Atoi(seq)
			h, err := s.History(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n > len(h) || h[n-1].Hash != hash {
				t.Errorf("round %d: acknowledged transition %s #%d is lost", round, id, n)
			}
		}
		// The store is writable: no lock was left behind.
		m, _ := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(t)))
		if r, err := FireNext(ctx, m, ids[0], "after-kill"); err != nil || r == nil {
			t.Errorf("round %d: fire after kill: %v", round, err)
		}
		closeStore(s)
	}
}
