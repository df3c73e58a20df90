package postgres

// migration is one step of the schema. Versions are 1, 2, 3 …; the
// relman_schema table lists those applied. {releases}, {audit},
// {windows}, {due_leases}, {outbox} and {feedback} stand for the
// qualified table names, {planned} for the array of relman.PlannedStages.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema history. Append only: never edit a migration
// that has shipped.
var migrations = []migration{
	{1, "releases, audit trail", `
CREATE TABLE {releases} (
	id         text COLLATE "C" PRIMARY KEY,
	revision   bigint NOT NULL,
	stage      text NOT NULL,
	kind       text NOT NULL,
	services   text[] NOT NULL,
	teams      text[] NOT NULL, -- Teams and the teams owning tasks
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	doc        jsonb NOT NULL   -- the release
);
CREATE INDEX relman_releases_stage ON {releases} (stage);
CREATE INDEX relman_releases_kind ON {releases} (kind);
CREATE INDEX relman_releases_created ON {releases} (created_at, id);
CREATE INDEX relman_releases_updated ON {releases} (updated_at, id);
CREATE INDEX relman_releases_services ON {releases} USING gin (services);
CREATE INDEX relman_releases_teams ON {releases} USING gin (teams);
CREATE TABLE {audit} (
	release_id text COLLATE "C" NOT NULL REFERENCES {releases} (id),
	seq        bigint NOT NULL,
	at         timestamptz NOT NULL,
	at_nanos   int NOT NULL DEFAULT 0, -- nanoseconds below at's microsecond
	actor      text NOT NULL,
	action     text NOT NULL,
	event      text NOT NULL,
	from_stage text NOT NULL,
	to_stage   text NOT NULL,
	reason     text NOT NULL,
	details    jsonb,
	prev_hash  text NOT NULL,
	hash       text NOT NULL,
	PRIMARY KEY (release_id, seq)
);
`},
	{2, "calendar windows", `
CREATE TABLE {windows} (
	id   text COLLATE "C" PRIMARY KEY, -- sorts bytewise, as release ids
	name text NOT NULL,
	kind text NOT NULL,
	doc  jsonb NOT NULL -- the window
);
`},
	{3, "due index, due leases, outbox", `
-- Release.NextDue, NULL when nothing is due. Releases written before
-- version 3 are left NULL: they were written by a relman without
-- scheduled events or approval expiry, so nothing of theirs is due until
-- their next update sets it.
ALTER TABLE {releases} ADD COLUMN due_at timestamptz;
CREATE INDEX relman_releases_due ON {releases} (due_at, id) WHERE due_at IS NOT NULL;
-- A runner's hold on a release (relman.DueStore).
CREATE TABLE {due_leases} (
	release_id text COLLATE "C" PRIMARY KEY REFERENCES {releases} (id),
	owner      text NOT NULL,
	until      timestamptz NOT NULL
);
-- An undelivered notification (relman.Outbox): its entry is the audit row
-- with the same key; at and at_nanos are the entry's time, copied for the
-- order.
CREATE TABLE {outbox} (
	release_id  text COLLATE "C" NOT NULL,
	seq         bigint NOT NULL,
	at          timestamptz NOT NULL,
	at_nanos    int NOT NULL DEFAULT 0,
	next_at     timestamptz NOT NULL,
	attempts    int NOT NULL DEFAULT 0,
	last_error  text NOT NULL DEFAULT '',
	dead        boolean NOT NULL DEFAULT false,
	lease_owner text,
	lease_until timestamptz,
	PRIMARY KEY (release_id, seq),
	FOREIGN KEY (release_id, seq) REFERENCES {audit} (release_id, seq)
);
CREATE INDEX relman_outbox_pending ON {outbox} (at, at_nanos, release_id, seq) WHERE NOT dead;
CREATE INDEX relman_outbox_dead ON {outbox} (at, at_nanos, release_id, seq) WHERE dead;
`},
	{4, "signed audit entries", `
-- relman.WithSigner: an entry's release digest, key id and signature,
-- NULL for entries written without a signer (and all entries written
-- before version 4).
ALTER TABLE {audit} ADD COLUMN doc_digest text, ADD COLUMN key_id text, ADD COLUMN sig text;
`},
	{5, "plan index, feedback records", `
-- The window of a release in one of relman.PlannedStages, NULL for the
-- others; written with the row. Its bounds are whole microseconds around
-- the window (start rounded down, end up), so that they select a
-- superset of the exact overlap, which Overlapping then checks on the
-- document. The GiST index reads the overlapping ranges alone.
--
-- No exclusion constraint (EXCLUDE USING gist (plan WITH &&)): two
-- planned releases may overlap without a conflict (other services and
-- teams, or within the Manager's capacity), so the database cannot tell
-- a double booking from an allowed overlap; the Manager's conflicts gate,
-- under the schedule lock, decides.
ALTER TABLE {releases} ADD COLUMN plan tstzrange;
CREATE INDEX relman_releases_plan ON {releases} USING gist (plan) WHERE plan IS NOT NULL;
-- Backfill: the planned releases of older versions. The document is
-- read, not rewritten (signed ones carry its digest). PostgreSQL rounds
-- times to the microsecond, so the bounds are widened by one.
UPDATE {releases} SET plan = tstzrange(
		(doc->'window'->>'start')::timestamptz - interval '1 microsecond',
		(doc->'window'->>'end')::timestamptz + interval '1 microsecond', '[)')
	WHERE stage = ANY({planned}) AND jsonb_typeof(doc->'window') = 'object';
-- Feedback records (relman.FeedbackStore): doc is the whole
-- relman.Feedback; at, at_nanos and rating are copied for
-- FeedbackRatings, which reads relman_feedback_at alone.
CREATE TABLE {feedback} (
	release_id text COLLATE "C" NOT NULL REFERENCES {releases} (id),
	seq        bigint NOT NULL,
	at         timestamptz NOT NULL,
	at_nanos   int NOT NULL DEFAULT 0, -- nanoseconds below at's microsecond
	rating     int NOT NULL,
	doc        jsonb NOT NULL,
	PRIMARY KEY (release_id, seq)
);
CREATE INDEX relman_feedback_at ON {feedback} (at, at_nanos) INCLUDE (release_id, rating);
`},
}

// SchemaVersion is the newest schema version this package writes (the
// version of the last migration). New refuses a database whose version is
// higher.
const SchemaVersion = 5
