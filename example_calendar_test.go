package relman_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/ical"
	"github.com/relman-dev/relman/store/memory"
)

// A weekly maintenance window, Sunday 22:00–02:00 in Paris: it stays at
// 22:00 local time across the change to summer time on 29 March 2026, so
// it opens an hour earlier in UTC.
func ExampleCalendar_Allowed_weeklyMaintenance() {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println(err)
		return
	}
	cal, err := relman.NewCalendar(relman.Window{
		ID: "sunday-night", Name: "Sunday night", Kind: relman.WindowMaintenance,
		TimeZone: "Europe/Paris",
		Start:    time.Date(2026, 3, 22, 22, 0, 0, 0, paris),
		End:      time.Date(2026, 3, 23, 2, 0, 0, 0, paris),
		RRule:    "FREQ=WEEKLY;BYDAY=SU",
		Services: []string{"billing"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	month := relman.Span{Start: time.Date(2026, 3, 20, 0, 0, 0, 0, paris), End: time.Date(2026, 4, 10, 0, 0, 0, 0, paris)}
	for _, o := range cal.Occurrences(month, []string{"billing"}) {
		fmt.Println(o.Span.Start.Format("Mon 02 Jan 15:04 MST"), "=", o.Span.Start.UTC().Format("15:04 UTC"))
	}
	// 21:00 on the 29th is outside the window; errors.Is finds the reason.
	early := time.Date(2026, 3, 29, 21, 0, 0, 0, paris)
	err = cal.Allowed(relman.Span{Start: early, End: early.Add(2 * time.Hour)}, []string{"billing"})
	fmt.Println(errors.Is(err, relman.ErrOutsideMaintenance))
	var om *relman.OutsideMaintenanceError
	if errors.As(err, &om) {
		fmt.Println("next opens", om.Next.Format("Mon 02 Jan 15:04 MST"))
	}
	// Output:
	// Sun 22 Mar 22:00 CET = 21:00 UTC
	// Sun 29 Mar 22:00 CEST = 20:00 UTC
	// Sun 05 Apr 22:00 CEST = 20:00 UTC
	// true
	// next opens Sun 29 Mar 22:00 CEST
}

// A year-end freeze refuses the deployment of an emergency fix; an
// override with the freeze-override role and a reason lets it through,
// and the audit trail records it.
func Example_freezeOverride() {
	ctx := context.Background()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 22, 10, 0, 0, 0, paris)
	freeze := relman.Window{
		ID: "year-end", Name: "Year-end freeze", Kind: relman.WindowFreeze, Reason: "closing the books",
		TimeZone: "Europe/Paris",
		Start:    time.Date(2026, 12, 18, 0, 0, 0, 0, paris),
		End:      time.Date(2027, 1, 4, 0, 0, 0, 0, paris),
		RRule:    "FREQ=YEARLY",
	}
	m, err := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return now }), relman.WithWindows(freeze))
	if err != nil {
		fmt.Println(err)
		return
	}
	olga := relman.Actor{ID: "olga"}
	_, err = m.Create(ctx, &relman.Release{
		ID: "fix-1", Title: "Stop double invoices", Version: "2.4.1",
		Kind: relman.KindEmergency, Model: relman.ModelEmergency, Requester: "rita", Owner: "olga",
		Services: []string{"invoices"},
		Case: relman.BusinessCase{Problem: "customers billed twice", ExpectedValue: 90000,
			Cost: 2000, Feasibility: relman.FeasibilityHigh},
		RollbackPlan: "redeploy 2.4.0",
	}, olga)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Fire(ctx, "fix-1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		fmt.Println(err)
		return
	}
	window := relman.Span{Start: now, End: now.Add(2 * time.Hour)}

	// Planning inside the freeze is refused, with the freeze named.
	_, err = m.Fire(ctx, "fix-1", relman.EventPlan, relman.Request{Actor: olga, Window: &window})
	fmt.Println("freeze:", errors.Is(err, relman.ErrFreeze))
	var fe *relman.FreezeError
	if errors.As(err, &fe) {
		fmt.Println(fe.Name+":", fe.Reason)
	}
	// Asking for an override without the role is refused too.
	override := map[string]string{relman.ParamOverride: relman.OverrideFreeze}
	_, err = m.Fire(ctx, "fix-1", relman.EventPlan, relman.Request{Actor: olga, Window: &window, Params: override, Reason: "customers billed twice"})
	fmt.Println("override refused:", errors.Is(err, relman.ErrOverrideRefused))

	// The duty manager holds the role: plan and, later, deploy go through.
	duty := relman.Actor{ID: "dora", Roles: []string{relman.RoleFreezeOverride}}
	req := relman.Request{Actor: duty, Window: &window, Params: override, Reason: "customers billed twice"}
	if _, err := m.Fire(ctx, "fix-1", relman.EventPlan, req); err != nil {
		fmt.Println(err)
		return
	}
	// Build, test, assess and approve it.
	fire := func(ev relman.Event) error {
		_, err := m.Fire(ctx, "fix-1", ev, relman.Request{Actor: olga})
		return err
	}
	if err := fire(relman.EventStart); err != nil {
		fmt.Println(err)
		return
	}
	if err := fire(relman.EventSubmit); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.RecordTest(ctx, "fix-1", olga, relman.TestResult{Suite: "unit", Passed: true}); err != nil {
		fmt.Println(err)
		return
	}
	if err := fire(relman.EventPass); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Assess(ctx, "fix-1", olga); err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"eve", "ed"} {
		ecab := relman.Actor{ID: id, Roles: []string{relman.RoleECAB}}
		if _, err := m.Approve(ctx, "fix-1", ecab, relman.RoleECAB, "go"); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := fire(relman.EventAuthorize); err != nil {
		fmt.Println(err)
		return
	}
	_, err = m.Fire(ctx, "fix-1", relman.EventDeploy, relman.Request{Actor: olga})
	fmt.Println("deploy without override:", errors.Is(err, relman.ErrFreeze))
	req.Window = nil
	r, err := m.Fire(ctx, "fix-1", relman.EventDeploy, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stage:", r.Stage)
	h, err := m.History(ctx, "fix-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The transition's entry, then the override's own entry.
	tr, ov := h[len(h)-2], h[len(h)-1]
	fmt.Printf("audit: %s by %s, override=%s: %s\n", tr.Event, tr.Actor, tr.Details["override"], tr.Details["override_reason"])
	fmt.Printf("audit: %s of %s by %s: %s\n", ov.Action, ov.Details["override"], ov.Actor, ov.Reason)
	// Output:
	// freeze: true
	// Year-end freeze: closing the books
	// override refused: true
	// deploy without override: true
	// stage: deploying
	// audit: deploy by dora, override=freeze: customers billed twice
	// audit: override of freeze by dora: customers billed twice
}

// NextSlot finds the earliest allowed start: here after another release
// that already holds the start of the Sunday window on the same service.
func ExampleCalendar_NextSlot() {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println(err)
		return
	}
	cal, err := relman.NewCalendar(relman.Window{
		ID: "sunday-night", Name: "Sunday night", Kind: relman.WindowMaintenance, TimeZone: "Europe/Paris",
		Start: time.Date(2026, 3, 1, 22, 0, 0, 0, paris), End: time.Date(2026, 3, 2, 2, 0, 0, 0, paris),
		RRule: "FREQ=WEEKLY;BYDAY=SU",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	other := &relman.Release{ID: "search-7", Services: []string{"search"}, Stage: relman.StagePlanned,
		Window: &relman.Span{Start: time.Date(2026, 5, 10, 22, 0, 0, 0, paris), End: time.Date(2026, 5, 11, 0, 0, 0, 0, paris)}}
	after := time.Date(2026, 5, 6, 9, 0, 0, 0, paris)
	slot, err := cal.NextSlot(after, 90*time.Minute, []string{"search"}, relman.SlotOptions{Planned: []*relman.Release{other}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(slot.Start.In(paris).Format("Mon 02 Jan 15:04"), "–", slot.End.In(paris).Format("15:04"))
	// Three hours do not fit before 02:00: the next Sunday.
	slot, err = cal.NextSlot(after, 3*time.Hour, []string{"search"}, relman.SlotOptions{Planned: []*relman.Release{other}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(slot.Start.In(paris).Format("Mon 02 Jan 15:04"), "–", slot.End.In(paris).Format("15:04"))
	// Output:
	// Mon 11 May 00:00 – 01:30
	// Sun 17 May 22:00 – 01:00
}

// NextSlotFor finds where a release can be planned: clear of the
// releases on its services and of those its teams are booked on, as the
// conflicts gate of plan judges. NextSlot, asked for the services alone,
// proposes a window that team is busy in.
func ExampleManager_NextSlotFor() {
	ctx := context.Background()
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	m, err := relman.NewManager(memory.New(), relman.WithClock(func() time.Time { return now }))
	if err != nil {
		fmt.Println(err)
		return
	}
	carl := relman.Actor{ID: "carl", Roles: []string{relman.RoleCAB}}
	add := func(id, service string, window *relman.Span) error {
		r := &relman.Release{ID: id, Title: id, Version: "1.0.0", Kind: relman.KindMinor, Model: relman.ModelNormal,
			Requester: "rita", Owner: "olga", Teams: []string{"payments"}, Services: []string{service},
			Case: relman.BusinessCase{Problem: "slow", ExpectedValue: 10, Cost: 1, Feasibility: relman.FeasibilityHigh}}
		if _, err := m.Create(ctx, r, relman.Actor{ID: "olga"}); err != nil {
			return err
		}
		if _, err := m.Fire(ctx, id, relman.EventApprove, relman.Request{Actor: carl}); err != nil {
			return err
		}
		if window == nil {
			return nil
		}
		_, err := m.Fire(ctx, id, relman.EventPlan, relman.Request{Actor: carl, Window: window})
		return err
	}
	tomorrow := time.Date(2026, 5, 5, 20, 0, 0, 0, time.UTC)
	if err := add("cards-3", "cards", &relman.Span{Start: tomorrow, End: tomorrow.Add(2 * time.Hour)}); err != nil {
		fmt.Println(err)
		return
	}
	if err := add("wallet-9", "wallet", nil); err != nil {
		fmt.Println(err)
		return
	}
	byService, err := m.NextSlot(ctx, tomorrow, time.Hour, []string{"wallet"}, "wallet-9", 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	slot, err := m.NextSlotFor(ctx, "wallet-9", tomorrow, time.Hour, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wallet alone:   ", byService.Start.Format("Jan 02 15:04"))
	fmt.Println("wallet-9's slot:", slot.Start.Format("Jan 02 15:04"))
	_, err = m.Fire(ctx, "wallet-9", relman.EventPlan, relman.Request{Actor: carl, Window: &byService})
	fmt.Println("plan at the first:", errors.Is(err, relman.ErrSchedulingConflict))
	_, err = m.Fire(ctx, "wallet-9", relman.EventPlan, relman.Request{Actor: carl, Window: &slot})
	fmt.Println("plan at the second:", err)
	// Output:
	// wallet alone:    May 05 20:00
	// wallet-9's slot: May 05 22:00
	// plan at the first: true
	// plan at the second: <nil>
}

// FindConflicts lists every conflict among planned releases, not the
// first: two releases on one service, a change to a service another
// depends on, a team booked twice and a deployment inside a freeze.
func ExampleFindConflicts() {
	at := func(h, m int) time.Time { return time.Date(2026, 6, 7, h, m, 0, 0, time.UTC) }
	rel := func(id string, from, to time.Time, teams []string, services ...string) *relman.Release {
		return &relman.Release{ID: id, Services: services, Teams: teams, Stage: relman.StagePlanned,
			Window: &relman.Span{Start: from, End: to}}
	}
	releases := []*relman.Release{
		rel("billing-3.1", at(20, 0), at(22, 0), []string{"payments"}, "billing"),
		rel("billing-hotfix", at(21, 0), at(21, 30), []string{"sre"}, "billing"),
		rel("invoices-2.5", at(21, 15), at(23, 0), []string{"payments"}, "invoices"),
		rel("mail-9", at(23, 0), at(23, 45), nil, "mail"),
	}
	freeze, err := relman.NewCalendar(relman.Window{ID: "vote", Name: "Election night", Kind: relman.WindowFreeze,
		TimeZone: "UTC", Start: at(22, 30), End: at(23, 59), Services: []string{"mail"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	graph := relman.NewDependencyGraph(map[string][]string{"invoices": {"billing"}})
	for _, c := range relman.FindConflicts(releases, relman.ConflictOptions{Graph: graph, Calendar: freeze}) {
		fmt.Println(c)
	}
	// Output:
	// same-service 2026-06-07T21:00Z – 2026-06-07T21:30Z [billing-3.1, billing-hotfix]: both deploy billing
	// dependent-service 2026-06-07T21:15Z – 2026-06-07T22:00Z [billing-3.1, invoices-2.5]: invoices-2.5 deploys invoices while billing-3.1 changes a service invoices depends on
	// dependent-service 2026-06-07T21:15Z – 2026-06-07T21:30Z [billing-hotfix, invoices-2.5]: invoices-2.5 deploys invoices while billing-hotfix changes a service invoices depends on
	// team 2026-06-07T21:15Z – 2026-06-07T22:00Z [billing-3.1, invoices-2.5]: team payments is booked by both
	// freeze 2026-06-07T23:00Z – 2026-06-07T23:45Z [mail-9]: inside freeze "Election night" (2026-06-07T22:30:00Z – 2026-06-07T23:59:00Z) for mail
}

// ImportICS reads a change window as Outlook writes it: a Windows zone
// name, and one occurrence moved by a VEVENT with a RECURRENCE-ID.
func ExampleImportICS() {
	const outlook = "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\n" +
		"BEGIN:VEVENT\r\nUID:erp\r\nSUMMARY:ERP change window\r\nCATEGORIES:Maintenance\r\n" +
		"DTSTART;TZID=\"W. Europe Standard Time\":20260303T180000\r\nDTEND;TZID=\"W. Europe Standard Time\":20260303T220000\r\n" +
		"RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=TU\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:erp\r\nRECURRENCE-ID;TZID=\"W. Europe Standard Time\":20260310T180000\r\n" +
		"DTSTART;TZID=\"W. Europe Standard Time\":20260311T190000\r\nDTEND;TZID=\"W. Europe Standard Time\":20260311T230000\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	ws, err := relman.ImportICS(strings.NewReader(outlook), relman.ImportOptions{})
	if err != nil {
		panic(err)
	}
	cal, err := relman.NewCalendar(ws...)
	if err != nil {
		panic(err)
	}
	fmt.Println(ws[0].ID, ws[0].Kind, ws[0].TimeZone, ws[0].RRule)
	march := relman.Span{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	for _, o := range cal.Occurrences(march, nil) {
		fmt.Println(o.Span.Start.Format("Mon 01-02 15:04"), "to", o.Span.End.Format("15:04 MST"))
	}

	// Bad input names its line.
	_, err = relman.ImportICS(strings.NewReader("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Mars/Olympus:20260101T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), relman.ImportOptions{})
	var ie *ical.Error
	fmt.Println(errors.Is(err, relman.ErrInvalid), errors.As(err, &ie), ie.Line)
	// Output:
	// erp maintenance Europe/Berlin FREQ=WEEKLY;COUNT=3;BYDAY=TU
	// Tue 03-03 18:00 to 22:00 CET
	// Wed 03-11 19:00 to 23:00 CET
	// Tue 03-17 18:00 to 22:00 CET
	// true true 3
}
