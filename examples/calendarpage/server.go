package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"color": func(st relman.Stage) template.CSS { return template.CSS(stageColor(st)) },
	"pct":   func(f float64) template.CSS { return template.CSS(strconv.FormatFloat(f, 'f', 3, 64) + "%") },
	"span":  fmtSpanAny,
	"join":  func(s []string) string { return strings.Join(s, ", ") },
}).Parse(pageHTML))

// server serves the calendar page, and relman's HTTP API (package httpapi)
// under /api/ for the same data in JSON, the iCalendar feed and the
// change stream. It only reads: the API answers writes 405.
type server struct {
	m      *relman.Manager
	events *httpapi.Broker // the change stream of /api/events (nil: none)
	now    func() time.Time
	days   int    // default length of the period shown
	store  string // the store's description, for the page footer
	log    *slog.Logger
}

// maxDays bounds the period a request may ask for.
const maxDays = 366

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("/api/", http.StripPrefix("/api", readOnly(s.api())))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// viewer is the actor every API request acts as: the page is public and
// the API read-only, so there is nobody to authenticate.
var viewer = relman.Actor{ID: "calendarpage-viewer"}

// api is relman's HTTP API over the page's Manager.
func (s *server) api() http.Handler {
	h, err := httpapi.New(s.m, httpapi.Options{Events: s.events,
		Authenticate: func(*http.Request) (relman.Actor, error) { return viewer, nil }})
	if err != nil { // only for a nil Manager
		panic(err)
	}
	return h
}

// readOnly lets only GET and HEAD through; anything else is answered 405
// with a problem document.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintf(w, `{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"this API is read-only"}`+"\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// period reads ?from=YYYY-MM-DD&days=N; the default is the day before
// today and s.days days.
func (s *server) period(r *http.Request) (from, to time.Time, err error) {
	now := s.now().UTC()
	from = now.Truncate(24*time.Hour).AddDate(0, 0, -1)
	days := s.days
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, fmt.Errorf("from=%q: want a date, YYYY-MM-DD", v)
		}
	}
	if v := r.URL.Query().Get("days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > maxDays {
			return from, to, fmt.Errorf("days=%q: want a number from 1 to %d", v, maxDays)
		}
	}
	return from, from.AddDate(0, 0, days), nil
}

func (s *server) schedule(w http.ResponseWriter, r *http.Request) (*Schedule, bool) {
	from, to, err := s.period(r)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return nil, false
	}
	sc, err := buildSchedule(r.Context(), s.m, from, to, s.now().UTC())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return nil, false
	}
	return sc, true
}

// lane is one release's row on the timeline.
type lane struct {
	Entry
	Left, Width float64 // percent of the period
	ClipStart   bool    // the window starts before the period
	ClipEnd     bool    // …or ends after it
}

type tick struct {
	Left    float64
	Label   string
	Weekend bool
	Width   float64
}

type band struct {
	Window
	Left, Width float64
}

type pageData struct {
	S           *Schedule
	Lanes       []lane
	Bands       []band
	Ticks       []tick
	NowLeft     float64
	NowVisible  bool
	Legend      []relman.Stage
	Lifecycle   template.HTML
	Store       string
	Prev, Next  string
	Days        int
	GeneratedAt string
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.schedule(w, r)
	if !ok {
		return
	}
	total := sc.To.Sub(sc.From)
	at := func(t time.Time) float64 {
		f := 100 * float64(t.Sub(sc.From)) / float64(total)
		return max(0, min(100, f))
	}
	days := int(total.Hours() / 24)
	d := pageData{S: sc, Legend: s.m.Lifecycle().Stages(), Store: s.store, Days: days,
		Lifecycle:   template.HTML(lifecycleSVG(s.m.Lifecycle())),
		Prev:        fmt.Sprintf("/?from=%s&days=%d", sc.From.AddDate(0, 0, -days).Format(time.DateOnly), days),
		Next:        fmt.Sprintf("/?from=%s&days=%d", sc.To.Format(time.DateOnly), days),
		GeneratedAt: sc.Now.Format("2006-01-02 15:04 UTC")}
	for day := sc.From; day.Before(sc.To); day = day.AddDate(0, 0, 1) {
		wd := day.Weekday()
		label := day.Format("2")
		if day.Day() == 1 || day.Equal(sc.From) {
			label = day.Format("Jan 2")
		}
		d.Ticks = append(d.Ticks, tick{Left: at(day), Width: at(day.AddDate(0, 0, 1)) - at(day), Label: label,
			Weekend: wd == time.Saturday || wd == time.Sunday})
	}
	for _, e := range sc.Releases {
		l := lane{Entry: e, Left: at(e.Window.Start), ClipStart: e.Window.Start.Before(sc.From), ClipEnd: e.Window.End.After(sc.To)}
		l.Width = max(at(e.Window.End)-l.Left, 0.4) // a short window stays visible
		d.Lanes = append(d.Lanes, l)
	}
	for _, win := range sc.Windows {
		left := at(win.Span.Start)
		d.Bands = append(d.Bands, band{Window: win, Left: left, Width: at(win.Span.End) - left})
	}
	if !sc.Now.Before(sc.From) && sc.Now.Before(sc.To) {
		d.NowVisible, d.NowLeft = true, at(sc.Now)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	_, _ = buf.WriteTo(w)
}

// fail answers an error of the page in plain text. Server errors are
// logged; their details are not shown.
func (s *server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	msg := err.Error()
	if code >= 500 {
		s.log.Error("request failed", "path", r.URL.Path, "err", err)
		msg = http.StatusText(code)
	}
	http.Error(w, msg, code)
}

// fmtSpan formats a window for people, in UTC.
func fmtSpan(sp *relman.Span) string {
	if sp == nil {
		return "no window"
	}
	a, b := sp.Start.UTC(), sp.End.UTC()
	if a.Format(time.DateOnly) == b.Format(time.DateOnly) {
		return a.Format("Mon 2 Jan 15:04") + "–" + b.Format("15:04 UTC")
	}
	return a.Format("Mon 2 Jan 15:04") + " – " + b.Format("Mon 2 Jan 15:04 UTC")
}

// fmtSpanAny formats a *relman.Span or a relman.Span.
func fmtSpanAny(v any) string {
	switch sp := v.(type) {
	case relman.Span:
		return fmtSpan(&sp)
	case *relman.Span:
		return fmtSpan(sp)
	}
	return ""
}
