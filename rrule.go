package relman

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Frequency is the FREQ part of a recurrence rule (RFC 5545 section 3.3.10).
type Frequency int

// The recurrence frequencies of RFC 5545, from the finest to the coarsest.
const (
	FreqSecondly Frequency = iota + 1
	FreqMinutely
	FreqHourly
	FreqDaily
	FreqWeekly
	FreqMonthly
	FreqYearly
)

var freqNames = [...]string{"", "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}

// String returns the RFC 5545 name of f, such as "WEEKLY".
func (f Frequency) String() string {
	if f < FreqSecondly || f > FreqYearly {
		return "Frequency(" + strconv.Itoa(int(f)) + ")"
	}
	return freqNames[f]
}

// UntilForm says how the UNTIL value of a rule is written and compared.
type UntilForm int

const (
	// UntilUTC is a UTC DATE-TIME ("19971224T000000Z"), compared as an instant.
	UntilUTC UntilForm = iota
	// UntilFloating is a DATE-TIME without zone ("19971224T000000"),
	// compared with the local wall-clock time of each occurrence.
	UntilFloating
	// UntilDate is a DATE ("19971224"): occurrences on that local date
	// or before it are kept.
	UntilDate
)

// WeekdayNum is one BYDAY entry: a weekday with an optional ordinal.
// N is 0 for every such weekday of the period, 2 for the second one,
// -1 for the last one.
type WeekdayNum struct {
	N   int
	Day time.Weekday
}

var dayNames = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// String returns the RFC 5545 form, such as "TU", "2TU" or "-1FR".
func (w WeekdayNum) String() string {
	d := "??"
	if w.Day >= time.Sunday && w.Day <= time.Saturday {
		d = dayNames[w.Day]
	}
	if w.N == 0 {
		return d
	}
	return strconv.Itoa(w.N) + d
}

// RRule is an RFC 5545 recurrence rule (the value of an RRULE property).
//
// Build one with ParseRRule, or fill the fields and call Validate. Expansion
// happens in the location of the DTSTART given to All or Between, in local
// wall-clock terms: a rule starting at 22:00 Europe/Paris stays at 22:00
// local time across daylight-saving changes. A local time that does not exist
// (spring-forward gap) is moved forward by the length of the gap, and a local
// time that occurs twice (fall-back) means its first occurrence, as RFC 5545
// section 3.3.5 prescribes. Sub-second parts of DTSTART are ignored.
type RRule struct {
	Freq     Frequency
	Interval int // 0 or 1 means every period
	Count    int // 0: no COUNT

	Until     time.Time // zero: no UNTIL
	UntilForm UntilForm // how Until is written and compared

	BySecond   []int
	ByMinute   []int
	ByHour     []int
	ByDay      []WeekdayNum
	ByMonthDay []int
	ByYearDay  []int
	ByWeekNo   []int
	ByMonth    []int
	BySetPos   []int

	// Wkst is the first day of the week; nil means Monday, the RFC default.
	Wkst *time.Weekday
}

// RRuleError reports an invalid recurrence rule. Part names the offending
// rule part ("FREQ", "BYDAY", …), Value is the text or value given for it.
// ParseRRule and RRule.Validate return it.
type RRuleError struct {
	Part   string
	Value  string
	Reason string
}

// Error implements error.
func (e *RRuleError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("relman: rrule %s: %s", e.Part, e.Reason)
	}
	return fmt.Sprintf("relman: rrule %s=%s: %s", e.Part, e.Value, e.Reason)
}

func rruleErr(part, value, reason string) error {
	return &RRuleError{Part: part, Value: value, Reason: reason}
}

const maxInterval = math.MaxInt32

