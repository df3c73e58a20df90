package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// releaseFlags are the flags that set a release's data: create uses
// them all, edit all but --id.
type releaseFlags struct {
	file                                              string
	id, title, version, kind, model, requester, owner string
	problem, feasibility, notes, rollback             string
	value, cost                                       float64
	teams, services, suites, tasks                    stringsFlag
	labels                                            mapFlag
}

func (rf *releaseFlags) bind(fs *flag.FlagSet, create bool) {
	rf.labels = mapFlag{}
	what := "the release"
	if !create {
		what = "fields to change"
	}
	fs.StringVar(&rf.file, "f", "", "read "+what+" from this JSON `file` (- for standard input)")
	if create {
		fs.StringVar(&rf.id, "id", "", "release id: letters, digits, '.', '_', '-'")
		fs.StringVar(&rf.kind, "kind", "minor", "major, minor, patch or emergency")
		fs.StringVar(&rf.model, "model", "normal", "change model: standard, normal or emergency")
		fs.StringVar(&rf.requester, "requester", "", "who asked for it (default: the actor)")
		fs.StringVar(&rf.owner, "owner", "", "who owns it (default: the actor)")
	} else {
		fs.StringVar(&rf.kind, "kind", "", "major, minor, patch or emergency")
		fs.StringVar(&rf.model, "model", "", "change model: standard, normal or emergency")
		fs.StringVar(&rf.requester, "requester", "", "who asked for it")
		fs.StringVar(&rf.owner, "owner", "", "who owns it")
	}
	fs.StringVar(&rf.title, "title", "", "title")
	fs.StringVar(&rf.version, "version", "", "semantic version, e.g. 2.4.0")
	list := "(repeatable, or comma-separated)"
	if !create {
		list = "(repeatable, or comma-separated; replaces the list)"
	}
	fs.Var(&rf.teams, "team", "team involved "+list)
	fs.Var(&rf.services, "service", "service touched "+list)
	fs.StringVar(&rf.problem, "problem", "", "business case: the problem it solves")
	fs.Float64Var(&rf.value, "value", 0, "business case: expected value")
	fs.Float64Var(&rf.cost, "cost", 0, "business case: cost")
	fs.StringVar(&rf.feasibility, "feasibility", "", "business case: high, medium, low or infeasible")
	fs.StringVar(&rf.notes, "notes", "", "business case: notes")
	fs.StringVar(&rf.rollback, "rollback", "", "rollback plan")
	fs.Var(&rf.suites, "suite", "required test suite "+list)
	fs.Var(&rf.tasks, "task", "task as `NAME@TEAM:DURATION`, team and duration optional; replaces a task of that name (repeatable)")
	fs.Var(rf.labels, "label", "label as `KEY=VALUE`; KEY= removes it (repeatable)")
}

// readFile decodes the -f file, if any, over r: fields it names replace
// r's, others stay.
func (rf *releaseFlags) readFile(a *app, cl *cmdline, r *relman.Release) error {
	if rf.file == "" {
		return nil
	}
	data, err := a.readInput(rf.file)
	if err != nil {
		return usageErrorf("%s: %v", cl.cmd.name, err)
	}
	name := rf.file
	if name == "-" {
		name = "standard input"
	}
	if err := decodeStrict(data, r); err != nil {
		return usageErrorf("%s: %s: %v", cl.cmd.name, name, err)
	}
	return nil
}

// apply sets the fields whose flags were given on the command line.
func (rf *releaseFlags) apply(cl *cmdline, r *relman.Release) error {
	set := func(name string, fn func()) {
		if cl.set(name) {
			fn()
		}
	}
	set("id", func() { r.ID = rf.id })
	set("title", func() { r.Title = rf.title })
	set("version", func() { r.Version = rf.version })
	set("kind", func() { r.Kind = relman.Kind(rf.kind) })
	set("model", func() { r.Model = relman.ChangeModel(rf.model) })
	set("requester", func() { r.Requester = rf.requester })
	set("owner", func() { r.Owner = rf.owner })
	set("team", func() { r.Teams = rf.teams })
	set("service", func() { r.Services = rf.services })
	set("problem", func() { r.Case.Problem = rf.problem })
	set("value", func() { r.Case.ExpectedValue = rf.value })
	set("cost", func() { r.Case.Cost = rf.cost })
	set("feasibility", func() { r.Case.Feasibility = relman.Feasibility(rf.feasibility) })
	set("notes", func() { r.Case.Notes = rf.notes })
	set("rollback", func() { r.RollbackPlan = rf.rollback })
	set("suite", func() { r.RequiredSuites = rf.suites })
	for k, v := range rf.labels {
		if r.Labels == nil {
			r.Labels = map[string]string{}
		}
		if v == "" {
			delete(r.Labels, k)
		} else {
			r.Labels[k] = v
		}
	}
	for _, t := range rf.tasks {
		task, err := parseTask(t)
		if err != nil {
			return usageErrorf("%s: --task: %v", cl.cmd.name, err)
		}
		if i := slices.IndexFunc(r.Tasks, func(x relman.Task) bool { return x.Name == task.Name }); i >= 0 {
			r.Tasks[i] = task
		} else {
			r.Tasks = append(r.Tasks, task)
		}
	}
	return nil
}

