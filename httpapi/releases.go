package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /openapi.json", serveOpenAPI)

	h.handle("POST /releases", h.create)
	h.handle("GET /releases", h.list)
	h.handle("GET /releases/{id}", h.get)
	h.handle("PATCH /releases/{id}", h.edit)
	h.handle("POST /releases/{id}/events/{event}", h.fire)
	h.handle("POST /releases/{id}/events/{event}/check", h.check)
	h.handle("POST /releases/{id}/approvals", h.approve)
	h.handle("POST /releases/{id}/feedback", h.addFeedback)
	h.handle("GET /releases/{id}/feedback", h.listFeedback)
	h.handle("GET /releases/{id}/risk", h.evaluate)
	h.handle("POST /releases/{id}/risk/assess", h.assess)
	h.handle("PUT /releases/{id}/risks/{risk}", h.setRisk)
	h.handle("DELETE /releases/{id}/risks/{risk}", h.removeRisk)
	h.handle("GET /releases/{id}/history", h.history)
	h.handle("GET /releases/{id}/verify", h.verify)
	h.handle("GET /lifecycle", h.lifecycle)

	h.handle("GET /windows", h.windows)
	h.handle("PUT /windows/{id}", h.putWindow)
	h.handle("DELETE /windows/{id}", h.deleteWindow)
	h.handle("GET /conflicts", h.conflicts)
	h.handle("GET /next-slot", h.nextSlot)
	h.handle("GET /metrics", h.metrics)
	h.handle("GET /calendar.ics", h.feed)

	h.handle("POST /releases/{id}/scheduled", h.schedule)
	h.handle("GET /releases/{id}/scheduled", h.scheduled)
	h.handle("DELETE /releases/{id}/scheduled/{job}", h.cancelScheduled)
	h.handle("GET /upcoming", h.upcoming)

	h.handle("POST /releases/{id}/rollout", h.startRollout)
	h.handle("GET /releases/{id}/rollout", h.rolloutStatus)
	h.handle("POST /releases/{id}/rollout/{command}", h.rolloutAction)

	h.handle("GET /outbox/dead", h.deadLetters)
	h.handle("POST /outbox/dead/{release}/{seq}/replay", h.replay)

	h.handle("GET /events", h.events)
}

// ReleaseList is a page of releases.
type ReleaseList struct {
	Releases []*relman.Release `json:"releases"`
	// NextCursor, when set, fetches the next page (?cursor=).
	NextCursor string `json:"next_cursor,omitempty"`
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var rel relman.Release
	if err := decode(r, &rel, false); err != nil {
		return err
	}
	got, err := h.m.Create(r.Context(), &rel, by)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "releases/"+got.ID)
	h.publishRelease(got)
	return writeRelease(w, http.StatusCreated, got)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	rel, err := h.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag(rel.Revision) {
		w.Header().Set("ETag", inm)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeRelease(w, http.StatusOK, rel)
}

// defaultPage is the page size of GET /releases without ?limit.
const defaultPage = 100

func (h *Handler) list(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	qv := r.URL.Query()
	q := relman.Query{Service: qv.Get("service"), Team: qv.Get("team"), Kind: relman.Kind(qv.Get("kind")),
		OrderBy: relman.Order(qv.Get("order_by")), Limit: defaultPage}
	for _, st := range qv["stage"] {
		for s := range strings.SplitSeq(st, ",") {
			q.Stages = append(q.Stages, relman.Stage(s))
		}
	}
	if v := qv.Get("desc"); v != "" {
		d, err := strconv.ParseBool(v)
		if err != nil {
			return badRequestf("desc=%q: want true or false", v)
		}
		q.Desc = d
	}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > relman.MaxPage {
			return badRequestf("limit=%q: want a number from 1 to %d", v, relman.MaxPage)
		}
		q.Limit = n
	}
	q.After = qv.Get("cursor") // checked by the Manager: a cursor for this order, or 400 naming "after"
	// One more than asked tells whether there is a next page.
	want := q.Limit
	if q.Limit < relman.MaxPage {
		q.Limit++
	}
	rs, err := h.m.List(r.Context(), q)
	if err != nil {
		return err
	}
	out := ReleaseList{Releases: rs}
	if len(rs) > want || (len(rs) == want && want == relman.MaxPage) {
		out.Releases = rs[:want]
		q.Limit = want
		out.NextCursor = q.Cursor(out.Releases[want-1])
	}
	if out.Releases == nil {
		out.Releases = []*relman.Release{}
	}
	return writeJSON(w, http.StatusOK, out)
}

// EditRequest is the body of PATCH /releases/{id}: Set is a JSON merge
// patch (RFC 7396) over the release document; fields the Manager manages
// (stage, revision, approvals, history…) may not change (400).
type EditRequest struct {
	Reason string          `json:"reason,omitempty"`
	Set    json.RawMessage `json:"set"`
}

