package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// WindowList is the calendar's windows.
type WindowList struct {
	Windows []relman.Window `json:"windows"`
}

func (h *Handler) windows(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	cal, err := h.m.Calendar(r.Context())
	if err != nil {
		return err
	}
	ws := cal.Windows()
	if ws == nil {
		ws = []relman.Window{}
	}
	return writeJSON(w, http.StatusOK, WindowList{Windows: ws})
}

func (h *Handler) putWindow(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var win relman.Window
	if err := decode(r, &win, false); err != nil {
		return err
	}
	if win.ID == "" {
		win.ID = r.PathValue("id")
	} else if win.ID != r.PathValue("id") {
		return badRequestf("id %q differs from the path's %q", win.ID, r.PathValue("id"))
	}
	if err := h.m.PutWindow(r.Context(), by, win); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, win)
}

func (h *Handler) deleteWindow(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	if err := h.m.DeleteWindow(r.Context(), by, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Conflict is one scheduling conflict between planned releases.
type Conflict struct {
	Kind     relman.ConflictKind `json:"kind"`
	Releases []string            `json:"releases"`
	Service  string              `json:"service,omitempty"`
	Team     string              `json:"team,omitempty"`
	Window   string              `json:"window,omitempty"`
	Span     relman.Span         `json:"span"`
	Reason   string              `json:"reason"`
}

func (h *Handler) conflicts(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	cs, err := h.m.Conflicts(r.Context())
	if err != nil {
		return err
	}
	out := make([]Conflict, len(cs))
	for i, c := range cs {
		out[i] = Conflict(c)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"conflicts": out})
}

// timeParam reads an RFC 3339 query parameter, or def when absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, badRequestf("%s=%q: want an RFC 3339 time such as 2026-03-04T22:00:00Z", name, v)
	}
	return t, nil
}

func durationParam(r *http.Request, name string, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return d, badRequestf("%s=%q: want a Go duration such as 30m or 2h", name, v)
	}
	return d, nil
}

func listParam(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Slot is the answer of GET /next-slot.
type Slot struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Duration Duration  `json:"duration"`
}

func (h *Handler) nextSlot(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	after, err := timeParam(r, "after", h.m.Now())
	if err != nil {
		return err
	}
	d, err := durationParam(r, "duration", 0)
	if err != nil {
		return err
	}
	horizon, err := durationParam(r, "horizon", 0)
	if err != nil {
		return err
	}
	var sp relman.Span
	services := listParam(r, "service")
	if id := r.URL.Query().Get("release"); id != "" {
		if len(services) > 0 || r.URL.Query().Has("exclude") {
			return &relman.ValidationError{Fields: []relman.FieldError{{Field: "release", Rule: "excluded_with", Param: "service exclude"}}}
		}
		sp, err = h.m.NextSlotFor(r.Context(), id, after, d, horizon)
	} else {
		sp, err = h.m.NextSlot(r.Context(), after, d, services, r.URL.Query().Get("exclude"), horizon)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Slot{Start: sp.Start, End: sp.End, Duration: Duration(sp.Duration())})
}

// DurationStats is relman.DurationStats with durations as strings.
type DurationStats struct {
	Count  int      `json:"count"`
	Mean   Duration `json:"mean"`
	Median Duration `json:"median"`
	Min    Duration `json:"min"`
	Max    Duration `json:"max"`
}

// DeliveryMetrics is relman.DeliveryMetrics with durations as strings.
type DeliveryMetrics struct {
	Releases             int                `json:"releases"`
	Deployments          int                `json:"deployments"`
	DeploymentsPerDay    float64            `json:"deployments_per_day"`
	Failures             int                `json:"failures"`
	ChangeFailureRate    float64            `json:"change_failure_rate"`
	LeadTimeFromApproval DurationStats      `json:"lead_time_from_approval"`
	LeadTimeFromProposal DurationStats      `json:"lead_time_from_proposal"`
	TimeToRestore        DurationStats      `json:"time_to_restore"`
	OpenIncidents        int                `json:"open_incidents"`
	Rollbacks            int                `json:"rollbacks"`
	RollbackDuration     DurationStats      `json:"rollback_duration"`
	Rating               relman.RatingStats `json:"rating"`
}

// MetricsReport is relman.MetricsReport with durations as strings.
type MetricsReport struct {
	Query     relman.MetricsQuery        `json:"query"`
	Scanned   int                        `json:"scanned"`
	Overall   DeliveryMetrics            `json:"overall"`
	ByService map[string]DeliveryMetrics `json:"by_service"`
	ByTeam    map[string]DeliveryMetrics `json:"by_team"`
}

