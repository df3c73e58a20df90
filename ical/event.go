package ical

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one VEVENT series as read by ReadEvents: the master component
// (the VEVENT without RECURRENCE-ID) and the overrides that share its UID,
// resolved into a recurrence set.
type Event struct {
	// UID is the series' UID.
	UID string
	// Component is the master VEVENT. For a series of which the file holds
	// only overrides (an invitation to one instance, say) it is nil.
	Component *Component
	// Overrides holds the VEVENTs with a RECURRENCE-ID, in file order; the
	// i-th one is Set.Overrides[i].
	Overrides []*Component
	// AllDay reports a DTSTART that is a DATE: instances start at midnight
	// in ReadOptions.Floating and last whole days.
	AllDay bool
	// Floating reports a DTSTART that is a local time without a zone; it
	// was read in ReadOptions.Floating.
	Floating bool
	// Cancelled reports a whole series with STATUS:CANCELLED (or, for a
	// series the file holds only an override of, a cancelled override).
	// Its Set still holds its instances; most readers skip it.
	Cancelled bool
	// Set holds the instances: Set.Start is DTSTART, in the event's time
	// zone, Set.Duration comes from DTEND or DURATION (one day for an
	// all-day event without either, zero otherwise).
	Set Set
}

// ReadOptions refine ReadEvents.
type ReadOptions struct {
	// Floating is the location of floating DATE-TIMEs (no "Z", no TZID)
	// and of DATEs (all-day events). RFC 5545 leaves it to the reader;
	// nil means UTC, so that a file reads the same everywhere.
	Floating *time.Location
}

