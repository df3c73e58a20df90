package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium (or Chrome) binary: the one
// RELMAN_CHROMIUM names, else the first found on PATH. It skips the test
// when there is none, or fails it when RELMAN_REQUIRE_BROWSER is set (CI).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RELMAN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium on PATH (install Debian's chromium package, or set RELMAN_CHROMIUM)"
	if os.Getenv("RELMAN_REQUIRE_BROWSER") != "" {
		t.Fatal(msg + ": RELMAN_REQUIRE_BROWSER is set, so the browser test may not skip")
	}
	t.Skip(msg + ": skipping the browser test")
	return ""
}

// TestBrowser loads the calendar page in headless Chromium and checks
// what a person would see: the releases on the timeline in window order,
// the conflicting pair outlined in red, the bars placed in time, the
// unscheduled releases, the lifecycle diagram, and the navigation to a
// later period. It saves a screenshot in the test's artifact directory
// (go test -artifacts keeps it).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	path := chromium(t)
	ts := newTestServer(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // start the browser, without a timeout
		t.Fatalf("start %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#timeline .lane"))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}

	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil || title != "Forward schedule of change" {
		t.Errorf("heading %q, %v", title, err)
	}
	lanes := eval(`[...document.querySelectorAll('#timeline .lane')].map(e => e.dataset.id + ':' + e.dataset.stage)`)
	want := []string{"sample-ops-7.2.0:operating", "sample-pay-1.2.0:planned", "sample-pay-1.1.5:building",
		"sample-inv-2.4.0:authorized", "sample-web-3.0.0:testing"}
	if !slices.Equal(lanes, want) {
		t.Errorf("timeline lanes %v, want %v", lanes, want)
	}

	// The conflicting releases are outlined in red; the others are not.
	outlined := eval(`[...document.querySelectorAll('#timeline .lane')]
		.filter(e => getComputedStyle(e.querySelector('.bar')).outlineStyle === 'solid')
		.map(e => e.dataset.id + ' ' + getComputedStyle(e.querySelector('.bar')).outlineColor)`)
	if !slices.Equal(outlined, []string{"sample-pay-1.2.0 rgb(213, 0, 0)", "sample-pay-1.1.5 rgb(213, 0, 0)", "sample-web-3.0.0 rgb(213, 0, 0)"}) {
		t.Errorf("outlined bars: %v", outlined)
	}
	conflicts := eval(`[...document.querySelectorAll('#conflicts li')].map(e => e.innerText)`)
	if len(conflicts) != 3 || !strings.HasPrefix(conflicts[0], "sample-pay-1.1.5 and sample-pay-1.2.0 — same-service") ||
		!strings.Contains(conflicts[2], `sample-web-3.0.0 — freeze, Wed 11 Mar 19:00–23:00 UTC: inside freeze "Quarter-end freeze"`) {
		t.Errorf("conflicts shown: %q", conflicts)
	}

	// Bars sit where their windows are: left to right in time, and the
	// two conflicting ones overlap on screen.
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]float64](`[...document.querySelectorAll('#timeline .lane .bar')]
		.map(b => { const r = b.getBoundingClientRect(); return [r.left, r.right] })`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(boxes); i++ {
		if boxes[i][0] < boxes[i-1][0] {
			t.Errorf("bar %d starts left of bar %d: %v", i, i-1, boxes)
		}
		if boxes[i][1]-boxes[i][0] < 3 {
			t.Errorf("bar %d is too thin to see: %v", i, boxes[i])
		}
	}
	if len(boxes) == 5 && !(boxes[2][0] < boxes[1][1]) {
		t.Errorf("the conflicting bars do not overlap on screen: %v %v", boxes[1], boxes[2])
	}

	// The freeze is drawn over the days it covers, behind the release in it.
	bands, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]float64](`[...document.querySelectorAll('.band.freeze')]
		.map(b => { const r = b.getBoundingClientRect(); return [r.left, r.right] })`))
	if err != nil {
		t.Fatal(err)
	}
	if len(bands) != 1 || len(boxes) != 5 || !(bands[0][0] <= boxes[4][0] && boxes[4][1] <= bands[0][1]) {
		t.Errorf("freeze band %v does not cover the bar of sample-web-3.0.0 %v", bands, boxes)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.band.maintenance').length`)); err != nil || n != 29 {
		t.Errorf("%d maintenance bands, want 29 (%v)", n, err)
	}

	// The release in operation shows its rollout: production, all steps, 100 %.
	rollouts := eval(`[...document.querySelectorAll('#scheduled tr')].filter(tr => tr.querySelector('td.rollout progress'))
		.map(tr => tr.cells[0].innerText + ' | ' + tr.querySelector('td.rollout').innerText + ' | ' + tr.querySelector('td.rollout progress').value)`)
	if len(rollouts) != 1 || !strings.HasPrefix(rollouts[0], "sample-ops-7.2.0 | production done, step 3/3 (100%)") ||
		!strings.Contains(rollouts[0], "production: succeeded") || !strings.HasSuffix(rollouts[0], "| 100") {
		t.Errorf("rollout progress in the page: %q", rollouts)
	}
	unscheduled := eval(`[...document.querySelectorAll('#unscheduled tr td:first-child')].map(e => e.innerText)`)
	if !slices.Equal(unscheduled, []string{"sample-auth-5.1.0", "sample-search-0.9.0"}) && !slices.Equal(unscheduled, []string{"sample-search-0.9.0", "sample-auth-5.1.0"}) {
		t.Errorf("unscheduled: %v", unscheduled)
	}
	stages := eval(`[...document.querySelectorAll('#lifecycle-diagram g.stage')]
		.filter(g => g.getBoundingClientRect().width > 0).map(g => g.dataset.stage)`)
	if len(stages) != 13 || !slices.Contains(stages, "rolled_back") {
		t.Errorf("lifecycle diagram shows stages %v", stages)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(shot, []byte("\x89PNG")) || len(shot) < 10_000 {
		t.Errorf("screenshot: %d bytes, not a PNG of the page", len(shot))
	}
	file := filepath.Join(t.ArtifactDir(), "calendar.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)

	// "later →" moves to the next 28 days: nothing planned there.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#next")), chromedp.WaitVisible(chromedp.CSS("#timeline .empty"))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/?from=2026-03-29&days=28") {
		t.Errorf("after clicking later: %q, %v", loc, err)
	}
}
