package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/relman-dev/relman"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrUnavailable: the database server cannot be reached (wrong host
	// or port, server down or restarting, connection lost, login refused).
	// *ConnectError matches it, and so does every call that fails for
	// that reason. It is relman.ErrUnavailable, so code that knows only
	// the root package can test for it too.
	ErrUnavailable = relman.ErrUnavailable
	// ErrNewerSchema: the database, or a release in it, was written by a
	// newer version of relman. Upgrade the program; nothing was changed.
	ErrNewerSchema = errors.New("postgres: database written by a newer version of relman")
)

// ConnectError reports a server Open could not connect to. It matches
// ErrUnavailable and its cause. Target names the server without the
// password.
//
//	var ce *postgres.ConnectError
//	if errors.As(err, &ce) {
//		log.Fatalf("no database at %s: %v", ce.Target, ce.Err)
//	}
type ConnectError struct {
	Target string // user@host:port/database
	Err    error
}

// Error names the server and the cause.
func (e *ConnectError) Error() string {
	return fmt.Sprintf("postgres: cannot connect to %s: %v", e.Target, e.Err)
}

// Unwrap returns ErrUnavailable and the cause.
func (e *ConnectError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// SchemaError reports a database schema newer than this package knows. It
// matches ErrNewerSchema.
type SchemaError struct {
	Schema    string // the schema holding relman's tables
	Found     int
	Supported int
}

// Error gives both versions.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("%v: schema %q is at version %d, this program knows up to %d; upgrade it", ErrNewerSchema, e.Schema, e.Found, e.Supported)
}

// Is reports whether target is ErrNewerSchema.
func (e *SchemaError) Is(target error) bool { return target == ErrNewerSchema }

// unavailable reports whether err means the server could not be reached
// or the connection was lost.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || // connection exception
			pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || // shutdown, crash, cannot connect now
			pe.Code == "53300" // too many connections
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed")
}

// duplicate reports a unique violation: an audit entry or a feedback
// record already stored.
func duplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// contended reports a statement PostgreSQL rolled back because of a
// concurrent one (serialization failure or deadlock, possible when the
// server runs at a stricter isolation level): nothing was written, and
// the caller should read again, as after a stale revision.
func contended(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// badInput reports whether PostgreSQL refused a string it cannot store.
func badInput(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05")
}

// wrap adds the operation to err, and ErrUnavailable or relman.ErrInvalid
// when they apply.
func wrap(op string, err error) error {
	switch {
	case unavailable(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, ErrUnavailable, err)
	case badInput(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, relman.ErrInvalid, err)
	case duplicate(err):
		what := "audit entry"
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && strings.HasSuffix(pe.TableName, "feedback") {
			what = "feedback record"
		}
		return fmt.Errorf("postgres: %s: %s already stored: %w: %w", op, what, relman.ErrConflict, err)
	case contended(err):
		return fmt.Errorf("postgres: %s: concurrent change: %w: %w", op, relman.ErrConflict, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
