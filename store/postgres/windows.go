package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
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
	doc, err := storedoc.EncodeWindow(&w)
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

// decodeWindow reads a stored window strictly, like decode, and puts its
// times in its time zone (in UTC if this system does not know the zone).
func decodeWindow(id string, doc []byte) (relman.Window, error) {
	var w relman.Window
	if newer, err := storedoc.Decode(doc, &w); newer {
		return relman.Window{}, fmt.Errorf("postgres: window %q: %w: %v", id, ErrNewerSchema, err)
	} else if err != nil {
		return relman.Window{}, fmt.Errorf("postgres: window %q: stored document: %w", id, err)
	}
	if w.ID != id {
		return relman.Window{}, fmt.Errorf("postgres: window %q: stored document holds id %q", id, w.ID)
	}
	storedoc.WindowInZone(&w)
	return w, nil
}
