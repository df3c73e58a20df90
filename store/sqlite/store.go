package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// BusyTimeout is how long a write waits for another process that
	// holds the write lock before it fails (default 5 s).
	BusyTimeout time.Duration
	// MaxReaders bounds the read connections of this process (default 4).
	// Writes use one connection of their own.
	MaxReaders int
	// RelaxedSync sets synchronous=NORMAL instead of FULL: faster commits;
	// a crash of the process still loses nothing, but a power failure may
	// lose the last transitions (it never corrupts the file).
	RelaxedSync bool
	// CacheSize is how many decoded releases Get keeps, keyed by id and
	// revision, so that reading a release this process wrote or read at
	// its current revision skips decoding its document (default 1024;
	// negative disables the cache). The database is still asked for the
	// revision on every Get, so writes by other processes are always seen.
	CacheSize int
	// SkipIntegrityCheck skips the PRAGMA quick_check that Open runs on an
	// existing file. The check reads the whole file; skip it for very
	// large files opened often.
	SkipIntegrityCheck bool
	// Outbox makes the store a working relman.Outbox: every audit entry
	// that Create and Update save gets a notification row, written in the
	// same transaction, for a runner to deliver. Delivered notifications
	// are deleted, but nothing else removes them: enable it only where a
	// runner drains the outbox, or it grows by one row per audit entry.
	// Every process opening the file should set it alike.
	Outbox bool
}

// Store is a relman.Store in a SQLite file. It is safe for concurrent use,
// also by several processes opening the same file. Create it with Open and
// release it with Close.
type Store struct {
	path string
	w    *sql.DB // one connection: every write, BEGIN IMMEDIATE
	r    *sql.DB // readers (query_only)

	getStmt, historyStmt, existsStmt                         *sql.Stmt
	headStmt, updateStmt, updateAll, insertStmt, insertAudit *sql.Stmt
	deleteTags, insertTag, insertNote                        *sql.Stmt
	updatePlan, insertPlan, deletePlan, insertFeedback       *sql.Stmt
	feedbackStmt, insertPlanTeam, deletePlanTeam             *sql.Stmt

	outbox bool // Options.Outbox
	due    bool // the file has due_at (schema 3 on); false only in tests, at older versions
	signed bool // the audit table has the signature columns (schema 4 on); false only in tests
	plan   bool // the file has the plan index and feedback records (schema 5 on); false only in tests
	// planTeams: the file has plan_teams (schema 6 on); false only in tests.
	planTeams bool

	cache  *storedoc.Cache
	closed atomic.Bool // set by Close; Lock checks it
}

var (
	_ relman.Store         = (*Store)(nil)
	_ relman.Scanner       = (*Store)(nil)
	_ relman.WindowStore   = (*Store)(nil)
	_ relman.Locker        = (*Store)(nil)
	_ relman.DueStore      = (*Store)(nil)
	_ relman.Outbox        = (*Store)(nil)
	_ relman.PlanIndex     = (*Store)(nil)
	_ relman.FeedbackStore = (*Store)(nil)
	_ relman.Sharer        = (*Store)(nil)
)

// Open opens the relman database at path, creating the file if it does not
// exist, and applies the migrations it lacks. It returns an *OpenError if
// the file is not a relman database, is damaged, or was written by a newer
// version; the file is then left untouched.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, SchemaVersion)
}

// open is Open, migrating the file only up to version upTo: SchemaVersion,
// or lower in tests, to make the files an older version of this package
// wrote.
func open(path string, opts Options, upTo int) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, &relman.ValidationError{Fields: []relman.FieldError{{Field: "path", Rule: "file path"}}})
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = 4
	}
	if err := checkHeader(abs); err != nil {
		return nil, err
	}
	dsn, readDSN := dsns(abs, opts)

	if opts.CacheSize == 0 {
		opts.CacheSize = 1024
	}
	s := &Store{path: abs, cache: storedoc.NewCache(opts.CacheSize), outbox: opts.Outbox}
	s.w, err = sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.init(opts, upTo); err != nil {
		s.w.Close()
		return nil, err
	}
	s.r, err = sql.Open("sqlite", readDSN)
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.r.SetMaxOpenConns(opts.MaxReaders)
	s.r.SetMaxIdleConns(opts.MaxReaders)
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsns returns the data source names of the write handle and of the
// read handle (query_only) of the file at abs, for opts with its
// defaults set.
func dsns(abs string, opts Options) (write, read string) {
	sync := "FULL"
	if opts.RelaxedSync {
		sync = "NORMAL"
	}
	write = "file:" + escapePath(abs) + fmt.Sprintf("?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=synchronous(%s)&_pragma=foreign_keys(1)",
		opts.BusyTimeout.Milliseconds(), sync)
	return write, write + "&_pragma=query_only(1)"
}

// escapePath makes a file path safe inside a SQLite URI.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

const sqliteMagic = "SQLite format 3\x00"

