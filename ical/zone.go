package ical

//go:generate go run ./internal/gen -out windowszones.go

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxZoneYear bounds how far the rules of a VTIMEZONE are expanded; later
// instants keep the offset of the last change before it.
const maxZoneYear = 2200

// maxZoneOnsets bounds the offset changes read from one VTIMEZONE.
const maxZoneOnsets = 4096

// zones resolves TZID values for one calendar: IANA names first (after
// stripping path prefixes such as /mozilla.org/20070129_1/), then Windows
// names through CLDR's table, then the calendar's own VTIMEZONE of that
// TZID.
type zones struct {
	defs  map[string]*Component
	cache map[string]*time.Location
}

func newZones(cal *Component) (*zones, error) {
	z := &zones{defs: map[string]*Component{}, cache: map[string]*time.Location{}}
	for _, c := range cal.Comps {
		if c.Name != "VTIMEZONE" {
			continue
		}
		id := c.Property("TZID")
		if id == nil || strings.TrimSpace(id.Value) == "" {
			return nil, errAt(c.Line, "VTIMEZONE without TZID")
		}
		obs := 0
		for _, o := range c.Comps {
			if o.Name == "STANDARD" || o.Name == "DAYLIGHT" {
				obs++
			}
		}
		if obs == 0 {
			return nil, errAt(c.Line, "VTIMEZONE %q has no STANDARD or DAYLIGHT rules", truncate(id.Value, 60))
		}
		z.defs[id.Value] = c
	}
	return z, nil
}

// LoadZone resolves a TZID value without a VTIMEZONE: an IANA name, once
// stripped of a leading path such as "/mozilla.org/20070129_1/", or a
// Windows zone name such as "W. Europe Standard Time", which CLDR's
// windowsZones table maps to an IANA name. It reports whether it found
// one.
func LoadZone(tzid string) (*time.Location, bool) {
	tzid = strings.TrimSpace(tzid)
	if loc, ok := loadIANA(tzid); ok {
		return loc, true
	}
	if name, ok := windowsZones[tzid]; ok {
		return loadIANA(name)
	}
	// Prefixed names: try what follows each '/'.
	for i := 0; i < len(tzid); i++ {
		if tzid[i] == '/' && i+1 < len(tzid) {
			if loc, ok := loadIANA(tzid[i+1:]); ok {
				return loc, true
			}
		}
	}
	return nil, false
}

