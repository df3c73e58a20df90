package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// Statuses maps each error class to the HTTP status of its problem
// documents (see the package documentation).
var Statuses = map[relman.ErrorClass]int{
	relman.ClassInvalid:     http.StatusBadRequest,
	relman.ClassForbidden:   http.StatusForbidden,
	relman.ClassNotFound:    http.StatusNotFound,
	relman.ClassConflict:    http.StatusConflict,
	relman.ClassRefused:     http.StatusUnprocessableEntity,
	relman.ClassNotYet:      http.StatusTooEarly,
	relman.ClassInternal:    http.StatusInternalServerError,
	relman.ClassUnavailable: http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem document, with relman's extensions.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Class is the relman.ErrorClass of the error ("" for the handler's
	// own 401, 412 and 413).
	Class relman.ErrorClass `json:"class,omitempty"`
	// ReleaseID and Event name the release and event a refusal is about.
	ReleaseID string       `json:"release_id,omitempty"`
	Event     relman.Event `json:"event,omitempty"`
	// Failures lists every gate that refused.
	Failures []Failure `json:"failures,omitempty"`
	// NotYetUntil is when every refusal lifts by itself, when they all
	// will (class not_yet).
	NotYetUntil *time.Time `json:"not_yet_until,omitempty"`
	// Fields lists every input field that failed validation.
	Fields []FieldProblem `json:"fields,omitempty"`
	// Missing lists the approvals a policy still requires.
	Missing []relman.MissingApproval `json:"missing_approvals,omitempty"`
}

// Failure is one gate's refusal.
type Failure struct {
	Gate        string     `json:"gate"`
	Reason      string     `json:"reason"`
	NotYetUntil *time.Time `json:"not_yet_until,omitempty"`
}

// FieldProblem is one field that failed validation.
type FieldProblem struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	Param string `json:"param,omitempty"`
}

func problemType(name string) string { return "urn:relman:problem:" + name }

// Error returns the problem's detail, so a client can return it as an
// error.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// ProblemFor returns the problem document the handler writes for err:
// its class, status, detail and, where err carries them, every gate
// failure, failing field and missing approval.
func ProblemFor(err error) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Problem{Type: problemType("too-large"), Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: "the request body is over the limit of " + itoa(mbe.Limit) + " bytes"}
	}
	if errors.Is(err, errPrecondition) {
		return &Problem{Type: problemType("precondition-failed"), Title: "Precondition Failed", Status: http.StatusPreconditionFailed,
			Detail: err.Error()}
	}
	class := relman.Classify(err)
	status := Statuses[class]
	if errors.Is(err, errors.ErrUnsupported) {
		status = http.StatusNotImplemented
	}
	p := &Problem{Type: problemType(string(class)), Title: http.StatusText(status), Status: status, Class: class,
		Detail: strings.TrimPrefix(err.Error(), "relman: ")}
	var ge *relman.GateError
	if errors.As(err, &ge) {
		p.ReleaseID, p.Event, p.Failures = ge.ReleaseID, ge.Event, failures(ge)
		if at, ok := ge.NotYet(); ok {
			at = at.UTC()
			p.NotYetUntil = &at
		}
	}
	var ny *relman.NotYetError
	if p.NotYetUntil == nil && errors.As(err, &ny) {
		at := ny.Until.UTC()
		p.NotYetUntil = &at
	}
	var te *relman.TransitionError
	if errors.As(err, &te) {
		p.ReleaseID, p.Event = te.ReleaseID, te.Event
	}
	var ve *relman.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			p.Fields = append(p.Fields, FieldProblem(f))
		}
	}
	var am *relman.ApprovalsMissingError
	if errors.As(err, &am) {
		p.Missing = am.Missing
	}
	return p
}

// failures lists a GateError's refusals.
func failures(ge *relman.GateError) []Failure {
	fs := make([]Failure, len(ge.Failures))
	for i, f := range ge.Failures {
		fs[i] = Failure{Gate: f.Gate, Reason: strings.TrimPrefix(f.Err.Error(), "relman: ")}
		var ny *relman.NotYetError
		if errors.As(f.Err, &ny) {
			at := ny.Until.UTC()
			fs[i].NotYetUntil = &at
			fs[i].Reason = strings.TrimPrefix(ny.Err.Error(), "relman: ")
		}
	}
	return fs
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("ETag")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
