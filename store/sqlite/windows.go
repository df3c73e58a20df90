package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// PutWindow implements relman.WindowStore: it creates or replaces the
// window with w.ID, in one BEGIN IMMEDIATE transaction. A window that
// fails w.Validate, or holds a string that is not UTF-8 or a time whose
// UTC year is outside 0-9999 (JSON cannot carry them), is an error
// matching relman.ErrInvalid, and nothing is written.
func (s *Store) PutWindow(ctx context.Context, w relman.Window) error {
	doc, err := storedoc.EncodeWindow(&w)
	if err != nil {
		return fmt.Errorf("sqlite: put window %q: %w", w.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: put window %q: %w", w.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO windows (id, name, kind, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, doc = excluded.doc`,
			w.ID, w.Name, string(w.Kind), string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put window %q: %w", w.ID, err)
	}
	return nil
}

// GetWindow implements relman.WindowStore.
func (s *Store) GetWindow(ctx context.Context, id string) (relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return relman.Window{}, fmt.Errorf("sqlite: get window %q: %w", id, err)
	}
	var doc []byte
	switch err := s.r.QueryRowContext(ctx, "SELECT doc FROM windows WHERE id = ?", id).Scan(&doc); {
	case errors.Is(err, sql.ErrNoRows):
		return relman.Window{}, fmt.Errorf("sqlite: get window %q: %w", id, relman.ErrNotFound)
	case err != nil:
		return relman.Window{}, fmt.Errorf("sqlite: get window %q: %w", id, err)
	}
	return decodeWindow(id, doc)
}

// DeleteWindow implements relman.WindowStore.
func (s *Store) DeleteWindow(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: delete window %q: %w", id, err)
	}
	switch n, err := s.exec(ctx, "DELETE FROM windows WHERE id = ?", id); {
	case err != nil:
		return fmt.Errorf("sqlite: delete window %q: %w", id, err)
	case n == 0:
		return fmt.Errorf("sqlite: delete window %q: %w", id, relman.ErrNotFound)
	}
	return nil
}

// ListWindows implements relman.WindowStore. Ids sort bytewise, as
// release ids do.
func (s *Store) ListWindows(ctx context.Context) ([]relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list windows: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, "SELECT id, doc FROM windows ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list windows: %w", err)
	}
	defer rows.Close()
	out := []relman.Window{}
	for rows.Next() {
		var id string
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: list windows: %w", err)
		}
		w, err := decodeWindow(id, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list windows: %w", err)
	}
	return out, nil
}

// decodeWindow reads a stored window strictly, like decode, and puts its
// times in its time zone (in UTC if this system does not know the zone).
func decodeWindow(id string, doc []byte) (relman.Window, error) {
	var w relman.Window
	if newer, err := storedoc.Decode(doc, &w); newer {
		return relman.Window{}, fmt.Errorf("sqlite: window %q: %w: %v", id, ErrNewerSchema, err)
	} else if err != nil {
		return relman.Window{}, fmt.Errorf("sqlite: window %q: %w: %v", id, ErrCorrupt, err)
	}
	if w.ID != id {
		return relman.Window{}, fmt.Errorf("sqlite: window %q: %w: document holds id %q", id, ErrCorrupt, w.ID)
	}
	storedoc.WindowInZone(&w)
	return w, nil
}
