package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var bob = relman.Actor{ID: "bob"}

// planned stores a planned release whose window opens at open.
func planned(t *testing.T, s relman.Store, id string, open time.Time) {
	t.Helper()
	r := storetest.Minimal(id)
	r.Stage = relman.StagePlanned
	r.Window = &relman.Span{Start: open, End: open.Add(2 * time.Hour)}
	storetest.Put(t, s, r)
}

func newRunner(t *testing.T, s relman.Store, c *clock, o runner.Options) (*relman.Manager, *runner.Runner) {
	t.Helper()
	m, err := relman.NewManager(s, relman.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(m, o)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

func TestTickFiresWhenDue(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	s := memory.New()
	m, r := newRunner(t, s, c, runner.Options{})
	planned(t, s, "rel-1", t0.Add(time.Hour))
	// start has no gates: "at" fires at its time, not before.
	if _, _, err := m.Schedule(ctx, "rel-1", bob, relman.ScheduleRequest{Event: relman.EventStart, At: t0.Add(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Tick(ctx)
	if err != nil || len(rep.Actions) != 0 {
		t.Fatalf("Tick before due = %+v, %v", rep, err)
	}
	c.Set(t0.Add(30 * time.Minute))
	rep, err = r.Tick(ctx)
	if err != nil || len(rep.Actions) != 1 || rep.Actions[0].State != relman.ScheduleFired {
		t.Fatalf("Tick when due = %+v, %v", rep, err)
	}
	got, _ := m.Get(ctx, "rel-1")
	if got.Stage != relman.StageBuilding {
		t.Errorf("stage %s, want building", got.Stage)
	}
	// The lease was given back: another runner finds nothing left.
	_, r2 := newRunner(t, s, c, runner.Options{Owner: "other"})
	if rep, _ := r2.Tick(ctx); len(rep.Actions) != 0 {
		t.Errorf("second runner did %+v", rep.Actions)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	s := memory.New()
	m, err := relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(m, runner.Options{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	planned(t, s, "rel-1", time.Now().Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if _, _, err := m.Schedule(context.Background(), "rel-1", bob, relman.ScheduleRequest{Event: relman.EventStart}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := m.Get(context.Background(), "rel-1")
		if got.Stage == relman.StageBuilding {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the running runner did not fire the event")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	m, _ := relman.NewManager(memory.New())
	for _, tc := range []struct {
		o     runner.Options
		field string
	}{
		{runner.Options{Interval: -1}, "interval"},
		{runner.Options{Lease: -time.Second}, "lease"},
		{runner.Options{Batch: 1001}, "batch"},
		{runner.Options{MaxAttempts: -1}, "max_attempts"},
		{runner.Options{Sink: runner.SinkFunc(func(context.Context, relman.Notification) error { return nil })}, "sink"}, // no outbox
	} {
		_, err := runner.New(m, tc.o)
		var ve *relman.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != tc.field {
			t.Errorf("New(%+v) = %v, want a *ValidationError naming %q", tc.o, err, tc.field)
		}
	}
	if _, err := runner.New(nil, runner.Options{}); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("New(nil) = %v", err)
	}
	type plain struct{ relman.Store } // a store without the DueStore ability
	pm, _ := relman.NewManager(plain{memory.New()})
	if _, err := runner.New(pm, runner.Options{}); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("New over a store without DueStore = %v", err)
	}
}

func TestNewWebhookRefusesBadInput(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	for _, tc := range []struct {
		url    string
		secret []byte
		field  string
	}{
		{"ftp://example.test/hook", key, "url"},
		{"/relative", key, "url"},
		{"http://", key, "url"},
		{"http://127.0.0.1:1/hook", key[:31], "secret"},
	} {
		_, err := runner.NewWebhook(tc.url, tc.secret, runner.WebhookOptions{})
		var ve *relman.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) || ve.Fields[0].Field != tc.field {
			t.Errorf("NewWebhook(%q, %d bytes) = %v, want a *ValidationError naming %q", tc.url, len(tc.secret), err, tc.field)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	body := []byte(`{"key":"rel-1/2"}`)
	now := time.Unix(1_800_000_000, 0)
	h := runner.Sign(secret, now, body)
	if err := runner.VerifySignature(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Errorf("valid signature: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, body []byte
		header       string
		now          time.Time
		want         error
	}{
		"tampered body":    {secret, []byte(`{"key":"rel-1/3"}`), h, now, runner.ErrSignature},
		"other secret":     {[]byte(strings.Repeat("x", 32)), body, h, now, runner.ErrSignature},
		"no header":        {secret, body, "", now, runner.ErrSignature},
		"malformed":        {secret, body, "v1=zz,t=abc", now, runner.ErrSignature},
		"replayed later":   {secret, body, h, now.Add(10 * time.Minute), runner.ErrSignatureExpired},
		"from the future":  {secret, body, h, now.Add(-10 * time.Minute), runner.ErrSignatureExpired},
		"timestamp edited": {secret, body, strings.Replace(h, "t=18", "t=19", 1), now, runner.ErrSignature},
	} {
		if err := runner.VerifySignature(tc.secret, tc.header, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestWebhookDeliversEverythingInOrder(t *testing.T) {
	ctx := context.Background()
	secret := []byte(strings.Repeat("0123456789abcdef", 2))
	c := &clock{now: t0}
	rc := storetest.NewReceiver(t, secret, c.Now)
	rc.Fail(3)
	hook, err := runner.NewWebhook(rc.URL, secret, runner.WebhookOptions{Timeout: 2 * time.Second, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	s := memory.NewWithOptions(memory.Options{Outbox: true})
	m, r := newRunner(t, s, c, runner.Options{Sink: hook, Batch: 4, MaxAttempts: 50, Backoff: time.Second, MaxBackoff: 8 * time.Second})
	const releases, changes = 6, 5
	want := 0
	for i := range releases {
		id := fmt.Sprintf("rel-%d", i)
		planned(t, s, id, t0.Add(time.Hour))
		want++
		for j := range changes {
			if _, err := m.Edit(ctx, id, bob, "note", func(r *relman.Release) error {
				r.Labels = map[string]string{"n": fmt.Sprint(j)}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want++
		}
	}
	pass := func() runner.Report {
		t.Helper()
		rep, err := r.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// Three failures, then the receiver is down for a while.
	failed := 0
	for i := 0; i < 3; i++ {
		failed += pass().Failed
		c.Set(c.Now().Add(10 * time.Second))
	}
	if failed < 3 {
		t.Fatalf("%d failed deliveries in the first passes, want at least 3", failed)
	}
	rc.Down(true)
	for range 5 {
		if rep := pass(); rep.Delivered != 0 {
			t.Fatalf("delivered %d while the receiver was down", rep.Delivered)
		}
		c.Set(c.Now().Add(10 * time.Second))
	}
	pending, _ := s.ListNotifications(ctx, false, 1000)
	if accepted := rc.Accepted(); len(pending)+accepted != want || len(pending) == 0 {
		t.Fatalf("while the receiver was down: %d pending + %d accepted, want %d in all and some pending", len(pending), accepted, want)
	}
	rc.Down(false)
	for i := 0; i < 100; i++ {
		pass()
		c.Set(c.Now().Add(10 * time.Second))
		if left, _ := s.ListNotifications(ctx, false, 1); len(left) == 0 {
			break
		}
	}
	if p := rc.Problems(); len(p) > 0 {
		t.Errorf("receiver saw problems:\n%s", strings.Join(p, "\n"))
	}
	if n := rc.Accepted(); n != want {
		t.Errorf("receiver accepted %d distinct notifications, want %d", n, want)
	}
	for i := range releases {
		if seqs := rc.Order(fmt.Sprintf("rel-%d", i)); !slices.IsSorted(seqs) || len(seqs) != changes+1 {
			t.Errorf("rel-%d delivered as %v", i, seqs)
		}
	}
	if left, _ := s.ListNotifications(ctx, false, 10); len(left) != 0 {
		t.Errorf("%d notifications still pending", len(left))
	}
}

func TestDeadLetterAndReplay(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	var (
		mu        sync.Mutex
		broken    = true
		delivered []string
	)
	sink := runner.SinkFunc(func(_ context.Context, n relman.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return errors.New("HTTP 503")
		}
		delivered = append(delivered, n.Key())
		return nil
	})
	s := memory.NewWithOptions(memory.Options{Outbox: true})
	_, r := newRunner(t, s, c, runner.Options{Sink: sink, MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Minute})
	planned(t, s, "rel-1", t0.Add(time.Hour))
	var dead int
	for range 3 {
		rep, err := r.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dead += rep.Dead
		c.Set(c.Now().Add(time.Hour))
	}
	if dead != 1 {
		t.Fatalf("%d dead-lettered after 3 failures, want 1", dead)
	}
	dl, err := r.DeadLetters(ctx, 10)
	if err != nil || len(dl) != 1 || dl[0].Key() != "rel-1/1" || dl[0].Attempts != 3 || dl[0].LastError != "HTTP 503" {
		t.Fatalf("DeadLetters = %+v, %v", dl, err)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if rep, _ := r.Tick(ctx); rep.Delivered != 0 {
		t.Fatal("a dead letter was delivered without a replay")
	}
	if err := r.Replay(ctx, "rel-1/1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Replay(ctx, "rel-1/1"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("second Replay = %v, want ErrNotFound", err)
	}
	if err := r.Replay(ctx, "no-slash"); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("Replay of a malformed key = %v, want ErrInvalid", err)
	}
	if rep, _ := r.Tick(ctx); rep.Delivered != 1 || !slices.Equal(delivered, []string{"rel-1/1"}) {
		t.Errorf("after replay: %+v, delivered %v", rep, delivered)
	}
}

func TestParseKey(t *testing.T) {
	id, seq, err := runner.ParseKey("rel-1.2/17")
	if err != nil || id != "rel-1.2" || seq != 17 {
		t.Errorf("ParseKey = %q %d %v", id, seq, err)
	}
	for _, k := range []string{"", "/3", "a/", "a/0", "a/-1", "a/x"} {
		if _, _, err := runner.ParseKey(k); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("ParseKey(%q) = %v", k, err)
		}
	}
}

// OnPass sees what each pass did.
func TestOnPass(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	s := memory.New()
	var reps []runner.Report
	m, r := newRunner(t, s, c, runner.Options{OnPass: func(_ context.Context, rep runner.Report) { reps = append(reps, rep) }})
	planned(t, s, "rel-1", t0.Add(time.Hour))
	if _, _, err := m.Schedule(ctx, "rel-1", bob, relman.ScheduleRequest{Event: relman.EventStart}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Tick(ctx)
	if err != nil || len(reps) != 1 || len(reps[0].Actions) != 1 || reps[0].Actions[0].State != rep.Actions[0].State {
		t.Fatalf("OnPass got %+v (Tick returned %+v, %v)", reps, rep, err)
	}
}
