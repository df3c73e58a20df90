package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/relman-dev/relman"
)

func metricsCmd() *command {
	var from, to, service, team, by string
	var days int
	c := &command{
		name:    "metrics",
		summary: "delivery metrics: deployments, change failure rate, lead time, time to restore",
		help: `
Computes the delivery metrics of a period from the releases and their
audit trails: deployments (and per day), change failures and their rate,
lead time from approval to operation, time to restore service after the
incidents releases caused, rollbacks and user ratings — overall, and per
service or per team.

The period is [--from, --to); by default the --days (30) before now.
On a terminal, progress is shown on standard error while releases are read.

  releasectl metrics --days 90 --by team
  releasectl metrics --from 2026-01-01 --to 2026-04-01 --service payments -o json`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&from, "from", "", "start of the period (RFC 3339 or YYYY-MM-DD; default: --days before --to)")
		fs.StringVar(&to, "to", "", "end of the period, excluded (default: now)")
		fs.IntVar(&days, "days", 30, "length of the period when --from is not given")
		fs.StringVar(&service, "service", "", "only releases touching this service")
		fs.StringVar(&team, "team", "", "only releases involving this team")
		fs.StringVar(&by, "by", "service", "break down by service, team or none")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		if by != "service" && by != "team" && by != "none" {
			return usageErrorf("metrics: --by must be service, team or none, not %q", by)
		}
		if days < 1 {
			return usageErrorf("metrics: --days must be at least 1")
		}
		clock, err := cl.clock()
		if err != nil {
			return err
		}
		q := relman.MetricsQuery{To: clock().UTC(), Service: service, Team: team}
		if to != "" {
			if q.To, err = parseTime(to); err != nil {
				return usageErrorf("metrics: --to: %v", err)
			}
		}
		q.From = q.To.AddDate(0, 0, -days)
		if from != "" {
			if q.From, err = parseTime(from); err != nil {
				return usageErrorf("metrics: --from: %v", err)
			}
		}
		if !q.To.After(q.From) {
			return usageErrorf("metrics: the period ends (%s) before it starts (%s)", fmtTime(q.To), fmtTime(q.From))
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		p := newProgress(a.progress, "metrics: %d releases read")
		rep, err := s.m.Metrics(ctx, q, relman.MeasureProgress(p.set))
		p.done()
		if err != nil {
			return explain(cl, "", err)
		}
		if cl.json() {
			return writeJSON(a.stdout, rep)
		}
		fmt.Fprintf(a.stdout, "%s to %s: %d releases read\n\n", fmtTime(q.From), fmtTime(q.To), rep.Scanned)
		t := newTable(a.stdout, "SCOPE", "RELEASES", "DEPLOYS", "PER DAY", "FAILURES", "FAILURE RATE",
			"LEAD TIME (MEDIAN)", "RESTORE (MEDIAN)", "OPEN INCIDENTS", "ROLLBACKS", "RATING")
		row := func(scope string, d relman.DeliveryMetrics) {
			rating := "-"
			if d.Rating.Count > 0 {
				rating = fmt.Sprintf("%.1f (%d)", d.Rating.Mean, d.Rating.Count)
			}
			rate := "-"
			if d.Deployments > 0 {
				rate = fmt.Sprintf("%.0f%%", 100*d.ChangeFailureRate)
			}
			t.row(scope, fmt.Sprint(d.Releases), fmt.Sprint(d.Deployments), fmt.Sprintf("%.2f", d.DeploymentsPerDay),
				fmt.Sprint(d.Failures), rate, fmtStat(d.LeadTimeFromApproval), fmtStat(d.TimeToRestore),
				fmt.Sprint(d.OpenIncidents), fmt.Sprint(d.Rollbacks), rating)
		}
		row("all", rep.Overall)
		groups, prefix := rep.ByService, "service "
		if by == "team" {
			groups, prefix = rep.ByTeam, "team "
		}
		if by != "none" {
			for _, k := range slices.Sorted(maps.Keys(groups)) {
				row(prefix+k, groups[k])
			}
		}
		return t.flush()
	}
	return c
}

// fmtStat formats the median of a duration sample, or "-" without one.
func fmtStat(s relman.DurationStats) string {
	if s.Count == 0 {
		return "-"
	}
	return fmtDuration(s.Median) + fmt.Sprintf(" (%d)", s.Count)
}

// fmtDuration formats a duration for people: 3d 4h, 5h 20m, 45m.
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// progress counts releases read by long commands and shows the count on
// a terminal, at most ten times a second.
type progress struct {
	w      io.Writer // nil: show nothing
	format string
	n      int
	last   time.Time
	shown  bool
}

func newProgress(w io.Writer, format string) *progress { return &progress{w: w, format: format} }

func (p *progress) tick(k int) {
	p.n += k
	if p.w == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.shown = true
		fmt.Fprintf(p.w, "\r"+p.format, p.n)
	}
}

// done clears the progress line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// set shows n, the count so far.
func (p *progress) set(n int) { p.tick(n - p.n) }
