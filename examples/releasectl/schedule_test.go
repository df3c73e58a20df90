package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
)

func TestScheduleCommands(t *testing.T) {
	h := newHarness(t)
	h.ok(createArgs...)
	h.ok("fire", "pay-1.2.0", "approve", "--actor", "carl", "--now", "2026-03-02T10:00:00Z")
	h.ok("fire", "pay-1.2.0", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-05T00:00:00Z", "--now", "2026-03-02T11:00:00Z")

	out := h.ok("schedule", "pay-1.2.0", "start", "--at", "2026-03-02T13:00:00Z", "--expires", "2026-03-02T18:00:00Z",
		"--reason", "builders start after lunch", "--now", "2026-03-02T12:00:00Z")
	contains(t, "schedule", out, "pay-1.2.0: start scheduled as s", "(at), due 2026-03-02 13:00 UTC, expires 2026-03-02 18:00 UTC")
	job := strings.Fields(strings.SplitAfter(out, "scheduled as ")[1])[0]

	out = h.ok("scheduled", "--now", "2026-03-02T12:00:00Z")
	contains(t, "scheduled", out, "DUE", "2026-03-02 13:00 UTC", "pay-1.2.0", job, "start", "olga")
	out = h.ok("scheduled", "pay-1.2.0", "-o", "json")
	var list []relman.ScheduledEvent
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].State != relman.SchedulePending {
		t.Fatalf("scheduled -o json: %v\n%s", err, out)
	}

	// Before it is due the runner does nothing; at 13:00 it fires.
	if out := h.ok("runner", "--once", "--now", "2026-03-02T12:30:00Z"); out != "" {
		t.Errorf("runner before due printed %q", out)
	}
	out = h.ok("runner", "--once", "--now", "2026-03-02T13:00:00Z")
	contains(t, "runner", out, "2026-03-02T13:00:00Z", "pay-1.2.0: "+job+" start fired")
	out = h.ok("show", "pay-1.2.0")
	contains(t, "show", out, "building")
	out = h.ok("history", "pay-1.2.0")
	contains(t, "history", out, "schedule", "start: planned → building")

	// Cancelled events stay in the list, and cannot be cancelled twice.
	out = h.ok("schedule", "pay-1.2.0", "submit", "--asap", "--now", "2026-03-02T14:00:00Z")
	job2 := strings.Fields(strings.SplitAfter(out, "scheduled as ")[1])[0]
	h.ok("unschedule", "pay-1.2.0", job2, "--reason", "not ready")
	h.fails(1, "no longer pending", "unschedule", "pay-1.2.0", job2)
	h.fails(4, "no scheduled event", "unschedule", "pay-1.2.0", "s999")
	out = h.ok("scheduled", "pay-1.2.0")
	contains(t, "scheduled", out, job, "fired", job2, "cancelled", "not ready")
}

func TestScheduleBadInput(t *testing.T) {
	h := newHarness(t)
	h.ok(createArgs...)
	now := []string{"--now", "2026-03-02T12:00:00Z"}
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"at: gte=now", []string{"schedule", "pay-1.2.0", "approve", "--at", "2026-03-01T00:00:00Z"}},
		{"event: event=launch", []string{"schedule", "pay-1.2.0", "launch", "--at", "2026-03-03T00:00:00Z"}},
		{"expires: gtfield=at", []string{"schedule", "pay-1.2.0", "approve", "--at", "2026-03-03T00:00:00Z", "--expires", "2026-03-02T13:00:00Z"}},
		{"give one of --at, --window and --asap", []string{"schedule", "pay-1.2.0", "approve", "--at", "2026-03-03T00:00:00Z", "--window"}},
		{"timing: window_required", []string{"schedule", "pay-1.2.0", "approve", "--window"}},
		{"--at", []string{"schedule", "pay-1.2.0", "approve", "--at", "tomorrow"}},
		{"url: url=http or https", []string{"runner", "--once", "--webhook", "ftp://example.test/x"}},
		{"secret: min=32", []string{"runner", "--once", "--webhook", "http://127.0.0.1:1/hook"}},
		{"outbox: the store keeps no outbox", []string{"outbox", "dead"}},
	} {
		h.fails(2, tc.want, append(tc.args, now...)...)
	}
	h.env["RELMAN_WEBHOOK_SECRET"] = strings.Repeat("s", 32)
	h.fails(2, "RELMAN_OUTBOX=on", append([]string{"runner", "--once", "--webhook", "http://127.0.0.1:1/hook"}, now...)...)
	h.fails(4, "no such release", append([]string{"schedule", "nope", "approve", "--asap"}, now...)...)
	out := h.ok("show", "pay-1.2.0", "-o", "json")
	if strings.Contains(out, `"scheduled"`) {
		t.Errorf("refused schedules left something stored:\n%s", out)
	}
}
