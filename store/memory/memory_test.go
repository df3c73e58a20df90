package memory_test

import (
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relman.Store { return memory.New() })
}

func TestConformanceOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relman.Store { return memory.NewWithOptions(memory.Options{Outbox: true}) })
}
