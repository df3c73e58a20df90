package relman

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the iCalendar (RFC 5545) side of the calendar: content
// lines (folding, escaping, parameters), DATE-TIME forms, VTIMEZONE
// generation from the Go time zone database, and export and import of
// windows and releases.

// ICalError reports iCalendar input that cannot be read. Line is the
// 1-based physical line where the problem starts (0 when it is not tied
// to a line). It matches ErrInvalid.
type ICalError struct {
	Line   int
	Reason string
}

// Error implements error.
func (e *ICalError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("relman: icalendar line %d: %s", e.Line, e.Reason)
	}
	return "relman: icalendar: " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *ICalError) Is(target error) bool { return target == ErrInvalid }

// icalParam is one property parameter; Values are unquoted.
type icalParam struct {
	Name   string
	Values []string
}

// icalProp is one content line: NAME;PARAM=VALUE:value. Value is raw (still
// escaped for TEXT values).
type icalProp struct {
	Name   string
	Params []icalParam
	Value  string
	Line   int
}

func (p *icalProp) param(name string) string {
	for _, q := range p.Params {
		if strings.EqualFold(q.Name, name) && len(q.Values) > 0 {
			return q.Values[0]
		}
	}
	return ""
}

// icalComp is a component (BEGIN:NAME … END:NAME).
type icalComp struct {
	Name  string
	Props []icalProp
	Comps []*icalComp
	Line  int
}

func (c *icalComp) props(name string) []*icalProp {
	var out []*icalProp
	for i := range c.Props {
		if strings.EqualFold(c.Props[i].Name, name) {
			out = append(out, &c.Props[i])
		}
	}
	return out
}

func (c *icalComp) prop(name string) *icalProp {
	if ps := c.props(name); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// ---------------------------------------------------------------------------
// Writing content lines.

// escapeText escapes a TEXT value: backslash, semicolon, comma, newline.
func escapeText(s string) string {
	if !strings.ContainsAny(s, "\\;,\n\r") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeText undoes escapeText; unknown escapes keep the character.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitText splits a TEXT list at unescaped commas and unescapes each item.
func splitText(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ',':
			out = append(out, unescapeText(s[start:i]))
			start = i + 1
		}
	}
	return append(out, unescapeText(s[start:]))
}

// paramValue quotes a parameter value when it holds ':', ';' or ','.
// DQUOTE cannot appear in a parameter value; it becomes a single quote.
// Control characters are dropped.
func paramValue(v string) string {
	v = strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r < 0x20 && r != '\t', r == 0x7f:
			return -1
		}
		return r
	}, v)
	if strings.ContainsAny(v, ":;,") {
		return `"` + v + `"`
	}
	return v
}

// writeProp writes p as a folded content line ending in CRLF.
func writeProp(w *strings.Builder, p icalProp) {
	var b strings.Builder
	b.WriteString(p.Name)
	for _, q := range p.Params {
		b.WriteByte(';')
		b.WriteString(q.Name)
		b.WriteByte('=')
		for i, v := range q.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(paramValue(v))
		}
	}
	b.WriteByte(':')
	b.WriteString(p.Value)
	foldLine(w, b.String())
}

// foldLine writes line folded so that no physical line exceeds 75 octets
// (continuations start with a space), never splitting a UTF-8 sequence.
func foldLine(w *strings.Builder, line string) {
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		w.WriteString(line[:cut])
		w.WriteString("\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	w.WriteString(line)
	w.WriteString("\r\n")
}

// ---------------------------------------------------------------------------
// Parsing content lines.

// maxICalBytes bounds what ParseICS reads.
const maxICalBytes = 16 << 20

// unfold reads r and returns the logical content lines with the number of
// the physical line each starts on. CRLF and bare LF are both accepted.
func unfold(r io.Reader) ([]string, []int, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxICalBytes))
	sc.Buffer(make([]byte, 64<<10), maxICalBytes)
	var lines []string
	var nums []int
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSuffix(sc.Text(), "\r")
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
		nums = append(nums, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &ICalError{Line: n + 1, Reason: err.Error()}
	}
	return lines, nums, nil
}