// checkHeader refuses, before SQLite opens it, a file that is not SQLite
// or is another program's database.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return &OpenError{Path: path, Kind: ErrForeign, Detail: "a directory, not a database file"}
	}
	var h [100]byte
	n, err := io.ReadFull(f, h[:])
	switch {
	case n == 0:
		return nil // empty file: a new database
	case !bytes.HasPrefix(h[:n], []byte(sqliteMagic)[:min(n, len(sqliteMagic))]):
		return &OpenError{Path: path, Kind: ErrForeign, Detail: "not a SQLite file"}
	case err != nil:
		return &OpenError{Path: path, Kind: ErrCorrupt, Detail: fmt.Sprintf("truncated SQLite header (%d bytes)", n)}
	}
	if id := be32(h[68:72]); id != 0 && id != applicationID {
		return &OpenError{Path: path, Kind: ErrForeign, Detail: fmt.Sprintf("SQLite database of another program (application_id %#x)", id)}
	}
	return nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// classify turns an error met while opening into an *OpenError when it
// says the file is damaged or not a database.
func classify(path, doing string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT:
			return &OpenError{Path: path, Kind: ErrCorrupt, Detail: doing, Err: err}
		case sqlite3.SQLITE_NOTADB:
			return &OpenError{Path: path, Kind: ErrForeign, Detail: doing, Err: err}
		}
	}
	return fmt.Errorf("sqlite: open %s: %s: %w", path, doing, err)
}

