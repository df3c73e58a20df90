package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// Schema is the schema that holds relman's tables; it is created if
	// missing. Empty means the first schema of the search_path (normally
	// public).
	Schema string
	// Channel is the LISTEN/NOTIFY channel for change notifications, at
	// most 63 bytes. Every instance sharing the tables must use the same
	// one. Default: "relman_changes:" followed by the schema name
	// (shortened with a hash if that is too long).
	Channel string
	// NoNotify stops this instance from sending change notifications
	// (Subscribe still receives those of others). Notifications take a
	// cluster-wide lock at commit; turn them off if nobody subscribes.
	NoNotify bool
	// SubscriptionBuffer is the capacity of a Subscription's channel
	// (default 64).
	SubscriptionBuffer int
	// Outbox makes the store a working relman.Outbox: every audit entry
	// that Create and Update save gets a notification row, written in the
	// same statement, for a runner to deliver. Delivered notifications
	// are deleted, but nothing else removes them: enable it only where a
	// runner drains the outbox, or it grows by one row per audit entry.
	// Every instance sharing the tables should set it alike.
	Outbox bool
	// CacheSize is how many decoded releases Get keeps, keyed by id and
	// revision, so that reading a release this instance wrote or read at
	// its current revision skips sending and decoding its document
	// (default 1024; negative disables the cache). The database is still
	// asked for the revision on every Get, in the same query, so writes
	// by other instances are always seen.
	CacheSize int
}

// Store is a relman.Store in PostgreSQL. It is safe for concurrent use,
// and many instances, in many processes, may share the same tables.
type Store struct {
	pool                       *pgxpool.Pool
	ownsPool                   bool
	opts                       Options
	schema                     string // the schema actually used
	channel                    string
	tReleases, tAudit, tSchema string // qualified table names
	tWindows, tDue, tOutbox    string
	tFeedback                  string
	due                        bool // the schema has due_at (version 3 on); false only in tests, at older versions
	signed                     bool // the audit table has the signature columns (version 4 on); false only in tests
	plan                       bool // the schema has the plan index and feedback records (version 5 on); false only in tests

	sqlGet, sqlGetDoc, sqlHead, sqlHistory, sqlRange, sqlExists, sqlCreate, sqlUpdate string
	sqlClaimDue, sqlDueBefore, sqlClaimNotes, sqlListNotes                            string
	sqlUpdateFeedback, sqlFeedback, sqlRatings                                        string

	cache *storedoc.Cache

	locksMu sync.Mutex
	locks   map[string]chan struct{} // Lock's queues in this process, by key
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

// Open connects to the database named by dsn (a URL or key=value string,
// see pgxpool.ParseConfig), checks that it answers, and returns a Store
// that owns the pool. A malformed DSN is relman.ErrInvalid; a server that
// cannot be reached is a *ConnectError, which matches ErrUnavailable.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid DSN: %w: %v", relman.ErrInvalid, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, &ConnectError{Target: target(cfg), Err: err}
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: connect to %s: %w", target(cfg), ctx.Err())
		}
		return nil, &ConnectError{Target: target(cfg), Err: err}
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// maxIdent is the longest identifier PostgreSQL keeps (NAMEDATALEN-1);
// a longer channel name fails in pg_notify.
const maxIdent = 63

// defaultChannel names the notification channel of a schema, shortening
// long schema names with a hash so that the name stays a valid channel.
func defaultChannel(schema string) string {
	c := "relman_changes:" + schema
	if len(c) <= maxIdent {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(schema))
	return fmt.Sprintf("relman_changes:%s~%08x", strings.ToValidUTF8(schema[:maxIdent-len("relman_changes:")-9], ""), h.Sum32())
}

func target(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// New returns a Store over an existing pool, applying the migrations the
// database lacks. Close leaves the pool open.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	return newStore(ctx, pool, opts, SchemaVersion)
}

