package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/sqlite"
)

// Open a file, run a release through a manager, and read its history back
// after reopening the file.
func Example() {
	dir, _ := os.MkdirTemp("", "relman-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "releases.db")
	ctx := context.Background()

	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	m, _ := relman.NewManager(s)
	r := &relman.Release{ID: "billing-2.4", Title: "Faster invoices", Version: "2.4.0", Kind: relman.KindMinor,
		Model: relman.ModelNormal, Requester: "rita", Owner: "olga",
		Case: relman.BusinessCase{Problem: "invoices take a minute", ExpectedValue: 12000, Cost: 3000, Feasibility: relman.FeasibilityHigh}}
	if _, err := m.Create(ctx, r, relman.Actor{ID: "rita"}); err != nil {
		log.Fatal(err)
	}
	if _, err := m.Fire(ctx, "billing-2.4", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		log.Fatal(err)
	}
	s.Close()

	s, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	m, _ = relman.NewManager(s)
	h, _ := m.History(ctx, "billing-2.4")
	for _, e := range h {
		fmt.Println(e.Seq, e.Action, e.Actor, e.From, "→", e.To)
	}
	fmt.Println("verifies:", m.Verify(ctx, "billing-2.4") == nil)
	// Output:
	// 1 create rita  → proposed
	// 2 transition carl proposed → approved
	// verifies: true
}
