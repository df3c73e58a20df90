package ical

import (
	"math"
	"time"
)

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