// newStore is New, migrating the schema only up to version upTo:
// SchemaVersion, or lower in tests, to make the schemas an older version
// of this package wrote.
func newStore(ctx context.Context, pool *pgxpool.Pool, opts Options, upTo int) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("postgres: new: %w", &relman.ValidationError{Fields: []relman.FieldError{{Field: "pool", Rule: "required"}}})
	}
	if opts.SubscriptionBuffer <= 0 {
		opts.SubscriptionBuffer = 64
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 1024
	}
	s := &Store{pool: pool, opts: opts, schema: opts.Schema, cache: storedoc.NewCache(opts.CacheSize)}
	if s.schema == "" {
		var cur *string
		if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
			if unavailable(err) {
				return nil, &ConnectError{Target: target(pool.Config()), Err: err}
			}
			return nil, wrap("new", err)
		}
		if cur == nil {
			return nil, fmt.Errorf("postgres: new: the search_path names no existing schema; set Options.Schema")
		}
		s.schema = *cur
	}
	s.channel = opts.Channel
	if s.channel == "" {
		s.channel = defaultChannel(s.schema)
	}
	if len(s.channel) > maxIdent {
		return nil, invalid("new", "channel", fmt.Sprintf("max=%d", maxIdent))
	}
	q := ""
	if opts.Schema != "" {
		q = pgx.Identifier{opts.Schema}.Sanitize() + "."
	}
	s.tReleases, s.tAudit, s.tSchema = q+"relman_releases", q+"relman_audit", q+"relman_schema"
	s.tWindows, s.tDue, s.tOutbox = q+"relman_windows", q+"relman_due_leases", q+"relman_outbox"
	s.tFeedback = q + "relman_feedback"
	if err := s.migrate(ctx, upTo); err != nil {
		return nil, err
	}
	s.buildSQL()
	return s, nil
}