// parseContentLine splits NAME;P=V;P="a:b",c:value.
func parseContentLine(l string, num int) (icalProp, error) {
	p := icalProp{Line: num}
	i := strings.IndexAny(l, ";:")
	if i <= 0 {
		return p, &ICalError{Line: num, Reason: "not a content line (no name, or no ':')"}
	}
	p.Name = strings.ToUpper(l[:i])
	if !validName(p.Name) {
		return p, &ICalError{Line: num, Reason: fmt.Sprintf("bad property name %q", truncate(l[:i], 40))}
	}
	for l[i] == ';' {
		rest := l[i+1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, &ICalError{Line: num, Reason: "parameter without '='"}
		}
		q := icalParam{Name: strings.ToUpper(rest[:eq])}
		if !validName(q.Name) {
			return p, &ICalError{Line: num, Reason: fmt.Sprintf("bad parameter name %q", truncate(rest[:eq], 40))}
		}
		j := i + 1 + eq + 1
		for {
			if j >= len(l) {
				return p, &ICalError{Line: num, Reason: "line ends inside a parameter"}
			}
			if l[j] == '"' {
				end := strings.IndexByte(l[j+1:], '"')
				if end < 0 {
					return p, &ICalError{Line: num, Reason: "unterminated quoted parameter value"}
				}
				q.Values = append(q.Values, l[j+1:j+1+end])
				j += end + 2
			} else {
				end := strings.IndexAny(l[j:], ",;:")
				if end < 0 {
					return p, &ICalError{Line: num, Reason: "line ends inside a parameter"}
				}
				q.Values = append(q.Values, l[j:j+end])
				j += end
			}
			if j >= len(l) {
				return p, &ICalError{Line: num, Reason: "line ends inside a parameter"}
			}
			if l[j] != ',' {
				break
			}
			j++
		}
		p.Params = append(p.Params, q)
		i = j
		if l[i] != ';' && l[i] != ':' {
			return p, &ICalError{Line: num, Reason: "unexpected character after a parameter value"}
		}
	}
	p.Value = l[i+1:]
	return p, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// maxICalDepth bounds component nesting.
const maxICalDepth = 16

// parseICal reads an iCalendar stream into its top-level components.
func parseICal(r io.Reader) ([]*icalComp, error) {
	lines, nums, err := unfold(r)
	if err != nil {
		return nil, err
	}
	var top []*icalComp
	var stack []*icalComp
	for k, l := range lines {
		p, err := parseContentLine(l, nums[k])
		if err != nil {
			return nil, err
		}
		switch p.Name {
		case "BEGIN":
			name := strings.ToUpper(strings.TrimSpace(p.Value))
			if !validName(name) {
				return nil, &ICalError{Line: p.Line, Reason: fmt.Sprintf("bad component name %q", truncate(p.Value, 40))}
			}
			if len(stack) == maxICalDepth {
				return nil, &ICalError{Line: p.Line, Reason: "components nested too deeply"}
			}
			c := &icalComp{Name: name, Line: p.Line}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.Comps = append(parent.Comps, c)
			} else {
				top = append(top, c)
			}
			stack = append(stack, c)
		case "END":
			name := strings.ToUpper(strings.TrimSpace(p.Value))
			if len(stack) == 0 || stack[len(stack)-1].Name != name {
				return nil, &ICalError{Line: p.Line, Reason: fmt.Sprintf("END:%s does not close an open component", truncate(name, 40))}
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, &ICalError{Line: p.Line, Reason: "property outside any component"}
			}
			c := stack[len(stack)-1]
			c.Props = append(c.Props, p)
		}
	}
	if len(stack) > 0 {
		return nil, &ICalError{Line: stack[len(stack)-1].Line, Reason: fmt.Sprintf("BEGIN:%s is never closed", stack[len(stack)-1].Name)}
	}
	return top, nil
}

