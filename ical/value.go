package ical

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DATE-TIME values.

const (
	layoutDateTime = "20060102T150405"
	layoutDate     = "20060102"
)

// NewDateTime returns a DATE-TIME property for t in loc: the UTC form
// ("…Z") when loc is UTC or nil, else the local time with a TZID parameter
// naming loc.
func NewDateTime(name string, t time.Time, loc *time.Location) Property {
	if loc == nil || loc == time.UTC || loc.String() == "UTC" {
		return Property{Name: name, Value: t.UTC().Format(layoutDateTime) + "Z"}
	}
	return Property{Name: name, Params: []Param{{Name: "TZID", Values: []string{loc.String()}}},
		Value: t.In(loc).Format(layoutDateTime)}
}

// NewDateTimes returns one property holding several DATE-TIME values in
// loc, as NewDateTime writes them (for EXDATE and RDATE). ts must not be
// empty.
func NewDateTimes(name string, ts []time.Time, loc *time.Location) Property {
	p := NewDateTime(name, ts[0], loc)
	vals := make([]string, len(ts))
	for i, t := range ts {
		vals[i] = NewDateTime(name, t, loc).Value
	}
	p.Value = strings.Join(vals, ",")
	return p
}

// parseDateTimeValue reads one DATE or DATE-TIME value. A UTC value gives
// a UTC time; a local value is placed in loc per RFC 5545 section 3.3.5.
// isDate reports a DATE value (placed at midnight in loc).
func parseDateTimeValue(v string, loc *time.Location, line int) (t time.Time, isDate bool, err error) {
	bad := &Error{Line: line, Reason: fmt.Sprintf("bad DATE-TIME %q", truncate(v, 40))}
	switch {
	case len(v) == 8:
		d, err := time.Parse(layoutDate, v)
		if err != nil || !allDigitsDateTime(v) {
			return time.Time{}, false, bad
		}
		return localToTime(d.Year(), d.Month(), d.Day(), 0, 0, 0, loc), true, nil
	case len(v) == 16 && (v[15] == 'Z' || v[15] == 'z'):
		d, err := time.Parse(layoutDateTime, v[:15])
		if err != nil || !allDigitsDateTime(v[:15]) {
			return time.Time{}, false, bad
		}
		return d, false, nil
	case len(v) == 15:
		d, err := time.Parse(layoutDateTime, v)
		if err != nil || !allDigitsDateTime(v) {
			return time.Time{}, false, bad
		}
		return localToTime(d.Year(), d.Month(), d.Day(), d.Hour(), d.Minute(), d.Second(), loc), false, nil
	}
	return time.Time{}, false, bad
}

// parseDuration reads an RFC 5545 DURATION such as P1W, PT4H, P1DT2H30M.
// Days and weeks count as 24 hours (exact time).
func parseDuration(v string, line int) (time.Duration, error) {
	bad := &Error{Line: line, Reason: fmt.Sprintf("bad DURATION %q", truncate(v, 40))}
	s := v
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) < 3 || s[0] != 'P' {
		return 0, bad
	}
	s = s[1:]
	var d time.Duration
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 6 {
			return 0, bad
		}
		n, _ := strconv.Atoi(s[:i])
		unit := s[i]
		s = s[i+1:]
		switch {
		case unit == 'W' && !inTime:
			d += time.Duration(n) * 7 * 24 * time.Hour
		case unit == 'D' && !inTime:
			d += time.Duration(n) * 24 * time.Hour
		case unit == 'H' && inTime:
			d += time.Duration(n) * time.Hour
		case unit == 'M' && inTime:
			d += time.Duration(n) * time.Minute
		case unit == 'S' && inTime:
			d += time.Duration(n) * time.Second
		default:
			return 0, bad
		}
	}
	if neg {
		d = -d
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// VTIMEZONE.

type tzTransition struct {
	at       time.Time // the instant of change
	from, to int       // UTC offsets in seconds
	name     string
	dst      bool
}

// zoneTransitions lists the offset changes of loc in [from, to). The
// time package reports zone bounds at year ends for zones whose future
// comes from a POSIX rule (and, for some southern-hemisphere zones, a
// bound that does not advance); changes of nothing are skipped and a
// stuck walk steps on.
func zoneTransitions(loc *time.Location, from, to time.Time) []tzTransition {
	var out []tzTransition
	t := from.In(loc)
	for range 100000 {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		if !end.After(t) {
			t = t.Add(time.Hour)
			continue
		}
		before := end.Add(-time.Second)
		fromName, fromOff := before.Zone()
		at := end.In(loc)
		name, toOff := at.Zone()
		if fromOff != toOff || fromName != name || before.IsDST() != at.IsDST() {
			out = append(out, tzTransition{at: end, from: fromOff, to: toOff, name: name, dst: at.IsDST()})
		}
		t = at
	}
	return out
}

func formatOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}

