package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// DeadlineOutcomes fires n transitions on one release of s, each under a
// context whose deadline falls at a random moment around the end of the
// call (between half and one and a half times a Fire's median duration,
// measured first, so that many deadlines land during the commit), and
// counts the calls that returned
// an error although their change was stored, and those that returned
// success although it was not. Both must be zero: a caller that retries
// after an error must never apply a change twice. It reports how many
// calls ended each way. Run calls it with n = 100 (subtest
// "Manager/DeadlineOutcomes"); call it with a larger n to press harder.
func DeadlineOutcomes(t *testing.T, s relman.Store, n int) {
	ctx := context.Background()
	m, err := relman.NewManager(s, relman.WithLifecycle(LoopLifecycle(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := Minimal("deadlines")
	r.Stage = "a"
	Put(t, s, r)
	var took []time.Duration
	for range 21 {
		cur, err := s.Get(ctx, "deadlines")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := m.Fire(ctx, "deadlines", NextEvent(cur.Stage), relman.Request{Actor: relman.Actor{ID: "x"}}); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	median := took[len(took)/2]
	rng := rand.New(rand.NewPCG(1, 2))
	var ok, refused, unknown, errorsButWritten, successButLost int
	for i := range n {
		cur, err := s.Get(ctx, "deadlines")
		if err != nil {
			t.Fatal(err)
		}
		reason := fmt.Sprintf("call %d", i)
		dctx, cancel := context.WithTimeout(ctx, median/2+time.Duration(rng.Int64N(int64(median))))
		_, ferr := m.Fire(dctx, "deadlines", NextEvent(cur.Stage), relman.Request{Actor: relman.Actor{ID: "x"}, Reason: reason})
		cancel()
		h, err := s.History(ctx, "deadlines")
		if err != nil {
			t.Fatal(err)
		}
		written := h[len(h)-1].Reason == reason
		switch {
		case errors.Is(ferr, relman.ErrOutcomeUnknown):
			unknown++
		case ferr != nil && written:
			errorsButWritten++
			t.Errorf("call %d returned %v but its change is stored", i, ferr)
		case ferr == nil && !written:
			successButLost++
			t.Errorf("call %d returned success but its change is not stored", i)
		case ferr == nil:
			ok++
		default:
			refused++
		}
	}
	after, err := s.Get(ctx, "deadlines")
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "deadlines")
	if err != nil {
		t.Fatal(err)
	}
	if err := relman.VerifyHistory(h, &after.Head); err != nil {
		t.Error(err)
	}
	if ok+21+1 != len(h) {
		t.Errorf("%d calls succeeded but the history holds %d transitions", ok, len(h)-22)
	}
	t.Logf("%d calls (median Fire %s): %d stored, %d refused and not stored, %d of unknown outcome; errors-but-written %d, success-but-lost %d",
		n, median, ok, refused, unknown, errorsButWritten, successButLost)
}
