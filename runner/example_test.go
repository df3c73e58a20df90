package runner_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
	"github.com/relman-dev/relman/store/memory"
)

// A host starts a runner next to its Manager and stops it by cancelling
// the context. Here one pass (Tick) delivers the outbox to a sink.
func ExampleNew() {
	ctx := context.Background()
	store := memory.NewWithOptions(memory.Options{Outbox: true})
	m, _ := relman.NewManager(store)
	sink := runner.SinkFunc(func(_ context.Context, n relman.Notification) error {
		fmt.Println("notify", n.Key(), n.Entry.Action, n.Entry.To)
		return nil
	})
	r, err := runner.New(m, runner.Options{Sink: sink})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = m.Create(ctx, &relman.Release{ID: "inv-2.4", Title: "Faster invoices", Version: "2.4.0",
		Kind: relman.KindMinor, Model: relman.ModelNormal, Requester: "rita", Owner: "olga"}, relman.Actor{ID: "rita"})

	rep, _ := r.Tick(ctx) // what `go r.Run(ctx)` does every Options.Interval
	fmt.Println("delivered", rep.Delivered)
	// Output:
	// notify inv-2.4/1 create proposed
	// delivered 1
}

// A receiver checks each delivery's signature before trusting it, and
// deduplicates by its idempotency key.
func ExampleVerifySignature() {
	secret := []byte("a secret of at least thirty-two bytes")
	seen := map[string]bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		if err := runner.VerifySignature(secret, r.Header.Get(runner.HeaderSignature), body, time.Now(), 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		key := r.Header.Get(runner.HeaderIdempotencyKey)
		fmt.Println("received", key, "first time:", !seen[key])
		seen[key] = true
	}))
	defer receiver.Close()

	hook, _ := runner.NewWebhook(receiver.URL, secret, runner.WebhookOptions{})
	n := relman.Notification{Entry: relman.AuditEntry{ReleaseID: "inv-2.4", Seq: 7, Action: relman.ActionTransition}}
	fmt.Println(hook.Deliver(context.Background(), n))
	fmt.Println(hook.Deliver(context.Background(), n)) // at least once: a duplicate
	forged, _ := runner.NewWebhook(receiver.URL, []byte(strings.Repeat("x", 32)), runner.WebhookOptions{})
	fmt.Println(forged.Deliver(context.Background(), n) != nil)
	// Output:
	// received inv-2.4/7 first time: true
	// <nil>
	// received inv-2.4/7 first time: false
	// <nil>
	// true
}
