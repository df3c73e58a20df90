// Package stores opens the relman store a program is told to use, from a
// spec such as "sqlite", "sqlite:/var/lib/app/releases.db",
// "postgres://user@host:5432/db" or "memory". The example programs share
// it, so that releasectl and the calendar page read the same releases
// with the same --store value.
package stores

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/postgres"
	"github.com/relman-dev/relman/store/sqlite"
)

// DefaultSpec is the store used when none is named: the embedded SQLite
// file in the user's data directory (see Set.DefaultDB).
const DefaultSpec = "sqlite"

// Opener opens a store at location (the part of the spec after "NAME:",
// possibly empty; for a URL, the whole URL) and returns it with the
// function that closes it.
type Opener func(ctx context.Context, location string) (relman.Store, func() error, error)

// Set is the stores a program knows, by name. Adding a backend is one
// entry in Openers.
type Set struct {
	Openers map[string]Opener
	Getenv  func(string) string // for the default file's location
}

// New returns the standard set: sqlite, postgres (and postgresql), and
// memory. getenv is read for XDG_DATA_HOME and HOME.
func New(getenv func(string) string) *Set {
	s := &Set{Getenv: getenv}
	s.Openers = map[string]Opener{
		"memory": func(context.Context, string) (relman.Store, func() error, error) {
			return memory.NewWithOptions(memory.Options{Outbox: s.outbox()}), func() error { return nil }, nil
		},
		"sqlite":     s.openSQLite,
		"postgres":   s.openPostgres,
		"postgresql": s.openPostgres,
	}
	return s
}

// outbox reports whether RELMAN_OUTBOX asks the stores to keep an outbox
// of notifications for a runner to deliver ("on", "1" or "true"). Every
// program that writes to a store must agree on it.
func (s *Set) outbox() bool {
	switch strings.ToLower(s.Getenv("RELMAN_OUTBOX")) {
	case "on", "1", "true", "yes":
		return true
	}
	return false
}

// notify reports whether RELMAN_NOTIFY asks PostgreSQL to announce every
// change (LISTEN/NOTIFY), so that subscribers in other processes
// ('releasectl serve' and its /events) see them. Off by default: a
// notification takes a cluster-wide lock at commit.
func (s *Set) notify() bool {
	switch strings.ToLower(s.Getenv("RELMAN_NOTIFY")) {
	case "on", "1", "true", "yes":
		return true
	}
	return false
}

// Error reports a store that could not be opened. Usage is true when the
// spec itself is wrong (an unknown store name, a malformed URL), false
// when the store failed (a file that cannot be created, a server that
// does not answer).
type Error struct {
	Spec  string // redacted: no password
	Usage bool
	Err   error
}

func (e *Error) Error() string {
	msg := strings.Join(strings.Fields(e.Err.Error()), " ")
	if e.Usage {
		return "store " + e.Spec + ": " + msg
	}
	return "open store " + e.Spec + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Open opens the store named by spec: "NAME" or "NAME:LOCATION". A URL
// whose scheme names a store ("postgres://…") goes to that store whole.
// The error is an *Error.
func (s *Set) Open(ctx context.Context, spec string) (relman.Store, func() error, error) {
	name, loc, _ := strings.Cut(spec, ":")
	if strings.HasPrefix(loc, "//") {
		loc = spec
	}
	open, ok := s.Openers[name]
	if !ok {
		return nil, nil, &Error{Spec: Redact(spec), Usage: true,
			Err: fmt.Errorf("unknown store %q (known: %s)", name, strings.Join(s.Names(), ", "))}
	}
	st, closeFn, err := open(ctx, loc)
	if err != nil {
		return nil, nil, &Error{Spec: Redact(spec), Usage: errors.Is(err, relman.ErrInvalid), Err: err}
	}
	return st, closeFn, nil
}

// Names lists the store names the set knows, sorted.
func (s *Set) Names() []string { return slices.Sorted(maps.Keys(s.Openers)) }

// DefaultDB is where the default SQLite file lives:
// $XDG_DATA_HOME/relman/relman.db, else ~/.local/share/relman/relman.db;
// "" without a home directory.
func (s *Set) DefaultDB() string {
	if d := s.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "relman", "relman.db")
	}
	if h := s.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "relman", "relman.db")
	}
	return ""
}

// Describe names the store spec designates, for people: the default
// SQLite file gets its path, a URL loses its password.
func (s *Set) Describe(spec string) string {
	if spec == "sqlite" || spec == "sqlite:" {
		if db := s.DefaultDB(); db != "" {
			return "sqlite:" + db
		}
	}
	return Redact(spec)
}

// openSQLite opens (creating it if needed) the SQLite file at location,
// or the default file when location is empty.
func (s *Set) openSQLite(_ context.Context, location string) (relman.Store, func() error, error) {
	if location == "" {
		location = s.DefaultDB()
		if location == "" {
			return nil, nil, errors.New("no home directory for the default database; give sqlite:FILE")
		}
		if err := os.MkdirAll(filepath.Dir(location), 0o755); err != nil {
			return nil, nil, err
		}
	}
	st, err := sqlite.Open(location, sqlite.Options{Outbox: s.outbox()})
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// openPostgres connects to the PostgreSQL database the URL names.
func (s *Set) openPostgres(ctx context.Context, dsn string) (relman.Store, func() error, error) {
	if dsn == "" {
		return nil, nil, fmt.Errorf("%w: give a connection URL: postgres://user@host:5432/db", relman.ErrInvalid)
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{NoNotify: !s.notify(), Outbox: s.outbox()})
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// Redact hides the password of a connection URL.
func Redact(spec string) string {
	scheme, rest, ok := strings.Cut(spec, "://")
	if !ok {
		return spec
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return spec
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":***@" + host
	}
	return spec
}
