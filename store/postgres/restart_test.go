package postgres_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/storetest"
)

// TestServerRestart stops the PostgreSQL server while a manager fires
// transitions, then starts it again. Meanwhile calls must fail with an
// error matching ErrUnavailable; afterwards they must succeed again, and
// every transition acknowledged before, during or after must be stored,
// with the chain intact.
//
// Stopping a server is not something to do to a shared one, so the test
// runs only when RELMAN_PG_RESTART_TEST=1, against the server named by
// RELMAN_PG_RESTART_DSN, with the shell commands RELMAN_PG_STOP and
// RELMAN_PG_START. testdata/restart-test.sh runs it on a private,
// throwaway server.
func TestServerRestart(t *testing.T) {
	if os.Getenv("RELMAN_PG_RESTART_TEST") != "1" {
		t.Skip("set RELMAN_PG_RESTART_TEST=1, RELMAN_PG_RESTART_DSN, RELMAN_PG_STOP and RELMAN_PG_START (see testdata/restart-test.sh)")
	}
	dsn, stop, start := os.Getenv("RELMAN_PG_RESTART_DSN"), os.Getenv("RELMAN_PG_STOP"), os.Getenv("RELMAN_PG_START")
	if dsn == "" || stop == "" || start == "" {
		t.Fatal("RELMAN_PG_RESTART_DSN, RELMAN_PG_STOP and RELMAN_PG_START must all be set")
	}
	run := func(cmd string) {
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{Schema: "relman_restart_test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Pool().Exec(ctx, "DELETE FROM relman_restart_test.relman_audit; DELETE FROM relman_restart_test.relman_releases"); err != nil {
		t.Fatal(err)
	}
	m, _ := relman.NewManager(s, relman.WithLifecycle(storetest.LoopLifecycle(t)))
	if _, err := m.Create(ctx, storetest.Minimal("r1"), relman.Actor{ID: "t"}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[int64]string{} // seq → hash of every acknowledged transition
	var failures []error
	var lastOK time.Time
	okAfter := func(t0 time.Time) bool { // a success since t0?
		mu.Lock()
		defer mu.Unlock()
		return lastOK.After(t0)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := storetest.FireNext(cctx, m, "r1", "t")
			cancel()
			mu.Lock()
			switch {
			case err != nil:
				failures = append(failures, err)
			case r != nil:
				acked[r.Head.Seq] = r.Head.Hash
				lastOK = time.Now()
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if !okAfter(time.Time{}) {
		t.Fatal("no transition before the stop")
	}
	run(stop)
	downAt := time.Now()
	time.Sleep(2 * time.Second)
	mu.Lock()
	during := len(failures)
	mu.Unlock()
	if during == 0 {
		t.Errorf("no call failed while the server was down")
	}
	run(start)
	upAt := time.Now()
	for !okAfter(upAt) {
		if time.Since(upAt) > time.Minute {
			t.Fatal("no transition succeeded within a minute of the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(done)
	<-stopped
	t.Logf("down %v; %d acknowledged transitions, %d failed calls; first failure: %v", upAt.Sub(downAt).Round(time.Millisecond), len(acked), len(failures), failures[0])

	for _, err := range failures {
		if !errors.Is(err, postgres.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("failure does not match ErrUnavailable: %v", err)
		}
		if !strings.Contains(err.Error(), "store unavailable") && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("failure message is not clear: %v", err)
		}
	}
	h, err := s.History(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Get(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if err := relman.VerifyHistory(h, &r.Head); err != nil {
		t.Error(err)
	}
	for seq, hash := range acked {
		if seq > int64(len(h)) || h[seq-1].Hash != hash {
			t.Errorf("acknowledged transition %d is lost", seq)
		}
	}
}
