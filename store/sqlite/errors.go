package sqlite

import (
	"errors"
	"fmt"
)

// Sentinels matched by the *OpenError that Open returns. Get, List and
// History also wrap ErrNewerSchema (a release holds fields this version
// does not know) and ErrCorrupt (a stored value cannot be read). Test with
// errors.Is.
var (
	// ErrForeign: the file is not a relman database. It is not SQLite at
	// all, or it is a SQLite database that belongs to another program.
	ErrForeign = errors.New("sqlite: not a relman database")
	// ErrCorrupt: the file looks like a SQLite database but is damaged.
	ErrCorrupt = errors.New("sqlite: database file is corrupt")
	// ErrNewerSchema: the file, or a release in it, was written by a newer
	// version of relman than this one. Upgrade the program; the file is
	// left as it is.
	ErrNewerSchema = errors.New("sqlite: database written by a newer version of relman")
)

// ErrBusy: another process held the write lock for longer than the busy
// timeout (Options.BusyTimeout). Nothing was written; try again later.
var ErrBusy = errors.New("sqlite: database busy")

// OpenError reports why Open refused a file. Nothing in the file was
// changed. It matches its Kind (ErrForeign, ErrCorrupt or ErrNewerSchema)
// and its cause, if any:
//
//	var oe *sqlite.OpenError
//	if errors.As(err, &oe) && errors.Is(err, sqlite.ErrNewerSchema) {
//		log.Printf("%s has schema %d; this program knows up to %d", oe.Path, oe.Found, oe.Supported)
//	}
type OpenError struct {
	Path      string
	Kind      error  // ErrForeign, ErrCorrupt or ErrNewerSchema
	Detail    string // what was found, in words
	Found     int    // the file's schema version, for ErrNewerSchema
	Supported int    // the newest schema version this package knows
	Err       error  // the underlying error, or nil
}

// Error says what was refused and why.
func (e *OpenError) Error() string {
	msg := fmt.Sprintf("%v: %s: %s", e.Kind, e.Path, e.Detail)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the Kind and the cause.
func (e *OpenError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
