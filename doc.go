// Package relman embeds ITIL-style release management in a Go program.
//
// A Release is a change to an IT product on its way from a proposed need
// to users, and after: the need and its business case, the plan in time
// and its tasks, build, tests and corrections, authorization, deployment
// inside a window, then operation. A Manager moves releases through a
// Lifecycle, a finite-state machine (driven by github.com/looplab/fsm)
// whose events are guarded by gates, and keeps every change in a
// hash-chained audit trail, atomically with the release, in a Store.
//
// # Quick start
//
//	m, err := relman.NewManager(memory.New())
//	r, err := m.Create(ctx, &relman.Release{ID: "inv-2.4", ...}, alice)
//	r, err = m.Fire(ctx, "inv-2.4", relman.EventApprove, relman.Request{Actor: carl})
//	if err := m.Check(ctx, "inv-2.4", relman.EventDeploy, req); err != nil {
//		// not allowed now: err lists every reason
//	}
//
// # Stages and events
//
// DefaultLifecycle is this table (DefaultSpec documents the same):
//
//	event      from                                    to           gates
//	approve    proposed                                approved     business-case
//	reject     proposed                                rejected     reason
//	plan       approved                                planned      window, tasks-owned, task-plan, calendar, conflicts
//	start      planned                                 building
//	submit     building                                testing
//	fail       testing                                 building     failed-test
//	pass       testing                                 verified     tests-passed
//	authorize  verified                                authorized   rollback-plan, approvals (risk assessed, policy met)
//	deploy     authorized                              deploying    in-window, calendar (freeze override for emergencies)
//	complete   deploying                               operating
//	rollback   deploying, operating                    rolled_back  reason
//	close      operating                               closed       review
//	cancel     proposed … authorized (before deploy)   cancelled    reason
//	replan     planned … authorized                    planned      window, task-plan, calendar, conflicts (voids approvals)
//
// Terminal stages: rejected, closed, cancelled, rolled_back.
//
//	proposed ─approve─▶ approved ─plan─▶ planned ─start─▶ building ─submit─▶ testing
//	   └─reject─▶ rejected                ▲                  ▲                 │ │
//	                                      │                  └──────fail───────┘ │pass
//	                       replan (planned … authorized)                         ▼
//	closed ◀─close─ operating ◀─complete─ deploying ◀─deploy─ authorized ◀─authorize─ verified
//	                    └────rollback───────┴──▶ rolled_back
//	(any stage before deploying) ─cancel─▶ cancelled
//
// Lifecycle.Mermaid and Lifecycle.DOT render the diagram of any lifecycle.
// A host builds its own with NewLifecycle, or extends DefaultSpec (add a
// stage, an event, a gate, an effect or a hook) and builds that; every
// problem in a definition (an unknown stage, an unreachable one, a
// duplicate event, a gate or hook on an unknown event) is reported when it
// is built, never ignored.
//
// # Gates and hooks
//
// A Gate decides whether an event may fire. Fire runs, in order: the
// Authorizer, the event's effects on a copy of the release, every gate —
// all of them, their refusals collected in one *GateError — then the
// before-hooks (which may veto), the state machine step, one atomic store
// update carrying the audit entry, and last the after-hooks and stage
// observers, which only observe. Check is the same run without the
// before-hooks and without writing: the call a CI pipeline makes before it
// deploys. A gate may answer "not yet" (*NotYetError, with the time the
// refusal lifts) rather than "no"; GateError.NotYet tells them apart.
//
// # Risk and approvals
//
// Each release carries a risk register (Risk: likelihood × impact on a
// Matrix, default 5×5, with mitigation, owner, status and residual
// values). Manager.Assess runs the assessors — the register and a factor
// model (services touched and those that depend on them, change size,
// emergency kind, missing rollback plan or test evidence, a window in peak
// hours, the recent failure rate of the same services) — and stores an
// Assessment: the highest level, with every reason, so a person can see
// why a release is high risk. An ApprovalPolicy maps change model × level
// to the approvals needed (a count, or a percentage of a group, with
// excluded roles; self-approval is refused unless the policy allows it).
// Manager.Approve and RejectApproval record decisions; the authorize gate
// names exactly which approvals are still missing. Changing a release's
// services, version, change model, window or risks after approval voids the approvals,
// and the voiding is audited. Standard changes skip approvals while their
// risk is low; emergency changes go to the emergency board.
//
// # Calendar
//
// A Window is a maintenance window (deploys allowed) or a freeze (deploys
// forbidden), one-off or recurring (an RFC 5545 RRULE with RDATEs, EXDATEs
// and overrides of single occurrences), in its own IANA time zone, for some
// services or all. Recurrence is expanded in local wall-clock time by
// package ical, so a 22:00 Paris window stays at 22:00 across DST changes
// (Window.Recurrence returns its ical.Set). Calendar.Allowed lists
// every reason a span is refused (*FreezeError, *OutsideMaintenanceError
// in a *CalendarError; errors.Is(err, ErrFreeze)); NextSlot finds the
// earliest allowed slot among planned releases and a capacity, and
// Manager.NextSlotFor the one a release can book (clear of its services
// and of its teams' other bookings, as the conflicts gate judges);
// FindConflicts sweeps planned releases for same-service, dependent-service,
// team, capacity, freeze and maintenance conflicts; PlanTasks computes a
// task schedule, its critical path and the load per team. The plan,
// replan and deploy gates consult the Manager's calendar (WithWindows, and
// windows persisted by a Store that is a WindowStore); an emergency
// release may override a freeze with the freeze-override role and a
// reason, and the override is audited. ExportICS and ImportICS exchange
// windows and the forward schedule as iCalendar; they map windows to and
// from package ical, which reads what Google Calendar, Outlook, Apple
// Calendar and Thunderbird write (Windows zone names, VTIMEZONE-defined
// zones, moved and cancelled occurrences).
//
// # Operation
//
// After deployment a release collects user feedback (AddFeedback), the
// incidents it caused or is linked to (OpenIncident, ResolveIncident) and
// its post-implementation review (RecordReview), which the close gate
// requires. SuccessScore rates one release; Measure and Manager.Metrics
// compute delivery metrics over a period, per service and per team, from
// any Store: deployment frequency, lead time, change failure rate, time to
// restore and mean user rating. SlogHook and MetricsHook feed a host's
// logging and monitoring from every transition.
//
// # Acting on time: scheduled events, approval expiry, notifications
//
// Schedule records an event that the runner (package runner) fires later
// on a release, as the actor who scheduled it and through every gate: at
// a time (TimingAt), when the release's window opens (TimingWindow, the
// time a "not yet" refusal names), or as soon as its gates allow
// (TimingASAP), each with an optional expiry after which it is abandoned.
// A "not yet" refusal defers it to the time the refusal names; a "no"
// fails it once, with every reason. Scheduling, cancelling
// (CancelScheduled), firing, deferral, expiry and failure are audit
// entries. A scheduled event lives in the release and is marked fired in
// the same revision-checked update that fires it, so it fires at most
// once however many runners share the store. Scheduled and Upcoming list
// them.
//
// ApprovalPolicy.Validity (and Rule.Validity) make approvals expire: an
// expired approval stops counting, the authorize gate names it
// (ErrApprovalExpired), and the runner voids it with an audit entry.
//
// RunDue does whatever is due on one release: the runner calls it for
// every release its store's due index (DueStore) names. Stores that
// implement Outbox write a Notification for every audit entry in the
// same transaction as the change; the runner delivers them at least once,
// in order per release, to a sink (runner.Webhook signs them). After-hooks
// stay the tool for in-process observers; the outbox is the one for
// anything outside the process that must hear of every change.
//
// # Environments and rollouts
//
// WithEnvironments declares the ordered environments a release rolls out
// to (test, staging, production): the required ones before an
// environment must have succeeded first, MinBeforeProduction of them
// before production (*PromotionError otherwise), and an environment may
// ask for approvals of its own (ApproveEnvironment). Windows scoped to
// environments (Window.Environments) apply to rollout steps there only.
//
// Once a release is deploying, StartRollout starts its rollout to one
// environment under a RolloutPlan: steps of growing exposure (5 % → 25 %
// → 100 %, or rings of targets, or a manual approval), each performed by
// the host's Deployer and then verified by Probes for its bake time. A
// Verification measures every Interval; a round fails when a check's
// value breaks its threshold and is inconclusive when a probe errs or
// hangs past its timeout (never a pass). Too many failed rounds fail the
// step, too many inconclusive ones make it inconclusive. Then, by the
// plan's policy, the environment is rolled back (the Deployer rolls
// back and the rollback event fires, with the measurements as its reason)
// or the rollout pauses for an authorized actor (RolloutAction: retry,
// skip, abort; resume after a manual step). The last step in production
// completes the release; a Watch period keeps the probes running in
// operation, and a breach opens an incident caused by the release (and
// rolls it back if WatchRollback). Every step, verdict and the
// measurements behind it are audit entries (action rollout). Progress
// lives in the release (Release.Rollout, Release.Deployments), so a
// runner that dies mid-rollout is taken over where it stopped, and a step
// whose deploy was recorded is never deployed again.
//
// # Errors
//
// Conditions callers branch on are sentinels, found with errors.Is:
// ErrNotFound, ErrExists, ErrConflict, ErrInvalid, ErrInvalidTransition,
// ErrForbidden, ErrVetoed, ErrNotYet, ErrCorruptHistory, ErrUnavailable,
// ErrScheduleDone, ErrPromotion, ErrRolloutState, and one per built-in
// gate (ErrNoRollbackPlan, ErrTestsNotPassed, …). Details come in typed
// errors, found with errors.As: *ValidationError (every failing field by
// its JSON name and rule), *TransitionError, *GateError (whose Unwrap
// returns every refusal, so errors.Is finds one among many), *VetoError,
// *ForbiddenError, *HistoryError, *PromotionError,
// *ApprovalsMissingError and *LifecycleError.
//
// Classify puts any error relman returns into one of a few classes
// (ErrorClass: invalid, not found, conflict, refused, not yet, forbidden,
// unavailable, internal), for code that answers many errors the same
// way: httpapi chooses its status codes from it, releasectl its exit
// codes. Every exported sentinel has a class, checked by a test.
//
// # Concurrency
//
// A Manager is safe for concurrent use, and several Managers (in several
// processes) may share a Store. Writes are optimistic: each carries the
// revision it read and the store refuses a stale one with ErrConflict;
// Fire and Edit then start over from a fresh read, gates included (see
// WithRetries). No update is lost. A cancelled context returns promptly
// and writes nothing. looplab/fsm instances are never shared between
// goroutines, never see a cancellable context and carry no callbacks, so
// its known defects (a wedged instance after a cancelled context,
// deadlocks when a callback fires an event, races in enter callbacks)
// cannot reach a host.
//
// # Audit
//
// Every accepted change appends an AuditEntry (who, when, action, event,
// from, to, reason, details), atomically with the release update.
// Entries are hash-chained; VerifyHistory and Manager.Verify detect an
// edited, removed, inserted or reordered entry and name where (a
// *HistoryError with its Fault).
//
// Without a key, that is all the chain is: plain SHA-256 that anyone can
// recompute (Release.Record does). It detects accidents and careless
// edits. It does not detect a database owner who rewrites an entry and
// reseals every hash after it and the release's head, who deletes the
// last entries and moves the head back, or who edits the release row
// itself (its stage, an injected approval), which the chain does not
// cover.
//
// With a key (WithSigner, an Ed25519 Signer with a key id), the Manager
// also signs every write: each entry carries the digest of the release
// document as that write saved it (DocDigest), the key id and a
// signature over its hash, the digest and the key id; the release's head
// carries the same for the last entry. Verification needs the public key
// only (Keyring; several ids for key rotation): Manager.Verify (with
// WithSigner or WithKeyring) and VerifySigned then detect and name a
// resealed entry (FaultResealed), a head moved back after entries were
// deleted from the end (FaultHead), a removed signature or a write
// made without the key (FaultUnsigned), a foreign key (FaultUnknownKey)
// and an edited release row (FaultDocument). Entries written before
// signing was turned on stay unsigned; the first signed write covers
// them, since its hash chains over them. A release that was never
// written with the key does not verify with one.
//
// One thing a signed trail cannot see on its own: deleting the last
// entries and putting back the release row exactly as an earlier signed
// write left it (from a backup). Checkpoints close that gap:
// Manager.Checkpoint signs the heads of some or all releases (with a
// Merkle root over them), and the host keeps it where the database's
// owner cannot write; Manager.VerifyCheckpoint then finds any history
// shorter than the checkpoint (FaultTruncated) or different up to it
// (FaultForked). Truncation after the last checkpoint stays invisible,
// so take them as often as that window matters.
//
// Verification reads through the store. A store that caches releases by
// revision (store/sqlite does) serves a row edited without a new revision
// from its cache until the release is next written: audit from a fresh
// store handle (or, for store/sqlite, one with its cache off).
//
// ExportBundle writes a release, its history and optionally a checkpoint
// as one JSON bundle; VerifyBundle checks it offline with the public keys
// (releasectl: audit export, audit verify). Signing costs one document
// digest and one Ed25519 signature per write (about 40 µs; a few percent
// of a durable SQLite transition).
//
// # Choosing a store
//
// store/memory keeps everything in the process (tests, demos).
// store/sqlite, a module of its own, keeps one file on disk (WAL, busy
// timeout, versioned migrations, safe for several processes, survives a
// killed writer) and is the embedded default. store/postgres, a module of
// its own, lets many host instances share one database, with change
// notifications across instances. Importing this package pulls in neither
// database driver. store/storetest is the conformance suite they all pass.
//
// Beside the Store contract, a store may have optional abilities, which
// the Manager and the runner find with a type assertion:
//
//	Scanner       visits every release matching a query (metrics, the planned set)
//	WindowStore   persists calendar windows (PutWindow, ImportWindows)
//	Locker        a lock across processes (the schedule lock of plan and replan)
//	DueStore      an index of what falls due, with leases (the runner needs it)
//	Outbox        notifications written with every change (runner sinks)
//	PlanIndex     planned releases by window, service and team, from an index
//	              (booking, NextSlot, Conflicts and the iCalendar export)
//	FeedbackStore user feedback as records of its own, the release keeping
//	              the aggregate (FeedbackSummary)
//	Sharer        immutable values lent and kept without copies (Fire, Check)
//
// List pages either with Query.Offset or, at the same cost on every
// page, with a cursor (Query.After, made by Query.Cursor).
//
// memory, sqlite and postgres have all of them; storetest.Run checks each
// one a store has.
package relman