func loadIANA(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || strings.ContainsAny(name, "\\\x00 ") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || len(name) > 100 {
		return nil, false
	}
	if name == "UTC" || name == "Etc/UTC" || name == "GMT" {
		return time.UTC, true
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

func (z *zones) load(tzid string, line int) (*time.Location, error) {
	if loc, ok := z.cache[tzid]; ok {
		return loc, nil
	}
	loc, ok := LoadZone(tzid)
	if !ok {
		def := z.defs[tzid]
		if def == nil {
			return nil, errAt(line, "unknown time zone %q and no VTIMEZONE defines it", truncate(tzid, 60))
		}
		var err error
		if loc, err = ZoneFromVTimezone(def); err != nil {
			return nil, err
		}
	}
	z.cache[tzid] = loc
	return loc, nil
}

type onset struct {
	at   int64 // Unix seconds
	off  int   // offset after the change
	from int   // offset before it
	dst  bool
	name string
}

// ZoneFromVTimezone builds a location from a VTIMEZONE: its STANDARD and
// DAYLIGHT observances, each with DTSTART, TZOFFSETFROM, TZOFFSETTO and
// optionally RRULE, RDATE and TZNAME. The location is named after TZID.
//
// A time.Location cannot be made from rules, so the observances are
// expanded into a list of offset changes (through the year 2200) and
// compiled into the binary zoneinfo form that time.LoadLocationFromTZData
// reads. When the zone ends in the usual pair of yearly rules (nth or
// last weekday of a month), they also become the zoneinfo's POSIX rule,
// which carries them on past 2200; otherwise later instants keep the last
// offset. The result then behaves as
// any other location: time.Date resolves wall-clock times with it, and
// recurrence rules expand in it. Before the first change the offset is
// the TZOFFSETFROM of that change. Errors are *Error naming the line.
func ZoneFromVTimezone(c *Component) (*time.Location, error) {
	id := c.Property("TZID")
	if id == nil {
		return nil, errAt(c.Line, "VTIMEZONE without TZID")
	}
	var all []onset
	for _, o := range c.Comps {
		if o.Name != "STANDARD" && o.Name != "DAYLIGHT" {
			continue
		}
		got, err := observanceOnsets(o)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
		if len(all) > maxZoneOnsets {
			return nil, errAt(o.Line, "VTIMEZONE has more than %d offset changes", maxZoneOnsets)
		}
	}
	if len(all) == 0 {
		return nil, errAt(c.Line, "VTIMEZONE %q has no STANDARD or DAYLIGHT rules", truncate(id.Value, 60))
	}
	slices.SortStableFunc(all, func(a, b onset) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	all = slices.CompactFunc(all, func(a, b onset) bool { return a.at == b.at })
	data, err := tzif(all, posixRule(c))
	if err != nil {
		return nil, errAt(c.Line, "%s", err.(*Error).Reason)
	}
	loc, err := time.LoadLocationFromTZData(id.Value, data)
	if err != nil {
		return nil, errAt(c.Line, "VTIMEZONE %q: %v", truncate(id.Value, 60), err)
	}
	return loc, nil
}

func observanceOnsets(o *Component) ([]onset, error) {
	get := func(name string) (*Property, error) {
		p := o.Property(name)
		if p == nil {
			return nil, errAt(o.Line, "%s without %s", o.Name, name)
		}
		return p, nil
	}
	ds, err := get("DTSTART")
	if err != nil {
		return nil, err
	}
	pf, err := get("TZOFFSETFROM")
	if err != nil {
		return nil, err
	}
	pt, err := get("TZOFFSETTO")
	if err != nil {
		return nil, err
	}
	from, err := parseOffset(pf.Value, pf.Line)
	if err != nil {
		return nil, err
	}
	to, err := parseOffset(pt.Value, pt.Line)
	if err != nil {
		return nil, err
	}
	name := ""
	if p := o.Property("TZNAME"); p != nil {
		name = UnescapeText(p.Value)
	}
	// Onsets are local times in the offset before the change; expand them
	// as if they were UTC wall times, then subtract that offset.
	start, _, err := parseDateTimeValue(strings.TrimSpace(ds.Value), time.UTC, ds.Line)
	if err != nil {
		return nil, err
	}
	start = time.Date(start.Year(), start.Month(), start.Day(), start.Hour(), start.Minute(), start.Second(), 0, time.UTC)
	mk := func(wall time.Time) onset {
		return onset{at: wall.Unix() - int64(from), off: to, from: from, dst: o.Name == "DAYLIGHT", name: name}
	}
	out := []onset{mk(start)}
	limit := time.Date(maxZoneYear, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range o.Properties("RRULE") {
		r, err := ParseRule(p.Value)
		if err != nil {
			return nil, &Error{Line: p.Line, Err: err}
		}
		if !r.Until.IsZero() && r.UntilForm == UntilUTC {
			// UNTIL is an instant; compare it in the same shifted frame.
			rc := *r
			rc.Until = r.Until.Add(time.Duration(from) * time.Second)
			r = &rc
		}
		for t := range r.Between(start, time.Time{}, limit) {
			out = append(out, mk(t))
			if len(out) > maxZoneOnsets {
				return nil, errAt(p.Line, "VTIMEZONE has more than %d offset changes", maxZoneOnsets)
			}
		}
	}
	for _, p := range o.Properties("RDATE") {
		for v := range strings.SplitSeq(p.Value, ",") {
			t, _, err := parseDateTimeValue(strings.TrimSpace(v), time.UTC, p.Line)
			if err != nil {
				return nil, err
			}
			out = append(out, mk(t))
		}
	}
	return out, nil
}

// parseOffset reads a UTC-OFFSET value: +HHMM, -HHMM or with seconds.
func parseOffset(v string, line int) (int, error) {
	v = strings.TrimSpace(v)
	bad := errAt(line, "bad UTC offset %q", truncate(v, 20))
	if (len(v) != 5 && len(v) != 7) || (v[0] != '+' && v[0] != '-') {
		return 0, bad
	}
	var n [3]int
	for i := 0; i*2+1 < len(v); i++ {
		x, err := strconv.Atoi(v[1+2*i : 3+2*i])
		if err != nil || x < 0 || x > 59 || i == 0 && x > 23 {
			return 0, bad
		}
		n[i] = x
	}
	s := n[0]*3600 + n[1]*60 + n[2]
	if v[0] == '-' {
		if s == 0 {
			return 0, bad // -0000 is not allowed
		}
		s = -s
	}
	return s, nil
}

// tzif encodes the offset changes as a version 2 zoneinfo file. Type 0,
// used by no change, holds the offset before the first one, which is how
// the time package learns it.
func tzif(all []onset, footer string) ([]byte, error) {
	type ztype struct {
		off  int
		dst  bool
		name string
	}
	var types []ztype
	var chars []byte
	abbr := map[string]int{}
	addType := func(t ztype) int {
		if _, ok := abbr[t.name]; !ok && len(chars)+len(t.name) >= 255 {
			t.name = "" // the abbreviation index is one byte
		}
		if _, ok := abbr[t.name]; !ok {
			abbr[t.name] = len(chars)
			chars = append(chars, t.name...)
			chars = append(chars, 0)
		}
		types = append(types, t)
		return len(types) - 1
	}
	addType(ztype{off: all[0].from})
	index := map[ztype]int{}
	idx := make([]byte, len(all))
	for i, o := range all {
		t := ztype{o.off, o.dst, sanitizeAbbr(o.name)}
		k, ok := index[t]
		if !ok && len(types) == 255 {
			return nil, errAt(0, "VTIMEZONE has more than 254 distinct offsets")
		}
		if !ok {
			k = addType(t)
			index[t] = k
		}
		idx[i] = byte(k)
	}
	var b []byte
	header := func(ntime, ntype, nchar int) {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, 0, ntime, ntype, nchar} {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
	}
	header(0, 0, 0) // empty version 1 block
	header(len(all), len(types), len(chars))
	for _, o := range all {
		b = binary.BigEndian.AppendUint64(b, uint64(o.at))
	}
	b = append(b, idx...)
	for _, t := range types {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(t.off)))
		dst := byte(0)
		if t.dst {
			dst = 1
		}
		b = append(b, dst, byte(abbr[t.name]))
	}
	b = append(b, chars...)
	if footer != "" {
		b = append(b, '\n')
		b = append(b, footer...)
		b = append(b, '\n')
	}
	return b, nil
}

// posixRule returns the POSIX TZ string that continues a VTIMEZONE's
// offset changes past the year they were expanded to, when the zone ends
// in the usual shape: one STANDARD and one DAYLIGHT observance, each an
// open-ended yearly rule on the nth (or last) weekday of a month.
// Otherwise it returns "", and the last offset holds.
func posixRule(c *Component) string {
	var std, dst string
	for _, o := range c.Comps {
		if o.Name != "STANDARD" && o.Name != "DAYLIGHT" {
			continue
		}
		for _, p := range o.Properties("RRULE") {
			r, err := ParseRule(p.Value)
			if err != nil || r.Count > 0 || !r.Until.IsZero() {
				continue
			}
			part, ok := posixPart(o, r)
			if !ok {
				return ""
			}
			if o.Name == "STANDARD" {
				if std != "" {
					return ""
				}
				std = part
			} else {
				if dst != "" {
					return ""
				}
				dst = part
			}
		}
	}
	if std == "" || dst == "" {
		return ""
	}
	// std and dst are "<name>offset|Mm.w.d/time"; DST needs both.
	sn, sr, _ := strings.Cut(std, "|")
	dn, dr, _ := strings.Cut(dst, "|")
	return sn + dn + "," + dr + "," + sr
}

// posixPart renders one observance as "<name>offset|Mm.w.d/time".
func posixPart(o *Component, r *Rule) (string, bool) {
	if r.Freq != Yearly || r.Interval > 1 || len(r.ByMonth) != 1 || len(r.ByDay) != 1 ||
		len(r.ByMonthDay)+len(r.ByYearDay)+len(r.ByWeekNo)+len(r.BySetPos)+len(r.ByHour)+len(r.ByMinute)+len(r.BySecond) > 0 {
		return "", false
	}
	w := r.ByDay[0].N
	switch {
	case w == -1:
		w = 5
	case w < 1 || w > 4:
		return "", false
	}
	to, ds := o.Property("TZOFFSETTO"), o.Property("DTSTART")
	if to == nil || ds == nil {
		return "", false
	}
	off, err := parseOffset(to.Value, 0)
	if err != nil {
		return "", false
	}
	start, _, err := parseDateTimeValue(strings.TrimSpace(ds.Value), time.UTC, 0)
	if err != nil {
		return "", false
	}
	name := ""
	if p := o.Property("TZNAME"); p != nil {
		name = strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' {
				return r
			}
			return -1
		}, UnescapeText(p.Value))
	}
	hms := func(sec int) string {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	posixOff := hms(max(off, -off))
	if off > 0 {
		posixOff = "-" + posixOff // POSIX counts west of Greenwich
	}
	sod := start.Hour()*3600 + start.Minute()*60 + start.Second()
	return fmt.Sprintf("<%s>%s|M%d.%d.%d/%s", name, posixOff, r.ByMonth[0], w, int(r.ByDay[0].Day), hms(sod)), true
}

// sanitizeAbbr keeps a zone abbreviation printable and short.
func sanitizeAbbr(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

// IANAZone returns an IANA zone with the same offsets as loc at every
// instant of [from, to), chosen among the zones CLDR maps Windows names
// to, or false if none has. It gives a zone that only a VTIMEZONE defines
// (Outlook's "Customized Time Zone", say) a name that other programs
// know, for as long as the two agree.
func IANAZone(loc *time.Location, from, to time.Time) (*time.Location, bool) {
	want := zoneTransitions(loc, from, to)
	_, off0 := from.In(loc).Zone()
	names := make([]string, 0, len(windowsZones))
	for _, n := range windowsZones {
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		cand, ok := loadIANA(n)
		if !ok {
			continue
		}
		if _, off := from.In(cand).Zone(); off != off0 {
			continue
		}
		got := zoneTransitions(cand, from, to)
		if slices.EqualFunc(got, want, func(a, b tzTransition) bool {
			return a.at.Equal(b.at) && a.from == b.from && a.to == b.to
		}) {
			return cand, true
		}
	}
	return nil, false
}
