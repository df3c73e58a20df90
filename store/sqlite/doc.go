// Package sqlite is a relman.Store kept in one SQLite file: the embedded
// default, for host programs that run on one machine. It keeps releases,
// their audit history and calendar windows (it is a relman.WindowStore),
// and serves the runner (it is a relman.DueStore and a relman.Outbox).
// It finds planned releases by window (relman.PlanIndex), keeps feedback
// as records (relman.FeedbackStore) and pages List by cursor.
// It uses modernc.org/sqlite, a pure Go SQLite, so no cgo is needed.
//
// # Opening
//
//	s, err := sqlite.Open("/var/lib/myapp/releases.db", sqlite.Options{})
//	if err != nil { … }
//	defer s.Close()
//	m, err := relman.NewManager(s)
//
// Open creates the file if it does not exist and applies the schema
// migrations it lacks, in one transaction: a file written by an older
// version of this package (schema 1 had no windows table, schema 2 no due
// index and no outbox, schema 4 no plan index and no feedback records,
// schema 5 no plan index by team; the current schema is 6) is upgraded in
// place, keeping its releases. It never changes a file it does not
// recognise: a file that is not SQLite, a SQLite database of another
// program, a damaged file, or one whose schema was written by a newer
// version of this package is refused with an *OpenError (errors.Is matches
// ErrForeign, ErrCorrupt or ErrNewerSchema) and left as it was.
//
// # Options
//
// The zero Options are the defaults: a 5 s busy timeout, synchronous=FULL
// (a committed transition survives a power cut), a quick integrity check on
// open, four read connections, and a cache of 1024 decoded releases keyed
// by revision. See Options.
//
// # Storage
//
// A release is stored as a JSON document, with its stage, kind, creation
// and update times in indexed columns and its services and teams (teams of
// its tasks included) in an indexed side table, so List filters and sorts
// in SQL and new Release fields need no schema change. Decoding is strict:
// a document holding fields this version does not know (written by a newer
// relman) is refused with ErrNewerSchema rather than silently losing them
// on the next update. Audit entries are rows with a column per field and
// round-trip exactly, so their hash chain verifies after a reload.
//
// A calendar window is a row of its own: its id, name and kind, and the
// window as a JSON document, decoded as strictly as a release. ListWindows
// orders windows by id, bytewise, like releases. PutWindow creates or
// replaces a window after checking it with relman.Window.Validate; an
// invalid window is an error matching relman.ErrInvalid, and nothing is
// written. A window's times are stored in UTC (an RFC 3339 offset has no
// seconds, so the local mean time offsets of old dates would move them)
// and come back as the same instants, in the window's time zone. An
// empty, non-nil ExDates or Services comes back nil.
//
// # Concurrency
//
// A Store is safe for concurrent use, and several processes on one machine
// may open the same file. The file is in WAL mode: readers never block and
// are never blocked. Writes go through one connection per process and start
// with BEGIN IMMEDIATE, so writers in different processes queue on SQLite's
// lock (waiting up to the busy timeout) instead of failing mid-transaction.
// A write that waits longer than the busy timeout fails with ErrBusy and
// writes nothing. Update checks the revision in SQL (UPDATE … WHERE id = ?
// AND revision = ?) and appends the audit entries in the same transaction:
// a stale revision is relman.ErrConflict and nothing is written. A process
// killed mid-write leaves no half-written transition; SQLite rolls it back
// on next open.
//
// Get keeps decoded copies of the releases it reads and writes, keyed by
// revision (Options.CacheSize); it still reads the stored revision every
// time, so it always sees other processes' writes. The Store is a
// relman.Sharer: a Manager's Fire reads the cached release without a
// copy, and the store keeps the new version Fire hands it.
//
// # Schedule lock
//
// A Store is a relman.Locker, so that Managers in several processes do
// not book the same slot at once. Lock takes an exclusive lock on a file
// beside the database, one per key: releases.db-relman.schedule-<hash>.lock
// for relman.ScheduleLock (see Store.LockPath). The file is created, mode
// 0600, on first use and never removed; if processes of several users
// share the database, create the file beforehand with a mode that lets
// them all read it (Lock then fails with a permission error). Every Lock call opens the file
// anew and locks its own open file (flock on Unix, LockFileEx on Windows),
// so the lock excludes other goroutines of the process as well as other
// processes, and Lock waits by polling, with a short backoff, until its
// context ends. The operating system releases the lock when the holding
// process exits or is killed; a crash cannot leave it held.
//
// The file must be on a local file system: SQLite's locking, and WAL's
// shared memory, do not work across network file systems, and neither
// does the schedule lock.
//
// # Runner support
//
// Due index. Create and Update store each release's Release.NextDue in
// the due_at column, in the same statement as the row (NULL when nothing
// is due), under a partial index on (due_at, id) that holds only the
// releases with something due. DueBefore and ClaimDue read it in order,
// so they cost about what is due, not how many releases there are.
//
// Leases. ClaimDue reads the due releases and writes their leases (table
// due_leases: release id, owner, until) in one BEGIN IMMEDIATE
// transaction, holding SQLite's write lock like every write, so runners
// in several processes never get the same release while its lease runs.
// ReleaseDue drops leases. Leases only spread the work; the Manager's
// revision check keeps a release that two runners work on correct.
//
// Outbox. With Options.Outbox, Create and Update write one outbox row per
// audit entry in their transaction (a prepared INSERT per entry). A row
// refers to its audit entry, which is not copied: a notification is read
// joined to the audit trail. ClaimNotifications takes, in one write
// transaction, the oldest not dead notification of each release if it is
// due and not leased by another owner, in entry order, reading a partial
// index of the pending rows in that order. The outbox costs one row and
// one index entry per audit entry: about a tenth of a transition, in
// BenchmarkFireOutbox on a busy two-core machine.
// Outbox methods of a store without Options.Outbox fail with an error
// matching relman.ErrInvalid. Every process opening the file should set it
// alike: a process without it writes no notifications.
//
// # Scale
//
// Plan index (relman.PlanIndex). A release in one of relman.PlannedStages
// with a window keeps it in the columns plan_start and plan_end (whole
// Unix seconds, rounded outwards), under a partial index, one row per
// service in plan_services and one row per team (Teams and the teams
// owning tasks) in plan_teams; Create and Update write them in the row's
// transaction, and a transition that does not change them writes nothing
// more. Overlapping reads the windows starting less than the longest
// stored window before from (read from an index in one step) and before
// to, then checks each release exactly, to the nanosecond: with windows of
// hours it reads about the releases that overlap, however many are
// planned. With a relman.PlanMatch it reads that range of the rows of
// each of its services and teams instead, so it costs about the releases
// that overlap and match. Migration 5 fills the index from the documents,
// which it does not rewrite; migration 6 fills plan_teams from the plan
// columns and the stored tags.
//
// Feedback records (relman.FeedbackStore). UpdateFeedback is Update plus
// one feedback row per piece, in the same transaction: a stale revision
// or a Seq taken writes nothing. Feedback reads them by primary key, and
// FeedbackRatings from an index on their time. Feedback kept in release
// documents by older versions moves into records on the release's next
// write through a Manager.
//
// Cursors. List with Query.After continues the order's index from the
// cursor's (sort key, id), compared as stored (times to the nanosecond),
// so the last page costs what the first does; Offset pages cost more the
// further they go. Scan reads each row once: every batch continues the
// primary key (or a service's or team's rows of the tag table), with the
// other filters checked on the rows read.
package sqlite
