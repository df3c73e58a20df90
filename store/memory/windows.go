package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// PutWindow implements relman.WindowStore.
func (s *Store) PutWindow(ctx context.Context, w relman.Window) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put window: %w", err)
	}
	if w.ID == "" {
		return fmt.Errorf("memory: put window: %w", &relman.ValidationError{Fields: []relman.FieldError{{Field: "id", Rule: "required"}}})
	}
	if _, err := storedoc.EncodeWindow(&w); err != nil { // as the SQL stores check it
		return fmt.Errorf("memory: put window %q: %w", w.ID, err)
	}
	// Its times come back in the window's zone, as from the SQL stores.
	c := w.Clone()
	storedoc.WindowInZone(&c)
	s.windowsMu.Lock()
	defer s.windowsMu.Unlock()
	s.windows[w.ID] = c
	return nil
}

// GetWindow implements relman.WindowStore.
func (s *Store) GetWindow(ctx context.Context, id string) (relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return relman.Window{}, fmt.Errorf("memory: get window: %w", err)
	}
	s.windowsMu.RLock()
	defer s.windowsMu.RUnlock()
	w, ok := s.windows[id]
	if !ok {
		return relman.Window{}, fmt.Errorf("memory: window %q: %w", id, relman.ErrNotFound)
	}
	return w.Clone(), nil
}

// DeleteWindow implements relman.WindowStore.
func (s *Store) DeleteWindow(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete window: %w", err)
	}
	s.windowsMu.Lock()
	defer s.windowsMu.Unlock()
	if _, ok := s.windows[id]; !ok {
		return fmt.Errorf("memory: window %q: %w", id, relman.ErrNotFound)
	}
	delete(s.windows, id)
	return nil
}

// ListWindows implements relman.WindowStore.
func (s *Store) ListWindows(ctx context.Context) ([]relman.Window, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list windows: %w", err)
	}
	s.windowsMu.RLock()
	out := make([]relman.Window, 0, len(s.windows))
	for _, w := range s.windows {
		out = append(out, w.Clone())
	}
	s.windowsMu.RUnlock()
	slices.SortFunc(out, func(a, b relman.Window) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
