package postgres_test

import (
	"context"
	"log"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/postgres"
)

// Instance B learns of the transitions every instance makes.
func ExampleStore_Subscribe() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://relman@db.example:5432/app", postgres.Options{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, postgres.ErrUnavailable) if the server cannot be reached
	}
	defer s.Close()
	sub, err := s.Subscribe(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for c := range sub.Changes() {
		if c.Resync {
			// Changes may have been missed: re-read what you track.
			continue
		}
		for _, e := range c.Entries {
			if e.Action == relman.ActionTransition {
				log.Printf("%s: %s by %s, %s → %s", c.ReleaseID, e.Event, e.Actor, e.From, e.To)
			}
		}
	}
}
