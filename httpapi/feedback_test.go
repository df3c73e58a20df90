package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/storetest"
)

// Feedback over HTTP: recorded on a release in operation (201, the
// summary counting it), paged by seq, refused with the failing field or
// the stage, 404 for an unknown release.
func TestFeedback(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("early")).want(t, 201)
	if p := e.do("olga", "POST", "/releases/early/feedback", map[string]any{"rating": 4}).problem(t); p.Status == 201 || !strings.Contains(p.Detail, "stage") {
		t.Errorf("feedback before operation: %+v", p)
	}
	storetest.ToDeploying(t, e.m, e.clock.set, "fb-1")
	e.do("olga", "POST", "/releases/fb-1/events/complete", nil).want(t, 200)

	for i := 1; i <= 5; i++ {
		var rel relman.Release
		e.do("olga", "POST", "/releases/fb-1/feedback", map[string]any{"rating": i, "comment": fmt.Sprintf("#%d", i), "source": "survey"}).want(t, 201).json(t, &rel)
		if s := rel.FeedbackSummary; s == nil || s.Count != int64(i) || s.Counts[i-1] != 1 {
			t.Fatalf("summary after %d: %+v", i, rel.FeedbackSummary)
		}
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		var page httpapi.FeedbackList
		e.do("olga", "GET", "/releases/fb-1/feedback?limit=2"+after, nil).want(t, 200).json(t, &page)
		for _, f := range page.Feedback {
			got = append(got, fmt.Sprintf("%d:%s:%s", f.Seq, f.Comment, f.By))
		}
		if page.NextAfter == 0 {
			break
		}
		after = fmt.Sprintf("&after=%d", page.NextAfter)
	}
	if want := "1:#1:olga 2:#2:olga 3:#3:olga 4:#4:olga 5:#5:olga"; strings.Join(got, " ") != want {
		t.Errorf("paged feedback: %v, want %s", got, want)
	}

	if p := e.do("olga", "POST", "/releases/fb-1/feedback", map[string]any{"rating": 9}).want(t, 400).problem(t); !strings.Contains(fmt.Sprint(p.Fields), "rating") {
		t.Errorf("rating 9: %+v", p)
	}
	e.do("olga", "POST", "/releases/fb-1/feedback", map[string]any{"rating": 3}, "If-Match", `"1"`).want(t, 412)
	e.do("olga", "POST", "/releases/nope/feedback", map[string]any{"rating": 3}).want(t, 404)
	e.do("olga", "GET", "/releases/nope/feedback", nil).want(t, 404)
	e.do("olga", "GET", "/releases/fb-1/feedback?after=-1", nil).want(t, 400)
	e.do("olga", "GET", "/releases/fb-1/feedback?limit=1001", nil).want(t, 400)
	e.do("mallory", "POST", "/releases/fb-1/feedback", map[string]any{"rating": 3}).want(t, 403)
}