// ---------------------------------------------------------------------------
// DATE-TIME values.

const (
	layoutDateTime = "20060102T150405"
	layoutDate     = "20060102"
)

// dateTimeProp renders t as a DATE-TIME property in loc: UTC form
// ("…Z") for UTC, else local time with TZID.
func dateTimeProp(name string, t time.Time, loc *time.Location) icalProp {
	if loc == nil || loc == time.UTC || loc.String() == "UTC" {
		return icalProp{Name: name, Value: t.UTC().Format(layoutDateTime) + "Z"}
	}
	return icalProp{Name: name, Params: []icalParam{{Name: "TZID", Values: []string{loc.String()}}},
		Value: t.In(loc).Format(layoutDateTime)}
}

// dateTimeListProp renders several instants in one property.
func dateTimeListProp(name string, ts []time.Time, loc *time.Location) icalProp {
	p := dateTimeProp(name, ts[0], loc)
	vals := make([]string, len(ts))
	for i, t := range ts {
		vals[i] = dateTimeProp(name, t, loc).Value
	}
	p.Value = strings.Join(vals, ",")
	return p
}

// zoneCache of loaded locations for parsing.
type locCache map[string]*time.Location

func (lc locCache) load(name string, line int) (*time.Location, error) {
	if loc, ok := lc[name]; ok {
		return loc, nil
	}
	if name == "" || name == "Local" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, &ICalError{Line: line, Reason: fmt.Sprintf("unknown time zone %q", truncate(name, 60))}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &ICalError{Line: line, Reason: fmt.Sprintf("unknown time zone %q (only IANA names are supported)", truncate(name, 60))}
	}
	lc[name] = loc
	return loc, nil
}