// ReadEvents parses an iCalendar stream (one or more VCALENDARs) and
// returns its events, in the order their first VEVENT appears. Time zones
// are resolved as LoadZone does, falling back to the file's VTIMEZONE of
// the same TZID (see ZoneFromVTimezone). VEVENTs with the same UID and a
// RECURRENCE-ID become the overrides of that series: moved or resized
// instances, or removed ones (STATUS:CANCELLED), also with
// RANGE=THISANDFUTURE. Every error is an *Error naming the line; no events
// are returned with one.
func ReadEvents(r io.Reader, opt ReadOptions) ([]*Event, error) {
	comps, err := Parse(r)
	if err != nil {
		return nil, err
	}
	var out []*Event
	for _, cal := range comps {
		if cal.Name != "VCALENDAR" {
			return nil, errAt(cal.Line, "top-level component is %s, not VCALENDAR", truncate(cal.Name, 40))
		}
		evs, err := Events(cal, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// Events returns the events of one parsed VCALENDAR, as ReadEvents does.
func Events(cal *Component, opt ReadOptions) ([]*Event, error) {
	if opt.Floating == nil {
		opt.Floating = time.UTC
	}
	zs, err := newZones(cal)
	if err != nil {
		return nil, err
	}
	rd := &reader{opt: opt, zones: zs}
	var out []*Event
	byUID := map[string]*Event{}
	var overrides []*Component
	for _, c := range cal.Comps {
		if c.Name != "VEVENT" {
			continue
		}
		if c.Property("RECURRENCE-ID") != nil {
			overrides = append(overrides, c)
			continue
		}
		ev, err := rd.master(c)
		if err != nil {
			return nil, err
		}
		if ev.UID != "" {
			if prev := byUID[ev.UID]; prev != nil {
				return nil, errAt(c.Line, "a second VEVENT with UID %q and no RECURRENCE-ID (the first is on line %d)", truncate(ev.UID, 60), prev.Component.Line)
			}
			byUID[ev.UID] = ev
		}
		out = append(out, ev)
	}
	for _, c := range overrides {
		uid := uidOf(c)
		ev := byUID[uid]
		if ev == nil || uid == "" {
			// Only the override is here: it stands for itself.
			one, err := rd.master(c)
			if err != nil {
				return nil, err
			}
			one.Component = nil
			one.Overrides = []*Component{c}
			rid := c.Property("RECURRENCE-ID")
			one.Set.Overrides = []Override{{RecurrenceID: one.Set.Start, Start: one.Set.Start, End: one.Set.Start.Add(one.Set.Duration), Cancelled: isCancelled(c)}}
			if one.Set.Rule != nil || len(one.Set.RDates) > 0 {
				return nil, errAt(rid.Line, "RECURRENCE-ID without the series it overrides, but with its own recurrence")
			}
			out = append(out, one)
			if uid != "" {
				byUID[uid] = one
			}
			continue
		}
		o, err := rd.override(ev, c)
		if err != nil {
			return nil, err
		}
		// The same instance overridden twice (an update that kept the old
		// copy): the higher SEQUENCE wins, then the later one.
		i := slices.IndexFunc(ev.Set.Overrides, func(p Override) bool {
			return p.RecurrenceID.Equal(o.RecurrenceID) && p.ThisAndFuture == o.ThisAndFuture
		})
		if i < 0 {
			ev.Overrides = append(ev.Overrides, c)
			ev.Set.Overrides = append(ev.Set.Overrides, o)
		} else if sequence(c) >= sequence(ev.Overrides[i]) {
			ev.Overrides[i], ev.Set.Overrides[i] = c, o
		}
	}
	for _, ev := range out {
		if err := ev.Set.Validate(); err != nil {
			line := 0
			if se, ok := err.(*SetError); ok && se.Field == "RECURRENCE-ID" && se.Index < len(ev.Overrides) {
				line = ev.Overrides[se.Index].Property("RECURRENCE-ID").Line
			} else if ev.Component != nil {
				line = ev.Component.Line
			}
			return nil, &Error{Line: line, Err: err}
		}
	}
	return out, nil
}

func uidOf(c *Component) string {
	if p := c.Property("UID"); p != nil {
		return strings.TrimSpace(UnescapeText(p.Value))
	}
	return ""
}

// sequence returns the SEQUENCE of c, 0 if it has none or a bad one.
func sequence(c *Component) int {
	if p := c.Property("SEQUENCE"); p != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil {
			return n
		}
	}
	return 0
}

func isCancelled(c *Component) bool {
	p := c.Property("STATUS")
	return p != nil && strings.EqualFold(strings.TrimSpace(p.Value), "CANCELLED")
}

type reader struct {
	opt   ReadOptions
	zones *zones
}

// when reads a DATE or DATE-TIME property value (one of a list) with its
// TZID and VALUE parameters.
func (rd *reader) when(p *Property, v string) (t time.Time, isDate, floating bool, err error) {
	v = strings.TrimSpace(v)
	loc := rd.opt.Floating
	tz := p.Param("TZID")
	if tz != "" {
		if loc, err = rd.zones.load(tz, p.Line); err != nil {
			return time.Time{}, false, false, err
		}
	}
	switch strings.ToUpper(p.Param("VALUE")) {
	case "DATE":
		if len(v) != 8 {
			return time.Time{}, false, false, errAt(p.Line, "%s: VALUE=DATE but %q is not a DATE", p.Name, truncate(v, 40))
		}
	case "", "DATE-TIME":
		if p.Param("VALUE") != "" && len(v) == 8 {
			return time.Time{}, false, false, errAt(p.Line, "%s: VALUE=DATE-TIME but %q is a DATE", p.Name, truncate(v, 40))
		}
	default:
		return time.Time{}, false, false, errAt(p.Line, "%s: unsupported VALUE=%s", p.Name, truncate(p.Param("VALUE"), 20))
	}
	if len(v) == 8 {
		loc = rd.opt.Floating // a DATE has no zone
	}
	t, isDate, err = parseDateTimeValue(v, loc, p.Line)
	if err != nil {
		return time.Time{}, false, false, err
	}
	floating = tz == "" && !isDate && !strings.HasSuffix(strings.ToUpper(v), "Z")
	return t, isDate, floating, nil
}

func (rd *reader) master(c *Component) (*Event, error) {
	ev := &Event{UID: uidOf(c), Component: c, Cancelled: isCancelled(c)}
	ds := c.Property("DTSTART")
	if ds == nil {
		return nil, errAt(c.Line, "VEVENT without DTSTART")
	}
	start, isDate, floating, err := rd.when(ds, ds.Value)
	if err != nil {
		return nil, err
	}
	ev.AllDay, ev.Floating = isDate, floating
	ev.Set.Start = start
	if ds.Param("TZID") != "" {
		loc, _ := rd.zones.load(ds.Param("TZID"), ds.Line)
		ev.Set.Start = start.In(loc)
	}
	if ev.Set.Duration, err = rd.duration(c, start, isDate); err != nil {
		return nil, err
	}
	if rr := c.Properties("RRULE"); len(rr) > 0 {
		if len(rr) > 1 {
			return nil, errAt(rr[1].Line, "more than one RRULE")
		}
		rule, err := ParseRule(rr[0].Value)
		if err != nil {
			return nil, &Error{Line: rr[0].Line, Err: err}
		}
		ev.Set.Rule = rule
	}
	for _, p := range c.Properties("RDATE") {
		ps, err := rd.rdates(p, ev)
		if err != nil {
			return nil, err
		}
		ev.Set.RDates = append(ev.Set.RDates, ps...)
	}
	for _, p := range c.Properties("EXDATE") {
		for v := range strings.SplitSeq(p.Value, ",") {
			t, isDate, _, err := rd.when(p, v)
			if err != nil {
				return nil, err
			}
			ev.Set.ExDates = append(ev.Set.ExDates, rd.onStartTime(t, isDate, ev))
		}
	}
	slices.SortFunc(ev.Set.ExDates, time.Time.Compare)
	ev.Set.ExDates = slices.CompactFunc(ev.Set.ExDates, time.Time.Equal)
	return ev, nil
}

// onStartTime turns a DATE naming an instance of a timed event into that
// instance's start: the date at DTSTART's time of day, in its zone.
func (rd *reader) onStartTime(t time.Time, isDate bool, ev *Event) time.Time {
	if !isDate || ev.AllDay {
		return t
	}
	ls := ev.Set.Start
	return localToTime(t.Year(), t.Month(), t.Day(), ls.Hour(), ls.Minute(), ls.Second(), ls.Location())
}

// duration reads DTEND or DURATION of a component starting at start.
func (rd *reader) duration(c *Component, start time.Time, isDate bool) (time.Duration, error) {
	de, du := c.Property("DTEND"), c.Property("DURATION")
	switch {
	case de != nil && du != nil:
		return 0, errAt(du.Line, "both DTEND and DURATION")
	case de != nil:
		end, _, _, err := rd.when(de, de.Value)
		if err != nil {
			return 0, err
		}
		if end.Before(start) {
			return 0, errAt(de.Line, "DTEND is before DTSTART")
		}
		return end.Sub(start), nil
	case du != nil:
		d, err := parseDuration(strings.TrimSpace(du.Value), du.Line)
		if err != nil {
			return 0, err
		}
		if d < 0 {
			return 0, errAt(du.Line, "negative DURATION")
		}
		return d, nil
	case isDate:
		return 24 * time.Hour, nil
	}
	return 0, nil
}

// rdates reads one RDATE property: DATE-TIMEs, DATEs or PERIODs.
func (rd *reader) rdates(p *Property, ev *Event) ([]Period, error) {
	var out []Period
	period := strings.EqualFold(p.Param("VALUE"), "PERIOD")
	for v := range strings.SplitSeq(p.Value, ",") {
		v = strings.TrimSpace(v)
		a, b, isPeriod := strings.Cut(v, "/")
		if isPeriod != period {
			if period {
				return nil, errAt(p.Line, "RDATE: VALUE=PERIOD but %q is not a PERIOD", truncate(v, 40))
			}
			return nil, errAt(p.Line, "RDATE: %q is a PERIOD without VALUE=PERIOD", truncate(v, 40))
		}
		if !isPeriod {
			t, isDate, _, err := rd.when(p, v)
			if err != nil {
				return nil, err
			}
			if isDate != ev.AllDay {
				return nil, errAt(p.Line, "RDATE: %q must be a %s like DTSTART", truncate(v, 40), map[bool]string{true: "DATE", false: "DATE-TIME"}[ev.AllDay])
			}
			out = append(out, Period{Start: t.In(ev.Set.Start.Location())})
			continue
		}
		q := *p
		q.Params = slices.DeleteFunc(slices.Clone(p.Params), func(x Param) bool { return strings.EqualFold(x.Name, "VALUE") })
		start, isDate, _, err := rd.when(&q, a)
		if err != nil {
			return nil, err
		}
		if isDate {
			return nil, errAt(p.Line, "RDATE: period %q must start with a DATE-TIME", truncate(v, 40))
		}
		var end time.Time
		if strings.HasPrefix(b, "P") || strings.HasPrefix(b, "+P") {
			d, err := parseDuration(b, p.Line)
			if err != nil {
				return nil, err
			}
			end = start.Add(d)
		} else if end, isDate, _, err = rd.when(&q, b); err != nil {
			return nil, err
		} else if isDate {
			return nil, errAt(p.Line, "RDATE: period %q must end with a DATE-TIME", truncate(v, 40))
		}
		if end.Before(start) {
			return nil, errAt(p.Line, "RDATE: period %q ends before it starts", truncate(v, 40))
		}
		loc := ev.Set.Start.Location()
		out = append(out, Period{Start: start.In(loc), End: end.In(loc)})
	}
	return out, nil
}

// override reads a VEVENT with a RECURRENCE-ID of series ev.
func (rd *reader) override(ev *Event, c *Component) (Override, error) {
	rid := c.Property("RECURRENCE-ID")
	t, isDate, _, err := rd.when(rid, rid.Value)
	if err != nil {
		return Override{}, err
	}
	if strings.Contains(rid.Value, ",") {
		return Override{}, errAt(rid.Line, "RECURRENCE-ID holds more than one value")
	}
	loc := ev.Set.Start.Location()
	o := Override{RecurrenceID: rd.onStartTime(t, isDate, ev).In(loc), Cancelled: isCancelled(c)}
	switch rng := strings.ToUpper(rid.Param("RANGE")); rng {
	case "":
	case "THISANDFUTURE":
		o.ThisAndFuture = true
	default:
		return Override{}, errAt(rid.Line, "RECURRENCE-ID: unsupported RANGE=%s", truncate(rng, 20))
	}
	// An override may restate DTSTART or leave it out (keeping the
	// original start), and likewise its length.
	o.Start = o.RecurrenceID
	if ds := c.Property("DTSTART"); ds != nil {
		s, _, _, err := rd.when(ds, ds.Value)
		if err != nil {
			return Override{}, err
		}
		o.Start = s.In(loc)
	}
	d := ev.Set.Duration
	if c.Property("DTEND") != nil || c.Property("DURATION") != nil {
		if d, err = rd.duration(c, o.Start, false); err != nil {
			return Override{}, err
		}
	}
	o.End = o.Start.Add(d)
	if o.Cancelled {
		o.Start, o.End = time.Time{}, time.Time{}
	}
	return o, nil
}

// String returns a short description of e for debugging: UID and start.
func (e *Event) String() string {
	return fmt.Sprintf("%s@%s", e.UID, e.Set.Start.Format(time.RFC3339))
}
