package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunWalksToClosed(t *testing.T) {
	var out strings.Builder
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if err := run(context.Background(), &out, start); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The transitions, in order, as "event from → to".
	var got []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 && f[3] == "→" {
			got = append(got, strings.Join(f[1:5], " "))
		}
	}
	want := []string{
		"create — → proposed",
		"approve proposed → approved",
		"plan approved → planned",
		"start planned → building",
		"submit building → testing",
		"fail testing → building",
		"submit building → testing",
		"pass testing → verified",
		"authorize verified → authorized",
		"deploy authorized → deploying",
		"complete deploying → operating",
		"close operating → closed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transitions:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
	if !strings.HasPrefix(lines[0], "09:00  create") {
		t.Errorf("first line %q: want the injected clock's 09:00", lines[0])
	}
	if !strings.Contains(out.String(), "integration FAILED: PDF totals off by one cent") {
		t.Errorf("the failed test is not shown:\n%s", out.String())
	}
	// create, 11 transitions, 4 test results, the review, the assessment, the approval.
	if last := lines[len(lines)-1]; last != "invoices-2.4.0 is closed; its history of 19 entries verifies." {
		t.Errorf("last line %q", last)
	}
}