func apiStats(s relman.DurationStats) DurationStats {
	return DurationStats{Count: s.Count, Mean: Duration(s.Mean), Median: Duration(s.Median), Min: Duration(s.Min), Max: Duration(s.Max)}
}

func apiMetrics(d relman.DeliveryMetrics) DeliveryMetrics {
	return DeliveryMetrics{Releases: d.Releases, Deployments: d.Deployments, DeploymentsPerDay: d.DeploymentsPerDay,
		Failures: d.Failures, ChangeFailureRate: d.ChangeFailureRate,
		LeadTimeFromApproval: apiStats(d.LeadTimeFromApproval), LeadTimeFromProposal: apiStats(d.LeadTimeFromProposal),
		TimeToRestore: apiStats(d.TimeToRestore), OpenIncidents: d.OpenIncidents, Rollbacks: d.Rollbacks,
		RollbackDuration: apiStats(d.RollbackDuration), Rating: d.Rating}
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	now := h.m.Now()
	from, err := timeParam(r, "from", now.AddDate(0, 0, -30))
	if err != nil {
		return err
	}
	to, err := timeParam(r, "to", now)
	if err != nil {
		return err
	}
	rep, err := h.m.Metrics(r.Context(), relman.MetricsQuery{From: from, To: to,
		Service: r.URL.Query().Get("service"), Team: r.URL.Query().Get("team")})
	if err != nil {
		return err
	}
	out := MetricsReport{Query: rep.Query, Scanned: rep.Scanned, Overall: apiMetrics(rep.Overall),
		ByService: map[string]DeliveryMetrics{}, ByTeam: map[string]DeliveryMetrics{}}
	for k, v := range rep.ByService {
		out.ByService[k] = apiMetrics(v)
	}
	for k, v := range rep.ByTeam {
		out.ByTeam[k] = apiMetrics(v)
	}
	return writeJSON(w, http.StatusOK, out)
}

// feed serves GET /calendar.ics: the windows and the planned releases
// still ahead as an RFC 5545 calendar, narrowed by ?service= (windows
// that apply to the service, releases that touch it) and
// ?environment= (windows that apply there: unscoped ones and those
// scoped to it). The ETag is a hash of the body (DTSTAMP is the latest
// change of a release in the feed, so that an unchanged schedule gives
// the same bytes). Windows carry no modification time, so Last-Modified
// is when this handler first served those bytes: later for every new
// content (see feedModified).
func (h *Handler) feed(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	ctx := r.Context()
	cal, err := h.m.Calendar(ctx)
	if err != nil {
		return err
	}
	rs, err := h.m.Planned(ctx)
	if err != nil {
		return err
	}
	service, env := r.URL.Query().Get("service"), r.URL.Query().Get("environment")
	now := h.m.Now()
	ws := slices.DeleteFunc(cal.Windows(), func(win relman.Window) bool {
		return (service != "" && len(win.Services) > 0 && !slices.Contains(win.Services, service)) ||
			(env != "" && len(win.Environments) > 0 && !slices.Contains(win.Environments, env))
	})
	rs = slices.DeleteFunc(rs, func(rel *relman.Release) bool {
		return !rel.Window.End.After(now) || (service != "" && !rel.HasService(service))
	})
	slices.SortFunc(rs, func(a, b *relman.Release) int {
		if c := a.Window.Start.Compare(b.Window.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var stamp time.Time // DTSTAMP: the latest change of a release in the feed
	for _, rel := range rs {
		if rel.UpdatedAt.After(stamp) {
			stamp = rel.UpdatedAt
		}
	}
	if stamp.IsZero() {
		stamp = time.Unix(0, 0).UTC()
	}
	var buf bytes.Buffer
	if err := relman.ExportICS(&buf, ws, rs, relman.ICSOptions{Now: stamp}); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	modified := h.feedModified(tag)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for t := range strings.SplitSeq(inm, ",") {
			if t = strings.TrimPrefix(strings.TrimSpace(t), "W/"); t == tag || t == "*" {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	} else if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modified.After(ims) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// maxFeeds bounds the feed versions a Handler remembers.
const maxFeeds = 256

// feedModified returns when the handler first served the feed whose ETag
// is tag: the Manager's clock to the second, and always after every
// earlier version's, so that If-Modified-Since never hides a change.
func (h *Handler) feedModified(tag string) time.Time {
	h.feedMu.Lock()
	defer h.feedMu.Unlock()
	if t, ok := h.feedSeen[tag]; ok {
		return t
	}
	t := h.m.Now().Truncate(time.Second)
	if !t.After(h.feedLast) {
		t = h.feedLast.Add(time.Second)
	}
	if h.feedSeen == nil || len(h.feedSeen) >= maxFeeds {
		h.feedSeen = map[string]time.Time{}
	}
	h.feedSeen[tag], h.feedLast = t, t
	return t
}
