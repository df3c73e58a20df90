package storetest

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
)

// The variables that pass a runner child its work, after Processes.Env.
const (
	envURL    = "_URL"
	envSecret = "_SECRET"
	envCount  = "_COUNT"
)

// runnerSecret signs the runner children's webhook deliveries.
var runnerSecret = []byte("storetest-runner-secret-0123456789abcdef")

// scheduledRelease returns a planned release with one pending scheduled
// start, due at due.
func scheduledRelease(id string, due time.Time) *relman.Release {
	r := Minimal(id)
	r.Stage = relman.StagePlanned
	r.CreatedAt, r.UpdatedAt, r.EnteredAt = due, due, due
	r.Scheduled = []relman.ScheduledEvent{{ID: "s1", Event: relman.EventStart, Timing: relman.TimingAt, At: due,
		Actor: relman.Actor{ID: "scheduler"}, State: relman.SchedulePending, ScheduledAt: due}}
	return r
}

// RunnerProcesses checks the runner across processes: runners child
// processes share one database holding jobs releases, each with one
// scheduled event due now, and deliver the outbox to a webhook receiver
// in this process that fails its first 3 requests and is down for a
// second in the middle. With kill, one runner is killed with SIGKILL
// once a third of the jobs are done. Every job must fire exactly once
// (counted in the histories), no transition twice, and every
// notification be delivered, in order per release, with a valid
// signature, duplicates only under the same idempotency key.
func RunnerProcesses(t *testing.T, p Processes, runners, jobs int, kill bool) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	if p.OpenOutbox == nil {
		t.Skip("Processes.OpenOutbox is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db := p.NewDB(t)
	s, err := p.OpenOutbox(t, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore(s) })
	due := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	ids := make([]string, jobs)
	for i := range jobs {
		ids[i] = fmt.Sprintf("job-%04d", i)
		Put(t, s, scheduledRelease(ids[i], due))
	}
	rc := NewReceiver(t, runnerSecret, nil)
	rc.Fail(3)

	var fired atomic.Int64
	type child struct {
		stop func()
		kill func()
		done chan error
	}
	var children []child
	for i := range runners {
		cmd, stdin, stdout := p.start(t, ctx, "runner", p.env(envDB, db), p.env(envProc, i),
			p.env(envURL, rc.URL), p.env(envSecret, hex.EncodeToString(runnerSecret)))
		done := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "FIRED ") {
					fired.Add(1)
				}
			}
			done <- cmd.Wait()
		}()
		children = append(children, child{stop: func() { stdin.Close() }, kill: func() { _ = cmd.Process.Kill() }, done: done})
	}
	killed := -1
	outage := false
	ds := s.(relman.DueStore)
	ob := s.(relman.Outbox)
	for {
		if ctx.Err() != nil {
			t.Fatalf("timed out: %d of %d jobs reported fired, %d notifications accepted", fired.Load(), jobs, rc.Accepted())
		}
		if kill && killed < 0 && fired.Load() >= int64(jobs/3) {
			killed = 0
			children[0].kill()
			t.Logf("killed runner 0 with SIGKILL after %d jobs", fired.Load())
		}
		if !outage && rc.Accepted() >= jobs/2 {
			outage = true
			rc.Down(true)
			time.AfterFunc(time.Second, func() { rc.Down(false) })
		}
		left, err := ds.DueBefore(ctx, due.Add(24*time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := ob.ListNotifications(ctx, false, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 && len(pending) == 0 && outage {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, c := range children {
		if i == killed {
			<-c.done
			continue
		}
		c.stop()
		if err := <-c.done; err != nil {
			t.Errorf("runner %d: %v", i, err)
		}
	}

	// Every job fired once, and nothing fired twice.
	total := 0
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := relman.VerifyHistory(h, &r.Head); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		starts := 0
		for _, e := range h {
			if e.Action == relman.ActionTransition && e.Event == relman.EventStart {
				starts++
			}
		}
		if starts != 1 || r.Stage != relman.StageBuilding || r.Scheduled[0].State != relman.ScheduleFired {
			t.Errorf("%s: %d start transitions, stage %s, job %s; want exactly one, building, fired", id, starts, r.Stage, r.Scheduled[0].State)
		}
		total += len(h)
		if got := rc.Order(id); !slices.Equal(got, seqs(len(h))) {
			t.Errorf("%s: notifications accepted in the order %v, want %v", id, got, seqs(len(h)))
		}
	}
	if n := rc.Accepted(); n != total {
		t.Errorf("%d distinct notifications accepted, want %d (one per audit entry)", n, total)
	}
	if p := rc.Problems(); len(p) > 0 {
		t.Errorf("the receiver found problems:\n%s", rc.report())
	}
	if dead, _ := ob.ListNotifications(ctx, true, 10); len(dead) > 0 {
		t.Errorf("%d notifications dead-lettered", len(dead))
	}
	t.Logf("%d runners, %d jobs: %d reported fired by the runners that lived; %d notifications accepted from %d requests",
		runners, jobs, fired.Load(), rc.Accepted(), rc.Requests())
}

func seqs(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// runnerChild runs a runner on s, delivering to the parent's receiver,
// and prints "FIRED <release>" for each event it fires, until its stdin
// closes.
func (p Processes) runnerChild(t *testing.T, s relman.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		cancel()
	}()
	secret, err := hex.DecodeString(os.Getenv(p.Env + envSecret))
	if err != nil {
		t.Fatal(err)
	}
	hook, err := runner.NewWebhook(os.Getenv(p.Env+envURL), secret, runner.WebhookOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(s, relman.WithRetries(20))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(m, runner.Options{Sink: hook, Lease: 2 * time.Second, Batch: 32,
		Backoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, MaxAttempts: 1000,
		Owner: fmt.Sprintf("child-%d-%d", p.envInt(envProc), os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	var out sync.Mutex
	for ctx.Err() == nil {
		rep, err := r.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "runner child:", err)
		}
		out.Lock()
		for _, a := range rep.Actions {
			if a.State == relman.ScheduleFired {
				fmt.Printf("FIRED %s\n", a.ReleaseID)
			}
		}
		out.Unlock()
		if !rep.Full {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// KilledBeforeDelivery checks that a change committed with the outbox on
// is delivered even when its process dies before any runner sees it: a
// child creates releases and fires events, says so, and is killed with
// SIGKILL; a runner here then delivers every audit entry of them.
func KilledBeforeDelivery(t *testing.T, p Processes) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	if p.OpenOutbox == nil {
		t.Skip("Processes.OpenOutbox is not set")
	}
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := p.NewDB(t)
	cmd, _, stdout := p.start(t, ctx, "commit", p.env(envDB, db), p.env(envCount, n))
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "COMMITTED" {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatal("the child did not commit")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	s, err := p.OpenOutbox(t, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore(s) })
	var mu sync.Mutex
	got := map[string]bool{}
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(m, runner.Options{Sink: runner.SinkFunc(func(_ context.Context, nt relman.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		got[nt.Key()] = true
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	for {
		rep, err := r.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Delivered == 0 {
			break
		}
	}
	want := 0
	for i := range n {
		id := fmt.Sprintf("killed-%02d", i)
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h {
			want++
			if k := (relman.Notification{Entry: e}).Key(); !got[k] {
				t.Errorf("%s was committed but never delivered", k)
			}
		}
	}
	if len(got) != want || want < 3*n {
		t.Errorf("delivered %d notifications, want %d (at least %d)", len(got), want, 3*n)
	}
}

// commitChild creates releases and fires two events on each through a
// Manager, prints COMMITTED and waits to be killed.
func (p Processes) commitChild(t *testing.T, s relman.Store) {
	ctx := context.Background()
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.envInt(envCount) {
		id := fmt.Sprintf("killed-%02d", i)
		r := Minimal(id)
		r.Case = relman.BusinessCase{Problem: "p", ExpectedValue: 1, Cost: 1, Feasibility: relman.FeasibilityHigh}
		if _, err := m.Create(ctx, r, relman.Actor{ID: "creator"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fire(ctx, id, relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fire(ctx, id, relman.EventCancel, relman.Request{Actor: relman.Actor{ID: "carl"}, Reason: "dropped"}); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("COMMITTED")
	time.Sleep(time.Hour) // killed by the parent
}
