package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/relman-dev/relman"
)

func feedbackCmd() *command {
	var comment, source string
	c := &command{
		name:    "feedback",
		args:    "<id> <rating 1-5>",
		summary: "record user feedback on a release in operation",
		help: `
Records a user's rating (1 very poor … 5 excellent) of a release that is
operating, closed or rolled back. Ratings feed 'releasectl metrics'.

  releasectl feedback pay-1.2.0 4 --comment "checkout is faster" --source survey`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&comment, "comment", "", "what the user said")
		fs.StringVar(&source, "source", "", "where it came from: survey, support, app-store …")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id", "rating"); err != nil {
			return err
		}
		id := cl.args[0]
		rating, err := strconv.Atoi(cl.args[1])
		if err != nil || rating < 1 || rating > 5 {
			return usageErrorf("feedback: rating must be a whole number from 1 to 5, not %q", cl.args[1])
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		r, err := s.m.AddFeedback(ctx, id, cl.actorValue(), relman.Feedback{Rating: rating, Comment: comment, Source: source})
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		var n int64
		if r.FeedbackSummary != nil {
			n = r.FeedbackSummary.Count
		}
		fmt.Fprintf(a.stdout, "%s: feedback %d/5 recorded (%d in all)\n", id, rating, n)
		return nil
	}
	return c
}

func incidentCmd() *command {
	var severity, summary, at string
	var related bool
	c := &command{
		name:    "incident",
		args:    "open|resolve <id> <incident-id>",
		summary: "link an incident to a release, or mark it resolved",
		help: `
  incident open <id> <incident-id> --severity sev2 [--summary S] [--related] [--at TIME]
      links an incident of your incident system to a release that is deploying,
      operating, closed or rolled back. By default the release caused it (a change
      failure); --related records it as only related.
  incident resolve <id> <incident-id> [--at TIME]
      records when service was restored (default: now).

Incidents the releases caused feed the change failure rate and the time
to restore in 'releasectl metrics'.

  releasectl incident open pay-1.2.0 INC0012345 --severity p2 --summary "3DS loop for Visa"
  releasectl incident resolve pay-1.2.0 INC0012345`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&severity, "severity", "", "open: critical, high, medium, low (or sev1–sev4, p1–p4)")
		fs.StringVar(&summary, "summary", "", "open: what happened")
		fs.BoolVar(&related, "related", false, "open: related to the release, not caused by it")
		fs.StringVar(&at, "at", "", "when it opened (open) or was resolved (resolve); default now")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("incident: missing action: open or resolve (see 'releasectl incident --help')")
		}
		action := cl.args[0]
		cl.args = cl.args[1:]
		if action != "open" && action != "resolve" {
			return usageErrorf("incident: unknown action %q: want open or resolve", action)
		}
		if err := cl.want("id", "incident-id"); err != nil {
			return err
		}
		id, incID := cl.args[0], cl.args[1]
		var when time.Time
		if at != "" {
			t, err := parseTime(at)
			if err != nil {
				return usageErrorf("incident: --at: %v", err)
			}
			when = t
		}
		var inc relman.Incident
		if action == "open" {
			if severity == "" {
				return usageErrorf("incident open: missing --severity")
			}
			sev, err := relman.ParseSeverity(severity)
			if err != nil {
				return usageErrorf("incident open: --severity %q: want critical, high, medium, low, sev1–sev4 or p1–p4", severity)
			}
			inc = relman.Incident{ID: incID, Severity: sev, Relation: relman.RelationCaused, Summary: summary, OpenedAt: when}
			if related {
				inc.Relation = relman.RelationRelated
			}
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		var r *relman.Release
		if action == "open" {
			r, err = s.m.OpenIncident(ctx, id, cl.actorValue(), inc)
		} else {
			r, err = s.m.ResolveIncident(ctx, id, cl.actorValue(), incID, when)
			if errors.Is(err, relman.ErrNotFound) {
				if _, gerr := s.m.Get(ctx, id); gerr == nil {
					return notFoundf("incident resolve: %s: no incident %q", id, incID)
				}
			}
		}
		if errors.Is(err, relman.ErrExists) {
			return refusedf("incident open: %s: incident %q is already linked", id, incID)
		}
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		if action == "open" {
			fmt.Fprintf(a.stdout, "%s: incident %s (%s, %s) linked\n", id, incID, inc.Severity, inc.Relation)
		} else {
			fmt.Fprintf(a.stdout, "%s: incident %s resolved\n", id, incID)
		}
		return nil
	}
	return c
}
