package storetest

import (
	"testing"

	"github.com/relman-dev/relman"
)

// runFolded runs, within Run, the checks that were once exported for
// each store to call (ScanBatches, the reindexing of List, the outbox
// when off, the window edge cases): each needs only an empty store, so
// Run gives every store them.
func runFolded(t *testing.T, newStore func(t *testing.T) relman.Store) {
	t.Run("List/UpdateReindexes", func(t *testing.T) { updateReindexes(t, newStore(t)) })
	t.Run("Scanner/Batches", func(t *testing.T) {
		s := newStore(t)
		sc, ok := s.(interface {
			relman.Store
			relman.Scanner
		})
		if !ok {
			t.Skip("store is not a relman.Scanner")
		}
		ScanBatches(t, sc)
	})
	t.Run("Outbox/Off", func(t *testing.T) {
		s := newStore(t)
		ob, ok := s.(relman.Outbox)
		if !ok || ob.OutboxEnabled() {
			t.Skip("the store has no relman.Outbox, or its outbox is on")
		}
		create(t, s, Minimal("r1"))
		outboxOff(t, ob)
	})
	t.Run("Outbox/ConcurrentClaims", func(t *testing.T) {
		s := newStore(t)
		if ob, ok := s.(relman.Outbox); !ok || !ob.OutboxEnabled() {
			t.Skip("the store has no relman.Outbox enabled")
		}
		ConcurrentNotificationClaims(t, s)
	})
	windowStore := func(t *testing.T) relman.WindowStore {
		ws, ok := newStore(t).(relman.WindowStore)
		if !ok {
			t.Skip("store does not implement relman.WindowStore")
		}
		return ws
	}
	t.Run("Windows/Canceled", func(t *testing.T) { windowsCanceled(t, windowStore(t)) })
	t.Run("Windows/OrderBytewise", func(t *testing.T) { windowsOrderBytewise(t, windowStore(t)) })
	t.Run("Windows/Invalid", func(t *testing.T) { PutWindowInvalid(t, windowStore(t), nil) })
	t.Run("Windows/RoundTripExact", func(t *testing.T) {
		s := windowStore(t)
		WindowsRoundTripExact(t, s, WindowCases(t), func(*testing.T) relman.WindowStore { return s })
	})
	t.Run("Manager/DeadlineOutcomes", func(t *testing.T) { DeadlineOutcomes(t, newStore(t), 100) })
}
