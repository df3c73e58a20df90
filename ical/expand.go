package ical

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Expansion.

const (
	maxYear     = 9999
	maxEmptyRun = 1 << 20 // consecutive periods without a candidate before giving up
)

type expander struct {
	r     *Rule
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
	weeks            []int      // BYWEEKNO values; YEARLY visits only their days
	ranges           [][2]int64 // scratch: day ranges of the selected weeks
	wdMask           uint8
	ordinals         []WeekdayNum
	hasByDay         bool
	ordInYear        bool // ordinals count within the year (YEARLY without BYMONTH)
	hourMask         uint32
	minMask, secMask uint64
	times            []int64 // seconds added to the period base, ascending
	setpos           []int

	capDay int64
	days   []int64 // matched days of the current period (scratch)
}

func newExpander(r *Rule, dtstart time.Time) *expander {
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
	case Yearly:
		if noDaySel {
			if len(months) == 0 {
				x.monthMask = 1 << sc.m
			}
			mdays = []int{sc.d}
		} else if len(r.ByWeekNo) > 0 && len(r.ByYearDay) == 0 && len(r.ByMonthDay) == 0 && len(r.ByDay) == 0 {
			byday = []WeekdayNum{{Day: time.Weekday(sc.wd)}}
		}
	case Monthly:
		if len(r.ByMonthDay) == 0 && len(r.ByDay) == 0 && len(r.ByYearDay) == 0 {
			mdays = []int{sc.d}
		}
	case Weekly:
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
	if len(r.ByWeekNo) > 0 {
		x.weeks = r.ByWeekNo
	}
	for _, w := range byday {
		x.hasByDay = true
		if w.N == 0 {
			x.wdMask |= 1 << w.Day
		} else {
			x.ordinals = append(x.ordinals, w)
		}
	}
	x.ordInYear = r.Freq == Yearly && len(months) == 0

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
	case Secondly:
		x.times = []int64{0}
	case Minutely:
		for _, s := range secs {
			x.times = append(x.times, int64(s))
		}
	case Hourly:
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

// week1 returns the first day of week 1 of year y: weeks start on WKST,
// and week 1 is the first with at least four days in y.
func (x *expander) week1(y int64) int64 {
	jan1 := daysFromCivil(y, 1, 1)
	off := int64((weekdayOf(jan1) - x.wkst + 7) % 7)
	if off > 3 {
		return jan1 - off + 7
	}
	return jan1 - off
}

// weekRanges returns, ascending, the day ranges [a, b) inside the year
// [jan1, next) that belong to a week BYWEEKNO selects. A day belongs to
// the week (of its own week-numbering year) that contains it, so the last
// week of the year before and the first week of the year after may
// contribute a few days.
func (x *expander) weekRanges(jan1, next int64) [][2]int64 {
	y, _, _ := civilFromDays(jan1)
	out := x.ranges[:0]
	for wy := y - 1; wy <= y+1; wy++ {
		w1, w1next := x.week1(wy), x.week1(wy+1)
		total := int((w1next - w1) / 7)
		for _, n := range x.weeks {
			if n < 0 {
				n = total + n + 1
			}
			if n < 1 || n > total {
				continue
			}
			a := w1 + int64(n-1)*7
			b := a + 7
			a, b = max(a, jan1), min(b, next)
			if a < b {
				out = append(out, [2]int64{a, b})
			}
		}
	}
	slices.SortFunc(out, func(p, q [2]int64) int { return int(p[0] - q[0]) })
	out = slices.Compact(out)
	x.ranges = out
	return out
}

// firstPeriod returns the index of the first period that may hold an
// occurrence at or after local civil seconds l.
func (x *expander) firstPeriod(l int64) int64 {
	day := floorDiv(l, 86400) - 1
	var k int64
	switch x.freq {
	case Yearly:
		y, _, _ := civilFromDays(day)
		sy, _, _ := civilFromDays(x.sDay)
		k = floorDiv(y-sy, x.iv)
	case Monthly:
		y, m, _ := civilFromDays(day)
		sy, sm, _ := civilFromDays(x.sDay)
		k = floorDiv((y*12+m)-(sy*12+sm), x.iv)
	case Weekly:
		k = floorDiv(day-x.weekStart0(), 7*x.iv)
	case Daily:
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
	case Hourly:
		return 3600
	case Minutely:
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
	if x.freq <= Hourly {
		x.civilSub(k, stopL, yield)
		return
	}
	sy, sm, _ := civilFromDays(x.sDay)
	ws0 := x.weekStart0()
	for ; ; k++ {
		var first int64
		var n int
		switch x.freq {
		case Yearly:
			y := sy + k*x.iv
			if y > maxYear {
				return
			}
			first, n = daysFromCivil(y, 1, 1), 365
			if isLeap(y) {
				n = 366
			}
		case Monthly:
			mi := sy*12 + sm - 1 + k*x.iv
			y, m := floorDiv(mi, 12), floorMod(mi, 12)+1
			if y > maxYear {
				return
			}
			first, n = daysFromCivil(y, m, 1), daysIn(y, m)
		case Weekly:
			first, n = ws0+7*k*x.iv, 7
		default:
			first, n = x.sDay+k*x.iv, 1
		}
		if first >= x.capDay || first*86400 > stopL {
			return
		}
		days := x.days[:0]
		if x.weeks != nil {
			// BYWEEKNO: visit the days of the selected weeks only.
			for _, r := range x.weekRanges(first, first+int64(n)) {
				c := newDayCur(r[0])
				for d := r[0]; d < r[1]; d++ {
					if x.dayOK(&c) {
						days = append(days, c.day)
					}
					c.next()
				}
			}
		} else {
			c := newDayCur(first)
			for i := 0; i < n; i++ {
				if x.dayOK(&c) {
					days = append(days, c.day)
				}
				c.next()
			}
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
			// Jump to the next hour BYHOUR allows (tomorrow's first if none).
			next := (day+1)*86400 + int64(bits.TrailingZeros32(x.hourMask))*3600
			if rest := x.hourMask >> (h + 1); rest != 0 {
				next = day*86400 + (h+1+int64(bits.TrailingZeros32(rest)))*3600
			}
			k = max(skipTo(next), k+1)
			continue
		}
		if x.freq <= Minutely && x.minMask != 0 && x.minMask&(1<<m) == 0 {
			k = max(skipTo(p-sod%60+60), k+1)
			continue
		}
		if x.freq == Secondly && x.secMask != 0 && x.secMask&(1<<s) == 0 {
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