// Close closes the pool if Open made it. Subscriptions end on their own
// when their context is done or they are closed.
func (s *Store) Close() error {
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema holding relman's tables.
func (s *Store) Schema() string { return s.schema }

// Channel returns the notification channel.
func (s *Store) Channel() string { return s.channel }

const auditCols = "seq, at, at_nanos, actor, action, event, from_stage, to_stage, reason, details, prev_hash, hash"

// sigCols are the audit columns of a signed entry (version 4 on).
const sigCols = ", doc_digest, key_id, sig"

func (s *Store) buildSQL() {
	// The document only if the revision is not the cached one.
	s.sqlGet = "SELECT revision, CASE WHEN revision = $2 THEN NULL ELSE doc END FROM " + s.tReleases + " WHERE id = $1"
	s.sqlGetDoc = "SELECT revision, doc FROM " + s.tReleases + " WHERE id = $1"
	s.sqlHead = "SELECT revision FROM " + s.tReleases + " WHERE id = $1"
	s.sqlExists = "SELECT true FROM " + s.tReleases + " WHERE id = $1"
	sigs, sigVals, sigArgs := sigCols, ", e.doc_digest, e.key_id, e.sig", ", $25::text[], $26::text[], $27::text[]"
	if !s.signed {
		sigs, sigVals, sigArgs = "", "", ""
	}
	s.sqlHistory = "SELECT " + auditCols + sigs + " FROM " + s.tAudit + " WHERE release_id = $1 ORDER BY seq"
	s.sqlRange = "SELECT " + auditCols + sigs + " FROM " + s.tAudit + " WHERE release_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq"
	tables := strings.NewReplacer("{releases}", s.tReleases, "{audit}", s.tAudit, "{due_leases}", s.tDue, "{outbox}", s.tOutbox, "{cols}", noteCols)
	s.sqlClaimDue = tables.Replace(claimDue)
	s.sqlDueBefore = "SELECT id FROM " + s.tReleases + " WHERE due_at < $1 ORDER BY due_at, id LIMIT $2"
	s.sqlClaimNotes = tables.Replace(claimNotes)
	s.sqlListNotes = "SELECT " + noteCols + " FROM " + s.tOutbox + " o JOIN " + s.tAudit + " a USING (release_id, seq) WHERE o.dead = $1 ORDER BY o.at, o.at_nanos, release_id, seq LIMIT $2"
	// One statement, so one transaction: the row (with its due time),
	// its audit entries, their outbox rows and the change notification
	// are written together or not at all. The audit INSERT reads from the
	// row CTE, and the outbox INSERT from the audit one, so nothing is
	// appended when the row is not written.
	entries := `INSERT INTO ` + s.tAudit + ` (release_id, ` + auditCols + sigs + `)
		SELECT w.id, e.seq, e.at, e.at_nanos, e.actor, e.action, e.event, e.from_stage, e.to_stage, e.reason, e.details::jsonb, e.prev_hash, e.hash` + sigVals + `
		FROM w, unnest($10::bigint[], $11::timestamptz[], $12::int[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[]` + sigArgs + `)
			AS e (seq, at, at_nanos, actor, action, event, from_stage, to_stage, reason, details, prev_hash, hash` + sigs + `)`
	tail := `, a AS (` + entries + `)`
	if s.opts.Outbox && s.due {
		// A new notification is due at once (next_at is the entry's time).
		tail = `, a AS (` + entries + ` RETURNING release_id, seq, at, at_nanos),
		o AS (INSERT INTO ` + s.tOutbox + ` (release_id, seq, at, at_nanos, next_at) SELECT release_id, seq, at, at_nanos, at FROM a)`
	}
	final := `
		SELECT count(*) FROM (SELECT CASE WHEN $22 <> '' THEN pg_notify($22, $23) END FROM w) n`
	// Schemas at older versions (made in tests) have no due_at.
	dueCol, dueVal, dueSet := ", due_at", ", $24", ", due_at = $24"
	if !s.due {
		dueCol, dueVal, dueSet = "", "", ""
	}
	// Nor the plan column: the window's bounds, NULL when not planned,
	// and the feedback records, come after the other parameters.
	n := 23
	if s.due {
		n++
	}
	if s.signed {
		n += 3
	}
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	planCol, planVal, planSet := "", "", ""
	if s.plan {
		plan := "CASE WHEN " + p(1) + "::timestamptz IS NULL THEN NULL ELSE tstzrange(" + p(1) + ", " + p(2) + ", '[)') END"
		planCol, planVal, planSet = ", plan", ", "+plan, ", plan = "+plan
	}
	s.sqlCreate = `WITH w AS (
		INSERT INTO ` + s.tReleases + ` (id, revision, stage, kind, services, teams, created_at, updated_at, doc` + dueCol + planCol + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9` + dueVal + planVal + `)
		ON CONFLICT (id) DO NOTHING
		RETURNING id)` + tail + final
	update := `WITH w AS (
		UPDATE ` + s.tReleases + ` SET revision = $2 + 1, stage = $3, kind = $4, services = $5, teams = $6, created_at = $7, updated_at = $8, doc = $9` + dueSet + planSet + `
		WHERE id = $1 AND revision = $2
		RETURNING id)` + tail
	s.sqlUpdate = update + final
	// UpdateFeedback: the same, and the feedback records, which (as the
	// audit entries) are inserted only if the row is updated. A Seq
	// already stored fails the whole statement.
	s.sqlUpdateFeedback = update + `,
		f AS (INSERT INTO ` + s.tFeedback + ` (release_id, seq, at, at_nanos, rating, doc)
			SELECT w.id, x.seq, x.at, x.at_nanos, x.rating, x.doc::jsonb
			FROM w, unnest(` + p(3) + `::bigint[], ` + p(4) + `::timestamptz[], ` + p(5) + `::int[], ` + p(6) + `::int[], ` + p(7) + `::text[])
				AS x (seq, at, at_nanos, rating, doc))` + final
	s.sqlFeedback = "SELECT doc FROM " + s.tFeedback + " WHERE release_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
	s.sqlRatings = `SELECT release_id, rating, count(*) FROM ` + s.tFeedback + `
		WHERE (at, at_nanos) >= ($1, $2) AND (at, at_nanos) < ($3, $4) AND rating BETWEEN 1 AND 5 GROUP BY release_id, rating`
}

// migrate applies the missing migrations, up to version upTo, in one
// transaction, under an advisory lock so that instances starting together
// apply them once.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		if unavailable(err) {
			return &ConnectError{Target: target(s.pool.Config()), Err: err}
		}
		return wrap("migrate", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('relman/store/postgres migrate ' || $1, 0))", s.schema); err != nil {
		return wrap("migrate: lock", err)
	}
	if s.opts.Schema != "" {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.opts.Schema}.Sanitize()); err != nil {
			return wrap("migrate: create schema", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.tSchema+` (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return wrap("migrate", err)
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+s.tSchema).Scan(&version); err != nil {
		return wrap("migrate", err)
	}
	if version > SchemaVersion {
		return &SchemaError{Schema: s.schema, Found: version, Supported: SchemaVersion}
	}
	s.due, s.signed, s.plan = max(version, upTo) >= 3, max(version, upTo) >= 4, max(version, upTo) >= 5
	if version >= upTo {
		return nil
	}
	planned := make([]string, len(relman.PlannedStages))
	for i, st := range relman.PlannedStages {
		planned[i] = "'" + string(st) + "'"
	}
	r := strings.NewReplacer("{releases}", s.tReleases, "{audit}", s.tAudit, "{windows}", s.tWindows, "{due_leases}", s.tDue, "{outbox}", s.tOutbox,
		"{feedback}", s.tFeedback, "{planned}", "ARRAY["+strings.Join(planned, ", ")+"]::text[]")
	for _, m := range migrations {
		if m.version <= version || m.version > upTo {
			continue
		}
		if _, err := tx.Exec(ctx, r.Replace(m.sql)); err != nil {
			return wrap(fmt.Sprintf("migration %d (%s)", m.version, m.name), err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+s.tSchema+" (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return wrap(fmt.Sprintf("migration %d", m.version), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("migrate: commit", err)
	}
	return nil
}

func invalid(op, field, rule string) error {
	return fmt.Errorf("postgres: %s: %w", op, &relman.ValidationError{Fields: []relman.FieldError{{Field: field, Rule: rule}}})
}

func checkWrite(op string, r *relman.Release, entries []relman.AuditEntry) error {
	if err := storedoc.CheckWrite(r, entries); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// tagsOf returns the sorted, distinct services and teams (task teams
// included) of r, never nil.
func tagsOf(r *relman.Release) (services, teams []string) {
	services = append([]string{}, r.Services...)
	teams = append([]string{}, r.InvolvedTeams()...)
	slices.Sort(services)
	slices.Sort(teams)
	return slices.Compact(services), teams
}

// note is the payload of a change notification.
type note struct {
	ID       string       `json:"id,omitempty"`
	Revision int64        `json:"rev,omitempty"`
	Stage    relman.Stage `json:"stage,omitempty"`
	Head     int64        `json:"head,omitempty"` // seq of the last entry written
	N        int          `json:"n,omitempty"`    // entries written
}

// maxPayload is below PostgreSQL's 8000-byte limit on a notification.
const maxPayload = 7900

// args builds the parameters shared by the create and update statements.
func (s *Store) args(r *relman.Release, rev int64, entries []relman.AuditEntry) ([]any, error) {
	c := *r
	c.Revision = rev
	doc, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	services, teams := tagsOf(r)
	n := len(entries)
	seq, at, nanos := make([]int64, n), make([]time.Time, n), make([]int32, n)
	actor, action, event, from, to, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	details, prev, hash := make([]*string, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		seq[i], at[i], nanos[i] = e.Seq, e.At, int32(e.At.Nanosecond()%1000)
		actor[i], action[i], event[i] = e.Actor, string(e.Action), string(e.Event)
		from[i], to[i], reason[i] = string(e.From), string(e.To), e.Reason
		prev[i], hash[i] = e.PrevHash, e.Hash
		if e.Details != nil {
			b, err := json.Marshal(e.Details)
			if err != nil {
				return nil, err
			}
			d := string(b)
			details[i] = &d
		}
	}
	channel, payload := "", ""
	if !s.opts.NoNotify {
		channel = s.channel
		nt := note{ID: r.ID, Revision: rev, Stage: r.Stage, Head: r.Head.Seq, N: n}
		if n > 0 {
			nt.Head = entries[n-1].Seq
		}
		b, _ := json.Marshal(nt)
		if len(b) > maxPayload {
			b = []byte("{}") // subscribers resynchronise
		}
		payload = string(b)
	}
	args := []any{r.ID, r.Revision, string(r.Stage), string(r.Kind), services, teams, r.CreatedAt, r.UpdatedAt, doc,
		seq, at, nanos, actor, action, event, from, to, reason, details, prev, hash, channel, payload}
	if s.due {
		var due *time.Time // NULL when nothing is due
		if t, ok := r.NextDue(); ok {
			due = &t
		}
		args = append(args, due)
	}
	if s.signed {
		digest, keyID, sig := make([]*string, n), make([]*string, n), make([]*string, n)
		for i := range entries {
			digest[i], keyID[i], sig[i] = nullIfEmpty(entries[i].DocDigest), nullIfEmpty(entries[i].KeyID), nullIfEmpty(entries[i].Sig)
		}
		args = append(args, digest, keyID, sig)
	}
	if s.plan {
		var start, end *time.Time // NULL when not planned
		if storedoc.Planned(r) {
			a, b := r.Window.Start.Truncate(time.Microsecond), r.Window.End.Truncate(time.Microsecond)
			if !b.Equal(r.Window.End) {
				b = b.Add(time.Microsecond)
			}
			start, end = &a, &b
		}
		args = append(args, start, end)
	}
	return args, nil
}

// Create implements relman.Store.
func (s *Store) Create(ctx context.Context, r *relman.Release, entries ...relman.AuditEntry) error {
	if err := checkWrite("create", r, entries); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: create %q: %w", r.ID, err)
	}
	args, err := s.args(r, 1, entries)
	if err != nil {
		return fmt.Errorf("postgres: create %q: %w", r.ID, err)
	}
	args[1] = int64(1)
	n, err := s.write(ctx, s.sqlCreate, args)
	if err != nil {
		return wrap(fmt.Sprintf("create %q", r.ID), err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: create %q: %w", r.ID, relman.ErrExists)
	}
	r.Revision = 1
	if s.cache != nil {
		s.cache.Put(r.ID, 1, r.Clone())
	}
	return nil
}

// Update implements relman.Store: one statement updates the row if its
// revision is r.Revision (UPDATE … WHERE id = $1 AND revision = $2),
// appends the entries and notifies subscribers, atomically.
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
		return fmt.Errorf("postgres: update: %w", err)
	}
	return nil
}

