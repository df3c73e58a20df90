package main

import (
	"context"
	"errors"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/examples/internal/stores"
)

// defaultStore is the store used when neither --store nor RELMAN_STORE
// names one: the embedded SQLite file in the user's data directory.
const defaultStore = stores.DefaultSpec

// openStore opens the store named by spec (see package stores): a bad
// spec is a usage error, a store that fails to open a storage error.
func (a *app) openStore(ctx context.Context, spec string) (relman.Store, func() error, error) {
	st, closeFn, err := a.stores.Open(ctx, spec)
	var se *stores.Error
	if errors.As(err, &se) {
		if se.Usage {
			return nil, nil, usageErrorf("%s", se.Error())
		}
		return nil, nil, storageErrorf("%s", se.Error())
	}
	return st, closeFn, err
}
