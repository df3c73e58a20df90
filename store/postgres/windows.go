package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/relman-dev/relman"
)

// PutWindow implements relman.WindowStore: it creates or replaces the
// window with w.ID, in one statement. A window that fails w.Validate, or
// holds a string PostgreSQL or JSON cannot carry (a NUL byte, invalid
// UTF-8) or a time whose UTC year is outside 0-9999, is an error matching
// relman.ErrInvalid, and nothing is written. Windows send no change
// notifications: Subscribe reports releases only.
//
// PutWindow and DeleteWindow run at read committed, whatever the
// connections' default isolation: they write without reading, so need no
// more, and at repeatable read or serializable PostgreSQL would fail
// writes of a window another instance wrote meanwhile.
func (s *Store) PutWindow(ctx context.Context, w relman.Window) error {
	doc, err := encodeWindow(&w)
	if err != nil {
		return fmt.Errorf("postgres: put window %q: %w", w.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: put window %q: %w", w.ID, err)
	}
	_, err = s.writeWindow(ctx, `INSERT INTO `+s.tWindows+` (id, name, kind, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, doc = EXCLUDED.doc`,
		w.ID, w.Name, string(w.Kind), doc)
	if err != nil {
		return wrap(fmt.Sprintf("put window %q", w.ID), err)
	}
	return nil
}

// writeWindow runs one statement in a read committed transaction.
func (s *Store) writeWindow(ctx context.Context, sql string, args ...any) (tag pgconn.CommandTag, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		tag, err = tx.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// GetWindow implements relman.WindowStore.
func (s *Store) GetWindow(ctx context.Context, id string) (relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return relman.Window{}, fmt.Errorf("postgres: get window %q: %w", id, err)
	}
	var doc []byte
	switch err := s.pool.QueryRow(ctx, "SELECT doc FROM "+s.tWindows+" WHERE id = $1", id).Scan(&doc); {
	case errors.Is(err, pgx.ErrNoRows), badInput(err): // no stored id holds a string PostgreSQL refuses
		return relman.Window{}, fmt.Errorf("postgres: get window %q: %w", id, relman.ErrNotFound)
	case err != nil:
		return relman.Window{}, wrap(fmt.Sprintf("get window %q", id), err)
	}
	return decodeWindow(id, doc)
}

// DeleteWindow implements relman.WindowStore.
func (s *Store) DeleteWindow(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: delete window %q: %w", id, err)
	}
	tag, err := s.writeWindow(ctx, "DELETE FROM "+s.tWindows+" WHERE id = $1", id)
	switch {
	case badInput(err), err == nil && tag.RowsAffected() == 0:
		return fmt.Errorf("postgres: delete window %q: %w", id, relman.ErrNotFound)
	case err != nil:
		return wrap(fmt.Sprintf("delete window %q", id), err)
	}
	return nil
}

// ListWindows implements relman.WindowStore. Ids sort bytewise (COLLATE
// "C"), as release ids do.
func (s *Store) ListWindows(ctx context.Context) ([]relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list windows: %w", err)
	}
	rows, err := s.pool.Query(ctx, "SELECT id, doc FROM "+s.tWindows+" ORDER BY id")
	if err != nil {
		return nil, wrap("list windows", err)
	}
	defer rows.Close()
	out := []relman.Window{}
	for rows.Next() {
		var id string
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, wrap("list windows", err)
		}
		w, err := decodeWindow(id, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list windows", err)
	}
	return out, nil
}

// encodeWindow validates w and returns it as stored: JSON, with its times
// in UTC. RFC 3339 offsets have no seconds, so a time in a zone whose
// offset then had some (local mean time before 1900 or so) would move.
func encodeWindow(w *relman.Window) ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	bad := func(field, rule, param string) error {
		return &relman.ValidationError{Fields: []relman.FieldError{{Field: field, Rule: rule, Param: param}}}
	}
	for _, f := range []struct{ name, v string }{{"name", w.Name}, {"reason", w.Reason}, {"time_zone", w.TimeZone}, {"rrule", w.RRule}} {
		if !utf8.ValidString(f.v) {
			return nil, bad(f.name, "utf8", "")
		}
	}
	for i, v := range w.Services {
		if !utf8.ValidString(v) {
			return nil, bad(fmt.Sprintf("services[%d]", i), "utf8", "")
		}
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
	return json.Marshal(&c)
}

// decodeWindow reads a stored window strictly, like decode, and puts its
// times in its time zone (in UTC if this system does not know the zone).
func decodeWindow(id string, doc []byte) (relman.Window, error) {
	var w relman.Window
	d := json.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return relman.Window{}, fmt.Errorf("postgres: window %q: %w: %v", id, ErrNewerSchema, err)
		}
		return relman.Window{}, fmt.Errorf("postgres: window %q: stored document: %w", id, err)
	}
	if w.ID != id {
		return relman.Window{}, fmt.Errorf("postgres: window %q: stored document holds id %q", id, w.ID)
	}
	if loc, err := w.Location(); err == nil {
		w.Start, w.End = w.Start.In(loc), w.End.In(loc)
		for i, t := range w.ExDates {
			w.ExDates[i] = t.In(loc)
		}
	}
	return w, nil
}
