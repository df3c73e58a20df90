package relman

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman/ical"
)

// This file maps windows and releases to iCalendar and back; the format
// itself (content lines, values, time zones, recurrence) is package ical.

// ICSOptions refine ExportICS.
type ICSOptions struct {
	// Now is the DTSTAMP of every component (default: time.Now()).
	Now time.Time
	// ProdID names the producer (default "-//relman//relman//EN").
	ProdID string
	// Domain ends every UID (default "relman").
	Domain string
	// Until bounds the years VTIMEZONEs cover (default: five years after
	// the latest start).
	Until time.Time
}

// ExportICS writes an RFC 5545 calendar of the forward schedule: each
// window as a VEVENT with its RRULE, RDATEs, EXDATEs and time zone (with a
// VTIMEZONE per zone), followed by one VEVENT with a RECURRENCE-ID per
// override, and each release with a planned window as a VEVENT over that
// window. Lines end in CRLF and are folded at 75 octets; text is escaped;
// every component has a UID and DTSTAMP. Relman's own fields travel as
// X-RELMAN- properties, so ImportICS gives back the same windows.
func ExportICS(out io.Writer, windows []Window, releases []*Release, opt ICSOptions) error {
	if out == nil {
		return invalid("out", "required")
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.ProdID == "" {
		opt.ProdID = "-//relman//relman//EN"
	}
	if opt.Domain == "" {
		opt.Domain = "relman"
	}
	cal := &ical.Component{Name: "VCALENDAR"}
	cal.Add("VERSION", "2.0")
	cal.Add("PRODID", ical.EscapeText(opt.ProdID))
	cal.Add("CALSCALE", "GREGORIAN")

	type zoneSpan struct {
		loc      *time.Location
		from, to int
	}
	zones := map[string]*zoneSpan{}
	var zoneNames []string
	locs := make([]*time.Location, len(windows))
	for i := range windows {
		win := &windows[i]
		if err := win.Validate(); err != nil {
			return fmt.Errorf("relman: export window %q: %w", win.ID, err)
		}
		loc, _ := win.Location()
		locs[i] = loc
		if loc.String() == "UTC" {
			continue
		}
		until := win.Start.Year() + 5
		if !opt.Until.IsZero() {
			until = max(opt.Until.Year(), win.Start.Year())
		}
		if z, ok := zones[loc.String()]; ok {
			z.from, z.to = min(z.from, win.Start.In(loc).Year()), max(z.to, until)
		} else {
			zones[loc.String()] = &zoneSpan{loc, win.Start.In(loc).Year(), until}
			zoneNames = append(zoneNames, loc.String())
		}
	}
	slices.Sort(zoneNames)
	for _, n := range zoneNames {
		z := zones[n]
		cal.Comps = append(cal.Comps, ical.VTimezone(z.loc, z.from, z.to))
	}
	stamp := ical.Property{Name: "DTSTAMP", Value: opt.Now.UTC().Format("20060102T150405") + "Z"}
	for i := range windows {
		cal.Comps = append(cal.Comps, windowEvents(&windows[i], locs[i], stamp, opt.Domain)...)
	}
	for _, r := range releases {
		if r == nil || r.Window == nil {
			continue
		}
		ev := &ical.Component{Name: "VEVENT"}
		ev.Add("UID", ical.EscapeText("release-"+r.ID+"@"+opt.Domain))
		ev.Props = append(ev.Props, stamp,
			ical.NewDateTime("DTSTART", r.Window.Start, time.UTC),
			ical.NewDateTime("DTEND", r.Window.End, time.UTC))
		summary := strings.TrimSpace(r.Title + " " + r.Version)
		if summary == "" {
			summary = r.ID
		}
		ev.Add("SUMMARY", ical.EscapeText(summary))
		var desc []string
		if len(r.Services) > 0 {
			desc = append(desc, "Services: "+strings.Join(r.Services, ", "))
		}
		if r.Owner != "" {
			desc = append(desc, "Owner: "+r.Owner)
		}
		desc = append(desc, "Stage: "+string(r.Stage))
		ev.Add("DESCRIPTION", ical.EscapeText(strings.Join(desc, "\n")))
		ev.Add("CATEGORIES", "RELEASE")
		ev.Add("X-RELMAN-RELEASE", ical.EscapeText(r.ID))
		ev.Add("X-RELMAN-STAGE", ical.EscapeText(string(r.Stage)))
		if len(r.Services) > 0 {
			ev.Add("X-RELMAN-SERVICES", joinText(r.Services))
		}
		cal.Comps = append(cal.Comps, ev)
	}
	_, err := cal.WriteTo(out)
	return err
}

// windowEvents returns the VEVENT of a window and one per override.
func windowEvents(win *Window, loc *time.Location, stamp ical.Property, domain string) []*ical.Component {
	uid := ical.EscapeText("window-" + win.ID + "@" + domain)
	ev := &ical.Component{Name: "VEVENT"}
	ev.Add("UID", uid)
	ev.Props = append(ev.Props, stamp,
		ical.NewDateTime("DTSTART", win.Start, loc),
		ical.NewDateTime("DTEND", win.End, loc))
	if win.RRule != "" {
		rr, _ := ical.ParseRule(win.RRule)
		ev.Add("RRULE", rr.String())
	}
	// RDATEs in their order: a run of date-times in one property, each
	// period in its own.
	var plain []time.Time
	flush := func() {
		if len(plain) > 0 {
			ev.Props = append(ev.Props, ical.NewDateTimes("RDATE", plain, loc))
			plain = nil
		}
	}
	for _, p := range win.RDates {
		if p.End.IsZero() {
			plain = append(plain, p.Start)
			continue
		}
		flush()
		rd := ical.NewDateTime("RDATE", p.Start, loc)
		rd.Params = append(rd.Params, ical.Param{Name: "VALUE", Values: []string{"PERIOD"}})
		rd.Value += "/" + ical.NewDateTime("RDATE", p.End, loc).Value
		ev.Props = append(ev.Props, rd)
	}
	flush()
	if len(win.ExDates) > 0 {
		ev.Props = append(ev.Props, ical.NewDateTimes("EXDATE", win.ExDates, loc))
	}
	text := func(c *ical.Component) {
		c.Add("SUMMARY", ical.EscapeText(win.Name))
		if win.Reason != "" {
			c.Add("DESCRIPTION", ical.EscapeText(win.Reason))
		}
		c.Add("CATEGORIES", strings.ToUpper(string(win.Kind)))
		transp := "TRANSPARENT"
		if win.Kind == WindowFreeze {
			transp = "OPAQUE"
		}
		c.Add("TRANSP", transp)
	}
	text(ev)
	ev.Add("X-RELMAN-ID", ical.EscapeText(win.ID))
	ev.Add("X-RELMAN-KIND", string(win.Kind))
	if len(win.Services) > 0 {
		ev.Add("X-RELMAN-SERVICES", joinText(win.Services))
	}
	out := []*ical.Component{ev}
	for _, o := range win.Overrides {
		oc := &ical.Component{Name: "VEVENT"}
		oc.Add("UID", uid)
		rid := ical.NewDateTime("RECURRENCE-ID", o.RecurrenceID, loc)
		if o.ThisAndFuture {
			rid.Params = append(rid.Params, ical.Param{Name: "RANGE", Values: []string{"THISANDFUTURE"}})
		}
		oc.Props = append(oc.Props, stamp, rid)
		if o.Cancelled {
			oc.Props = append(oc.Props, ical.NewDateTime("DTSTART", o.RecurrenceID, loc))
			oc.Add("STATUS", "CANCELLED")
		} else {
			oc.Props = append(oc.Props, ical.NewDateTime("DTSTART", o.Start, loc), ical.NewDateTime("DTEND", o.End, loc))
		}
		text(oc)
		out = append(out, oc)
	}
	return out
}

func joinText(items []string) string {
	esc := make([]string, len(items))
	for i, s := range items {
		esc[i] = ical.EscapeText(s)
	}
	return strings.Join(esc, ",")
}

// ImportOptions refine ImportICS.
type ImportOptions struct {
	// Kind is the kind of events that say nothing about it (no
	// X-RELMAN-KIND, no FREEZE or MAINTENANCE category). Empty: such
	// events are an error.
	Kind WindowKind
	// TimeZone places floating times and all-day (DATE) events
	// (default "UTC").
	TimeZone string
	// Services scopes windows that name none (default: all services).
	Services []string
}

// ImportICS reads maintenance and freeze windows from an iCalendar stream
// (a holiday calendar, say, one that Google Calendar, Outlook, Apple
// Calendar or Thunderbird wrote, or one ExportICS wrote): every VEVENT
// series except relman releases and cancelled events becomes a window,
// with its RRULE, RDATEs, EXDATEs, overrides (VEVENTs with a
// RECURRENCE-ID) and time zone. Time zones are read as [ical.ReadEvents]
// reads them: IANA names, Windows names, or the file's own VTIMEZONE; a
// window of a zone only the file defines takes the IANA zone that has the
// same offsets for twenty years from its start ([ical.IANAZone]), and
// without one it must not recur. Floating times and all-day events are
// read in ImportOptions.TimeZone; all-day events span whole local days.
//
// Errors are *ValidationError, or match ErrInvalid and unwrap to an
// *ical.Error naming the line. Nothing is returned with an error.
func ImportICS(in io.Reader, opt ImportOptions) ([]Window, error) {
	if in == nil {
		return nil, invalid("in", "required")
	}
	if opt.Kind != "" && opt.Kind != WindowFreeze && opt.Kind != WindowMaintenance {
		return nil, invalidParam("kind", "oneof", "maintenance freeze")
	}
	if opt.TimeZone == "" {
		opt.TimeZone = "UTC"
	}
	defLoc, err := time.LoadLocation(opt.TimeZone)
	if err != nil || opt.TimeZone == "Local" {
		return nil, invalid("time_zone", "iana")
	}
	evs, err := ical.ReadEvents(in, ical.ReadOptions{Floating: defLoc})
	if err != nil {
		return nil, icalInvalid(err)
	}
	var out []Window
	ids := map[string]bool{}
	for _, ev := range evs {
		c := ev.Component
		if c == nil {
			c = ev.Overrides[0]
		}
		if c.Property("X-RELMAN-RELEASE") != nil || ev.Cancelled {
			continue
		}
		w, err := importEvent(ev, c, opt, len(out))
		if err != nil {
			return nil, err
		}
		for base, n := w.ID, 2; ids[w.ID]; n++ {
			w.ID = strings.TrimSuffix(truncate(base, 120), "…") + "-" + strconv.Itoa(n)
		}
		ids[w.ID] = true
		if err := w.Validate(); err != nil {
			return nil, fmt.Errorf("relman: icalendar line %d: %w", c.Line, err)
		}
		out = append(out, w)
	}
	return out, nil
}

func lineErr(line int, format string, args ...any) error {
	return icalInvalid(&ical.Error{Line: line, Reason: fmt.Sprintf(format, args...)})
}

func importEvent(ev *ical.Event, c *ical.Component, opt ImportOptions, n int) (Window, error) {
	w := Window{}
	// Kind.
	if p := c.Property("X-RELMAN-KIND"); p != nil {
		w.Kind = WindowKind(strings.ToLower(strings.TrimSpace(p.Value)))
	} else {
		for _, p := range c.Properties("CATEGORIES") {
			for _, cat := range ical.SplitText(p.Value) {
				switch strings.ToUpper(strings.TrimSpace(cat)) {
				case "FREEZE", "BLACKOUT", "HOLIDAY":
					w.Kind = WindowFreeze
				case "MAINTENANCE":
					w.Kind = WindowMaintenance
				}
			}
		}
	}
	if w.Kind == "" {
		w.Kind = opt.Kind
	}
	if w.Kind != WindowFreeze && w.Kind != WindowMaintenance {
		return w, lineErr(c.Line, "event is neither a freeze nor a maintenance window (set ImportOptions.Kind)")
	}
	// Identity and text.
	if p := c.Property("X-RELMAN-ID"); p != nil {
		w.ID = textValue(p.Value)
	} else if ev.UID != "" {
		w.ID = sanitizeID(ev.UID)
	}
	if !validID(w.ID) || len(w.ID) > 128 {
		w.ID = fmt.Sprintf("ics-%d", n+1)
	}
	if p := c.Property("SUMMARY"); p != nil {
		w.Name = truncate(textValue(p.Value), 190)
	}
	if strings.TrimSpace(w.Name) == "" {
		w.Name = "Imported window " + w.ID
	}
	if p := c.Property("DESCRIPTION"); p != nil {
		w.Reason = truncate(textValue(p.Value), 3990)
	}
	if p := c.Property("X-RELMAN-SERVICES"); p != nil {
		for _, s := range ical.SplitText(p.Value) {
			s = newlines.Replace(s)
			if s = strings.TrimSpace(s); s != "" {
				w.Services = append(w.Services, s)
			}
		}
	} else {
		w.Services = slices.Clone(opt.Services)
	}
	// Times.
	set := &ev.Set
	loc := set.Start.Location()
	w.TimeZone = loc.String()
	if ev.AllDay || ev.Floating {
		w.TimeZone = opt.TimeZone
	} else if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
		// A zone only this file's VTIMEZONE defines. A window names its
		// zone, so take the IANA zone that agrees with it for the next
		// twenty years; failing that, one occurrence becomes UTC and a
		// series is refused.
		start := set.Start
		if iana, ok := ical.IANAZone(loc, start, start.AddDate(20, 0, 0)); ok {
			w.TimeZone, loc = iana.String(), iana
		} else if set.Rule != nil || len(set.RDates) > 0 || len(set.Overrides) > 0 {
			return w, lineErr(c.Line, "time zone %q is defined only by this file's VTIMEZONE and matches no IANA zone; a recurring window needs one", truncate(w.TimeZone, 60))
		} else {
			w.TimeZone, loc = "UTC", time.UTC
		}
	}
	w.Start = set.Start.In(loc)
	w.End = w.Start.Add(set.Duration)
	if set.Duration <= 0 {
		return w, lineErr(c.Line, "event has no length (no DTEND or DURATION, or DTEND equal to DTSTART)")
	}
	if set.Rule != nil {
		w.RRule = set.Rule.String()
	}
	for _, p := range set.RDates {
		p.Start = p.Start.In(loc)
		if !p.End.IsZero() {
			p.End = p.End.In(loc)
		}
		w.RDates = append(w.RDates, p)
	}
	for _, t := range set.ExDates {
		w.ExDates = append(w.ExDates, t.In(loc))
	}
	if ev.Component == nil {
		// Only an override of a series this file lacks (an invitation
		// to one occurrence): it is a window of its own.
		return w, nil
	}
	for _, o := range set.Overrides {
		o.RecurrenceID = o.RecurrenceID.In(loc)
		if !o.Cancelled {
			o.Start, o.End = o.Start.In(loc), o.End.In(loc)
		}
		w.Overrides = append(w.Overrides, o)
	}
	return w, nil
}

// sanitizeID turns a UID into a window id: letters, digits, '.', '_', '-'.
func sanitizeID(uid string) string {
	uid, _, _ = strings.Cut(uid, "@")
	b := []byte(uid)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	s := strings.TrimLeft(string(b), "._-")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newlines turns the CR of a CRLF or a bare CR into LF: EscapeText
// writes both as "\n", so that is what they read back as.
var newlines = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// textValue unescapes a TEXT value with its line breaks as LF.
func textValue(v string) string { return newlines.Replace(ical.UnescapeText(v)) }
