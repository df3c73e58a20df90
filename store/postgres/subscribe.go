package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relman-dev/relman"
)

// Change is one committed change to a release, as announced to
// subscribers: a creation, a transition, an edit, an approval…
type Change struct {
	ReleaseID string
	Revision  int64        // the release's revision after the change
	Stage     relman.Stage // its stage after the change
	// Entries are the audit entries the change appended, oldest first:
	// for a transition, one entry with Action transition and its Event,
	// From, To, Actor and Reason.
	Entries []relman.AuditEntry
	// Resync is set on a Change that carries no release: notifications
	// may have been missed (the subscription lost its connection and has
	// reconnected, or a notification could not be read). Re-read what you
	// track, e.g. List ordered by relman.OrderUpdated.
	Resync bool
}

// Subscription delivers the changes committed by every instance that
// shares the store's tables and channel, this one included, in commit
// order.
//
// Delivery: a change committed after Subscribe returned is delivered
// once, unless the connection is lost; then the subscription reconnects
// (backing off up to 5 s) and delivers a Change with Resync set, so no
// loss goes unnoticed. A slow reader holds the subscription back rather
// than losing changes (PostgreSQL queues them); read promptly, or hand
// them to a goroutine of your own.
type Subscription struct {
	s      *Store
	ch     chan Change
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Subscribe starts listening for changes and returns once the listener is
// in place. The subscription ends, and its channel is closed, when ctx is
// done or Close is called. It uses a connection of its own, outside the
// pool.
func (s *Store) Subscribe(ctx context.Context) (*Subscription, error) {
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	sub := &Subscription{s: s, ch: make(chan Change, s.opts.SubscriptionBuffer), cancel: cancel, done: make(chan struct{})}
	go sub.run(sctx, conn)
	return sub, nil
}

// listen opens a connection and listens on the channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: subscribe: %w", ctx.Err())
		}
		return nil, &ConnectError{Target: target(s.pool.Config()), Err: err}
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, wrap("subscribe", err)
	}
	return conn, nil
}

// Changes returns the channel of changes. It is closed when the
// subscription ends; Err then says why.
func (sub *Subscription) Changes() <-chan Change { return sub.ch }

// Err returns nil while the subscription runs and after it was ended by
// Close or its context; otherwise the error that ended it.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the subscription, closes its connection and waits for it to
// stop. It is safe to call more than once.
func (sub *Subscription) Close() error {
	sub.cancel()
	<-sub.done
	return nil
}

func (sub *Subscription) run(ctx context.Context, conn *pgx.Conn) {
	defer close(sub.done)
	defer close(sub.ch)
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		var c Change
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			c, err = sub.change(ctx, conn, n.Payload)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// Connection lost: reconnect, then tell the reader it may
			// have missed changes.
			conn.Close(context.Background())
			conn = nil
			for conn == nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				if nc, err := sub.s.listen(ctx); err == nil {
					conn = nc
				} else if !errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
					sub.fail(err)
					return
				}
			}
			backoff = 100 * time.Millisecond
			c = Change{Resync: true}
		}
		if !sub.send(ctx, c) {
			return
		}
	}
}

func (sub *Subscription) fail(err error) {
	sub.mu.Lock()
	sub.err = err
	sub.mu.Unlock()
}

func (sub *Subscription) send(ctx context.Context, c Change) bool {
	select {
	case sub.ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// change turns a notification into a Change, reading the audit entries it
// announces over the listening connection (notifications arriving
// meanwhile are kept for the next wait). A payload it cannot read becomes
// a Resync; an error means the connection is lost.
func (sub *Subscription) change(ctx context.Context, conn *pgx.Conn, payload string) (Change, error) {
	var nt note
	if err := json.Unmarshal([]byte(payload), &nt); err != nil || nt.ID == "" {
		return Change{Resync: true}, nil
	}
	c := Change{ReleaseID: nt.ID, Revision: nt.Revision, Stage: nt.Stage}
	if nt.N > 0 {
		es, err := sub.s.entries(ctx, conn, nt.ID, sub.s.sqlRange, nt.ID, nt.Head-int64(nt.N), nt.Head)
		if err != nil && (conn.IsClosed() || unavailable(err)) {
			return Change{}, err
		}
		if err != nil || len(es) != nt.N {
			return Change{Resync: true}, nil
		}
		c.Entries = es
	}
	return c, nil
}
