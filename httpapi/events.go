package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// Change is one committed change to a release, as GET /events announces
// it. Resync, with no release, says changes were lost (the reader was too
// slow, or the source lost some): re-read what you track.
type Change struct {
	ReleaseID string              `json:"release_id,omitempty"`
	Revision  int64               `json:"revision,omitempty"`
	Stage     relman.Stage        `json:"stage,omitempty"`
	Entries   []relman.AuditEntry `json:"entries,omitempty"`
	Resync    bool                `json:"resync,omitempty"`
}

// Broker fans changes out to the clients of GET /events. Changes come
// from three places:
//
//   - Option, given to relman.NewManager, publishes every transition the
//     Manager commits in this process (the runner's too);
//   - the Handler publishes the other writes it makes (edits, approvals,
//     risk, schedules, rollouts);
//   - a host whose store announces changes itself publishes those with
//     Publish. With store/postgres, pump Subscription.Changes into
//     Publish and every instance's changes reach every client.
//
// Changes the handler publishes carry no Entries (read them with GET
// /releases/{id}/history); transitions and the store's announcements do.
// A change is published once per release revision: a revision already
// published (or an older one) is dropped, so the sources may overlap.
// Each client has a buffer of Buffer changes; a client that falls further
// behind loses changes and is sent a Resync change instead.
type Broker struct {
	buffer int

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	last map[string]int64 // last revision published per release
}

// maxTracked bounds the revisions a Broker remembers for de-duplication.
const maxTracked = 10000

type subscriber struct {
	ch      chan Change
	release string // only this release, if set
	lost    bool   // guarded by Broker.mu
}

// NewBroker returns a Broker whose clients each buffer up to buffer
// changes (64 if buffer < 1).
func NewBroker(buffer int) *Broker {
	if buffer < 1 {
		buffer = 64
	}
	return &Broker{buffer: buffer, subs: map[*subscriber]struct{}{}, last: map[string]int64{}}
}

// Option returns the Manager option that publishes every committed
// transition to b: relman.NewManager(store, broker.Option()).
func (b *Broker) Option() relman.Option {
	return relman.WithAfterHook(relman.AnyEvent, func(_ context.Context, ev relman.TransitionEvent) {
		b.Publish(Change{ReleaseID: ev.Release.ID, Revision: ev.Release.Revision, Stage: ev.Release.Stage,
			Entries: []relman.AuditEntry{ev.Entry}})
	})
}

// Publish hands c to every client. It never blocks.
func (b *Broker) Publish(c Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !c.Resync && c.ReleaseID != "" {
		if c.Revision <= b.last[c.ReleaseID] && c.Revision != 0 {
			return
		}
		if len(b.last) >= maxTracked {
			clear(b.last)
		}
		b.last[c.ReleaseID] = c.Revision
	}
	for s := range b.subs {
		if s.release != "" && !c.Resync && s.release != c.ReleaseID {
			continue
		}
		if s.lost {
			select {
			case s.ch <- Change{Resync: true}:
				s.lost = false
			default:
				continue
			}
		}
		select {
		case s.ch <- c:
		default:
			s.lost = true
		}
	}
}

func (b *Broker) subscribe(release string) *subscriber {
	s := &subscriber{ch: make(chan Change, b.buffer), release: release}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *Broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// publishRelease announces a write the handler made.
func (h *Handler) publishRelease(rel *relman.Release) {
	if h.opt.Events != nil && rel != nil {
		h.opt.Events.Publish(Change{ReleaseID: rel.ID, Revision: rel.Revision, Stage: rel.Stage})
	}
}

// heartbeat is how often an idle stream sends a comment, so that proxies
// keep it open and a dead client is noticed.
var heartbeat = 15 * time.Second

// events serves GET /events[?release=ID] as text/event-stream: each change
// is an event "change" (or "resync") whose id is "<release>/<revision>"
// and whose data is a Change in JSON.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	b := h.opt.Events
	if b == nil {
		return fmt.Errorf("no change stream configured (Options.Events): %w", errors.ErrUnsupported)
	}
	rc := http.NewResponseController(w)
	// A stream outlives a server's WriteTimeout: lift it for this response
	// (the heartbeat notices a client that is gone).
	_ = rc.SetWriteDeadline(time.Time{})
	sub := b.subscribe(r.URL.Query().Get("release"))
	defer b.unsubscribe(sub)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return nil
			}
		case c := <-sub.ch:
			data, err := json.Marshal(c)
			if err != nil {
				return nil
			}
			kind := "change"
			if c.Resync {
				kind = "resync"
				_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, data)
			} else {
				_, err = fmt.Fprintf(w, "id: %s/%d\nevent: %s\ndata: %s\n\n", c.ReleaseID, c.Revision, kind, data)
			}
			if err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
