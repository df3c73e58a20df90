package sqlite

import (
	"context"
	"database/sql"
)

// applicationID marks a SQLite file as a relman database (PRAGMA
// application_id, "rlmn"), so that Open can tell it from other programs'
// databases.
const applicationID = 0x726c6d6e

// migration is one step of the schema. Versions are 1, 2, 3 …; the file's
// PRAGMA user_version is the last one applied.
type migration struct {
	version int
	name    string
	sql     string
	// fill, if set, runs after sql in the same transaction: a backfill
	// that needs Go (decoding the release documents).
	fill func(ctx context.Context, tx *sql.Tx) error
}

// migrations is the schema history. Append only: never edit a migration
// that has shipped.
var migrations = []migration{
	{1, "releases, audit trail, service and team index", `
CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
);
CREATE TABLE releases (
	id         TEXT PRIMARY KEY NOT NULL,
	revision   INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_at TEXT NOT NULL, -- UTC, fixed width, sorts as text
	updated_at TEXT NOT NULL,
	tags       TEXT NOT NULL, -- canonical services and teams, to detect a change
	doc        TEXT NOT NULL  -- the release as JSON
);
CREATE INDEX releases_stage ON releases (stage);
CREATE INDEX releases_kind ON releases (kind);
CREATE INDEX releases_created ON releases (created_at, id);
CREATE INDEX releases_updated ON releases (updated_at, id);
-- tag 's': a service the release touches; 't': a team in Teams or owning a task.
CREATE TABLE release_tags (
	tag        TEXT NOT NULL,
	value      TEXT NOT NULL,
	release_id TEXT NOT NULL REFERENCES releases (id),
	PRIMARY KEY (tag, value, release_id)
) WITHOUT ROWID;
CREATE INDEX release_tags_release ON release_tags (release_id);
CREATE TABLE audit (
	release_id TEXT NOT NULL REFERENCES releases (id),
	seq        INTEGER NOT NULL,
	at         TEXT NOT NULL,
	actor      TEXT NOT NULL,
	action     TEXT NOT NULL,
	event      TEXT NOT NULL,
	from_stage TEXT NOT NULL,
	to_stage   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	details    TEXT, -- JSON object, NULL for none
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL,
	PRIMARY KEY (release_id, seq)
);
`, nil},
	{2, "calendar windows", `
CREATE TABLE windows (
	id   TEXT PRIMARY KEY NOT NULL, -- BINARY collation: sorts bytewise, as release ids
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	doc  TEXT NOT NULL -- the window as JSON
);
`, nil},
	{3, "due index, due leases, outbox", `
-- Release.NextDue in UTC (fixed width, as the other times), NULL when
-- nothing is due. Releases written before version 3 are left NULL: they
-- were written by a relman without scheduled events or approval expiry,
-- so nothing of theirs is due until their next update sets it.
ALTER TABLE releases ADD COLUMN due_at TEXT;
CREATE INDEX releases_due ON releases (due_at, id) WHERE due_at IS NOT NULL;
-- A runner's hold on a release (relman.DueStore).
CREATE TABLE due_leases (
	release_id TEXT PRIMARY KEY NOT NULL REFERENCES releases (id),
	owner      TEXT NOT NULL,
	until      TEXT NOT NULL
) WITHOUT ROWID;
-- An undelivered notification (relman.Outbox): its entry is the audit row
-- with the same key; at is the entry's time, copied for the order.
CREATE TABLE outbox (
	release_id  TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	at          TEXT NOT NULL,
	next_at     TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	dead        INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT,
	lease_until TEXT,
	PRIMARY KEY (release_id, seq),
	FOREIGN KEY (release_id, seq) REFERENCES audit (release_id, seq)
) WITHOUT ROWID;
CREATE INDEX outbox_pending ON outbox (at, release_id, seq) WHERE dead = 0;
CREATE INDEX outbox_dead ON outbox (at, release_id, seq) WHERE dead = 1;
`, nil},
	{4, "signed audit entries", `
-- relman.WithSigner: an entry's release digest, key id and signature,
-- NULL for entries written without a signer (and all entries written
-- before version 4).
ALTER TABLE audit ADD COLUMN doc_digest TEXT;
ALTER TABLE audit ADD COLUMN key_id TEXT;
ALTER TABLE audit ADD COLUMN sig TEXT;
`, nil},
	{5, "plan index, feedback records", `
-- The window of a release in one of relman.PlannedStages, in whole Unix
-- seconds (start rounded down, end rounded up, so that they select a
-- superset of the exact overlap, which Overlapping then checks on the
-- document); NULL for the others. Written with the row.
ALTER TABLE releases ADD COLUMN plan_start INTEGER;
ALTER TABLE releases ADD COLUMN plan_end INTEGER;
-- Overlapping reads the windows starting in [from - longest, to): the
-- longest window comes from releases_plan_len, in one step.
CREATE INDEX releases_plan ON releases (plan_start, plan_end) WHERE plan_start IS NOT NULL;
CREATE INDEX releases_plan_len ON releases (plan_end - plan_start) WHERE plan_start IS NOT NULL;
-- The same windows by service, for Overlapping with services: one row
-- per service of a planned release.
CREATE TABLE plan_services (
	service    TEXT NOT NULL,
	plan_start INTEGER NOT NULL,
	release_id TEXT NOT NULL REFERENCES releases (id),
	plan_end   INTEGER NOT NULL,
	PRIMARY KEY (service, plan_start, release_id)
) WITHOUT ROWID;
-- Feedback records (relman.FeedbackStore). doc is the whole
-- relman.Feedback as JSON; at (UTC, fixed width) and rating are copied
-- for FeedbackRatings, which reads feedback_at alone.
CREATE TABLE feedback (
	release_id TEXT NOT NULL REFERENCES releases (id),
	seq        INTEGER NOT NULL,
	at         TEXT NOT NULL,
	rating     INTEGER NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (release_id, seq)
);
CREATE INDEX feedback_at ON feedback (at, release_id, rating);
`, fillPlan},
	{6, "plan index by team", `
-- The windows of plan_services by team, for Overlapping with teams: one
-- row per team of a planned release (its Teams and the teams owning its
-- tasks, the second list of the tags key), written and deleted with the
-- plan_services rows.
CREATE TABLE plan_teams (
	team       TEXT NOT NULL,
	plan_start INTEGER NOT NULL,
	release_id TEXT NOT NULL REFERENCES releases (id),
	plan_end   INTEGER NOT NULL,
	PRIMARY KEY (team, plan_start, release_id)
) WITHOUT ROWID;
-- Backfill: the planned releases, from the plan columns (filled by
-- migration 5, in this transaction if the file is older) and the tags
-- key. Documents are not read.
INSERT INTO plan_teams (team, plan_start, release_id, plan_end)
	SELECT DISTINCT t.value, r.plan_start, r.id, r.plan_end
	FROM releases AS r, json_each(r.tags, '$[1]') AS t
	WHERE r.plan_start IS NOT NULL AND t.type = 'text';
`, nil},
}

// SchemaVersion is the newest schema version this package writes (the
// version of the last migration). Open refuses a file whose version is
// higher.
const SchemaVersion = 6