func (h *Handler) edit(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req EditRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	var patch map[string]any
	if err := json.Unmarshal(req.Set, &patch); err != nil || patch == nil {
		return badRequestf("set: want a JSON object (a merge patch over the release)")
	}
	rel, err := h.m.Edit(r.Context(), r.PathValue("id"), by, req.Reason, func(rel *relman.Release) error {
		if err := ifMatch(r, rel.Revision); err != nil {
			return err
		}
		return mergeInto(rel, patch)
	})
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

// mergeInto applies a JSON merge patch to rel.
func mergeInto(rel *relman.Release, patch map[string]any) error {
	b, err := json.Marshal(rel)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return err
	}
	var out relman.Release
	if err := decodeFrom(strings.NewReader(string(merged)), &out, false); err != nil {
		var br *badRequest
		if errors.As(err, &br) {
			return badRequestf("set: %s", br.msg)
		}
		return err
	}
	*rel = out
	return nil
}

// mergePatch applies RFC 7396.
func mergePatch(doc, patch map[string]any) map[string]any {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(doc, k)
		case map[string]any:
			sub, _ := doc[k].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
			}
			doc[k] = mergePatch(sub, pv)
		default:
			doc[k] = pv
		}
	}
	return doc
}

// EventRequest is the body of firing or checking an event.
type EventRequest struct {
	Reason string            `json:"reason,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Window *relman.Span      `json:"window,omitempty"`
}

func (h *Handler) eventRequest(r *http.Request, by relman.Actor) (relman.Request, error) {
	var er EventRequest
	if err := decode(r, &er, true); err != nil {
		return relman.Request{}, err
	}
	return relman.Request{Actor: by, Reason: er.Reason, Params: er.Params, Window: er.Window}, nil
}

func (h *Handler) fire(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	req, err := h.eventRequest(r, by)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.Fire(r.Context(), id, relman.Event(r.PathValue("event")), req)
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

// CheckResult answers a dry run: whether the event may fire now, and if
// not, every refusal: each gate's, or one named "lifecycle" (the event is
// not allowed from the release's stage), "authorizer" (the actor may
// not) or "veto" (a before-hook said no).
type CheckResult struct {
	ReleaseID string       `json:"release_id"`
	Event     relman.Event `json:"event"`
	Allowed   bool         `json:"allowed"`
	// Class is not_yet when time alone lifts every refusal, else refused
	// (absent when allowed).
	Class       relman.ErrorClass `json:"class,omitempty"`
	NotYetUntil *time.Time        `json:"not_yet_until,omitempty"`
	Failures    []Failure         `json:"failures,omitempty"`
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	req, err := h.eventRequest(r, by)
	if err != nil {
		return err
	}
	id, ev := r.PathValue("id"), relman.Event(r.PathValue("event"))
	res := CheckResult{ReleaseID: id, Event: ev}
	cerr := h.m.Check(r.Context(), id, ev, req)
	var ge *relman.GateError
	class := relman.Classify(cerr)
	switch {
	case cerr == nil:
		res.Allowed = true
	case errors.As(cerr, &ge):
		res.Class, res.Failures = class, failures(ge)
		if at, ok := ge.NotYet(); ok {
			at = at.UTC()
			res.NotYetUntil = &at
		}
	case class == relman.ClassRefused || class == relman.ClassForbidden:
		// Not a gate's: the lifecycle, the Authorizer or a before-hook.
		gate := "lifecycle"
		switch {
		case class == relman.ClassForbidden:
			gate = "authorizer"
		case errors.Is(cerr, relman.ErrVetoed):
			gate = "veto"
		}
		res.Class = class
		res.Failures = []Failure{{Gate: gate, Reason: strings.TrimPrefix(cerr.Error(), "relman: ")}}
	default:
		return cerr
	}
	return writeJSON(w, http.StatusOK, res)
}

// ApprovalRequest is the body of POST /releases/{id}/approvals: an
// approval (or, with Decision "reject", a rejection) by the caller in
// Role; with Environment, an approval for the rollout to it.
type ApprovalRequest struct {
	Role        string `json:"role,omitempty"`
	Comment     string `json:"comment,omitempty"`
	Decision    string `json:"decision,omitempty"` // approve (default) or reject
	Environment string `json:"environment,omitempty"`
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req ApprovalRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	var rel *relman.Release
	var err error
	switch {
	case req.Decision == "reject" && req.Environment != "":
		return badRequestf("decision: reject is for release approvals, not environment ones")
	case req.Decision == "reject":
		rel, err = h.m.RejectApproval(r.Context(), id, by, req.Role, req.Comment)
	case req.Decision != "" && req.Decision != "approve":
		return badRequestf("decision %q: want approve or reject", req.Decision)
	case req.Environment != "":
		rel, err = h.m.ApproveEnvironment(r.Context(), id, by, req.Environment, req.Role, req.Comment)
	default:
		rel, err = h.m.Approve(r.Context(), id, by, req.Role, req.Comment)
	}
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

func (h *Handler) evaluate(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	rel, err := h.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a, err := h.m.Evaluate(r.Context(), rel)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (h *Handler) assess(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.Assess(r.Context(), id, by)
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

func (h *Handler) setRisk(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var rk relman.Risk
	if err := decode(r, &rk, false); err != nil {
		return err
	}
	if rk.ID == "" {
		rk.ID = r.PathValue("risk")
	} else if rk.ID != r.PathValue("risk") {
		return badRequestf("id %q differs from the path's %q", rk.ID, r.PathValue("risk"))
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.SetRisk(r.Context(), id, by, rk)
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

func (h *Handler) removeRisk(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.RemoveRisk(r.Context(), id, by, r.PathValue("risk"))
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusOK, rel)
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	es, err := h.m.History(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if es == nil {
		es = []relman.AuditEntry{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}

// VerifyResult says whether a release's audit history verifies.
type VerifyResult struct {
	ReleaseID string `json:"release_id"`
	Intact    bool   `json:"intact"`
	Problem   string `json:"problem,omitempty"` // where the chain breaks
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	id := r.PathValue("id")
	err := h.m.Verify(r.Context(), id)
	res := VerifyResult{ReleaseID: id, Intact: err == nil}
	if err != nil {
		if !errors.Is(err, relman.ErrCorruptHistory) {
			return err
		}
		res.Problem = strings.TrimPrefix(err.Error(), "relman: ")
	}
	return writeJSON(w, http.StatusOK, res)
}

// LifecycleDoc describes the lifecycle: its stages, events (with their
// gates) and a Mermaid state diagram.
type LifecycleDoc struct {
	Initial  relman.Stage   `json:"initial"`
	Stages   []relman.Stage `json:"stages"`
	Terminal []relman.Stage `json:"terminal"`
	Events   []LifecycleEvt `json:"events"`
	Mermaid  string         `json:"mermaid"`
}

// LifecycleEvt is one event of the lifecycle.
type LifecycleEvt struct {
	Name  relman.Event   `json:"name"`
	From  []relman.Stage `json:"from"`
	To    relman.Stage   `json:"to"`
	Gates []string       `json:"gates"`
}

func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	lc := h.m.Lifecycle()
	if r.URL.Query().Get("format") == "mermaid" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(lc.Mermaid()))
		return nil
	}
	doc := LifecycleDoc{Initial: lc.Initial(), Stages: lc.Stages(), Terminal: []relman.Stage{}, Mermaid: lc.Mermaid()}
	for _, st := range doc.Stages {
		if lc.Terminal(st) {
			doc.Terminal = append(doc.Terminal, st)
		}
	}
	for _, e := range lc.Events() {
		g := lc.Gates(e.Name)
		if g == nil {
			g = []string{}
		}
		doc.Events = append(doc.Events, LifecycleEvt{Name: e.Name, From: e.From, To: e.To, Gates: g})
	}
	return writeJSON(w, http.StatusOK, doc)
}

// NewFeedback is the body of POST /releases/{id}/feedback: user feedback
// on a release in operation (relman.Manager.AddFeedback). A zero At is
// now; an empty By is the actor.
type NewFeedback struct {
	Rating  int       `json:"rating"`
	Comment string    `json:"comment,omitempty"`
	Source  string    `json:"source,omitempty"`
	At      time.Time `json:"at,omitzero"`
	By      string    `json:"by,omitempty"`
}

func (h *Handler) addFeedback(w http.ResponseWriter, r *http.Request, by relman.Actor) error {
	var req NewFeedback
	if err := decode(r, &req, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkIfMatch(r, id); err != nil {
		return err
	}
	rel, err := h.m.AddFeedback(r.Context(), id, by, relman.Feedback{Rating: req.Rating, Comment: req.Comment, Source: req.Source, At: req.At, By: req.By})
	if err != nil {
		return err
	}
	h.publishRelease(rel)
	return writeRelease(w, http.StatusCreated, rel)
}

// FeedbackList is a page of a release's feedback, by seq.
type FeedbackList struct {
	Feedback []relman.Feedback `json:"feedback"`
	// NextAfter, when set, fetches the next page (?after=).
	NextAfter int64 `json:"next_after,omitempty"`
}

func (h *Handler) listFeedback(w http.ResponseWriter, r *http.Request, _ relman.Actor) error {
	qv := r.URL.Query()
	var after int64
	if v := qv.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequestf("after=%q: want a seq, 0 or more", v)
		}
		after = n
	}
	limit := defaultPage
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > relman.MaxPage {
			return badRequestf("limit=%q: want a number from 1 to %d", v, relman.MaxPage)
		}
		limit = n
	}
	fs, err := h.m.Feedback(r.Context(), r.PathValue("id"), after, limit)
	if err != nil {
		return err
	}
	out := FeedbackList{Feedback: fs}
	if out.Feedback == nil {
		out.Feedback = []relman.Feedback{}
	}
	if len(fs) == limit {
		out.NextAfter = fs[len(fs)-1].Seq
	}
	return writeJSON(w, http.StatusOK, out)
}