// UpdateFeedback implements relman.FeedbackStore: Update's statement
// also inserts the feedback records, from the updated row, so that they
// are written with the release or not at all. A Seq the release already
// has fails the statement with an error matching relman.ErrConflict.
func (s *Store) UpdateFeedback(ctx context.Context, r *relman.Release, fs []relman.Feedback, entries ...relman.AuditEntry) error {
	if err := checkWrite("update feedback", r, entries); err != nil {
		return err
	}
	if err := storedoc.CheckFeedback(fs); err != nil {
		return fmt.Errorf("postgres: update feedback %q: %w", r.ID, err)
	}
	if !s.plan && len(fs) > 0 {
		// A schema older than version 5 (made in tests, as an older
		// version of this package would have written it): the feedback
		// stays in the document.
		c := storedoc.LegacyFeedback(r, fs)
		if err := s.update(ctx, "update feedback", c, nil, entries, false); err != nil {
			return err
		}
		r.Revision = c.Revision
		return nil
	}
	return s.update(ctx, "update feedback", r, fs, entries, false)
}

// update is Update, UpdateShared and, with fs, UpdateFeedback; op names
// it in errors. With keep, the cache keeps r itself, which the caller no
// longer changes, rather than a copy.
func (s *Store) update(ctx context.Context, op string, r *relman.Release, fs []relman.Feedback, entries []relman.AuditEntry, keep bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s %q: %w", op, r.ID, err)
	}
	args, err := s.args(r, r.Revision+1, entries)
	if err != nil {
		return fmt.Errorf("postgres: %s %q: %w", op, r.ID, err)
	}
	query := s.sqlUpdate
	if len(fs) > 0 {
		query = s.sqlUpdateFeedback
		n := len(fs)
		seq, at, nanos, rating, docs := make([]int64, n), make([]time.Time, n), make([]int32, n), make([]int32, n), make([]string, n)
		for i, f := range fs {
			b, err := json.Marshal(&f)
			if err != nil {
				return fmt.Errorf("postgres: %s %q: %w", op, r.ID, err)
			}
			seq[i], at[i], nanos[i], rating[i], docs[i] = f.Seq, f.At, int32(f.At.Nanosecond()%1000), int32(f.Rating), string(b)
		}
		args = append(args, seq, at, nanos, rating, docs)
	}
	n, err := s.write(ctx, query, args)
	if err != nil {
		return wrap(fmt.Sprintf("%s %q", op, r.ID), err)
	}
	if n == 0 {
		var stored int64
		switch err := s.pool.QueryRow(ctx, s.sqlHead, r.ID).Scan(&stored); {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: %s %q: %w", op, r.ID, relman.ErrNotFound)
		case err != nil:
			return wrap(fmt.Sprintf("%s %q", op, r.ID), err)
		}
		return fmt.Errorf("postgres: %s %q at revision %d (stored %d): %w", op, r.ID, r.Revision, stored, relman.ErrConflict)
	}
	r.Revision++
	switch {
	case keep:
		s.cache.Put(r.ID, r.Revision, r)
	case s.cache != nil:
		s.cache.Put(r.ID, r.Revision, r.Clone())
	}
	return nil
}

