// Releasectl is a command-line tool over the relman library: it creates
// releases, moves them through the lifecycle, asks whether an event could
// fire (a dry run a CI pipeline can gate its deploy on), keeps the risk
// register, the approvals and the calendar of maintenance windows and
// freezes, finds conflicts and free slots, measures delivery, and shows
// and verifies the audit history. It is also a model for teams that wrap
// relman in their own tools: every command is a few calls on a
// relman.Manager.
//
// Usage:
//
//	releasectl <command> [flags] [arguments]
//
// Commands:
//
//	create      create a release from flags or a JSON file (-f FILE, - for stdin)
//	edit        change a release's data (business case, tasks, rollback plan, …)
//	list        list releases, filtered by stage, service, team or kind
//	show        show one release and the events it may take next
//	fire        fire an event on a release (approve, plan, start, …)
//	check       dry run: could the event fire now? exit 0 yes, 1 no (with every reason)
//	test        record a test result (the evidence the fail and pass gates read)
//	review      record the post-implementation review (the close gate reads it)
//	risk        keep the risk register; assess the risk level, with the reasons
//	approve     record an approval (what the authorize gate counts)
//	reject      record an approver's rejection (blocks authorize until replanned)
//	window      keep the calendar's maintenance windows and freezes (RRULE, time zone)
//	calendar    the forward schedule of change; --ics exports it, import reads windows
//	conflicts   scheduling conflicts among planned releases
//	slot        the earliest slot the calendar and the planned releases allow
//	feedback    record user feedback on a release in operation
//	incident    link an incident to a release, or mark it resolved
//	metrics     delivery metrics: deployments, change failure rate, lead time, time to restore
//	history     show the hash-chained audit trail; --verify checks it
//	audit       the signed audit trail: keygen, export a bundle, checkpoint, verify a bundle offline
//	lifecycle   show the stages, events and gates (table, Mermaid or DOT)
//	demo        walk a realistic release from need to closed, saying what happens
//	help        show help for a command
//
// Every command takes --help, and these common flags:
//
//	--store   where releases are kept (env RELMAN_STORE; default "sqlite")
//	--actor   who acts (env RELMAN_ACTOR, then USER)
//	--now     pretend it is this instant (RFC 3339) for every time check
//	-o        output: "text" (aligned tables, for people) or "json" (for programs)
//
// # Stores
//
// --store (or RELMAN_STORE) takes a store name, optionally followed by a
// colon and a location:
//
//	sqlite                       the default: one SQLite file at
//	                             $XDG_DATA_HOME/relman/relman.db (or ~/.local/share/relman/relman.db)
//	sqlite:PATH                  a SQLite file of your choice, created if missing;
//	                             several processes on one machine may share it
//	postgres://user@host/db      a PostgreSQL database, for many hosts sharing one set of releases
//	memory                       in-process: keeps nothing between runs (tests, trying things)
//
// Every store keeps calendar windows too. Adding a backend is one entry in
// stores.New (examples/internal/stores), which calendarpage shares.
//
// # Signed audit
//
// With RELMAN_SIGNING_KEY naming a file that holds an Ed25519 private key
// (PEM "PRIVATE KEY" with an optional "Key-Id" header, as 'releasectl
// audit keygen FILE' writes it, or the base64 of the 32-byte seed;
// RELMAN_SIGNING_KEY_ID overrides the key id), every command signs what
// it writes. 'releasectl audit export <id> > bundle.json' writes a
// release and its history as a bundle that 'releasectl audit verify
// bundle.json --pubkey FILE.pub' checks anywhere, offline, with the
// public key only: exit 0 verified, 1 tampered (the fault is named), 2
// bad input. 'releasectl audit checkpoint' writes a signed checkpoint of
// every release's head, to keep where the database's owner cannot write;
// 'audit export --checkpoint FILE' puts it in the bundle, and a history
// shorter than it no longer verifies.
//
// # Exit codes
//
//	0  success
//	1  refused: a gate or rule said no (check failed, event not allowed
//	   from the stage, unknown release, id taken, history does not verify)
//	2  usage: unknown command, bad flag, missing argument, malformed JSON,
//	   invalid field values
//	3  storage: the store could not be opened or failed
//
// Errors are reported as one line on standard error. Long work (metrics
// over many releases, importing a large .ics file) shows its progress on
// standard error when that is a terminal; demo numbers its steps.
//
// # Examples
//
//	releasectl demo
//	releasectl create --id pay-1.2.0 --title "Card payments" --version 1.2.0 --service payments
//	releasectl check pay-1.2.0 deploy || echo "not deploying: see above"
//	releasectl fire pay-1.2.0 plan --window 2026-03-03T22:00:00Z/2026-03-04T00:00:00Z
//	releasectl window add weekend --name "Weekend maintenance" --kind maintenance --tz Europe/Berlin \
//	    --start "2026-03-07 22:00" --end "2026-03-08 04:00" --rrule "FREQ=WEEKLY;BYDAY=SA"
//	releasectl slot --release pay-1.2.0 --duration 2h
//	releasectl history pay-1.2.0 --verify -o json
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	if isTerminal(os.Stderr) {
		a.progress = os.Stderr
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
