package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

// parseTimeIn reads a time with an offset (RFC 3339), or a wall-clock
// date and time read in loc ("2026-03-07 22:00", "2026-03-07T22:00").
func parseTimeIn(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want e.g. 2026-03-07 22:00, read in the window's time zone, or RFC 3339)", s)
}

// windowsUnsupported explains a store without windows.
func windowsUnsupported(cl *cmdline, err error) error {
	if errors.Is(err, errors.ErrUnsupported) {
		return storageErrorf("the store %s does not keep calendar windows", cl.store)
	}
	return err
}

func windowCmd() *command {
	var name, kind, tz, start, end, rrule, reason string
	var services, exdates stringsFlag
	c := &command{
		name:    "window",
		args:    "add|list|remove [window-id]",
		summary: "keep the calendar's maintenance windows and freezes (RRULE, time zone)",
		help: `
  window add <window-id> --name N --kind maintenance|freeze --tz ZONE --start T --end T
             [--rrule RULE] [--exdate T]... [--service S]... [--reason R]
      adds (or replaces) a window. --start and --end bound the first occurrence,
      as wall-clock times in --tz (an IANA zone, default UTC) unless they carry
      an offset. --rrule repeats it (RFC 5545, e.g. FREQ=WEEKLY;BYDAY=SA,SU);
      --exdate removes the occurrence starting then. A window without --service
      covers every service. Once a service has a maintenance window it may only
      deploy inside one; no service may deploy inside a freeze.
  window list
      lists the windows with their next occurrence.
  window remove <window-id>

  releasectl window add weekend --name "Weekend maintenance" --kind maintenance \
      --tz Europe/Berlin --start "2026-03-07 22:00" --end "2026-03-08 04:00" --rrule "FREQ=WEEKLY;BYDAY=SA"
  releasectl window add q1-close --name "Quarter close" --kind freeze --tz UTC \
      --start 2026-03-28 --end 2026-04-02 --service invoices --reason "finance closes Q1"`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&name, "name", "", "add: the window's name")
		fs.StringVar(&kind, "kind", "", "add: maintenance or freeze")
		fs.StringVar(&tz, "tz", "UTC", "add: IANA time zone of the window (e.g. Europe/Berlin)")
		fs.StringVar(&start, "start", "", "add: start of the first occurrence")
		fs.StringVar(&end, "end", "", "add: end of the first occurrence")
		fs.StringVar(&rrule, "rrule", "", "add: RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=SA")
		fs.Var(&exdates, "exdate", "add: start of an occurrence to skip (repeatable)")
		fs.Var(&services, "service", "add: service covered (repeatable; none: every service)")
		fs.StringVar(&reason, "reason", "", "add: why (shown with refusals)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("window: missing action: add, list or remove (see 'releasectl window --help')")
		}
		action := cl.args[0]
		cl.args = cl.args[1:]
		var w relman.Window
		switch action {
		case "add":
			if err := cl.want("window-id"); err != nil {
				return err
			}
			var missing []string
			for _, f := range []struct{ n, v string }{{"--name", name}, {"--kind", kind}, {"--start", start}, {"--end", end}} {
				if f.v == "" {
					missing = append(missing, f.n)
				}
			}
			if len(missing) > 0 {
				return usageErrorf("window add: missing %s", strings.Join(missing, ", "))
			}
			loc, err := time.LoadLocation(tz)
			if err != nil || tz == "Local" {
				return usageErrorf("window add: --tz %q is not an IANA time zone (e.g. Europe/Berlin, UTC)", tz)
			}
			w = relman.Window{ID: cl.args[0], Name: name, Kind: relman.WindowKind(kind), TimeZone: tz, RRule: rrule,
				Services: services, Reason: reason}
			if w.Start, err = parseTimeIn(start, loc); err != nil {
				return usageErrorf("window add: --start: %v", err)
			}
			if w.End, err = parseTimeIn(end, loc); err != nil {
				return usageErrorf("window add: --end: %v", err)
			}
			for _, x := range exdates {
				t, err := parseTimeIn(x, loc)
				if err != nil {
					return usageErrorf("window add: --exdate: %v", err)
				}
				w.ExDates = append(w.ExDates, t)
			}
		case "list":
			if err := cl.want(); err != nil {
				return err
			}
		case "remove":
			if err := cl.want("window-id"); err != nil {
				return err
			}
		default:
			return usageErrorf("window: unknown action %q: want add, list or remove", action)
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		switch action {
		case "add":
			if err := s.m.PutWindow(ctx, cl.actorValue(), w); err != nil {
				return explain(cl, w.ID, windowsUnsupported(cl, err))
			}
			if cl.json() {
				return writeJSON(a.stdout, w)
			}
			next := "none ahead"
			if cal, err := relman.NewCalendar(w); err == nil {
				if occ := cal.Occurrences(relman.Span{Start: s.m.Now(), End: s.m.Now().AddDate(5, 0, 0)}, nil); len(occ) > 0 {
					next = fmtSpan(&occ[0].Span)
				}
			}
			fmt.Fprintf(a.stdout, "window %s saved (%s); next occurrence %s\n", w.ID, w.Kind, next)
			return nil
		case "remove":
			if err := s.m.DeleteWindow(ctx, cl.actorValue(), cl.args[0]); err != nil {
				if errors.Is(err, relman.ErrNotFound) {
					return notFoundf("window remove: no window %q", cl.args[0])
				}
				return explain(cl, cl.args[0], windowsUnsupported(cl, err))
			}
			if !cl.json() {
				fmt.Fprintf(a.stdout, "window %s removed\n", cl.args[0])
			}
			return nil
		}
		cal, err := s.m.Calendar(ctx)
		if err != nil {
			return explain(cl, "", err)
		}
		ws := cal.Windows()
		if cl.json() {
			if ws == nil {
				ws = []relman.Window{}
			}
			return writeJSON(a.stdout, ws)
		}
		if len(ws) == 0 {
			fmt.Fprintln(a.stdout, "no windows: every service may deploy at any time")
			return nil
		}
		t := newTable(a.stdout, "ID", "KIND", "NAME", "FIRST", "ZONE", "RRULE", "SERVICES", "NEXT")
		now := s.m.Now()
		for _, w := range ws {
			loc, _ := w.Location()
			first := w.Start.In(loc).Format("2006-01-02 15:04") + " – " + w.End.In(loc).Format("2006-01-02 15:04")
			next := "-"
			if one, err := relman.NewCalendar(w); err == nil {
				if occ := one.Occurrences(relman.Span{Start: now, End: now.AddDate(5, 0, 0)}, nil); len(occ) > 0 {
					next = fmtSpan(&occ[0].Span)
				}
			}
			svc := strings.Join(w.Services, ",")
			if svc == "" {
				svc = "all"
			}
			t.row(w.ID, string(w.Kind), w.Name, first, w.TimeZone, w.RRule, svc, next)
		}
		return t.flush()
	}
	return c
}