// write runs a write statement that returns a count. Once the statement
// is sent, the caller's context no longer interrupts it: a statement
// interrupted in flight may still commit after the error is returned, so
// that neither the caller nor a read-back could know what happened.
// write waits for the server's answer instead, for at most writeWindow
// (a server that takes longer is an error whose outcome the Manager
// reads back). A context that ends before the statement is sent (while
// waiting for a connection) stops it with nothing written.
func (s *Store) write(ctx context.Context, query string, args []any) (int, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeWindow)
	defer cancel()
	var n int
	err = conn.QueryRow(wctx, query, args...).Scan(&n)
	return n, err
}

// writeWindow bounds how long a write statement may take once sent.
const writeWindow = 5 * time.Second

// decode reads a stored release strictly: fields this version does not
// know mean a newer writer, and are refused rather than dropped.
func decode(id string, doc []byte, rev int64) (*relman.Release, error) {
	var r relman.Release
	if newer, err := storedoc.Decode(doc, &r); newer {
		return nil, fmt.Errorf("postgres: release %q: %w: %v", id, ErrNewerSchema, err)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: release %q: stored document: %w", id, err)
	}
	r.Revision = rev
	return &r, nil
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
		return nil, false, fmt.Errorf("postgres: get %q: %w", id, err)
	}
	var rev int64
	var doc []byte
	switch err := s.pool.QueryRow(ctx, s.sqlGet, id, s.cache.Revision(id)).Scan(&rev, &doc); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, fmt.Errorf("postgres: get %q: %w", id, relman.ErrNotFound)
	case badInput(err):
		return nil, false, fmt.Errorf("postgres: get %q: %w", id, relman.ErrNotFound) // no stored id holds such a string
	case err != nil:
		return nil, false, wrap(fmt.Sprintf("get %q", id), err)
	}
	if doc == nil {
		if r := s.cache.Get(id, rev); r != nil {
			return r, true, nil
		}
		// Evicted meanwhile: read the document.
		switch err := s.pool.QueryRow(ctx, s.sqlGetDoc, id).Scan(&rev, &doc); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, false, fmt.Errorf("postgres: get %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, false, wrap(fmt.Sprintf("get %q", id), err)
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

// List implements relman.Store. Filters and order run in SQL on indexed
// columns; every value is a bound parameter and matches literally. Ids
// sort bytewise (COLLATE "C"), as in the other stores.
func (s *Store) List(ctx context.Context, q relman.Query) ([]*relman.Release, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	q = q.Normalized()
	var b strings.Builder
	b.WriteString("SELECT id, revision, doc FROM " + s.tReleases + " WHERE true")
	args := where(&b, q, nil)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	dir, beyond := " ASC", " > "
	if q.Desc {
		dir, beyond = " DESC", " < "
	}
	if q.After != "" {
		// Keyset paging: the rows past the cursor's (sort key, id), a
		// range of the index the ORDER BY reads. The cursor's time is
		// sent as the release's was (pgx keeps whole microseconds,
		// rounded down), so it compares with the stored key exactly and
		// the cursor's release and those before it are left out.
		k, err := q.Key()
		if err != nil {
			return nil, fmt.Errorf("postgres: list: %w", err)
		}
		switch q.OrderBy {
		case relman.OrderUpdated:
			b.WriteString(" AND (updated_at, id)" + beyond + "(" + arg(k.Time) + ", " + arg(k.ID) + ")")
		case relman.OrderID:
			b.WriteString(" AND id" + beyond + arg(k.ID))
		default:
			b.WriteString(" AND (created_at, id)" + beyond + "(" + arg(k.Time) + ", " + arg(k.ID) + ")")
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
	b.WriteString(" LIMIT " + arg(q.Limit) + " OFFSET " + arg(q.Offset))
	out, err := s.query(ctx, b.String(), args)
	if err != nil {
		return nil, wrap("list", err)
	}
	return out, nil
}

// where appends q's filters to a query, as bound parameters numbered after
// args, and returns the parameters.
func where(b *strings.Builder, q relman.Query, args []any) []any {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.Stages) > 0 {
		st := make([]string, len(q.Stages))
		for i, v := range q.Stages {
			st[i] = string(v)
		}
		b.WriteString(" AND stage = ANY(" + arg(st) + "::text[])")
	}
	if q.Kind != "" {
		b.WriteString(" AND kind = " + arg(string(q.Kind)))
	}
	if q.Service != "" {
		b.WriteString(" AND services @> ARRAY[" + arg(q.Service) + "::text]")
	}
	if q.Team != "" {
		b.WriteString(" AND teams @> ARRAY[" + arg(q.Team) + "::text]")
	}
	return args
}

// query reads the releases a query selects (id, revision, doc).
func (s *Store) query(ctx context.Context, query string, args []any) ([]*relman.Release, error) {
	rows, err := s.pool.Query(ctx, query, args...)
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
// store.
func (s *Store) Scan(ctx context.Context, q relman.Query, fn func(r *relman.Release) error) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("postgres: scan: %w", err)
	}
	var b strings.Builder
	b.WriteString("SELECT id, revision, doc FROM " + s.tReleases + " WHERE id > $1")
	args := where(&b, q, []any{""})
	b.WriteString(fmt.Sprintf(" ORDER BY id LIMIT %d", scanBatch))
	query := b.String()
	return storedoc.ScanBatches(scanBatch, func(after string) ([]*relman.Release, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("postgres: scan: %w", err)
		}
		args[0] = after
		batch, err := s.query(ctx, query, args)
		if err != nil {
			return nil, wrap("scan", err)
		}
		return batch, nil
	}, fn)
}

// History implements relman.Store.
func (s *Store) History(ctx context.Context, id string) ([]relman.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: history %q: %w", id, err)
	}
	out, err := s.entries(ctx, s.pool, id, s.sqlHistory, id)
	if badInput(err) {
		return nil, fmt.Errorf("postgres: history %q: %w", id, relman.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("history %q", id), err)
	}
	if len(out) == 0 {
		var ok bool
		switch err := s.pool.QueryRow(ctx, s.sqlExists, id).Scan(&ok); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, fmt.Errorf("postgres: history %q: %w", id, relman.ErrNotFound)
		case err != nil:
			return nil, wrap(fmt.Sprintf("history %q", id), err)
		}
	}
	return out, nil
}