// ParseRRule parses the value of an RRULE property, such as
// "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6". A leading "RRULE:" is accepted, names
// and values are case-insensitive, and empty parts are ignored. Rule parts
// that RFC 5545 forbids for the given FREQ (BYWEEKNO outside YEARLY, BYDAY
// ordinals outside MONTHLY and YEARLY, …) are refused. Every error is an
// *RRuleError naming the part.
func ParseRRule(s string) (*RRule, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 6 && strings.EqualFold(s[:6], "RRULE:") {
		s = s[6:]
	}
	r := &RRule{Interval: 1}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok {
			return nil, rruleErr(name, "", "missing '='")
		}
		if seen[name] {
			return nil, rruleErr(name, value, "given more than once")
		}
		seen[name] = true
		if value == "" {
			return nil, rruleErr(name, "", "empty value")
		}
		var err error
		switch name {
		case "FREQ":
			r.Freq, err = parseFreq(value)
		case "INTERVAL":
			r.Interval, err = parseIntIn(name, value, 1, maxInterval)
		case "COUNT":
			r.Count, err = parseIntIn(name, value, 1, math.MaxInt32)
		case "UNTIL":
			r.Until, r.UntilForm, err = parseUntil(value)
		case "BYSECOND":
			r.BySecond, err = parseIntList(name, value, 0, 60, false)
		case "BYMINUTE":
			r.ByMinute, err = parseIntList(name, value, 0, 59, false)
		case "BYHOUR":
			r.ByHour, err = parseIntList(name, value, 0, 23, false)
		case "BYDAY":
			r.ByDay, err = parseByDay(value)
		case "BYMONTHDAY":
			r.ByMonthDay, err = parseIntList(name, value, 1, 31, true)
		case "BYYEARDAY":
			r.ByYearDay, err = parseIntList(name, value, 1, 366, true)
		case "BYWEEKNO":
			r.ByWeekNo, err = parseIntList(name, value, 1, 53, true)
		case "BYMONTH":
			r.ByMonth, err = parseIntList(name, value, 1, 12, false)
		case "BYSETPOS":
			r.BySetPos, err = parseIntList(name, value, 1, 366, true)
		case "WKST":
			var d time.Weekday
			d, err = parseWeekday(name, value)
			r.Wkst = &d
		default:
			return nil, rruleErr(name, value, "unknown rule part")
		}
		if err != nil {
			return nil, err
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func parseFreq(v string) (Frequency, error) {
	u := strings.ToUpper(v)
	for f := FreqSecondly; f <= FreqYearly; f++ {
		if freqNames[f] == u {
			return f, nil
		}
	}
	return 0, rruleErr("FREQ", v, "unknown frequency")
}

func parseIntIn(part, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, rruleErr(part, v, "not an integer")
	}
	if n < lo || n > hi {
		return 0, rruleErr(part, v, fmt.Sprintf("out of range %d..%d", lo, hi))
	}
	return n, nil
}

// parseIntList parses a comma-separated list; with signed, values in
// -hi..-lo are accepted too.
func parseIntList(part, v string, lo, hi int, signed bool) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil {
			return nil, rruleErr(part, v, fmt.Sprintf("%q is not an integer", item))
		}
		m := n
		if signed && m < 0 {
			m = -m
		}
		if m < lo || m > hi {
			rng := fmt.Sprintf("%d..%d", lo, hi)
			if signed {
				rng = fmt.Sprintf("%d..%d or %d..%d", -hi, -lo, lo, hi)
			}
			return nil, rruleErr(part, v, fmt.Sprintf("%d out of range %s", n, rng))
		}
		out = append(out, n)
	}
	return out, nil
}

func parseWeekday(part, v string) (time.Weekday, error) {
	u := strings.ToUpper(v)
	for i, n := range dayNames {
		if n == u {
			return time.Weekday(i), nil
		}
	}
	return 0, rruleErr(part, v, "unknown weekday")
}

func parseByDay(v string) ([]WeekdayNum, error) {
	var out []WeekdayNum
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if len(item) < 2 {
			return nil, rruleErr("BYDAY", v, fmt.Sprintf("%q is not a weekday", item))
		}
		d, err := parseWeekday("BYDAY", item[len(item)-2:])
		if err != nil {
			return nil, rruleErr("BYDAY", v, fmt.Sprintf("%q is not a weekday", item))
		}
		w := WeekdayNum{Day: d}
		if num := item[:len(item)-2]; num != "" {
			n, err := strconv.Atoi(num)
			if err != nil || n == 0 || n < -53 || n > 53 {
				return nil, rruleErr("BYDAY", v, fmt.Sprintf("ordinal in %q must be 1..53 or -53..-1", item))
			}
			w.N = n
		}
		out = append(out, w)
	}
	return out, nil
}

func parseUntil(v string) (time.Time, UntilForm, error) {
	u := strings.ToUpper(v)
	var layout string
	form := UntilUTC
	switch {
	case len(u) == 8:
		layout, form = "20060102", UntilDate
	case len(u) == 15:
		layout, form = "20060102T150405", UntilFloating
	case len(u) == 16 && u[15] == 'Z':
		layout, u = "20060102T150405", u[:15]
	default:
		return time.Time{}, 0, rruleErr("UNTIL", v, "not a DATE or DATE-TIME")
	}
	t, err := time.Parse(layout, u)
	if err != nil || !allDigitsDateTime(u) {
		return time.Time{}, 0, rruleErr("UNTIL", v, "not a valid DATE or DATE-TIME")
	}
	if t.IsZero() {
		return time.Time{}, 0, rruleErr("UNTIL", v, "must be after 0001-01-01T00:00:00")
	}
	return t, form, nil
}

