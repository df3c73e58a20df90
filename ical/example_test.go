package ical_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relman-dev/relman/ical"
)

func ExampleRule_Between() {
	r, err := ical.ParseRule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3")
	if err != nil {
		panic(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 1, 30, 17, 0, 0, 0, paris)
	for t := range r.Between(start, time.Time{}, time.Time{}) {
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"))
	}
	// Output:
	// Fri 2026-01-30 17:00 CET
	// Fri 2026-02-27 17:00 CET
	// Tue 2026-03-31 17:00 CEST
}

// ReadEvents reads what Outlook writes: a Windows zone name and an
// instance moved by a second VEVENT with a RECURRENCE-ID.
func ExampleReadEvents() {
	const outlook = `BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
BEGIN:VEVENT
UID:cab-window
DTSTART;TZID="W. Europe Standard Time":20260303T180000
DTEND;TZID="W. Europe Standard Time":20260303T220000
RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=TU
END:VEVENT
BEGIN:VEVENT
UID:cab-window
RECURRENCE-ID;TZID="W. Europe Standard Time":20260310T180000
DTSTART;TZID="W. Europe Standard Time":20260311T190000
DTEND;TZID="W. Europe Standard Time":20260311T230000
END:VEVENT
END:VCALENDAR
`
	evs, err := ical.ReadEvents(strings.NewReader(outlook), ical.ReadOptions{})
	if err != nil {
		panic(err)
	}
	ev := evs[0]
	fmt.Println(ev.UID, ev.Set.Start.Location())
	for in := range ev.Set.Between(time.Time{}, time.Time{}) {
		fmt.Println(in.Start.Format("Mon 01-02 15:04"), "to", in.End.Format("15:04"))
	}
	// Output:
	// cab-window Europe/Berlin
	// Tue 03-03 18:00 to 22:00
	// Wed 03-11 19:00 to 23:00
	// Tue 03-17 18:00 to 22:00
}

// An override with ThisAndFuture moves every later instance.
func ExampleSet_Between() {
	r, _ := ical.ParseRule("FREQ=DAILY;COUNT=4")
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	third := start.AddDate(0, 0, 2)
	set := ical.Set{
		Start:    start,
		Duration: time.Hour,
		Rule:     r,
		RDates:   []ical.Period{{Start: time.Date(2026, 6, 10, 14, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 10, 14, 30, 0, 0, time.UTC)}},
		Overrides: []ical.Override{
			{RecurrenceID: start.AddDate(0, 0, 1), Cancelled: true},
			{RecurrenceID: third, ThisAndFuture: true, Start: third.Add(2 * time.Hour), End: third.Add(4 * time.Hour)},
		},
	}
	for in := range set.Between(time.Time{}, time.Time{}) {
		fmt.Println(in.Start.Format("01-02 15:04"), "to", in.End.Format("15:04"))
	}
	// Output:
	// 06-01 09:00 to 10:00
	// 06-03 11:00 to 13:00
	// 06-04 11:00 to 13:00
	// 06-10 16:00 to 18:00
}

// Errors name the line; errors.As finds the *Error, and a bad rule's
// *RuleError behind it.
func ExampleError() {
	const bad = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T090000Z\r\nRRULE:FREQ=DAILY;BYHOUR=25\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	_, err := ical.ReadEvents(strings.NewReader(bad), ical.ReadOptions{})
	var ie *ical.Error
	var re *ical.RuleError
	if errors.As(err, &ie) && errors.As(err, &re) {
		fmt.Println("line", ie.Line, "part", re.Part)
	}
	fmt.Println(err)
	// Output:
	// line 5 part BYHOUR
	// ical: line 5: rrule BYHOUR=25: 25 out of range 0..23
}

// A zone that only the file defines is built from its VTIMEZONE.
func ExampleZoneFromVTimezone() {
	const vtz = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n" +
		"BEGIN:STANDARD\r\nDTSTART:16010401T030000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\nTZOFFSETFROM:+1100\r\nTZOFFSETTO:+1000\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:16011007T020000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=10\r\nTZOFFSETFROM:+1000\r\nTZOFFSETTO:+1100\r\nEND:DAYLIGHT\r\n" +
		"END:VTIMEZONE\r\nEND:VCALENDAR\r\n"
	comps, err := ical.Parse(strings.NewReader(vtz))
	if err != nil {
		panic(err)
	}
	loc, err := ical.ZoneFromVTimezone(comps[0].Comps[0])
	if err != nil {
		panic(err)
	}
	for _, m := range []time.Month{time.January, time.July} {
		_, off := time.Date(2026, m, 15, 12, 0, 0, 0, loc).Zone()
		fmt.Println(loc, m, off/3600)
	}
	// Output:
	// Customized Time Zone January 11
	// Customized Time Zone July 10
}

func ExampleComponent_WriteTo() {
	ev := &ical.Component{Name: "VEVENT"}
	ev.Add("UID", "demo@example.com")
	ev.Props = append(ev.Props, ical.NewDateTime("DTSTART", time.Date(2026, 5, 4, 22, 0, 0, 0, time.UTC), time.UTC))
	ev.Add("SUMMARY", ical.EscapeText("Patch night; all services, "+strings.Repeat("really ", 8)+"all"))
	var b strings.Builder
	if _, err := ev.WriteTo(&b); err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(b.String(), "\r\n", "\n")) // lines end in CRLF
	// Output:
	// BEGIN:VEVENT
	// UID:demo@example.com
	// DTSTART:20260504T220000Z
	// SUMMARY:Patch night\; all services\, really really really really really rea
	//  lly really really all
	// END:VEVENT
}