// parseDateTimeValue reads one DATE or DATE-TIME value. A UTC value gives
// a UTC time; a local value is placed in loc per RFC 5545 section 3.3.5.
// isDate reports a DATE value (placed at midnight in loc).
func parseDateTimeValue(v string, loc *time.Location, line int) (t time.Time, isDate bool, err error) {
	bad := &ICalError{Line: line, Reason: fmt.Sprintf("bad DATE-TIME %q", truncate(v, 40))}
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
	bad := &ICalError{Line: line, Reason: fmt.Sprintf("bad DURATION %q", truncate(v, 40))}
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

// zoneTransitions lists the offset changes of loc in [from, to).
func zoneTransitions(loc *time.Location, from, to time.Time) []tzTransition {
	var out []tzTransition
	t := from.In(loc)
	for range 10000 {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, fromOff := end.Add(-time.Second).Zone()
		at := end.In(loc)
		name, toOff := at.Zone()
		out = append(out, tzTransition{at: end, from: fromOff, to: toOff, name: name, dst: at.IsDST()})
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

// writeVTimezone writes a VTIMEZONE for loc covering the years from..to
// (inclusive). Transitions are grouped into STANDARD and DAYLIGHT
// observances; the trailing run that follows a yearly "nth weekday of
// month" rule is written as an RRULE, open-ended when it lasts to the end
// of the span, and the rest as RDATEs.
func writeVTimezone(w *strings.Builder, loc *time.Location, fromYear, toYear int) {
	writeProp(w, icalProp{Name: "BEGIN", Value: "VTIMEZONE"})
	writeProp(w, icalProp{Name: "TZID", Value: loc.String()})
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
		writeProp(w, icalProp{Name: "END", Value: "VTIMEZONE"})
		return
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
	writeProp(w, icalProp{Name: "END", Value: "VTIMEZONE"})
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

func writeObservance(w *strings.Builder, obs string, start time.Time, from, to int, name, rule string, rdates []time.Time) {
	writeProp(w, icalProp{Name: "BEGIN", Value: obs})
	writeProp(w, icalProp{Name: "DTSTART", Value: start.Format(layoutDateTime)})
	if rule != "" {
		writeProp(w, icalProp{Name: "RRULE", Value: rule})
	}
	if len(rdates) > 0 {
		vals := make([]string, len(rdates))
		for i, t := range rdates {
			vals[i] = t.Format(layoutDateTime)
		}
		writeProp(w, icalProp{Name: "RDATE", Value: strings.Join(vals, ",")})
	}
	writeProp(w, icalProp{Name: "TZOFFSETFROM", Value: formatOffset(from)})
	writeProp(w, icalProp{Name: "TZOFFSETTO", Value: formatOffset(to)})
	if name != "" {
		writeProp(w, icalProp{Name: "TZNAME", Value: escapeText(name)})
	}
	writeProp(w, icalProp{Name: "END", Value: obs})
}

// ---------------------------------------------------------------------------
// Export and import.

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
// window as a VEVENT with its RRULE, EXDATEs and time zone (with a
// VTIMEZONE per zone), and each release with a planned window as a VEVENT
// over that window. Lines end in CRLF and are folded at 75 octets; text is
// escaped; every component has a UID and DTSTAMP. Relman's own fields
// travel as X-RELMAN- properties, so ImportICS gives back the same windows.
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
	var w strings.Builder
	writeProp(&w, icalProp{Name: "BEGIN", Value: "VCALENDAR"})
	writeProp(&w, icalProp{Name: "VERSION", Value: "2.0"})
	writeProp(&w, icalProp{Name: "PRODID", Value: escapeText(opt.ProdID)})
	writeProp(&w, icalProp{Name: "CALSCALE", Value: "GREGORIAN"})

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
		writeVTimezone(&w, z.loc, z.from, z.to)
	}
	stamp := icalProp{Name: "DTSTAMP", Value: opt.Now.UTC().Format(layoutDateTime) + "Z"}
	for i := range windows {
		win := &windows[i]
		loc := locs[i]
		writeProp(&w, icalProp{Name: "BEGIN", Value: "VEVENT"})
		writeProp(&w, icalProp{Name: "UID", Value: escapeText("window-" + win.ID + "@" + opt.Domain)})
		writeProp(&w, stamp)
		writeProp(&w, dateTimeProp("DTSTART", win.Start, loc))
		writeProp(&w, dateTimeProp("DTEND", win.End, loc))
		if win.RRule != "" {
			rr, _ := ParseRRule(win.RRule)
			writeProp(&w, icalProp{Name: "RRULE", Value: rr.String()})
		}
		if len(win.ExDates) > 0 {
			writeProp(&w, dateTimeListProp("EXDATE", win.ExDates, loc))
		}
		writeProp(&w, icalProp{Name: "SUMMARY", Value: escapeText(win.Name)})
		if win.Reason != "" {
			writeProp(&w, icalProp{Name: "DESCRIPTION", Value: escapeText(win.Reason)})
		}
		writeProp(&w, icalProp{Name: "CATEGORIES", Value: strings.ToUpper(string(win.Kind))})
		transp := "TRANSPARENT"
		if win.Kind == WindowFreeze {
			transp = "OPAQUE"
		}
		writeProp(&w, icalProp{Name: "TRANSP", Value: transp})
		writeProp(&w, icalProp{Name: "X-RELMAN-ID", Value: escapeText(win.ID)})
		writeProp(&w, icalProp{Name: "X-RELMAN-KIND", Value: string(win.Kind)})
		if len(win.Services) > 0 {
			writeProp(&w, icalProp{Name: "X-RELMAN-SERVICES", Value: joinText(win.Services)})
		}
		writeProp(&w, icalProp{Name: "END", Value: "VEVENT"})
	}
	for _, r := range releases {
		if r == nil || r.Window == nil {
			continue
		}
		writeProp(&w, icalProp{Name: "BEGIN", Value: "VEVENT"})
		writeProp(&w, icalProp{Name: "UID", Value: escapeText("release-" + r.ID + "@" + opt.Domain)})
		writeProp(&w, stamp)
		writeProp(&w, dateTimeProp("DTSTART", r.Window.Start, time.UTC))
		writeProp(&w, dateTimeProp("DTEND", r.Window.End, time.UTC))
		summary := strings.TrimSpace(r.Title + " " + r.Version)
		if summary == "" {
			summary = r.ID
		}
		writeProp(&w, icalProp{Name: "SUMMARY", Value: escapeText(summary)})
		var desc []string
		if len(r.Services) > 0 {
			desc = append(desc, "Services: "+strings.Join(r.Services, ", "))
		}
		if r.Owner != "" {
			desc = append(desc, "Owner: "+r.Owner)
		}
		desc = append(desc, "Stage: "+string(r.Stage))
		writeProp(&w, icalProp{Name: "DESCRIPTION", Value: escapeText(strings.Join(desc, "\n"))})
		writeProp(&w, icalProp{Name: "CATEGORIES", Value: "RELEASE"})
		writeProp(&w, icalProp{Name: "X-RELMAN-RELEASE", Value: escapeText(r.ID)})
		writeProp(&w, icalProp{Name: "X-RELMAN-STAGE", Value: escapeText(string(r.Stage))})
		if len(r.Services) > 0 {
			writeProp(&w, icalProp{Name: "X-RELMAN-SERVICES", Value: joinText(r.Services)})
		}
		writeProp(&w, icalProp{Name: "END", Value: "VEVENT"})
	}
	writeProp(&w, icalProp{Name: "END", Value: "VCALENDAR"})
	_, err := io.WriteString(out, w.String())
	return err
}

func joinText(items []string) string {
	esc := make([]string, len(items))
	for i, s := range items {
		esc[i] = escapeText(s)
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
// (a holiday calendar, say, or one ExportICS wrote): every VEVENT except
// relman releases becomes a window, with its RRULE, EXDATEs and time
// zone. All-day events span whole local days. Errors are *ICalError,
// *RRuleError or *ValidationError, all matching ErrInvalid.
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
	lc := locCache{}
	defLoc, err := lc.load(opt.TimeZone, 0)
	if err != nil {
		return nil, invalid("time_zone", "iana")
	}
	comps, err := parseICal(in)
	if err != nil {
		return nil, err
	}
	var out []Window
	ids := map[string]bool{}
	for _, cal := range comps {
		if cal.Name != "VCALENDAR" {
			return nil, &ICalError{Line: cal.Line, Reason: "top-level component is " + cal.Name + ", not VCALENDAR"}
		}
		for _, ev := range cal.Comps {
			if ev.Name != "VEVENT" || ev.prop("X-RELMAN-RELEASE") != nil {
				continue
			}
			w, err := importEvent(ev, opt, lc, defLoc, len(out))
			if err != nil {
				return nil, err
			}
			for base, n := w.ID, 2; ids[w.ID]; n++ {
				w.ID = truncate(base, 120)
				w.ID = strings.TrimSuffix(w.ID, "…") + "-" + strconv.Itoa(n)
			}
			ids[w.ID] = true
			if err := w.Validate(); err != nil {
				return nil, fmt.Errorf("relman: icalendar line %d: %w", ev.Line, err)
			}
			out = append(out, w)
		}
	}
	return out, nil
}

func importEvent(ev *icalComp, opt ImportOptions, lc locCache, defLoc *time.Location, n int) (Window, error) {
	w := Window{}
	// Kind.
	if p := ev.prop("X-RELMAN-KIND"); p != nil {
		w.Kind = WindowKind(strings.ToLower(strings.TrimSpace(p.Value)))
	} else {
		for _, p := range ev.props("CATEGORIES") {
			for _, c := range splitText(p.Value) {
				switch strings.ToUpper(strings.TrimSpace(c)) {
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
		return w, &ICalError{Line: ev.Line, Reason: "event is neither a freeze nor a maintenance window (set ImportOptions.Kind)"}
	}
	// Identity and text.
	if p := ev.prop("X-RELMAN-ID"); p != nil {
		w.ID = unescapeText(p.Value)
	} else if p := ev.prop("UID"); p != nil {
		w.ID = sanitizeID(unescapeText(p.Value))
	}
	if !validID(w.ID) || len(w.ID) > 128 {
		w.ID = fmt.Sprintf("ics-%d", n+1)
	}
	if p := ev.prop("SUMMARY"); p != nil {
		w.Name = truncate(unescapeText(p.Value), 190)
	}
	if strings.TrimSpace(w.Name) == "" {
		w.Name = "Imported window " + w.ID
	}
	if p := ev.prop("DESCRIPTION"); p != nil {
		w.Reason = truncate(unescapeText(p.Value), 3990)
	}
	if p := ev.prop("X-RELMAN-SERVICES"); p != nil {
		for _, s := range splitText(p.Value) {
			if s = strings.TrimSpace(s); s != "" {
				w.Services = append(w.Services, s)
			}
		}
	} else {
		w.Services = slices.Clone(opt.Services)
	}
	// Times.
	ds := ev.prop("DTSTART")
	if ds == nil {
		return w, &ICalError{Line: ev.Line, Reason: "VEVENT without DTSTART"}
	}
	loc := defLoc
	w.TimeZone = opt.TimeZone
	if tz := ds.param("TZID"); tz != "" {
		l, err := lc.load(tz, ds.Line)
		if err != nil {
			return w, err
		}
		loc, w.TimeZone = l, l.String()
	}
	start, isDate, err := parseDateTimeValue(strings.TrimSpace(ds.Value), loc, ds.Line)
	if err != nil {
		return w, err
	}
	if !isDate && strings.HasSuffix(strings.ToUpper(ds.Value), "Z") && ds.param("TZID") == "" {
		w.TimeZone, loc = "UTC", time.UTC
	}
	w.Start = start.In(loc)
	switch de, du := ev.prop("DTEND"), ev.prop("DURATION"); {
	case de != nil:
		eloc := loc
		if tz := de.param("TZID"); tz != "" {
			if eloc, err = lc.load(tz, de.Line); err != nil {
				return w, err
			}
		}
		end, _, err := parseDateTimeValue(strings.TrimSpace(de.Value), eloc, de.Line)
		if err != nil {
			return w, err
		}
		w.End = end.In(loc)
	case du != nil:
		d, err := parseDuration(strings.TrimSpace(du.Value), du.Line)
		if err != nil {
			return w, err
		}
		w.End = w.Start.Add(d)
	case isDate:
		w.End = w.Start.AddDate(0, 0, 1)
	default:
		return w, &ICalError{Line: ev.Line, Reason: "VEVENT without DTEND or DURATION"}
	}
	if !w.End.After(w.Start) {
		return w, &ICalError{Line: ev.Line, Reason: "event ends before it starts"}
	}
	if rr := ev.props("RRULE"); len(rr) > 0 {
		if len(rr) > 1 {
			return w, &ICalError{Line: rr[1].Line, Reason: "more than one RRULE"}
		}
		rule, err := ParseRRule(rr[0].Value)
		if err != nil {
			return w, err
		}
		w.RRule = rule.String()
	}
	for _, ex := range ev.props("EXDATE") {
		eloc := loc
		if tz := ex.param("TZID"); tz != "" {
			if eloc, err = lc.load(tz, ex.Line); err != nil {
				return w, err
			}
		}
		for v := range strings.SplitSeq(ex.Value, ",") {
			t, isDate, err := parseDateTimeValue(strings.TrimSpace(v), eloc, ex.Line)
			if err != nil {
				return w, err
			}
			if isDate {
				// An excluded date: the occurrence at the start's time of day.
				ls := w.Start.In(eloc)
				t = localToTime(t.Year(), t.Month(), t.Day(), ls.Hour(), ls.Minute(), ls.Second(), eloc)
			}
			w.ExDates = append(w.ExDates, t.In(loc))
		}
	}
	slices.SortFunc(w.ExDates, func(a, b time.Time) int { return a.Compare(b) })
	w.ExDates = slices.CompactFunc(w.ExDates, time.Time.Equal)
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
