package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/runner"
)

// Receiver is a webhook endpoint on 127.0.0.1 for the runner's tests: it
// checks every request's signature and idempotency key, accepts each
// notification once, and records what it accepted. It can be told to
// fail requests (HTTP 500) or to be down (connections dropped).
type Receiver struct {
	URL    string
	secret []byte
	clock  func() time.Time

	mu       sync.Mutex
	failures int
	down     bool
	bodies   map[string]string  // key → the entry, as JSON
	order    map[string][]int64 // release → seqs in the order first accepted
	problems []string
	requests int
}

// NewReceiver starts a Receiver checking signatures made with secret
// against clock (nil: time.Now). It stops when the test ends.
func NewReceiver(t testing.TB, secret []byte, clock func() time.Time) *Receiver {
	if clock == nil {
		clock = time.Now
	}
	rc := &Receiver{secret: secret, clock: clock, bodies: map[string]string{}, order: map[string][]int64{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// Fail makes the next n requests fail with HTTP 500.
func (rc *Receiver) Fail(n int) { rc.mu.Lock(); rc.failures = n; rc.mu.Unlock() }

// Down drops every connection while down is true.
func (rc *Receiver) Down(down bool) { rc.mu.Lock(); rc.down = down; rc.mu.Unlock() }

// Accepted returns how many distinct notifications were accepted.
func (rc *Receiver) Accepted() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.bodies) }

// Requests returns how many requests arrived, failed ones included.
func (rc *Receiver) Requests() int { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.requests }

// Order returns the sequence numbers of a release's notifications in the
// order they were first accepted.
func (rc *Receiver) Order(releaseID string) []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]int64(nil), rc.order[releaseID]...)
}

// Problems returns what the receiver found wrong: a bad signature, a key
// that does not match the body, a duplicate key carrying another entry,
// a release's notification accepted before an earlier one.
func (rc *Receiver) Problems() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.problems...)
}

// ServeHTTP implements http.Handler.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if rc.failures > 0 {
		rc.failures--
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err := runner.VerifySignature(rc.secret, req.Header.Get(runner.HeaderSignature), body, rc.clock(), 0); err != nil {
		rc.problems = append(rc.problems, "signature: "+err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var wb runner.WebhookBody
	if err := json.Unmarshal(body, &wb); err != nil {
		rc.problems = append(rc.problems, "body: "+err.Error())
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	key := req.Header.Get(runner.HeaderIdempotencyKey)
	if key != wb.Key || key != (relman.Notification{Entry: wb.Entry}).Key() {
		rc.problems = append(rc.problems, fmt.Sprintf("key %q for entry %s/%d", key, wb.Entry.ReleaseID, wb.Entry.Seq))
	}
	entry, _ := json.Marshal(wb.Entry)
	if prev, seen := rc.bodies[key]; seen {
		if prev != string(entry) {
			rc.problems = append(rc.problems, "duplicate "+key+" carrying another entry")
		}
		return // a duplicate: accepted again, counted once
	}
	rc.bodies[key] = string(entry)
	seqs := rc.order[wb.ReleaseID]
	if want := int64(len(seqs) + 1); wb.Seq != want {
		rc.problems = append(rc.problems, fmt.Sprintf("%s: seq %d accepted first where %d was next (out of order)", wb.ReleaseID, wb.Seq, want))
	}
	rc.order[wb.ReleaseID] = append(seqs, wb.Seq)
}

// report formats the problems for a test failure.
func (rc *Receiver) report() string {
	p := rc.Problems()
	if len(p) > 20 {
		p = append(p[:20], fmt.Sprintf("… and %d more", len(p)-20))
	}
	return strings.Join(p, "\n")
}
