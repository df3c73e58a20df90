package sqlite

import "github.com/relman-dev/relman"

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