// calEvent is one line of the calendar view: a window occurrence or a
// planned release.
type calEvent struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	What     string    `json:"what"` // "maintenance", "freeze" or "release"
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Stage    string    `json:"stage,omitempty"`
	Services []string  `json:"services,omitempty"`
}

func calendarCmd() *command {
	var from, ics, importFile, importKind, importTZ string
	var days int
	var services stringsFlag
	c := &command{
		name:    "calendar",
		args:    "[import FILE.ics]",
		summary: "the forward schedule of change; --ics exports it, import reads windows",
		help: `
Shows the forward schedule: the occurrences of maintenance windows and
freezes and the planned releases, in time order, from --from (default:
now) for --days (default 14).

  releasectl calendar --days 30 --service payments
  releasectl calendar --ics schedule.ics      # RFC 5545, for any calendar program (- for stdout)
  releasectl calendar import freezes.ics --kind freeze --tz Europe/Berlin

Import stores every window of the file, or none if one is invalid. On a
terminal, a large file shows its progress.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&from, "from", "", "start of the view (default: now)")
		fs.IntVar(&days, "days", 14, "length of the view in days")
		fs.Var(&services, "service", "only windows and releases of this service (repeatable)")
		fs.StringVar(&ics, "ics", "", "write the schedule as iCalendar to this `file` (- for standard output)")
		fs.StringVar(&importKind, "kind", "", "import: kind of events that do not say (maintenance or freeze)")
		fs.StringVar(&importTZ, "tz", "UTC", "import: time zone of floating times and all-day events")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) > 0 && cl.args[0] == "import" {
			cl.args = cl.args[1:]
			if err := cl.want("file"); err != nil {
				return err
			}
			importFile = cl.args[0]
			return importCalendar(ctx, a, cl, importFile, relman.ImportOptions{Kind: relman.WindowKind(importKind), TimeZone: importTZ})
		}
		if err := cl.want(); err != nil {
			return err
		}
		if days < 1 || days > 3660 {
			return usageErrorf("calendar: --days must be between 1 and 3660")
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		if ics != "" {
			out := a.stdout
			if ics != "-" {
				f, err := os.Create(ics)
				if err != nil {
					return usageErrorf("calendar: %v", err)
				}
				defer f.Close()
				out = f
			}
			if err := s.m.ExportICS(ctx, out); err != nil {
				return explain(cl, "", err)
			}
			if ics != "-" {
				fmt.Fprintf(a.stdout, "wrote %s\n", ics)
			}
			return nil
		}
		start := s.m.Now()
		if from != "" {
			if start, err = parseTime(from); err != nil {
				return usageErrorf("calendar: --from: %v", err)
			}
		}
		span := relman.Span{Start: start, End: start.AddDate(0, 0, days)}
		cal, err := s.m.Calendar(ctx)
		if err != nil {
			return explain(cl, "", err)
		}
		var svc []string
		if len(services) > 0 {
			svc = services
		}
		events := []calEvent{}
		for _, o := range cal.Occurrences(span, svc) {
			events = append(events, calEvent{Start: o.Span.Start.UTC(), End: o.Span.End.UTC(), What: string(o.Kind), ID: o.WindowID, Name: o.Name})
		}
		planned, err := s.m.Planned(ctx)
		if err != nil {
			return explain(cl, "", err)
		}
		for _, r := range planned {
			if !r.Window.Overlaps(span) || (svc != nil && !slices.ContainsFunc(svc, r.HasService)) {
				continue
			}
			events = append(events, calEvent{Start: r.Window.Start.UTC(), End: r.Window.End.UTC(), What: "release", ID: r.ID, Name: r.Title,
				Stage: string(r.Stage), Services: r.Services})
		}
		isRelease := func(e calEvent) int {
			if e.What == "release" {
				return 1
			}
			return 0
		}
		slices.SortFunc(events, func(x, y calEvent) int {
			return cmp.Or(x.Start.Compare(y.Start), isRelease(x)-isRelease(y), strings.Compare(x.ID, y.ID))
		})
		if cl.json() {
			return writeJSON(a.stdout, events)
		}
		fmt.Fprintf(a.stdout, "%s to %s\n", fmtTime(span.Start), fmtTime(span.End))
		if len(events) == 0 {
			fmt.Fprintln(a.stdout, "nothing planned, no windows")
			return nil
		}
		t := newTable(a.stdout, "WHEN", "WHAT", "ID", "NAME", "STAGE", "SERVICES")
		for _, e := range events {
			t.row(fmtSpan(&relman.Span{Start: e.Start, End: e.End}), e.What, e.ID, e.Name, e.Stage, strings.Join(e.Services, ","))
		}
		return t.flush()
	}
	return c
}

// importCalendar stores the windows of an iCalendar file, showing the
// bytes read on a terminal.
func importCalendar(ctx context.Context, a *app, cl *cmdline, file string, opt relman.ImportOptions) error {
	var in io.Reader
	var size int64
	if file == "-" {
		in = a.stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return usageErrorf("calendar import: %v", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in = f
	}
	s, err := a.open(ctx, cl)
	if err != nil {
		return err
	}
	defer s.close()
	pr := &progressReader{r: in, size: size, w: a.progress}
	ws, err := s.m.ImportWindows(ctx, cl.actorValue(), pr, opt)
	pr.done()
	if err != nil {
		return explain(cl, "", windowsUnsupported(cl, err))
	}
	if cl.json() {
		return writeJSON(a.stdout, ws)
	}
	fmt.Fprintf(a.stdout, "imported %d window(s) from %s\n", len(ws), file)
	return nil
}

// progressReader shows how much of a file has been read, on a terminal,
// at most ten times a second.
type progressReader struct {
	r     io.Reader
	size  int64
	n     int64
	w     io.Writer
	last  time.Time
	shown bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.w != nil {
		if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
			p.last, p.shown = now, true
			if p.size > 0 {
				fmt.Fprintf(p.w, "\rimport: %d%% of %d KiB read", 100*p.n/p.size, p.size/1024)
			} else {
				fmt.Fprintf(p.w, "\rimport: %d KiB read", p.n/1024)
			}
		}
	}
	return n, err
}

func (p *progressReader) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func conflictsCmd() *command {
	var check bool
	c := &command{
		name:    "conflicts",
		summary: "scheduling conflicts among planned releases (service, team, capacity, freeze, maintenance)",
		help: `
Lists every conflict among the planned releases: two releases deploying
one service (or a service and one that depends on it) at once, a team
booked twice, more concurrent deployments than allowed, a window inside a
freeze or outside maintenance. With --check the exit code is 1 when there
is any, for a pipeline.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.BoolVar(&check, "check", false, "exit 1 when there is a conflict")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		cs, err := s.m.Conflicts(ctx)
		if err != nil {
			return explain(cl, "", err)
		}
		if cl.json() {
			out := []httpapi.Conflict{} // the HTTP API's JSON for a relman.Conflict
			for _, c := range cs {
				out = append(out, httpapi.Conflict(c))
			}
			if err := writeJSON(a.stdout, out); err != nil {
				return err
			}
		} else if len(cs) == 0 {
			fmt.Fprintln(a.stdout, "no conflicts")
		} else {
			t := newTable(a.stdout, "KIND", "WHEN", "RELEASES", "REASON")
			for _, c := range cs {
				t.row(string(c.Kind), fmtSpan(&c.Span), strings.Join(c.Releases, ", "), c.Reason)
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		if check && len(cs) > 0 {
			return refusedf("conflicts: %d scheduling conflict(s)", len(cs))
		}
		return nil
	}
	return c
}

func slotCmd() *command {
	var after, release string
	var duration, horizon time.Duration
	var services stringsFlag
	c := &command{
		name:    "slot",
		summary: "the earliest slot the calendar and the planned releases allow",
		help: `
Finds the earliest span of --duration from --after (default: now) that the
calendar allows for the services (inside maintenance, outside freezes)
and that clashes with no planned release. With --release, the slot is
the release's: its services, clear of the releases its teams are booked
on, and its own current window ignored — the question asked before a
plan or replan; --service then overrides its services (and teams no
longer count). Exit code 1 when there is no slot within --horizon.

  releasectl slot --duration 2h --service payments
  releasectl slot --release pay-1.2.0 --duration 3h --after 2026-03-10`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.DurationVar(&duration, "duration", 2*time.Hour, "length of the slot")
		fs.StringVar(&after, "after", "", "earliest start (default: now)")
		fs.DurationVar(&horizon, "horizon", 90*24*time.Hour, "how far ahead to look")
		fs.Var(&services, "service", "service to deploy (repeatable)")
		fs.StringVar(&release, "release", "", "find a slot for this release (its services; its window ignored)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		if duration <= 0 || horizon <= 0 {
			return usageErrorf("slot: --duration and --horizon must be positive")
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		start := s.m.Now()
		if after != "" {
			if start, err = parseTime(after); err != nil {
				return usageErrorf("slot: --after: %v", err)
			}
		}
		var sp relman.Span
		if release != "" && len(services) == 0 {
			sp, err = s.m.NextSlotFor(ctx, release, start, duration, horizon)
		} else {
			sp, err = s.m.NextSlot(ctx, start, duration, services, release, horizon)
		}
		if err != nil {
			return explain(cl, release, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, sp)
		}
		fmt.Fprintf(a.stdout, "%s\n", fmtSpan(&sp))
		fmt.Fprintf(a.stdout, "book it: --window %s/%s\n", sp.Start.UTC().Format(time.RFC3339), sp.End.UTC().Format(time.RFC3339))
		return nil
	}
	return c
}
