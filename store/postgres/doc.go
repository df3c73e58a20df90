// Package postgres is a relman.Store in PostgreSQL, on jackc/pgx/v5: the
// path when a host program runs as many instances that share one
// database. It keeps releases, their audit history and calendar windows
// (it is a relman.WindowStore), and serves the runner (it is a
// relman.DueStore and a relman.Outbox). It finds planned releases by
// window (relman.PlanIndex), keeps feedback as records
// (relman.FeedbackStore) and pages List by cursor.
//
// # Opening
//
// Open connects from a DSN and owns the pool it makes; New uses a pool the
// host already has (and leaves it open on Close):
//
//	s, err := postgres.Open(ctx, "postgres://relman@db:5432/app?sslmode=verify-full", postgres.Options{})
//	if err != nil { … } // a *ConnectError (ErrUnavailable) if the server cannot be reached
//	defer s.Close()
//	m, err := relman.NewManager(s)
//
// Both apply the schema migrations the database lacks: a schema written
// by an older version of this package (version 1 had no windows table,
// version 2 no due index and no outbox, version 4 no plan index and no
// feedback records; the current version is 5) is upgraded in place,
// keeping its releases. Instances starting
// together do not race: migrations run in one transaction under a
// transaction-scoped advisory lock (pg_advisory_xact_lock) keyed by the
// schema. A database whose schema is newer than this package is refused
// with an error matching ErrNewerSchema, and left as it is.
//
// # Options
//
// The zero Options are the defaults: tables (relman_releases,
// relman_audit, relman_windows, relman_due_leases, relman_outbox,
// relman_schema) in the first schema of the search_path,
// change notifications on, on a channel named after the schema. Set
// Options.Schema to keep relman's tables in a schema of their own (it is
// created if missing).
//
// # Storage and concurrency
//
// A release is stored as a jsonb document with its stage, kind, times,
// services and teams (task teams included) in indexed columns, so List
// filters and sorts in SQL and new Release fields need no schema change.
// Decoding is strict: a document with fields this version does not know
// (written by a newer instance during a rolling upgrade) is refused with
// ErrNewerSchema instead of losing them on the next update.
//
// A Store is safe for concurrent use, by many goroutines and many
// processes. Update is one SQL statement, hence one transaction: the
// revision-checked UPDATE (… WHERE id = $1 AND revision = $2), the INSERT
// of the audit entries and the change notification either all happen or
// none does; a stale revision is relman.ErrConflict.
//
// Get keeps decoded copies of the releases it reads and writes, keyed by
// revision (Options.CacheSize); it still reads the stored revision every
// time, in the one query, and the document only when that revision is not
// the cached one, so writes by other instances are always seen. The
// Store is a relman.Sharer: a Manager's Fire reads the cached release
// without a copy, and the store keeps the new version Fire hands it.
//
// A calendar window is a row of its own: its id, name and kind, and the
// window as a jsonb document, decoded as strictly as a release.
// ListWindows orders windows by id, bytewise (COLLATE "C"), like
// releases. PutWindow creates or replaces a window after checking it with
// relman.Window.Validate; an invalid window is an error matching
// relman.ErrInvalid, and nothing is written. A window's times are stored
// in UTC (an RFC 3339 offset has no seconds, so the local mean time
// offsets of old dates would move them) and come back as the same
// instants, in the window's time zone. An empty, non-nil ExDates or
// Services comes back nil. Window writes run at read committed, so that
// instances writing the same window at once do not fail with
// serialization errors under a stricter default isolation.
//
// # Schedule lock
//
// A Store is a relman.Locker, so that Managers in many instances do not
// book the same slot at once. Lock takes a session-level advisory lock
// (pg_advisory_lock) whose bigint id is a 64-bit FNV-1a hash of the key
// and the schema (stores in different schemas do not share locks; the
// hashed string is prefixed differently from the migration lock's). The
// lock holds a connection from the pool until unlock, which runs
// pg_advisory_unlock and returns the connection, or closes it if that
// fails; give the pool at least two connections, as the holder needs
// another one to work. Callers of one Store queue in the process before
// they take a connection, so waiting does not drain the pool. Lock waits
// until its context ends; pgx then cancels the statement on the server
// too.
//
// The lock is only as good as its connection. If the holder's process
// dies, or its connection is lost or terminated, the server releases the
// lock, and another instance may take it while the holder still runs; the
// holder's next write is still checked against the stored revision.
//
// # Change notifications
//
// Every Create and Update sends a notification (pg_notify) in its own
// transaction, so it is delivered, to every instance listening, only if
// and when the change commits. Subscribe turns them into a channel of
// Change values carrying the release's new revision and stage and the
// audit entries the change appended, so that code in one instance sees
// the transitions made by the others. See Subscription for the delivery
// guarantees. Windows are not announced: PutWindow and DeleteWindow send
// no notification.
//
// # Runner support
//
// Due index. Create and Update store each release's Release.NextDue in
// the due_at column, in their one statement (NULL when nothing is due),
// under a partial index on (due_at, id) that holds only the releases with
// something due. DueBefore and ClaimDue read it in order, so they cost
// about what is due, not how many releases there are. Times are kept to
// the microsecond, as every timestamptz.
//
// Leases. ClaimDue is one statement, at read committed whatever the
// connections' default isolation: it selects the due releases it may
// claim with FOR NO KEY UPDATE SKIP LOCKED, so concurrent claimers pass
// over each other's rows instead of waiting, and upserts their leases
// (relman_due_leases: release id, owner, until) with a condition that
// re-checks the latest lease, so two instances never get the same
// release while its lease runs. ReleaseDue drops leases. Leases only
// spread the work; the Manager's revision check keeps a release that two
// runners work on correct.
//
// Outbox. With Options.Outbox, the statement of Create and Update also
// writes one relman_outbox row per audit entry, from the rows the audit
// INSERT returns: no extra round trip. A row refers to its audit entry,
// which is not copied: a notification is read joined to the audit trail.
// ClaimNotifications is one statement, at read committed: it takes the
// oldest not dead notification of each release if it is due and not
// leased by another owner, in entry order, reading a partial index of the
// pending rows in that order, with FOR UPDATE SKIP LOCKED, and leases
// them. Outbox methods of a store without Options.Outbox fail with an
// error matching relman.ErrInvalid. Every instance sharing the tables
// should set it alike: an instance without it writes no notifications.
//
// # Scale
//
// Plan index (relman.PlanIndex). A release in one of relman.PlannedStages
// with a window keeps it in the tstzrange column plan (widened to whole
// microseconds), under a partial GiST index, written by the statement
// that writes the row. Overlapping reads the ranges that overlap from the
// index (with a relman.PlanMatch, the releases that also list one of its
// services or involve one of its teams, which the GIN indexes of the
// services and teams columns select), then checks each release exactly,
// to the nanosecond. There is no exclusion
// constraint: overlapping windows are allowed unless the Manager's
// conflicts gate says otherwise (services, teams, capacity), which the
// database cannot judge. Migration 5 fills the column from the documents,
// which it does not rewrite.
//
// Feedback records (relman.FeedbackStore). UpdateFeedback is Update's
// single statement with one more insert, from the updated row: a stale
// revision or a Seq taken writes nothing. Feedback reads the records by
// primary key, FeedbackRatings from an index on their time (to the
// nanosecond). Feedback kept in release documents by older versions moves
// into records on the release's next write through a Manager.
//
// Cursors. List with Query.After continues the order's index from the
// cursor's (sort key, id), so the last page costs what the first does;
// Offset pages cost more the further they go. Times are compared as
// stored, to the microsecond, the cursor's time truncated as the
// release's was when written.
//
// # Errors
//
// Calls made while the server cannot be reached return errors matching
// ErrUnavailable; they succeed again once it is back (the pool
// reconnects). Strings PostgreSQL cannot store (a NUL byte, invalid UTF-8)
// are relman.ErrInvalid.
package postgres