// allDigitsDateTime checks that a DATE or DATE-TIME has digits where
// time.Parse would also accept other characters (it does not, but be strict
// about signs and spaces).
func allDigitsDateTime(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 {
			if c != 'T' {
				return false
			}
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Validate reports whether r is a rule RFC 5545 allows, as an *RRuleError.
// Expanding an invalid rule yields nothing.
func (r *RRule) Validate() error {
	if r == nil {
		return rruleErr("FREQ", "", "missing rule")
	}
	if r.Freq < FreqSecondly || r.Freq > FreqYearly {
		if r.Freq == 0 {
			return rruleErr("FREQ", "", "missing")
		}
		return rruleErr("FREQ", r.Freq.String(), "unknown frequency")
	}
	if r.Interval < 0 || r.Interval > maxInterval {
		return rruleErr("INTERVAL", strconv.Itoa(r.Interval), "must be positive")
	}
	if r.Count < 0 || r.Count > math.MaxInt32 {
		return rruleErr("COUNT", strconv.Itoa(r.Count), "must be positive")
	}
	if r.Count > 0 && !r.Until.IsZero() {
		return rruleErr("COUNT", strconv.Itoa(r.Count), "COUNT and UNTIL must not both be given")
	}
	if r.UntilForm < UntilUTC || r.UntilForm > UntilDate {
		return rruleErr("UNTIL", "", "unknown form")
	}
	if !r.Until.IsZero() && (r.Until.Year() < 0 || r.Until.Year() > 9999) {
		return rruleErr("UNTIL", "", "year out of range 0..9999")
	}
	checks := []struct {
		part   string
		vals   []int
		lo, hi int
		signed bool
	}{
		{"BYSECOND", r.BySecond, 0, 59, false},
		{"BYMINUTE", r.ByMinute, 0, 59, false},
		{"BYHOUR", r.ByHour, 0, 23, false},
		{"BYMONTHDAY", r.ByMonthDay, 1, 31, true},
		{"BYYEARDAY", r.ByYearDay, 1, 366, true},
		{"BYWEEKNO", r.ByWeekNo, 1, 53, true},
		{"BYMONTH", r.ByMonth, 1, 12, false},
		{"BYSETPOS", r.BySetPos, 1, 366, true},
	}
	for _, c := range checks {
		for _, v := range c.vals {
			m := v
			if c.signed && m < 0 {
				m = -m
			}
			if m < c.lo || m > c.hi {
				reason := fmt.Sprintf("%d out of range", v)
				if c.part == "BYSECOND" && v == 60 {
					reason = "leap second 60 is not supported"
				}
				return rruleErr(c.part, joinInts(c.vals), reason)
			}
		}
	}
	for _, w := range r.ByDay {
		if w.Day < time.Sunday || w.Day > time.Saturday || w.N < -53 || w.N > 53 {
			return rruleErr("BYDAY", joinDays(r.ByDay), "invalid weekday")
		}
		if w.N != 0 {
			if r.Freq != FreqMonthly && r.Freq != FreqYearly {
				return rruleErr("BYDAY", joinDays(r.ByDay), "ordinals are only allowed with FREQ=MONTHLY or YEARLY")
			}
			if r.Freq == FreqYearly && len(r.ByWeekNo) > 0 {
				return rruleErr("BYDAY", joinDays(r.ByDay), "ordinals are not allowed together with BYWEEKNO")
			}
		}
	}
	if r.Wkst != nil && (*r.Wkst < time.Sunday || *r.Wkst > time.Saturday) {
		return rruleErr("WKST", "", "invalid weekday")
	}
	if len(r.ByMonthDay) > 0 && r.Freq == FreqWeekly {
		return rruleErr("BYMONTHDAY", joinInts(r.ByMonthDay), "not allowed with FREQ=WEEKLY")
	}
	if len(r.ByYearDay) > 0 && (r.Freq == FreqDaily || r.Freq == FreqWeekly || r.Freq == FreqMonthly) {
		return rruleErr("BYYEARDAY", joinInts(r.ByYearDay), "not allowed with FREQ="+r.Freq.String())
	}
	if len(r.ByWeekNo) > 0 && r.Freq != FreqYearly {
		return rruleErr("BYWEEKNO", joinInts(r.ByWeekNo), "only allowed with FREQ=YEARLY")
	}
	if len(r.BySetPos) > 0 && len(r.BySecond)+len(r.ByMinute)+len(r.ByHour)+len(r.ByDay)+
		len(r.ByMonthDay)+len(r.ByYearDay)+len(r.ByWeekNo)+len(r.ByMonth) == 0 {
		return rruleErr("BYSETPOS", joinInts(r.BySetPos), "needs another BYxxx rule part")
	}
	return nil
}

func joinInts(v []int) string {
	var b strings.Builder
	for i, n := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

func joinDays(v []WeekdayNum) string {
	var b strings.Builder
	for i, d := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// String returns the rule in RFC 5545 form, parts in a fixed order. For a
// rule from ParseRRule, ParseRRule(r.String()) gives back an equal rule.
func (r *RRule) String() string {
	var b strings.Builder
	b.WriteString("FREQ=")
	b.WriteString(r.Freq.String())
	if !r.Until.IsZero() {
		b.WriteString(";UNTIL=")
		switch r.UntilForm {
		case UntilDate:
			b.WriteString(r.Until.Format("20060102"))
		case UntilFloating:
			b.WriteString(r.Until.Format("20060102T150405"))
		default:
			b.WriteString(r.Until.UTC().Format("20060102T150405Z"))
		}
	}
	if r.Count > 0 {
		b.WriteString(";COUNT=")
		b.WriteString(strconv.Itoa(r.Count))
	}
	if r.Interval > 1 {
		b.WriteString(";INTERVAL=")
		b.WriteString(strconv.Itoa(r.Interval))
	}
	lists := []struct {
		name string
		vals []int
	}{
		{"BYSECOND", r.BySecond}, {"BYMINUTE", r.ByMinute}, {"BYHOUR", r.ByHour},
	}
	for _, l := range lists {
		if len(l.vals) > 0 {
			b.WriteString(";" + l.name + "=" + joinInts(l.vals))
		}
	}
	if len(r.ByDay) > 0 {
		b.WriteString(";BYDAY=" + joinDays(r.ByDay))
	}
	lists = []struct {
		name string
		vals []int
	}{
		{"BYMONTHDAY", r.ByMonthDay}, {"BYYEARDAY", r.ByYearDay}, {"BYWEEKNO", r.ByWeekNo},
		{"BYMONTH", r.ByMonth}, {"BYSETPOS", r.BySetPos},
	}
	for _, l := range lists {
		if len(l.vals) > 0 {
			b.WriteString(";" + l.name + "=" + joinInts(l.vals))
		}
	}
	if r.Wkst != nil {
		b.WriteString(";WKST=" + WeekdayNum{Day: *r.Wkst}.String())
	}
	return b.String()
}

// All returns the occurrences of r for a series starting at dtstart, in
// ascending order, in dtstart's location. Only instants matching the rule
// are produced (DTSTART itself only if it matches); see Recurrence for the
// full RFC 5545 recurrence set. The sequence may be infinite.
func (r *RRule) All(dtstart time.Time) iter.Seq[time.Time] {
	return r.Between(dtstart, time.Time{}, time.Time{})
}

// Between returns the occurrences t of r for a series starting at dtstart
// with from <= t < to, in ascending order, in dtstart's location. A zero from
// or to leaves that side open. Expansion is lazy; without COUNT it starts
// at the period containing from instead of at dtstart.
func (r *RRule) Between(dtstart, from, to time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		if r.Validate() != nil {
			return
		}
		x := newExpander(r, dtstart)
		loc := dtstart.Location()
		x.run(from, to, func(u int64) bool {
			return yield(time.Unix(u, 0).In(loc))
		})
	}
}

// ---------------------------------------------------------------------------
// Civil calendar arithmetic on day numbers (days since 1970-01-01).

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// daysFromCivil returns the day number of the proleptic Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func weekdayOf(day int64) int { return int(floorMod(day+4, 7)) } // 1970-01-01 was a Thursday

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int64) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

var cumDays = [13]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

// dayCur walks days one at a time keeping their civil fields.
type dayCur struct {
	day      int64
	y        int64
	m, d     int
	yday, wd int
	dim      int
	ylen     int
}

func newDayCur(day int64) dayCur {
	y, m, d := civilFromDays(day)
	c := dayCur{day: day, y: y, m: int(m), d: int(d), wd: weekdayOf(day)}
	c.dim = daysIn(y, m)
	c.ylen = 365
	if isLeap(y) {
		c.ylen = 366
	}
	c.yday = cumDays[m] + int(d)
	if m > 2 && c.ylen == 366 {
		c.yday++
	}
	return c
}

func (c *dayCur) next() {
	c.day++
	c.wd++
	if c.wd == 7 {
		c.wd = 0
	}
	c.d++
	c.yday++
	if c.d > c.dim {
		c.d = 1
		c.m++
		if c.m > 12 {
			c.m = 1
			c.y++
			c.yday = 1
			c.ylen = 365
			if isLeap(c.y) {
				c.ylen = 366
			}
		}
		c.dim = daysIn(c.y, int64(c.m))
	}
}

// ---------------------------------------------------------------------------
// Local wall-clock time to instant, RFC 5545 section 3.3.5.

// zoneCache converts civil seconds (local wall-clock seconds since
// 1970-01-01T00:00:00) to Unix seconds in one location, remembering the
// current zone period so that most conversions are one subtraction.
type zoneCache struct {
	loc    *time.Location
	lo, hi int64 // the fast path is valid for instants in [lo, hi)
	off    int64
	ok     bool
}

// resolve returns the instant of local civil time l. A local time in a
// spring-forward gap is moved forward by the gap length (shifted reports
// it); a local time that occurs twice gives the first one.
func (z *zoneCache) resolve(l int64) (u int64, shifted bool) {
	if z.ok {
		u = l - z.off
		if u >= z.lo && u < z.hi {
			return u, false
		}
	}
	return z.slow(l)
}

func (z *zoneCache) slow(l int64) (int64, bool) {
	day := floorDiv(l, 86400)
	sod := l - day*86400
	y, mo, d := civilFromDays(day)
	t := time.Date(int(y), time.Month(mo), int(d), int(sod/3600), int(sod/60%60), int(sod%60), 0, z.loc)
	_, off := t.Zone()
	u := t.Unix()
	wall := u + int64(off)
	shifted := false
	switch {
	case wall == l:
		// Valid; if ambiguous, take the first occurrence.
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			_, pOff := start.Add(-time.Second).Zone()
			if pOff > off && u < start.Unix()+int64(pOff-off) {
				u = l - int64(pOff)
			}
		}
	case wall > l:
		// In a gap and interpreted with the offset before it: what RFC 5545 wants.
		shifted = true
	default:
		// In a gap and interpreted with the offset after it: use the one before.
		u = l - int64(off)
		shifted = true
	}
	z.fill(u)
	return u, shifted
}

func (z *zoneCache) fill(u int64) {
	t := time.Unix(u, 0).In(z.loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !start.IsZero() {
		lo = start.Unix()
		if _, pOff := start.Add(-time.Second).Zone(); pOff > off {
			lo += int64(pOff - off) // wall times here also occurred just before
		}
	}
	if !end.IsZero() {
		hi = end.Unix()
	}
	z.lo, z.hi, z.off, z.ok = lo, hi, int64(off), true
}

// localToTime converts a wall-clock time in loc to an instant per RFC 5545
// section 3.3.5 (gap: forward by the gap length; overlap: first occurrence).
func localToTime(y int, mo time.Month, d, h, mi, s int, loc *time.Location) time.Time {
	day := daysFromCivil(int64(y), int64(mo), int64(d))
	l := day*86400 + int64(h)*3600 + int64(mi)*60 + int64(s)
	z := zoneCache{loc: loc}
	u, _ := z.resolve(l)
	return time.Unix(u, 0).In(loc)
}

// civilOf returns the local civil seconds of t in its location.
func civilOf(t time.Time) int64 {
	_, off := t.Zone()
	return t.Unix() + int64(off)
}

// ---------------------------------------------------------------------------
// Expansion.

const (
	maxYear     = 9999
	maxEmptyRun = 1 << 20 // consecutive periods without a candidate before giving up
)

type expander struct {
	r     *RRule
	freq  Frequency
	iv    int64
	zc    zoneCache
	start int64 // Unix seconds of DTSTART
	sL    int64 // civil seconds of DTSTART
	sDay  int64
	wkst  int

	monthMask        uint16
	mdayPos, mdayNeg uint32
	ydayPos, ydayNeg [6]uint64
	hasYday          bool
	wnoPos, wnoNeg   uint64
	wdMask           uint8
	ordinals         []WeekdayNum
	hasByDay         bool
	ordInYear        bool // ordinals count within the year (YEARLY without BYMONTH)
	hourMask         uint32
	minMask, secMask uint64
	times            []int64 // seconds added to the period base, ascending
	setpos           []int

	w1Year  [2]int64 // week-1 start cache: year → day
	w1Start [2]int64
	capDay  int64
	days    []int64 // matched days of the current period (scratch)
}

func newExpander(r *RRule, dtstart time.Time) *expander {
	loc := dtstart.Location()
	x := &expander{r: r, freq: r.Freq, iv: int64(max(r.Interval, 1)), zc: zoneCache{loc: loc}}
	x.start = dtstart.Unix()
	x.sL = civilOf(dtstart)
	x.sDay = floorDiv(x.sL, 86400)
	x.wkst = int(time.Monday)
	if r.Wkst != nil {
		x.wkst = int(*r.Wkst)
	}
	x.capDay = daysFromCivil(maxYear+1, 1, 1)
	sc := newDayCur(x.sDay)
	sod := x.sL - x.sDay*86400
	sh, sm, ss := int(sod/3600), int(sod/60%60), int(sod%60)

	for _, m := range r.ByMonth {
		x.monthMask |= 1 << m
	}
	mdays := r.ByMonthDay
	byday := r.ByDay
	months := r.ByMonth
	noDaySel := len(r.ByWeekNo) == 0 && len(r.ByYearDay) == 0 && len(r.ByMonthDay) == 0 && len(r.ByDay) == 0
	switch r.Freq {
	case FreqYearly:
		if noDaySel {
			if len(months) == 0 {
				x.monthMask = 1 << sc.m
			}
			mdays = []int{sc.d}
		} else if len(r.ByWeekNo) > 0 && len(r.ByYearDay) == 0 && len(r.ByMonthDay) == 0 && len(r.ByDay) == 0 {
			byday = []WeekdayNum{{Day: time.Weekday(sc.wd)}}
		}
	case FreqMonthly:
		if len(r.ByMonthDay) == 0 && len(r.ByDay) == 0 && len(r.ByYearDay) == 0 {
			mdays = []int{sc.d}
		}
	case FreqWeekly:
		if len(r.ByDay) == 0 {
			byday = []WeekdayNum{{Day: time.Weekday(sc.wd)}}
		}
	}
	for _, d := range mdays {
		if d > 0 {
			x.mdayPos |= 1 << d
		} else {
			x.mdayNeg |= 1 << -d
		}
	}
	for _, d := range r.ByYearDay {
		x.hasYday = true
		if d > 0 {
			x.ydayPos[d/64] |= 1 << (d % 64)
		} else {
			x.ydayNeg[-d/64] |= 1 << (-d % 64)
		}
	}
	for _, w := range r.ByWeekNo {
		if w > 0 {
			x.wnoPos |= 1 << w
		} else {
			x.wnoNeg |= 1 << -w
		}
	}
	for _, w := range byday {
		x.hasByDay = true
		if w.N == 0 {
			x.wdMask |= 1 << w.Day
		} else {
			x.ordinals = append(x.ordinals, w)
		}
	}
	x.ordInYear = r.Freq == FreqYearly && len(months) == 0

	hours, mins, secs := r.ByHour, r.ByMinute, r.BySecond
	for _, h := range hours {
		x.hourMask |= 1 << h
	}
	for _, m := range mins {
		x.minMask |= 1 << m
	}
	for _, s := range secs {
		x.secMask |= 1 << s
	}
	if len(hours) == 0 {
		hours = []int{sh}
	}
	if len(mins) == 0 {
		mins = []int{sm}
	}
	if len(secs) == 0 {
		secs = []int{ss}
	}
	hours, mins, secs = sortedSet(hours), sortedSet(mins), sortedSet(secs)
	switch r.Freq {
	case FreqSecondly:
		x.times = []int64{0}
	case FreqMinutely:
		for _, s := range secs {
			x.times = append(x.times, int64(s))
		}
	case FreqHourly:
		for _, m := range mins {
			for _, s := range secs {
				x.times = append(x.times, int64(m*60+s))
			}
		}
	default:
		for _, h := range hours {
			for _, m := range mins {
				for _, s := range secs {
					x.times = append(x.times, int64(h*3600+m*60+s))
				}
			}
		}
	}
	if len(r.BySetPos) > 0 {
		x.setpos = r.BySetPos
	}
	return x
}

func sortedSet(v []int) []int {
	v = slices.Clone(v)
	slices.Sort(v)
	return slices.Compact(v)
}

// dayOK applies the day-level rule parts to one day.
func (x *expander) dayOK(c *dayCur) bool {
	if x.monthMask != 0 && x.monthMask&(1<<c.m) == 0 {
		return false
	}
	if x.mdayPos|x.mdayNeg != 0 {
		if x.mdayPos&(1<<c.d) == 0 && x.mdayNeg&(1<<(c.dim-c.d+1)) == 0 {
			return false
		}
	}
	if x.hasYday {
		neg := c.ylen - c.yday + 1
		if x.ydayPos[c.yday/64]&(1<<(c.yday%64)) == 0 && x.ydayNeg[neg/64]&(1<<(neg%64)) == 0 {
			return false
		}
	}
	if x.wnoPos|x.wnoNeg != 0 {
		wno, total := x.weekNo(c)
		if x.wnoPos&(1<<wno) == 0 && x.wnoNeg&(1<<(total-wno+1)) == 0 {
			return false
		}
	}
	if x.hasByDay {
		if x.wdMask&(1<<c.wd) != 0 {
			return true
		}
		for _, o := range x.ordinals {
			if int(o.Day) != c.wd {
				continue
			}
			var nth, nthEnd int
			if x.ordInYear {
				nth, nthEnd = (c.yday-1)/7+1, -((c.ylen-c.yday)/7 + 1)
			} else {
				nth, nthEnd = (c.d-1)/7+1, -((c.dim-c.d)/7 + 1)
			}
			if o.N == nth || o.N == nthEnd {
				return true
			}
		}
		return false
	}
	return true
}

// weekNo returns the week number of the day (weeks start on WKST; week 1 is
// the first with at least four days in its year) and the number of weeks of
// the year that owns that week.
func (x *expander) weekNo(c *dayCur) (wno, total int) {
	ws := c.day - int64((c.wd-x.wkst+7)%7)
	wy, _, _ := civilFromDays(ws + 3)
	w1 := x.week1(wy)
	return int((ws-w1)/7) + 1, int((x.week1(wy+1) - w1) / 7)
}

func (x *expander) week1(y int64) int64 {
	for i := range x.w1Year {
		if x.w1Year[i] == y && x.w1Start[i] != 0 {
			return x.w1Start[i]
		}
	}
	jan1 := daysFromCivil(y, 1, 1)
	off := int64((weekdayOf(jan1) - x.wkst + 7) % 7)
	ws := jan1 - off
	if off > 3 {
		ws += 7
	}
	x.w1Year[1], x.w1Start[1] = x.w1Year[0], x.w1Start[0]
	x.w1Year[0], x.w1Start[0] = y, ws
	return ws
}

// firstPeriod returns the index of the first period that may hold an
// occurrence at or after local civil seconds l.
func (x *expander) firstPeriod(l int64) int64 {
	day := floorDiv(l, 86400) - 1
	var k int64
	switch x.freq {
	case FreqYearly:
		y, _, _ := civilFromDays(day)
		sy, _, _ := civilFromDays(x.sDay)
		k = floorDiv(y-sy, x.iv)
	case FreqMonthly:
		y, m, _ := civilFromDays(day)
		sy, sm, _ := civilFromDays(x.sDay)
		k = floorDiv((y*12+m)-(sy*12+sm), x.iv)
	case FreqWeekly:
		k = floorDiv(day-x.weekStart0(), 7*x.iv)
	case FreqDaily:
		k = floorDiv(day-x.sDay, x.iv)
	default:
		k = floorDiv(day*86400-x.subBase(), x.iv*x.unit())
	}
	return max(k, 0)
}

func (x *expander) weekStart0() int64 {
	return x.sDay - int64((weekdayOf(x.sDay)-x.wkst+7)%7)
}

func (x *expander) unit() int64 {
	switch x.freq {
	case FreqHourly:
		return 3600
	case FreqMinutely:
		return 60
	}
	return 1
}

func (x *expander) subBase() int64 { return x.sL - floorMod(x.sL, x.unit()) }

// civil produces the candidate local civil times of the rule in ascending
// order, from period k on, until stopL (exclusive bound on period starts)
// or the end of year 9999.
func (x *expander) civil(k int64, stopL int64, yield func(l int64) bool) {
	empty := 0
	if x.freq <= FreqHourly {
		x.civilSub(k, stopL, yield)
		return
	}
	sy, sm, _ := civilFromDays(x.sDay)
	ws0 := x.weekStart0()
	for ; ; k++ {
		var first int64
		var n int
		switch x.freq {
		case FreqYearly:
			y := sy + k*x.iv
			if y > maxYear {
				return
			}
			first, n = daysFromCivil(y, 1, 1), 365
			if isLeap(y) {
				n = 366
			}
		case FreqMonthly:
			mi := sy*12 + sm - 1 + k*x.iv
			y, m := floorDiv(mi, 12), floorMod(mi, 12)+1
			if y > maxYear {
				return
			}
			first, n = daysFromCivil(y, m, 1), daysIn(y, m)
		case FreqWeekly:
			first, n = ws0+7*k*x.iv, 7
		default:
			first, n = x.sDay+k*x.iv, 1
		}
		if first >= x.capDay || first*86400 > stopL {
			return
		}
		days := x.days[:0]
		c := newDayCur(first)
		for i := 0; i < n; i++ {
			if x.dayOK(&c) {
				days = append(days, c.day)
			}
			c.next()
		}
		x.days = days
		if len(days) == 0 {
			if empty++; empty >= maxEmptyRun {
				return
			}
			continue
		}
		more, any := x.emitPeriod(days, 0, yield)
		if !more {
			return
		}
		if !any {
			if empty++; empty >= maxEmptyRun {
				return
			}
			continue
		}
		empty = 0
	}
}

// emitPeriod yields day*86400+base+t for each matched day and time, or only
// the BYSETPOS positions of that set. It reports whether to go on and
// whether it yielded anything.
func (x *expander) emitPeriod(days []int64, base int64, yield func(int64) bool) (more, any bool) {
	if x.setpos == nil {
		for _, d := range days {
			for _, t := range x.times {
				if !yield(d*86400 + base + t) {
					return false, true
				}
			}
		}
		return true, len(days) > 0
	}
	nt := len(x.times)
	total := len(days) * nt
	var buf [8]int
	idx := buf[:0]
	for _, p := range x.setpos {
		i := p - 1
		if p < 0 {
			i = total + p
		}
		if i >= 0 && i < total {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		if !yield(days[i/nt]*86400 + base + x.times[i%nt]) {
			return false, true
		}
	}
	return true, len(idx) > 0
}

// civilSub is civil for HOURLY, MINUTELY and SECONDLY: each period is a
// single hour, minute or second; limits skip whole days, hours or minutes.
func (x *expander) civilSub(k int64, stopL int64, yield func(l int64) bool) {
	base0, unit := x.subBase(), x.unit()
	step := unit * x.iv
	empty := 0
	var one [1]int64
	// skipTo returns the first period index whose start is at or after l.
	skipTo := func(l int64) int64 { return floorDiv(l-base0+step-1, step) }
	for {
		p := base0 + k*step
		if p > stopL {
			return
		}
		day := floorDiv(p, 86400)
		if day >= x.capDay {
			return
		}
		if empty++; empty > maxEmptyRun {
			return
		}
		sod := p - day*86400
		c := newDayCur(day)
		if !x.dayOK(&c) {
			k = skipTo((day + 1) * 86400)
			continue
		}
		h, m, s := sod/3600, sod/60%60, sod%60
		if x.hourMask != 0 && x.hourMask&(1<<h) == 0 {
			k = max(skipTo(p-sod%3600+3600), k+1)
			continue
		}
		if x.freq <= FreqMinutely && x.minMask != 0 && x.minMask&(1<<m) == 0 {
			k = max(skipTo(p-sod%60+60), k+1)
			continue
		}
		if x.freq == FreqSecondly && x.secMask != 0 && x.secMask&(1<<s) == 0 {
			k++
			continue
		}
		one[0] = day
		more, any := x.emitPeriod(one[:], sod, yield)
		if !more {
			return
		}
		if any {
			empty = 0
		}
		k++
	}
}

// run expands the rule from the series start and yields the Unix seconds of
// the occurrences in [from, to) (zero times are open bounds), ordered and
// without duplicates, honouring COUNT and UNTIL.
func (x *expander) run(from, to time.Time, yield func(u int64) bool) {
	r := x.r
	fromU, toU := int64(math.MinInt64), int64(math.MaxInt64)
	stopL := int64(math.MaxInt64)
	var k0 int64
	if !from.IsZero() {
		fromU = from.Unix()
		if from.Nanosecond() > 0 {
			fromU++
		}
		if r.Count == 0 {
			k0 = x.firstPeriod(civilOf(from.In(x.zc.loc)))
		}
	}
	if !to.IsZero() {
		toU = to.Unix()
		if to.Nanosecond() > 0 {
			toU++
		}
		stopL = civilOf(to.In(x.zc.loc)) + 86400
	}
	var untilU, untilL int64 = math.MaxInt64, math.MaxInt64
	if !r.Until.IsZero() {
		switch r.UntilForm {
		case UntilUTC:
			untilU = r.Until.Unix()
		case UntilFloating:
			untilL = civilOf(r.Until.UTC())
		case UntilDate:
			untilL = floorDiv(civilOf(r.Until.UTC()), 86400)*86400 + 86399
		}
	}
	count := 0
	last := int64(math.MinInt64)
	var pending []int64
	stopped := false
	emit := func(u int64) bool {
		if u <= last {
			return true
		}
		last = u
		if u >= toU {
			stopped = true
			return false
		}
		count++
		if u >= fromU && !yield(u) {
			stopped = true
			return false
		}
		if r.Count > 0 && count >= r.Count {
			stopped = true
			return false
		}
		return true
	}
	x.civil(k0, stopL, func(l int64) bool {
		if l > untilL {
			return false
		}
		u, shifted := x.zc.resolve(l)
		if u < x.start {
			return true
		}
		if u > untilU {
			return shifted
		}
		if shifted {
			i, _ := slices.BinarySearch(pending, u)
			pending = slices.Insert(pending, i, u)
			return true
		}
		for len(pending) > 0 && pending[0] <= u {
			p := pending[0]
			pending = pending[1:]
			if !emit(p) {
				return false
			}
		}
		return emit(u)
	})
	if stopped {
		return
	}
	for _, p := range pending {
		if !emit(p) {
			return
		}
	}
}

// ---------------------------------------------------------------------------
// Recurrence sets.

// Recurrence is an RFC 5545 recurrence set: DTSTART, an optional RRULE,
// extra RDATE instants, and EXDATE instants that are removed. Start is the
// first instance whether or not it matches Rule, and its location is the
// one the rule is expanded in. Instants compare to the second.
type Recurrence struct {
	Start   time.Time
	Rule    *RRule
	RDates  []time.Time
	ExDates []time.Time
}

// Between returns the instants t of the set with from <= t < to in
// ascending order without duplicates, in Start's location. A zero from or
// to leaves that side open.
func (rc *Recurrence) Between(from, to time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		loc := rc.Start.Location()
		extra := make([]int64, 0, len(rc.RDates)+1)
		extra = append(extra, rc.Start.Unix())
		for _, t := range rc.RDates {
			extra = append(extra, t.Unix())
		}
		slices.Sort(extra)
		extra = slices.Compact(extra)
		var ex []int64
		if len(rc.ExDates) > 0 {
			ex = make([]int64, len(rc.ExDates))
			for i, t := range rc.ExDates {
				ex[i] = t.Unix()
			}
			slices.Sort(ex)
		}
		fromU, toU := int64(math.MinInt64), int64(math.MaxInt64)
		if !from.IsZero() {
			fromU = from.Unix()
			if from.Nanosecond() > 0 {
				fromU++
			}
		}
		if !to.IsZero() {
			toU = to.Unix()
			if to.Nanosecond() > 0 {
				toU++
			}
		}
		last := int64(math.MinInt64)
		out := func(u int64) bool {
			if u <= last || u < fromU {
				return true
			}
			last = u
			if _, found := slices.BinarySearch(ex, u); found {
				return true
			}
			return yield(time.Unix(u, 0).In(loc))
		}
		ei := 0
		if rc.Rule != nil && rc.Rule.Validate() == nil {
			x := newExpander(rc.Rule, rc.Start)
			stopped := false
			x.run(from, to, func(u int64) bool {
				for ei < len(extra) && extra[ei] <= u {
					if extra[ei] >= toU || !out(extra[ei]) {
						stopped = true
						return false
					}
					ei++
				}
				if !out(u) {
					stopped = true
					return false
				}
				return true
			})
			if stopped {
				return
			}
		}
		for ; ei < len(extra) && extra[ei] < toU; ei++ {
			if !out(extra[ei]) {
				return
			}
		}
	}
}

// After returns the first instant of the set at or after t.
func (rc *Recurrence) After(t time.Time) (time.Time, bool) {
	for u := range rc.Between(t, time.Time{}) {
		return u, true
	}
	return time.Time{}, false
}