// VTimezone returns a VTIMEZONE for loc covering the years fromYear to toYear
// (inclusive). Transitions are grouped into STANDARD and DAYLIGHT
// observances; the trailing run that follows a yearly "nth weekday of
// month" rule is written as an RRULE, open-ended when it lasts to the end
// of the span, and the rest as RDATEs.
func VTimezone(loc *time.Location, fromYear, toYear int) *Component {
	w := &Component{Name: "VTIMEZONE"}
	w.Add("TZID", loc.String())
	from := time.Date(fromYear, 1, 1, 0, 0, 0, 0, loc)
	to := time.Date(toYear+1, 1, 1, 0, 0, 0, 0, loc)
	trs := zoneTransitions(loc, from, to)
	if len(trs) == 0 {
		name, off := from.Zone()
		obs := "STANDARD"
		if from.IsDST() {
			obs = "DAYLIGHT"
		}
		writeObservance(w, obs, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), off, off, name, "", nil)
		return w
	}
	type key struct {
		dst      bool
		from, to int
		name     string
	}
	groups := map[key][]time.Time{} // onsets as local wall time (in the old offset), held in UTC fields
	var order []key
	for _, tr := range trs {
		k := key{tr.dst, tr.from, tr.to, tr.name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], tr.at.Add(time.Duration(tr.from)*time.Second).UTC())
	}
	for _, k := range order {
		onsets := groups[k]
		obs := "STANDARD"
		if k.dst {
			obs = "DAYLIGHT"
		}
		tail, rule := yearlyTail(onsets)
		if tail >= 2 {
			head := onsets[:len(onsets)-tail]
			if len(head) > 0 {
				writeObservance(w, obs, head[0], k.from, k.to, k.name, "", head[1:])
			}
			last := onsets[len(onsets)-1]
			if last.Year() < toYear {
				// The rule stopped inside the span: bound it.
				utc := last.Add(-time.Duration(k.from) * time.Second)
				rule += ";UNTIL=" + utc.Format(layoutDateTime) + "Z"
			}
			writeObservance(w, obs, onsets[len(onsets)-tail], k.from, k.to, k.name, rule, nil)
			continue
		}
		writeObservance(w, obs, onsets[0], k.from, k.to, k.name, "", onsets[1:])
	}
	return w
}

// yearlyTail returns how many onsets at the end of the list follow one
// yearly rule (same month, weekday, ordinal and time, consecutive years)
// and that rule.
func yearlyTail(onsets []time.Time) (int, string) {
	if len(onsets) < 2 {
		return 0, ""
	}
	last := onsets[len(onsets)-1]
	ord := func(t time.Time) int {
		dim := daysIn(int64(t.Year()), int64(t.Month()))
		if t.Day()+7 > dim {
			return -1
		}
		return (t.Day()-1)/7 + 1
	}
	o := ord(last)
	tod := last.Sub(last.Truncate(24 * time.Hour))
	n := 1
	for i := len(onsets) - 2; i >= 0; i-- {
		t, next := onsets[i], onsets[i+1]
		if t.Month() != last.Month() || t.Weekday() != last.Weekday() || ord(t) != o ||
			t.Sub(t.Truncate(24*time.Hour)) != tod || t.Year()+1 != next.Year() {
			break
		}
		n++
	}
	return n, fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%s", int(last.Month()), WeekdayNum{N: o, Day: last.Weekday()})
}

func writeObservance(z *Component, obs string, start time.Time, from, to int, name, rule string, rdates []time.Time) {
	w := &Component{Name: obs}
	z.Comps = append(z.Comps, w)
	w.Add("DTSTART", start.Format(layoutDateTime))
	if rule != "" {
		w.Add("RRULE", rule)
	}
	if len(rdates) > 0 {
		vals := make([]string, len(rdates))
		for i, t := range rdates {
			vals[i] = t.Format(layoutDateTime)
		}
		w.Add("RDATE", strings.Join(vals, ","))
	}
	w.Add("TZOFFSETFROM", formatOffset(from))
	w.Add("TZOFFSETTO", formatOffset(to))
	if name != "" {
		w.Add("TZNAME", EscapeText(name))
	}
}
