package sqlite

import (
	"path/filepath"
	"time"

	"github.com/relman-dev/relman"
)

// OpenAt opens path like Open, but migrates it only up to version v, as
// the version of this package that wrote schema v would have left it.
func OpenAt(path string, opts Options, v int) (*Store, error) {
	return open(path, opts, v)
}

// The queries of ClaimDue, DueBefore and ClaimNotifications, for their
// query plans.
var (
	ClaimDueSQL   = claimDueSQL
	DueBeforeSQL  = dueBeforeSQL
	ClaimNotesSQL = claimNotesSQL
)

// The queries of Overlapping and List, with their parameters, for their
// query plans.
var (
	OverlapQuery = overlapQuery
	ListQuery    = listQuery
)

// ScanQuery returns the query of a batch of Scan and its parameters.
func ScanQuery(q relman.Query) (string, []any) {
	query, args, _ := scanQuery(q)
	return query, args
}

// FireSQL returns the statements of a transition fired on the store:
// Get's read (on the read handle) and, in Update's transaction on the
// write handle, the revision-checked update of what a transition changes
// and the audit insert.
func (s *Store) FireSQL() (get, update, audit string) {
	for _, p := range s.statements() {
		switch p.dst {
		case &s.getStmt:
			get = p.q
		case &s.updateStmt:
			update = p.q
		case &s.insertAudit:
			audit = p.q
		}
	}
	return get, update, audit
}

// DSNs returns the data source names of the write and read handles that
// Open, with opts, opens on the file at path.
func DSNs(path string, opts Options) (write, read string) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return dsns(abs, opts)
}