func createCmd() *command {
	var rf releaseFlags
	c := &command{
		name:    "create",
		remote:  true,
		summary: "create a release from flags or a JSON file",
		help: `
Creates a release in the first stage of the lifecycle (proposed). Give its
fields as flags, or as a JSON object in a file (-f FILE, or -f - for
standard input) in the library's JSON shape; flags given next to -f
override the file's fields. Unknown JSON fields are refused, so typos
do not pass silently.

The requester and owner default to the actor. The approve gate will want
a complete business case: --problem, --value, --cost and --feasibility.

  releasectl create --id pay-1.2.0 --title "Card payments" --version 1.2.0 \
      --service payments --team pay --problem "cards declined at peak" \
      --value 80000 --cost 20000 --feasibility high --suite unit --suite e2e \
      --task "switch acquirer@pay:4h" --rollback "redeploy 1.1.4"
  releasectl create -f release.json`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) { rf.bind(fs, true) }
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		r := &relman.Release{}
		if rf.file == "" && (rf.id == "" || rf.title == "" || rf.version == "") {
			var missing []string
			for _, f := range []struct{ name, v string }{{"id", rf.id}, {"title", rf.title}, {"version", rf.version}} {
				if f.v == "" {
					missing = append(missing, "--"+f.name)
				}
			}
			return usageErrorf("create: missing %s (or give -f FILE)", strings.Join(missing, ", "))
		}
		if err := rf.readFile(a, cl, r); err != nil {
			return err
		}
		if err := rf.apply(cl, r); err != nil {
			return err
		}
		if r.Kind == "" {
			r.Kind = relman.Kind(rf.kind)
		}
		if r.Model == "" {
			r.Model = relman.ChangeModel(rf.model)
		}
		if r.Requester == "" {
			r.Requester = cl.actor
		}
		if r.Owner == "" {
			r.Owner = cl.actor
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		got, err := s.api.Create(ctx, r, cl.actorValue())
		if err != nil {
			return explain(cl, r.ID, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, got)
		}
		fmt.Fprintf(a.stdout, "created %s (%s); next: %s\n", got.ID, got.Stage, nextEvents(s.api.Lifecycle(), got.Stage))
		return nil
	}
	return c
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, and locates syntax errors by line and column.
func decodeStrict(data []byte, v any) error {
	data = readDurations(data, reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return errors.New("unexpected data after the JSON object")
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty input, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of JSON input")
	case errors.As(err, &se):
		line, col := position(data, se.Offset-1) // Offset is just past the bad byte
		return fmt.Errorf("line %d, column %d: malformed JSON: %v", line, col, se)
	case errors.As(err, &te):
		line, col := position(data, te.Offset-1)
		return fmt.Errorf("line %d, column %d: field %q: %s is not a %s", line, col, te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("malformed JSON: %v", err)
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// parseTask reads NAME@TEAM:DURATION; team and duration are optional.
func parseTask(s string) (relman.Task, error) {
	var t relman.Task
	rest := s
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		d, err := time.ParseDuration(rest[i+1:])
		if err != nil {
			return t, fmt.Errorf("%q: bad duration %q (want e.g. 4h or 90m)", s, rest[i+1:])
		}
		t.Duration = d
		rest = rest[:i]
	}
	t.Name, t.Team, _ = strings.Cut(rest, "@")
	t.Name, t.Team = strings.TrimSpace(t.Name), strings.TrimSpace(t.Team)
	if t.Name == "" {
		return t, fmt.Errorf("%q: missing task name", s)
	}
	return t, nil
}

// nextEvents lists the events that may fire from st, with their gates.
func nextEvents(lc *relman.Lifecycle, st relman.Stage) string {
	evs := lc.Available(st)
	if len(evs) == 0 {
		return "none (terminal stage)"
	}
	parts := make([]string, len(evs))
	for i, ev := range evs {
		parts[i] = string(ev)
		if g := lc.Gates(ev); len(g) > 0 {
			parts[i] += " (" + strings.Join(g, ", ") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func listCmd() *command {
	var (
		stages        stringsFlag
		service, team string
		kind, order   string
		limit, offset int
		desc          bool
	)
	c := &command{
		name:    "list",
		remote:  true,
		summary: "list releases, filtered by stage, service, team or kind",
		help: `
Lists releases, oldest first unless --order or --desc say otherwise.
Filters combine: a release must match all of them (any of the stages).

  releasectl list --stage planned,building --service payments
  releasectl list --team billing -o json`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.Var(&stages, "stage", "only releases in this stage (repeatable, or comma-separated)")
		fs.StringVar(&service, "service", "", "only releases touching this service")
		fs.StringVar(&team, "team", "", "only releases involving this team")
		fs.StringVar(&kind, "kind", "", "only releases of this kind: major, minor, patch, emergency")
		fs.StringVar(&order, "order", "created_at", "sort by created_at, updated_at or id")
		fs.BoolVar(&desc, "desc", false, "newest (or last) first")
		fs.IntVar(&limit, "limit", 100, fmt.Sprintf("at most this many (1–%d)", relman.MaxPage))
		fs.IntVar(&offset, "offset", 0, "skip this many")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		lc := relman.DefaultLifecycle()
		q := relman.Query{Service: service, Team: team, Kind: relman.Kind(kind), OrderBy: relman.Order(order),
			Desc: desc, Limit: limit, Offset: offset}
		for _, st := range stages {
			if !lc.IsStage(relman.Stage(st)) {
				return usageErrorf("list: unknown stage %q (stages: %s)", st, joinStages(lc.Stages()))
			}
			q.Stages = append(q.Stages, relman.Stage(st))
		}
		if limit < 1 || limit > relman.MaxPage {
			return usageErrorf("list: --limit must be between 1 and %d", relman.MaxPage)
		}
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		rs, err := s.api.List(ctx, q)
		if err != nil {
			return explain(cl, "", err)
		}
		if cl.json() {
			if rs == nil {
				rs = []*relman.Release{}
			}
			return writeJSON(a.stdout, rs)
		}
		if len(rs) == 0 {
			fmt.Fprintln(a.stdout, "no releases")
			return nil
		}
		t := newTable(a.stdout, "ID", "STAGE", "VERSION", "KIND", "SERVICES", "WINDOW", "OWNER", "TITLE")
		for _, r := range rs {
			t.row(r.ID, string(r.Stage), r.Version, string(r.Kind), strings.Join(r.Services, ","), fmtSpan(r.Window), r.Owner, r.Title)
		}
		return t.flush()
	}
	return c
}

func joinStages(sts []relman.Stage) string {
	parts := make([]string, len(sts))
	for i, s := range sts {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

func showCmd() *command {
	c := &command{
		name:    "show",
		remote:  true,
		args:    "<id>",
		summary: "show one release and the events it may take next",
		help: `
Shows a release: its data, its evidence (test results, approvals, review)
and the events it may take next, each with the gates that will judge it.`,
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id"); err != nil {
			return err
		}
		id := cl.args[0]
		s, r, err := a.openRelease(ctx, cl, id)
		if err != nil {
			return err
		}
		defer s.close()
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		return printRelease(a.stdout, s.api, r)
	}
	return c
}

// assessmentLine sums up a release's risk assessment.
func assessmentLine(r *relman.Release) string {
	as := r.Assessment
	if as == nil {
		return "not assessed"
	}
	line := fmt.Sprintf("%s risk, assessed %s", as.Level, fmtTime(as.At))
	if as.Stale(r) {
		line += " (stale: the release changed since)"
	}
	return line
}

// printRelease writes a release for people.
func printRelease(w io.Writer, api backend, r *relman.Release) error {
	lc := api.Lifecycle()
	t := newTable(w, "ID", r.ID)
	t.row("Title", r.Title)
	t.row("Version", fmt.Sprintf("%s (%s, %s change)", r.Version, r.Kind, r.Model))
	t.row("Stage", fmt.Sprintf("%s since %s", r.Stage, fmtTime(r.EnteredAt)))
	t.row("Next", nextEvents(lc, r.Stage))
	t.row("Owner", fmt.Sprintf("%s (requested by %s)", r.Owner, r.Requester))
	t.row("Teams", strings.Join(r.Teams, ", "))
	t.row("Services", strings.Join(r.Services, ", "))
	t.row("Window", fmtSpan(r.Window))
	c := r.Case
	t.row("Business case", fmt.Sprintf("%s; value %s, cost %s, feasibility %s",
		orDash(c.Problem), fmtMoney(c.ExpectedValue), fmtMoney(c.Cost), orDash(string(c.Feasibility))))
	t.row("Rollback plan", r.RollbackPlan)
	t.row("Required suites", strings.Join(r.RequiredSuites, ", "))
	for _, task := range r.Tasks {
		d := ""
		if task.Duration > 0 {
			d = ", " + task.Duration.String()
		}
		t.row("Task", fmt.Sprintf("%s (%s%s)", task.Name, orDash(task.Team), d))
	}
	for _, tr := range r.TestResults {
		verdict := "passed"
		if !tr.Passed {
			verdict = "FAILED"
		}
		line := fmt.Sprintf("%s %s at %s by %s", tr.Suite, verdict, fmtTime(tr.At), orDash(tr.By))
		if tr.Detail != "" {
			line += ": " + tr.Detail
		}
		t.row("Test", line)
	}
	for _, ap := range r.Approvals {
		line := fmt.Sprintf("%s by %s at %s", ap.Decision, ap.Approver, fmtTime(ap.At))
		if ap.Role != "" {
			line += " as " + ap.Role
		}
		if ap.Void {
			line += " (void: " + ap.VoidReason + ")"
		}
		t.row("Approval", line)
	}
	for _, rk := range r.Risks {
		l, i := rk.Residual()
		t.row("Risk", fmt.Sprintf("%s: %s (%d×%d, %s)", rk.ID, rk.Title, l, i, rk.Status))
	}
	t.row("Assessment", assessmentLine(r))
	if m, ok := api.(*relman.Manager); ok && !lc.Terminal(r.Stage) { // a server's policy is its own
		t.row("Policy", approvalState(m, r))
	}
	if r.Review != nil {
		t.row("Review", fmt.Sprintf("%s by %s: %s", r.Review.Outcome, orDash(r.Review.By), orDash(r.Review.Summary)))
	}
	for _, inc := range r.Incidents {
		state := "open"
		if inc.ResolvedAt != nil {
			state = "resolved " + fmtTime(*inc.ResolvedAt)
		}
		t.row("Incident", fmt.Sprintf("%s (%s, %s) opened %s, %s: %s", inc.ID, inc.Severity, inc.Relation, fmtTime(inc.OpenedAt), state, orDash(inc.Summary)))
	}
	if s := r.FeedbackSummary; s != nil && s.Count > 0 {
		t.row("Feedback", fmt.Sprintf("%d rating(s), mean %.1f/5, last %s", s.Count, s.Mean(), fmtTime(s.Last)))
	} else if n := len(r.Feedback); n > 0 { // written before summaries
		sum := 0
		for _, f := range r.Feedback {
			sum += f.Rating
		}
		t.row("Feedback", fmt.Sprintf("%d rating(s), mean %.1f/5", n, float64(sum)/float64(n)))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		t.row("Label", k+"="+r.Labels[k])
	}
	t.row("Revision", fmt.Sprintf("%d; history %d entries, head %s", r.Revision, r.Head.Seq, shortHash(r.Head.Hash)))
	t.row("Created", fmtTime(r.CreatedAt))
	t.row("Updated", fmtTime(r.UpdatedAt))
	return t.flush()
}

func editCmd() *command {
	var rf releaseFlags
	var reason string
	c := &command{
		name:    "edit",
		args:    "<id>",
		summary: "change a release's data (business case, tasks, rollback plan, …)",
		help: `
Changes a release's data without moving it: the fields whose flags are
given, or those named in a JSON file (-f FILE, - for standard input),
which is decoded over the stored release. The change is recorded in the
audit trail with the names of the fields that changed. The stage,
revision, history and timestamps belong to the library and cannot be
edited; releases in a terminal stage cannot be edited at all.

  releasectl edit pay-1.2.0 --cost 20000 --feasibility high --reason "estimate done"
  releasectl edit pay-1.2.0 --task "migrate PDF store@platform:2h"
  echo '{"rollback_plan": "redeploy 1.1.4"}' | releasectl edit pay-1.2.0 -f -`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		rf.bind(fs, false)
		fs.StringVar(&reason, "reason", "", "why (goes into the audit trail)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want("id"); err != nil {
			return err
		}
		id := cl.args[0]
		var data []byte
		if rf.file != "" {
			var err error
			if data, err = a.readInput(rf.file); err != nil {
				return usageErrorf("edit: %v", err)
			}
		}
		s, before, err := a.openRelease(ctx, cl, id)
		if err != nil {
			return err
		}
		defer s.close()
		r, err := s.m.Edit(ctx, id, cl.actorValue(), reason, func(r *relman.Release) error {
			if data != nil {
				if err := decodeStrict(data, r); err != nil {
					name := rf.file
					if name == "-" {
						name = "standard input"
					}
					return usageErrorf("edit: %s: %v", name, err)
				}
			}
			return rf.apply(cl, r)
		})
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return explain(cl, id, err)
		}
		if cl.json() {
			return writeJSON(a.stdout, r)
		}
		if r.Revision == before.Revision {
			fmt.Fprintf(a.stdout, "%s: nothing changed\n", id)
			return nil
		}
		h, err := s.m.History(ctx, id)
		if err != nil {
			return explain(cl, id, err)
		}
		fmt.Fprintf(a.stdout, "%s: changed %s\n", id, strings.ReplaceAll(h[len(h)-1].Details["fields"], ",", ", "))
		return nil
	}
	return c
}
