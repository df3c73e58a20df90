package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// outboxOff checks a relman.Outbox whose outbox is not enabled: s must
// hold release "r1" (with its first entry written). OutboxEnabled is
// false, and every other method returns an error matching
// relman.ErrInvalid that names the option, Options.Outbox.
func outboxOff(t *testing.T, s relman.Outbox) {
	t.Helper()
	ctx := context.Background()
	if s.OutboxEnabled() {
		t.Fatal("OutboxEnabled() = true with Options.Outbox unset")
	}
	now := time.Now()
	_, claim := s.ClaimNotifications(ctx, "a", now, now, 1)
	_, list := s.ListNotifications(ctx, false, 1)
	for name, err := range map[string]error{
		"Claim":  claim,
		"List":   list,
		"Ack":    s.AckNotification(ctx, "r1", 1),
		"Fail":   s.FailNotification(ctx, "r1", 1, now, "x", false),
		"Replay": s.ReplayNotification(ctx, "r1", 1, now),
	} {
		if !errors.Is(err, relman.ErrInvalid) || !strings.Contains(err.Error(), "Options.Outbox") {
			t.Errorf("%s with the outbox off = %v, want ErrInvalid naming Options.Outbox", name, err)
		}
	}
}
