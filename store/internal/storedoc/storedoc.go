// Package storedoc holds what the SQL stores (store/sqlite and
// store/postgres) share about the JSON documents they keep releases and
// windows in: strict decoding, the stored form of a window, and reading
// rows of releases; and the input checks of their runner support
// (relman.DueStore, relman.Outbox). Each store keeps its own SQL and its
// own errors.
package storedoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// Decode decodes the JSON document doc into v strictly: a field v does not
// have is an error. newer reports that the error is such a field, so the
// document was written by a newer version of relman; the store returns
// its ErrNewerSchema then.
func Decode(doc []byte, v any) (newer bool, err error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return strings.Contains(err.Error(), "unknown field"), err
	}
	return false, nil
}

// CheckWrite checks what Create and Update need before they touch the
// database: a release with an id, and entries that all belong to it. It
// returns a *relman.ValidationError (which matches relman.ErrInvalid) or
// nil.
func CheckWrite(r *relman.Release, entries []relman.AuditEntry) error {
	invalid := func(field, rule string) error {
		return &relman.ValidationError{Fields: []relman.FieldError{{Field: field, Rule: rule}}}
	}
	if r == nil {
		return invalid("release", "required")
	}
	if r.ID == "" {
		return invalid("id", "required")
	}
	for i, e := range entries {
		if e.ReleaseID != r.ID {
			return invalid(fmt.Sprintf("entries[%d].release_id", i), "eqfield=id")
		}
	}
	// Every store refuses text that another could not keep alike.
	if err := relman.CheckInput("", r); err != nil {
		return err
	}
	return relman.CheckInput("entries", entries)
}

// CheckWriteShared is CheckWrite for UpdateShared (relman.Sharer): the
// text of r is checked only where it differs from old, the version it
// replaces as the store keeps it (relman.CheckChanged), which was checked
// when it was written. With no old (a cache miss), all of r is checked.
func CheckWriteShared(r *relman.Release, entries []relman.AuditEntry, old *relman.Release) error {
	if old == nil || r == nil || r.ID == "" || slices.ContainsFunc(entries, func(e relman.AuditEntry) bool { return e.ReleaseID != r.ID }) {
		return CheckWrite(r, entries) // says what is wrong, or checks all
	}
	if err := relman.CheckChanged("", r, old); err != nil {
		return err
	}
	return relman.CheckInput("entries", entries)
}

// LegacyFeedback returns a copy of r keeping fs in its document, for
// UpdateFeedback on a schema older than feedback records (made in tests,
// as an older version of a store would have written it).
func LegacyFeedback(r *relman.Release, fs []relman.Feedback) *relman.Release {
	c := *r
	c.Feedback = append(slices.Clone(r.Feedback), fs...)
	return &c
}

// Rows is a result set being read: *sql.Rows and pgx.Rows both are one.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Releases reads rows of (id, revision, doc) and returns the releases that
// decode, the store's own function, makes of them. It stops at the first
// error. The caller closes rows.
func Releases(rows Rows, decode func(id string, doc []byte, rev int64) (*relman.Release, error)) ([]*relman.Release, error) {
	var out []*relman.Release
	for rows.Next() {
		var id string
		var rev int64
		var doc []byte
		if err := rows.Scan(&id, &rev, &doc); err != nil {
			return nil, err
		}
		r, err := decode(id, doc, rev)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScanBatches calls fn with every release of the batches read returns, in
// order, and stops at the first error of either, which it returns as it
// is. read(after) returns the next at most size releases with ids greater
// than after, in id order; the first call has after "". A batch shorter
// than size is the last.
func ScanBatches(size int, read func(after string) ([]*relman.Release, error), fn func(r *relman.Release) error) error {
	after := ""
	for {
		batch, err := read(after)
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(batch) < size {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}

// EncodeWindow validates w and returns it as stored: JSON, with its times
// in UTC. RFC 3339 offsets have no seconds, so a time in a zone whose
// offset then had some (local mean time before 1900 or so) would move. A
// window that fails w.Validate (which refuses text that is not UTF-8 or
// holds a NUL), or holds a time whose UTC year is outside 0-9999 (JSON
// cannot carry it), is an error matching relman.ErrInvalid.
func EncodeWindow(w *relman.Window) ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	// w.Validate has checked every string (relman.CheckInput: UTF-8, no
	// NUL); what is left is the times JSON must carry.
	bad := func(field, rule, param string) error {
		return &relman.ValidationError{Fields: []relman.FieldError{{Field: field, Rule: rule, Param: param}}}
	}
	c := w.Clone()
	utc := func(field string, t *time.Time) error {
		*t = t.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return bad(field, "year", "0-9999")
		}
		return nil
	}
	if err := utc("start", &c.Start); err != nil {
		return nil, err
	}
	if err := utc("end", &c.End); err != nil {
		return nil, err
	}
	for i := range c.ExDates {
		if err := utc(fmt.Sprintf("exdates[%d]", i), &c.ExDates[i]); err != nil {
			return nil, err
		}
	}
	for i := range c.RDates {
		if err := utcAll(utc, fmt.Sprintf("rdates[%d]", i), &c.RDates[i].Start, &c.RDates[i].End); err != nil {
			return nil, err
		}
	}
	for i := range c.Overrides {
		o := &c.Overrides[i]
		if err := utcAll(utc, fmt.Sprintf("overrides[%d]", i), &o.RecurrenceID, &o.Start, &o.End); err != nil {
			return nil, err
		}
	}
	return json.Marshal(&c)
}

// utcAll applies utc to each non-zero time (a zero one stays zero: it
// means "not given").
func utcAll(utc func(string, *time.Time) error, field string, ts ...*time.Time) error {
	for _, t := range ts {
		if t.IsZero() {
			continue
		}
		if err := utc(field, t); err != nil {
			return err
		}
	}
	return nil
}

// WindowInZone puts the times of w, as EncodeWindow stored them, in w's
// time zone, or leaves them in UTC if this system does not know the zone.
func WindowInZone(w *relman.Window) {
	if loc, err := w.Location(); err == nil {
		w.Start, w.End = w.Start.In(loc), w.End.In(loc)
		for i, t := range w.ExDates {
			w.ExDates[i] = t.In(loc)
		}
		in := func(t time.Time) time.Time {
			if t.IsZero() {
				return t
			}
			return t.In(loc)
		}
		for i := range w.RDates {
			p := &w.RDates[i]
			p.Start, p.End = in(p.Start), in(p.End)
		}
		for i := range w.Overrides {
			o := &w.Overrides[i]
			o.RecurrenceID, o.Start, o.End = in(o.RecurrenceID), in(o.Start), in(o.End)
		}
	}
}