// init checks what the file holds, switches it to WAL and migrates it up
// to version upTo. Nothing is written before the checks pass.
func (s *Store) init(opts Options, upTo int) error {
	ctx := context.Background()
	var appID uint32
	var version, objects int
	// One statement, so one snapshot: read separately, the values could
	// straddle another process's migration of a new file and look like a
	// foreign database (no application_id, but tables).
	if err := s.w.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id),
		(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)`).Scan(&appID, &version, &objects); err != nil {
		return classify(s.path, "reading the header", err)
	}
	if err := s.checkVersion(appID, version, objects); err != nil {
		return err
	}
	if objects > 0 && !opts.SkipIntegrityCheck {
		if err := s.quickCheck(ctx); err != nil {
			return err
		}
	}
	mode, err := s.switchToWAL(ctx, opts.BusyTimeout)
	if err != nil {
		return classify(s.path, "switching to WAL", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: cannot switch to WAL (journal_mode is %s)", s.path, mode)
	}
	if appID == applicationID && version >= upTo {
		s.due, s.signed, s.plan, s.planTeams = version >= 3, version >= 4, version >= 5, version >= 6
		return nil // up to date: no need to wait for the write lock
	}
	return s.migrate(ctx, upTo)
}

// switchToWAL sets journal_mode=WAL and returns the mode the file is in.
// SQLite may refuse the switch at once, without waiting, while another
// process opening the same new file holds a lock; it is then retried
// until the busy timeout.
func (s *Store) switchToWAL(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var mode string
		err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return mode, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quickCheck runs PRAGMA quick_check and reports its first findings.
func (s *Store) quickCheck(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, "PRAGMA quick_check(4)")
	if err != nil {
		return classify(s.path, "integrity check", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return classify(s.path, "integrity check", err)
		}
		found = append(found, line)
	}
	if err := rows.Err(); err != nil {
		return classify(s.path, "integrity check", err)
	}
	if len(found) != 1 || found[0] != "ok" {
		return &OpenError{Path: s.path, Kind: ErrCorrupt, Detail: "integrity check: " + strings.Join(found, "; ")}
	}
	return nil
}

func (s *Store) checkVersion(appID uint32, version, objects int) error {
	if appID != applicationID && (appID != 0 || objects > 0) {
		return &OpenError{Path: s.path, Kind: ErrForeign,
			Detail: fmt.Sprintf("SQLite database of another program (application_id %#x, %d schema objects)", appID, objects)}
	}
	if version > SchemaVersion {
		return &OpenError{Path: s.path, Kind: ErrNewerSchema, Found: version, Supported: SchemaVersion,
			Detail: fmt.Sprintf("schema version %d, this program knows up to %d; upgrade it", version, SchemaVersion)}
	}
	return nil
}

// migrate applies the missing migrations, up to version upTo, in one
// BEGIN IMMEDIATE transaction, so that processes opening a file together
// apply them once.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(s.path, "migrating", err)
	}
	defer tx.Rollback()
	var appID uint32
	var version, objects int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return classify(s.path, "migrating", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return classify(s.path, "migrating", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return classify(s.path, "migrating", err)
	}
	if err := s.checkVersion(appID, version, objects); err != nil {
		return err
	}
	v := max(version, upTo)
	s.due, s.signed, s.plan, s.planTeams = v >= 3, v >= 4, v >= 5, v >= 6
	if version >= upTo {
		return nil
	}
	now := timeKey(time.Now())
	for _, m := range migrations {
		if m.version <= version || m.version > upTo {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlite: open %s: migration %d (%s): %w", s.path, m.version, m.name, err)
		}
		if m.fill != nil {
			if err := m.fill(ctx, tx); err != nil {
				return fmt.Errorf("sqlite: open %s: migration %d (%s): %w", s.path, m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, now); err != nil {
			return fmt.Errorf("sqlite: open %s: migration %d: %w", s.path, m.version, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", upTo)); err != nil {
		return fmt.Errorf("sqlite: open %s: set user_version: %w", s.path, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fmt.Errorf("sqlite: open %s: set application_id: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: open %s: commit migrations: %w", s.path, err)
	}
	return nil
}

const auditCols = "seq, at, actor, action, event, from_stage, to_stage, reason, details, prev_hash, hash"

// sigCols are the audit columns of a signed entry (schema 4 on).
const sigCols = ", doc_digest, key_id, sig"

// stmt is a statement of the store: the handle it is prepared on, where
// it is kept, and its SQL.
type stmt struct {
	db  *sql.DB
	dst **sql.Stmt
	q   string
}

func (s *Store) prepare() error {
	for _, p := range s.statements() {
		if p.dst == &s.insertNote && !s.due {
			continue // no outbox table
		}
		if (p.dst == &s.insertPlan || p.dst == &s.deletePlan || p.dst == &s.insertFeedback || p.dst == &s.feedbackStmt) && !s.plan {
			continue // no plan_services and feedback tables
		}
		if (p.dst == &s.insertPlanTeam || p.dst == &s.deletePlanTeam) && !s.planTeams {
			continue // no plan_teams table
		}
		st, err := p.db.Prepare(p.q)
		if err != nil {
			return fmt.Errorf("sqlite: open %s: prepare: %w", s.path, err)
		}
		*p.dst = st
	}
	return nil
}

// statements returns the statements prepare prepares, for the file's
// schema version.
func (s *Store) statements() []stmt {
	// Files at older versions (made in tests) have no due_at.
	dueSet, dueCol, dueVal := ", due_at = ?", ", due_at", ", ?"
	if !s.due {
		dueSet, dueCol, dueVal = "", "", ""
	}
	sigs, sigVals := sigCols, ", ?, ?, ?"
	if !s.signed {
		sigs, sigVals = "", ""
	}
	// And none before schema 5 has the plan columns.
	planWhere, planSet, planCols, planVals, planHead := " AND plan_start IS ? AND plan_end IS ?", ", plan_start = ?, plan_end = ?", ", plan_start, plan_end", ", ?, ?", ", plan_start, plan_end"
	if !s.plan {
		planWhere, planSet, planCols, planVals, planHead = "", "", "", "", ", NULL, NULL"
	}
	return []stmt{
		// The document only if the revision is not the cached one.
		{s.r, &s.getStmt, "SELECT revision, CASE WHEN revision = ? THEN NULL ELSE doc END FROM releases WHERE id = ?"},
		{s.r, &s.historyStmt, "SELECT " + auditCols + sigs + " FROM audit WHERE release_id = ? ORDER BY seq"},
		{s.r, &s.existsStmt, "SELECT 1 FROM releases WHERE id = ?"},
		{s.w, &s.headStmt, "SELECT revision, kind, created_at, tags" + planHead + " FROM releases WHERE id = ?"},
		// The revision-checked update of what a transition changes; kind,
		// creation time, tags and plan window are set (by updateAll, or
		// updatePlan for the window alone) only when they differ, so that
		// their indexes are not rewritten for nothing.
		// Both set the due time, which a transition may change (it fires
		// scheduled events, voids approvals); a release with nothing due
		// keeps it NULL, outside the partial index releases_due.
		{s.w, &s.updateStmt, "UPDATE releases SET revision = ?, stage = ?, updated_at = ?, doc = ?" + dueSet + " WHERE id = ? AND revision = ? AND kind = ? AND created_at = ? AND tags = ?" + planWhere},
		{s.w, &s.updateAll, "UPDATE releases SET revision = ?, stage = ?, updated_at = ?, doc = ?" + dueSet + ", kind = ?, created_at = ?, tags = ?" + planSet + " WHERE id = ? AND revision = ?"},
		{s.w, &s.updatePlan, "UPDATE releases SET revision = ?, stage = ?, updated_at = ?, doc = ?" + dueSet + planSet + " WHERE id = ? AND revision = ?"},
		{s.w, &s.insertStmt, "INSERT INTO releases (id, revision, stage, kind, created_at, updated_at, tags, doc" + dueCol + planCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?" + dueVal + planVals + ") ON CONFLICT (id) DO NOTHING"},
		{s.w, &s.insertPlan, insertPlanSvc},
		{s.w, &s.deletePlan, deletePlanSvc},
		{s.w, &s.insertPlanTeam, insertPlanTeam},
		{s.w, &s.deletePlanTeam, deletePlanTeam},
		{s.w, &s.insertFeedback, "INSERT INTO feedback (release_id, seq, at, rating, doc) VALUES (?, ?, ?, ?, ?)"},
		{s.r, &s.feedbackStmt, "SELECT doc FROM feedback WHERE release_id = ? AND seq > ? ORDER BY seq LIMIT ?"},
		{s.w, &s.insertAudit, "INSERT INTO audit (release_id, " + auditCols + sigs + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" + sigVals + ")"},
		// A new notification is due at once (next_at is the entry's time).
		{s.w, &s.insertNote, "INSERT INTO outbox (release_id, seq, at, next_at) VALUES (?1, ?2, ?3, ?3)"},
		{s.w, &s.deleteTags, "DELETE FROM release_tags WHERE release_id = ?"},
		{s.w, &s.insertTag, "INSERT OR IGNORE INTO release_tags (tag, value, release_id) VALUES (?, ?, ?)"},
	}
}

// Close closes the database. Calls after Close fail.
func (s *Store) Close() error {
	s.closed.Store(true)
	for _, st := range []*sql.Stmt{s.getStmt, s.historyStmt, s.existsStmt, s.headStmt, s.updateStmt, s.updateAll, s.insertStmt, s.insertAudit, s.deleteTags, s.insertTag, s.insertNote,
		s.updatePlan, s.insertPlan, s.deletePlan, s.insertFeedback, s.feedbackStmt, s.insertPlanTeam, s.deletePlanTeam} {
		if st != nil {
			st.Close()
		}
	}
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// timeLayout is fixed width, so that UTC times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func timeKey(t time.Time) string { return t.UTC().Format(timeLayout) }

// dueArgs returns dst with args appended, followed by the due_at of r,
// its Release.NextDue as a time key or nil (NULL) when nothing is due; or
// by nothing if the file has no due_at.
func (s *Store) dueArgs(r *relman.Release, dst []any, args ...any) []any {
	dst = append(dst, args...)
	if !s.due {
		return dst
	}
	if at, ok := r.NextDue(); ok {
		return append(dst, timeKey(at))
	}
	return append(dst, nil)
}

func checkWrite(op string, r *relman.Release, entries []relman.AuditEntry) error {
	if err := storedoc.CheckWrite(r, entries); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// tagsOf returns the sorted, distinct services and teams (task teams
// included) of r, and a canonical string of both.
func tagsOf(r *relman.Release) (services, teams []string, key string) {
	services = slices.Clone(r.Services)
	slices.Sort(services)
	services = slices.Compact(services)
	teams = r.InvolvedTeams()
	if teams == nil && r.Teams != nil {
		teams = []string{} // the key stored for an empty list is [], not null
	}
	slices.Sort(teams)
	b, _ := json.Marshal([2][]string{services, teams})
	return services, teams, string(b)
}

// encode returns r as stored at revision rev.
func encode(r *relman.Release, rev int64) ([]byte, error) {
	c := *r
	c.Revision = rev
	return json.Marshal(&c)
}

// decode reads a stored release strictly: fields this version does not
// know mean a newer writer, and are refused rather than dropped.
func decode(id string, doc []byte, rev int64) (*relman.Release, error) {
	var r relman.Release
	if newer, err := storedoc.Decode(doc, &r); newer {
		return nil, fmt.Errorf("sqlite: release %q: %w: %v", id, ErrNewerSchema, err)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: release %q: %w: %v", id, ErrCorrupt, err)
	}
	r.Revision = rev
	return &r, nil
}

// insertEntries appends entries to the audit trail with st and, when notes
// is not nil, writes their notifications with it.
// With signed, it writes their signature columns too.
func insertEntries(ctx context.Context, st, notes *sql.Stmt, id string, entries []relman.AuditEntry, signed bool) error {
	for _, e := range entries {
		at := timeKey(e.At)
		var details any
		if e.Details != nil {
			b, err := json.Marshal(e.Details)
			if err != nil {
				return err
			}
			details = string(b)
		}
		args := make([]any, 0, 15)
		args = append(args, id, e.Seq, at, e.Actor, string(e.Action), string(e.Event),
			string(e.From), string(e.To), e.Reason, details, e.PrevHash, e.Hash)
		if signed {
			args = append(args, nullIfEmpty(e.DocDigest), nullIfEmpty(e.KeyID), nullIfEmpty(e.Sig))
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			if isConstraint(err) {
				return fmt.Errorf("audit entry %d already exists: %w", e.Seq, relman.ErrConflict)
			}
			return err
		}
		if notes != nil {
			if _, err := notes.ExecContext(ctx, id, e.Seq, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// noteStmt returns the statement that writes notifications in tx, or nil
// if the outbox is off.
func (s *Store) noteStmt(ctx context.Context, tx *sql.Tx) *sql.Stmt {
	if !s.outbox || s.insertNote == nil {
		return nil
	}
	return tx.StmtContext(ctx, s.insertNote)
}

func writeTags(ctx context.Context, st *sql.Stmt, id string, services, teams []string) error {
	for _, v := range services {
		if _, err := st.ExecContext(ctx, "s", v, id); err != nil {
			return err
		}
	}
	for _, v := range teams {
		if _, err := st.ExecContext(ctx, "t", v, id); err != nil {
			return err
		}
	}
	return nil
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// Create implements relman.Store.
func (s *Store) Create(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkWrite("create", r, entries); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: create %q: %w", r.ID, err)
	}
	doc, err := encode(r, 1)
	if err != nil {
		return fmt.Errorf("sqlite: create %q: %w", r.ID, err)
	}
	services, teams, key := tagsOf(r)
	args := s.dueArgs(r, make([]any, 0, 11), r.ID, 1, string(r.Stage), string(r.Kind), timeKey(r.CreatedAt), timeKey(r.UpdatedAt), key, doc)
	start, end := planOf(r)
	if s.plan {
		args = append(args, start, end)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.insertStmt).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return relman.ErrExists
		}
		if err := writeTags(ctx, tx.StmtContext(ctx, s.insertTag), r.ID, services, teams); err != nil {
			return err
		}
		if s.plan && start != nil {
			if err := s.planRows(ctx, tx, s.insertPlan, s.insertPlanTeam, key, start, r.ID, end); err != nil {
				return err
			}
		}
		return insertEntries(ctx, tx.StmtContext(ctx, s.insertAudit), s.noteStmt(ctx, tx), r.ID, entries, s.signed)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create %q: %w", r.ID, err)
	}
	r.Revision = 1
	if s.cache != nil {
		s.cache.Put(r.ID, 1, r.Clone())
	}
	return nil
}

// write runs fn in a BEGIN IMMEDIATE transaction and commits it. A busy
// timeout is reported as ErrBusy.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return withCtx(ctx, busy(err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return withCtx(ctx, busy(err))
	}
	return withCtx(ctx, busy(tx.Commit()))
}

// withCtx makes an error that database/sql returned because ctx ended
// ("sql: statement is closed", "interrupted") match ctx's error, so that
// callers see a cancellation as one.
func withCtx(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, relman.ErrConflict) || errors.Is(err, relman.ErrNotFound) || errors.Is(err, relman.ErrExists) {
		return err
	}
	return fmt.Errorf("%w (%v)", ctx.Err(), err)
}

// exec runs one statement in a write transaction (see write) and returns
// how many rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func busy(err error) error {
	if isBusy(err) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Update implements relman.Store. In one BEGIN IMMEDIATE transaction it
// updates the release only if its stored revision is r.Revision (UPDATE …
// WHERE id = ? AND revision = ?), re-indexes its services and teams, and
// its planned window, if they changed, and appends the entries.
func (s *Store) Update(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkWrite("update", r, entries); err != nil {
		return err
	}
	return s.update(ctx, "update", r, nil, entries, false)
}

// UpdateShared implements relman.Sharer: Update, keeping r itself in the
// cache rather than a copy. r's text is checked only where it differs
// from the cached version it replaces (relman.CheckChanged), which was
// checked when it was written; all of it if that version is not cached.
func (s *Store) UpdateShared(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := s.checkShared(r, entries); err != nil {
		return err
	}
	return s.update(ctx, "update", r, nil, entries, s.cache != nil)
}

// checkShared is checkWrite for UpdateShared.
func (s *Store) checkShared(r *relman.Release, entries []relman.AuditEntry) error {
	var old *relman.Release
	if r != nil && r.ID != "" {
		old = s.cache.Get(r.ID, r.Revision)
	}
	if err := storedoc.CheckWriteShared(r, entries, old); err != nil {
		return fmt.Errorf("sqlite: update: %w", err)
	}
	return nil
}

// UpdateFeedback implements relman.FeedbackStore: Update, and in the same
// transaction the INSERT of each feedback record. A Seq the release
// already has is an error matching relman.ErrConflict, and the
// transaction, the release's update included, is rolled back.
func (s *Store) UpdateFeedback(ctx context.Context, r *relman.Release, fs []relman.Feedback, entries ...relman.AuditEntry) error {
	if err := checkWrite("update feedback", r, entries); err != nil {
		return err
	}
	if err := storedoc.CheckFeedback(fs); err != nil {
		return fmt.Errorf("sqlite: update feedback %q: %w", r.ID, err)
	}
	if !s.plan && len(fs) > 0 {
		// A file older than schema 5 (made in tests, as an older version
		// of this package would have written it): the feedback stays in
		// the document.
		c := storedoc.LegacyFeedback(r, fs)
		if err := s.update(ctx, "update feedback", c, nil, entries, false); err != nil {
			return err
		}
		r.Revision = c.Revision
		return nil
	}
	return s.update(ctx, "update feedback", r, fs, entries, false)
}

// update is Update, UpdateShared and UpdateFeedback; op names it in
// errors. With keep, the cache keeps r itself, which the caller no longer
// changes, rather than a copy.
func (s *Store) update(ctx context.Context, op string, r *relman.Release, fs []relman.Feedback, entries []relman.AuditEntry, keep bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s %q: %w", op, r.ID, err)
	}
	next := r.Revision + 1
	doc, err := encode(r, next)
	if err != nil {
		return fmt.Errorf("sqlite: %s %q: %w", op, r.ID, err)
	}
	fdocs := make([][]byte, len(fs))
	for i := range fs {
		if fdocs[i], err = json.Marshal(&fs[i]); err != nil {
			return fmt.Errorf("sqlite: %s %q: %w", op, r.ID, err)
		}
	}
	services, teams, key := tagsOf(r)
	kind, created := string(r.Kind), timeKey(r.CreatedAt)
	start, end := planOf(r)
	// The SET values up to due_at, then updateStmt's conditions.
	fast := s.dueArgs(r, make([]any, 0, 13), next, string(r.Stage), timeKey(r.UpdatedAt), doc)
	set := fast[:len(fast):len(fast)]
	fast = append(fast, r.ID, r.Revision, kind, created, key)
	if s.plan {
		fast = append(fast, start, end)
	}
	var stored int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		// The common case, a transition: only revision, stage, update
		// time, document and due time change.
		res, err := tx.StmtContext(ctx, s.updateStmt).ExecContext(ctx, fast...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// Not found, stale, or kind, creation time, tags or window changed.
			var oldKind, oldCreated, oldKey string
			var oldStart, oldEnd sql.NullInt64
			switch err := tx.StmtContext(ctx, s.headStmt).QueryRowContext(ctx, r.ID).Scan(&stored, &oldKind, &oldCreated, &oldKey, &oldStart, &oldEnd); {
			case errors.Is(err, sql.ErrNoRows):
				return relman.ErrNotFound
			case err != nil:
				return err
			case stored != r.Revision:
				return relman.ErrConflict
			}
			st, args := s.updateAll, append(set, kind, created, key)
			if oldKind == kind && oldCreated == created && oldKey == key {
				st, args = s.updatePlan, set // the window alone changed
			}
			if s.plan {
				args = append(args, start, end)
			}
			args = append(args, r.ID, r.Revision)
			res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return relman.ErrConflict
			}
			if key != oldKey {
				if _, err := tx.StmtContext(ctx, s.deleteTags).ExecContext(ctx, r.ID); err != nil {
					return err
				}
				if err := writeTags(ctx, tx.StmtContext(ctx, s.insertTag), r.ID, services, teams); err != nil {
					return err
				}
			}
			if s.plan && (key != oldKey || !samePlan(oldStart, oldEnd, start, end)) {
				if oldStart.Valid {
					if err := s.planRows(ctx, tx, s.deletePlan, s.deletePlanTeam, oldKey, oldStart.Int64, r.ID); err != nil {
						return err
					}
				}
				if start != nil {
					if err := s.planRows(ctx, tx, s.insertPlan, s.insertPlanTeam, key, start, r.ID, end); err != nil {
						return err
					}
				}
			}
		}
		if err := insertEntries(ctx, tx.StmtContext(ctx, s.insertAudit), s.noteStmt(ctx, tx), r.ID, entries, s.signed); err != nil {
			return err
		}
		if len(fs) == 0 {
			return nil
		}
		ins := tx.StmtContext(ctx, s.insertFeedback)
		for i, f := range fs {
			if _, err := ins.ExecContext(ctx, r.ID, f.Seq, timeKey(f.At), f.Rating, string(fdocs[i])); err != nil {
				if isConstraint(err) {
					return fmt.Errorf("feedback %d already exists: %w", f.Seq, relman.ErrConflict)
				}
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, relman.ErrConflict) && stored != 0 && stored != r.Revision:
		return fmt.Errorf("sqlite: %s %q at revision %d (stored %d): %w", op, r.ID, r.Revision, stored, err)
	case err != nil:
		return fmt.Errorf("sqlite: %s %q: %w", op, r.ID, err)
	}
	r.Revision = next
	switch {
	case keep:
		s.cache.Put(r.ID, next, r)
	case s.cache != nil:
		s.cache.Put(r.ID, next, r.Clone())
	}
	return nil
}

// planRows runs, in tx, svc (insertPlanSvc or deletePlanSvc) and, if the
// file has plan_teams, team (insertPlanTeam or deletePlanTeam) with args:
// the release's plan_services and plan_teams rows, written or deleted
// together.
func (s *Store) planRows(ctx context.Context, tx *sql.Tx, svc, team *sql.Stmt, args ...any) error {
	if _, err := tx.StmtContext(ctx, svc).ExecContext(ctx, args...); err != nil {
		return err
	}
	if !s.planTeams {
		return nil
	}
	_, err := tx.StmtContext(ctx, team).ExecContext(ctx, args...)
	return err
}

// Get implements relman.Store.
func (s *Store) Get(ctx context.Context, id string) (*relman.Release, error) {
	r, cached, err := s.get(ctx, id)
	if cached {
		return r.Clone(), nil
	}
	return r, err
}

// GetShared implements relman.Sharer: Get, returning the cached release
// itself (the stored revision is read every time, as by Get), which the
// store never changes: a write caches a new value.
func (s *Store) GetShared(ctx context.Context, id string) (*relman.Release, error) {
	r, _, err := s.get(ctx, id)
	return r, err
}

// get is Get and GetShared: it returns the release and whether it is the
// cached value, which nothing may change, rather than a value of the
// caller's own.
func (s *Store) get(ctx context.Context, id string) (r *relman.Release, cached bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: get %q: %w", id, err)
	}
	var rev int64
	var doc []byte
	switch err := s.getStmt.QueryRowContext(ctx, s.cache.Revision(id), id).Scan(&rev, &doc); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("sqlite: get %q: %w", id, relman.ErrNotFound)
	case err != nil:
		return nil, false, fmt.Errorf("sqlite: get %q: %w", id, withCtx(ctx, err))
	}
	if doc == nil {
		if r := s.cache.Get(id, rev); r != nil {
			return r, true, nil
		}
		// Evicted meanwhile: read the document.
		switch err := s.r.QueryRowContext(ctx, "SELECT revision, doc FROM releases WHERE id = ?", id).Scan(&rev, &doc); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, false, fmt.Errorf("sqlite: get %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, false, fmt.Errorf("sqlite: get %q: %w", id, err)
		}
	}
	if r, err = decode(id, doc, rev); err != nil {
		return nil, false, err
	}
	if s.cache == nil {
		return r, false, nil
	}
	s.cache.Put(id, rev, r)
	return r, true, nil
}

// List implements relman.Store. Filters and order run in SQL, on indexed
// columns; every value is a bound parameter and matches literally.
func (s *Store) List(ctx context.Context, q relman.Query) ([]*relman.Release, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	query, args, err := listQuery(q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	out, err := s.query(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return out, nil
}

// listQuery returns the query of List and its parameters.
func listQuery(q relman.Query) (string, []any, error) {
	q = q.Normalized()
	var b strings.Builder
	b.WriteString("SELECT id, revision, doc FROM releases WHERE 1 = 1")
	args := where(&b, q, false)
	dir, beyond := " ASC", " > "
	if q.Desc {
		dir, beyond = " DESC", " < "
	}
	if q.After != "" {
		// Keyset paging: the rows past the cursor's (sort key, id), a
		// range of the index the ORDER BY reads. Times are compared as
		// stored (to the nanosecond), so the cursor's release and those
		// before it are left out exactly.
		k, err := q.Key()
		if err != nil {
			return "", nil, err
		}
		switch q.OrderBy {
		case relman.OrderUpdated:
			b.WriteString(" AND (updated_at, id)" + beyond + "(?, ?)")
			args = append(args, timeKey(k.Time), k.ID)
		case relman.OrderID:
			b.WriteString(" AND id" + beyond + "?")
			args = append(args, k.ID)
		default:
			b.WriteString(" AND (created_at, id)" + beyond + "(?, ?)")
			args = append(args, timeKey(k.Time), k.ID)
		}
	}
	switch q.OrderBy {
	case relman.OrderUpdated:
		b.WriteString(" ORDER BY updated_at" + dir + ", id" + dir)
	case relman.OrderID:
		b.WriteString(" ORDER BY id" + dir)
	default:
		b.WriteString(" ORDER BY created_at" + dir + ", id" + dir)
	}
	b.WriteString(" LIMIT ? OFFSET ?")
	args = append(args, q.Limit, q.Offset)
	return b.String(), args, nil
}

// where appends q's filters to a query, as bound parameters, and returns
// the parameters. With scan, the filters are checks on rows read in id
// order, not indexes to read: the unary + keeps SQLite from reading the
// stage or kind index and sorting what it finds, and EXISTS from reading
// the tags first.
func where(b *strings.Builder, q relman.Query, scan bool) []any {
	var args []any
	plus, in := "", " AND id IN (SELECT release_id FROM release_tags WHERE tag = '%s' AND value = ?)"
	if scan {
		plus, in = "+", " AND EXISTS (SELECT 1 FROM release_tags WHERE tag = '%s' AND value = ? AND release_id = releases.id)"
	}
	if len(q.Stages) > 0 {
		b.WriteString(" AND " + plus + "stage IN (")
		for i, st := range q.Stages {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			args = append(args, string(st))
		}
		b.WriteString(")")
	}
	if q.Kind != "" {
		b.WriteString(" AND " + plus + "kind = ?")
		args = append(args, string(q.Kind))
	}
	if q.Service != "" {
		b.WriteString(fmt.Sprintf(in, "s"))
		args = append(args, q.Service)
	}
	if q.Team != "" {
		b.WriteString(fmt.Sprintf(in, "t"))
		args = append(args, q.Team)
	}
	return args
}

// query reads the releases a query selects (id, revision, doc).
func (s *Store) query(ctx context.Context, query string, args []any) ([]*relman.Release, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return storedoc.Releases(rows, decode)
}

// scanBatch is how many releases Scan reads at a time.
const scanBatch = 256

// Scan implements relman.Scanner: it calls fn with every release matching
// q's filters, in id order, ignoring q's order and paging. It reads them
// in batches and holds no connection while fn runs, so fn may use the
// store. Each batch continues the primary key where the last one ended
// (or, with a service or team filter, that tag's rows of release_tags),
// and checks the other filters on the rows it reads: a scan reads each
// row once, however many batches it takes.
func (s *Store) Scan(ctx context.Context, q relman.Query, fn func(r *relman.Release) error) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("sqlite: scan: %w", err)
	}
	query, args, at := scanQuery(q)
	return storedoc.ScanBatches(scanBatch, func(after string) ([]*relman.Release, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: scan: %w", err)
		}
		args[at] = after
		batch, err := s.query(ctx, query, args)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan: %w", err)
		}
		return batch, nil
	}, fn)
}

// scanQuery returns the query of a batch of Scan, its parameters, and
// the index of the one that takes the id the batch starts after.
func scanQuery(q relman.Query) (string, []any, int) {
	var b strings.Builder
	args, at := []any{""}, 0 // at: the index of the after parameter
	switch {
	case q.Service != "" || q.Team != "":
		// Read the tag's rows in release id order and join each release.
		tag, value := "s", q.Service
		if q.Service == "" {
			tag, value = "t", q.Team
		}
		b.WriteString("SELECT releases.id, releases.revision, releases.doc FROM release_tags CROSS JOIN releases ON releases.id = release_tags.release_id" +
			" WHERE release_tags.tag = '" + tag + "' AND release_tags.value = ? AND release_tags.release_id > ?")
		args, at = []any{value, ""}, 1
		if tag == "s" {
			q.Service = ""
		} else {
			q.Team = ""
		}
		args = append(args, where(&b, q, true)...)
		b.WriteString(fmt.Sprintf(" ORDER BY release_tags.release_id LIMIT %d", scanBatch))
	default:
		b.WriteString("SELECT id, revision, doc FROM releases WHERE id > ?")
		args = append(args, where(&b, q, true)...)
		b.WriteString(fmt.Sprintf(" ORDER BY id LIMIT %d", scanBatch))
	}
	return b.String(), args, at
}

// History implements relman.Store.
func (s *Store) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
	}
	rows, err := s.historyStmt.QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
	}
	defer rows.Close()
	var out []relman.AuditEntry
	for rows.Next() {
		var er entryRow
		if err := rows.Scan(er.dest(s.signed)...); err != nil {
			return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
		}
		e, err := er.entry(id)
		if err != nil {
			return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
	}
	if len(out) == 0 {
		var one int
		switch err := s.existsStmt.QueryRowContext(ctx, id).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("sqlite: history %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("sqlite: history %q: %w", id, err)
		}
	}
	return out, nil
}

// entryRow receives the auditCols of an audit row.
type entryRow struct {
	e                       relman.AuditEntry
	at, action, event, from string
	to                      string
	details                 sql.NullString
	digest, keyID, sig      sql.NullString
}

// dest returns the Scan destinations of auditCols, and with signed of
// sigCols after them.
func (er *entryRow) dest(signed bool) []any {
	e := &er.e
	d := []any{&e.Seq, &er.at, &e.Actor, &er.action, &er.event, &er.from, &er.to, &e.Reason, &er.details, &e.PrevHash, &e.Hash}
	if signed {
		d = append(d, &er.digest, &er.keyID, &er.sig)
	}
	return d
}

// nullIfEmpty stores an empty string as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// entry returns the scanned entry of release id. A value that cannot be
// read is ErrCorrupt.
func (er *entryRow) entry(id string) (relman.AuditEntry, error) {
	e := er.e
	e.ReleaseID = id
	e.Action, e.Event, e.From, e.To = relman.Action(er.action), relman.Event(er.event), relman.Stage(er.from), relman.Stage(er.to)
	e.DocDigest, e.KeyID, e.Sig = er.digest.String, er.keyID.String, er.sig.String
	var err error
	if e.At, err = time.Parse(timeLayout, er.at); err != nil {
		return e, fmt.Errorf("entry %d: %w: %v", e.Seq, ErrCorrupt, err)
	}
	if er.details.Valid {
		if err := json.Unmarshal([]byte(er.details.String), &e.Details); err != nil {
			return e, fmt.Errorf("entry %d: %w: %v", e.Seq, ErrCorrupt, err)
		}
		if e.Details == nil {
			e.Details = map[string]string{}
		}
	}
	return e, nil
}
