package ical

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
)

// Frequency is the FREQ part of a recurrence rule (RFC 5545 section 3.3.10).
type Frequency int

// The recurrence frequencies of RFC 5545, from the finest to the coarsest.
const (
	Secondly Frequency = iota + 1
	Minutely
	Hourly
	Daily
	Weekly
	Monthly
	Yearly
)

var freqNames = [...]string{"", "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}

// String returns the RFC 5545 name of f, such as "WEEKLY".
func (f Frequency) String() string {
	if f < Secondly || f > Yearly {
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

// Rule is an RFC 5545 recurrence rule (the value of an RRULE property).
//
// Build one with ParseRule, or fill the fields and call Validate. Expansion
// happens in the location of the DTSTART given to All or Between, in local
// wall-clock terms: a rule starting at 22:00 Europe/Paris stays at 22:00
// local time across daylight-saving changes. A local time that does not exist
// (spring-forward gap) is moved forward by the length of the gap, and a local
// time that occurs twice (fall-back) means its first occurrence, as RFC 5545
// section 3.3.5 prescribes. Sub-second parts of DTSTART are ignored.
type Rule struct {
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

// RuleError reports an invalid recurrence rule. Part names the offending
// rule part ("FREQ", "BYDAY", …), Value is the text or value given for it.
// ParseRule and Rule.Validate return it.
type RuleError struct {
	Part   string
	Value  string
	Reason string
}

// Error implements error.
func (e *RuleError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("ical: rrule %s: %s", e.Part, e.Reason)
	}
	return fmt.Sprintf("ical: rrule %s=%s: %s", e.Part, e.Value, e.Reason)
}

func ruleErr(part, value, reason string) error {
	return &RuleError{Part: part, Value: value, Reason: reason}
}

const maxInterval = math.MaxInt32

// ParseRule parses the value of an RRULE property, such as
// "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6". A leading "RRULE:" is accepted, names
// and values are case-insensitive, and empty parts are ignored. Rule parts
// that RFC 5545 forbids for the given FREQ (BYWEEKNO outside YEARLY, BYDAY
// ordinals outside MONTHLY and YEARLY, …) are refused. Every error is an
// *RuleError naming the part.
func ParseRule(s string) (*Rule, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 6 && strings.EqualFold(s[:6], "RRULE:") {
		s = s[6:]
	}
	r := &Rule{Interval: 1}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok {
			return nil, ruleErr(name, "", "missing '='")
		}
		if seen[name] {
			return nil, ruleErr(name, value, "given more than once")
		}
		seen[name] = true
		if value == "" {
			return nil, ruleErr(name, "", "empty value")
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
			return nil, ruleErr(name, value, "unknown rule part")
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
	for f := Secondly; f <= Yearly; f++ {
		if freqNames[f] == u {
			return f, nil
		}
	}
	return 0, ruleErr("FREQ", v, "unknown frequency")
}

func parseIntIn(part, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, ruleErr(part, v, "not an integer")
	}
	if n < lo || n > hi {
		return 0, ruleErr(part, v, fmt.Sprintf("out of range %d..%d", lo, hi))
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
			return nil, ruleErr(part, v, fmt.Sprintf("%q is not an integer", item))
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
			return nil, ruleErr(part, v, fmt.Sprintf("%d out of range %s", n, rng))
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
	return 0, ruleErr(part, v, "unknown weekday")
}

func parseByDay(v string) ([]WeekdayNum, error) {
	var out []WeekdayNum
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if len(item) < 2 {
			return nil, ruleErr("BYDAY", v, fmt.Sprintf("%q is not a weekday", item))
		}
		d, err := parseWeekday("BYDAY", item[len(item)-2:])
		if err != nil {
			return nil, ruleErr("BYDAY", v, fmt.Sprintf("%q is not a weekday", item))
		}
		w := WeekdayNum{Day: d}
		if num := item[:len(item)-2]; num != "" {
			n, err := strconv.Atoi(num)
			if err != nil || n == 0 || n < -53 || n > 53 {
				return nil, ruleErr("BYDAY", v, fmt.Sprintf("ordinal in %q must be 1..53 or -53..-1", item))
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
		return time.Time{}, 0, ruleErr("UNTIL", v, "not a DATE or DATE-TIME")
	}
	t, err := time.Parse(layout, u)
	if err != nil || !allDigitsDateTime(u) {
		return time.Time{}, 0, ruleErr("UNTIL", v, "not a valid DATE or DATE-TIME")
	}
	if t.IsZero() {
		return time.Time{}, 0, ruleErr("UNTIL", v, "must be after 0001-01-01T00:00:00")
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

// Validate reports whether r is a rule RFC 5545 allows, as an *RuleError.
// Expanding an invalid rule yields nothing.
func (r *Rule) Validate() error {
	if r == nil {
		return ruleErr("FREQ", "", "missing rule")
	}
	if r.Freq < Secondly || r.Freq > Yearly {
		if r.Freq == 0 {
			return ruleErr("FREQ", "", "missing")
		}
		return ruleErr("FREQ", r.Freq.String(), "unknown frequency")
	}
	if r.Interval < 0 || r.Interval > maxInterval {
		return ruleErr("INTERVAL", strconv.Itoa(r.Interval), "must be positive")
	}
	if r.Count < 0 || r.Count > math.MaxInt32 {
		return ruleErr("COUNT", strconv.Itoa(r.Count), "must be positive")
	}
	if r.Count > 0 && !r.Until.IsZero() {
		return ruleErr("COUNT", strconv.Itoa(r.Count), "COUNT and UNTIL must not both be given")
	}
	if r.UntilForm < UntilUTC || r.UntilForm > UntilDate {
		return ruleErr("UNTIL", "", "unknown form")
	}
	if !r.Until.IsZero() && (r.Until.Year() < 0 || r.Until.Year() > 9999) {
		return ruleErr("UNTIL", "", "year out of range 0..9999")
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
				return ruleErr(c.part, joinInts(c.vals), reason)
			}
		}
	}
	for _, w := range r.ByDay {
		if w.Day < time.Sunday || w.Day > time.Saturday || w.N < -53 || w.N > 53 {
			return ruleErr("BYDAY", joinDays(r.ByDay), "invalid weekday")
		}
		if w.N != 0 {
			if r.Freq != Monthly && r.Freq != Yearly {
				return ruleErr("BYDAY", joinDays(r.ByDay), "ordinals are only allowed with FREQ=MONTHLY or YEARLY")
			}
			if r.Freq == Yearly && len(r.ByWeekNo) > 0 {
				return ruleErr("BYDAY", joinDays(r.ByDay), "ordinals are not allowed together with BYWEEKNO")
			}
		}
	}
	if r.Wkst != nil && (*r.Wkst < time.Sunday || *r.Wkst > time.Saturday) {
		return ruleErr("WKST", "", "invalid weekday")
	}
	if len(r.ByMonthDay) > 0 && r.Freq == Weekly {
		return ruleErr("BYMONTHDAY", joinInts(r.ByMonthDay), "not allowed with FREQ=WEEKLY")
	}
	if len(r.ByYearDay) > 0 && (r.Freq == Daily || r.Freq == Weekly || r.Freq == Monthly) {
		return ruleErr("BYYEARDAY", joinInts(r.ByYearDay), "not allowed with FREQ="+r.Freq.String())
	}
	if len(r.ByWeekNo) > 0 && r.Freq != Yearly {
		return ruleErr("BYWEEKNO", joinInts(r.ByWeekNo), "only allowed with FREQ=YEARLY")
	}
	if len(r.BySetPos) > 0 && len(r.BySecond)+len(r.ByMinute)+len(r.ByHour)+len(r.ByDay)+
		len(r.ByMonthDay)+len(r.ByYearDay)+len(r.ByWeekNo)+len(r.ByMonth) == 0 {
		return ruleErr("BYSETPOS", joinInts(r.BySetPos), "needs another BYxxx rule part")
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
// rule from ParseRule, ParseRule(r.String()) gives back an equal rule.
func (r *Rule) String() string {
	if r == nil {
		return ""
	}
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
// are produced (DTSTART itself only if it matches); see Set for the
// full RFC 5545 recurrence set. The sequence may be infinite.
func (r *Rule) All(dtstart time.Time) iter.Seq[time.Time] {
	return r.Between(dtstart, time.Time{}, time.Time{})
}

// Between returns the occurrences t of r for a series starting at dtstart
// with from <= t < to, in ascending order, in dtstart's location. A zero from
// or to leaves that side open. Expansion is lazy; without COUNT it starts
// at the period containing from instead of at dtstart.
func (r *Rule) Between(dtstart, from, to time.Time) iter.Seq[time.Time] {
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