// querier is a pool or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// entries runs a query over the audit table.
func (s *Store) entries(ctx context.Context, q querier, id, query string, args ...any) ([]relman.AuditEntry, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []relman.AuditEntry
	for rows.Next() {
		var er entryRow
		if err := rows.Scan(er.dest(s.signed)...); err != nil {
			return nil, err
		}
		e, err := er.entry(id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// entryRow receives the auditCols of an audit row.
type entryRow struct {
	e                       relman.AuditEntry
	nanos                   int32
	action, event, from, to string
	details                 []byte
	digest, keyID, sig      *string
}

// dest returns the Scan destinations of auditCols, and with signed of
// sigCols after them.
func (er *entryRow) dest(signed bool) []any {
	e := &er.e
	d := []any{&e.Seq, &e.At, &er.nanos, &e.Actor, &er.action, &er.event, &er.from, &er.to, &e.Reason, &er.details, &e.PrevHash, &e.Hash}
	if signed {
		d = append(d, &er.digest, &er.keyID, &er.sig)
	}
	return d
}

// nullIfEmpty stores an empty string as NULL.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// entry returns the scanned entry of release id.
func (er *entryRow) entry(id string) (relman.AuditEntry, error) {
	e := er.e
	e.ReleaseID = id
	e.At = e.At.UTC().Add(time.Duration(er.nanos))
	e.Action, e.Event, e.From, e.To = relman.Action(er.action), relman.Event(er.event), relman.Stage(er.from), relman.Stage(er.to)
	e.DocDigest, e.KeyID, e.Sig = deref(er.digest), deref(er.keyID), deref(er.sig)
	if er.details != nil {
		e.Details = map[string]string{}
		if err := json.Unmarshal(er.details, &e.Details); err != nil {
			return e, fmt.Errorf("entry %d: details: %w", e.Seq, err)
		}
	}
	return e, nil
}
