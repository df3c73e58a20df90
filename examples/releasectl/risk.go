package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/relman-dev/relman"
)

// policyNeeds says in words what the policy asks of a release of model
// at level.
func policyNeeds(p relman.ApprovalPolicy, model relman.ChangeModel, level relman.Level) string {
	ru, ok := p.RuleFor(model, level)
	switch {
	case !ok:
		return fmt.Sprintf("the policy has no rule for a %s-risk %s change", level, model)
	case ru.Forbidden:
		return fmt.Sprintf("a %s change may not be %s risk: use another change model", model, level)
	case len(ru.Requirements) == 0:
		return "no approval (pre-approved)"
	}
	parts := make([]string, len(ru.Requirements))
	for i, rq := range ru.Requirements {
		who := "anyone"
		if rq.Role != "" {
			who = rq.Role
		}
		if rq.Percent > 0 {
			parts[i] = fmt.Sprintf("%d%% of %s", rq.Percent, who)
		} else {
			parts[i] = fmt.Sprintf("%d from %s", rq.Count, who)
		}
	}
	return strings.Join(parts, " and ")
}

// approvalState says whether the approvals of r satisfy the policy now.
func approvalState(m *relman.Manager, r *relman.Release) string {
	if r.Assessment == nil {
		return "risk not assessed yet (releasectl risk assess " + r.ID + ")"
	}
	p := m.Policy()
	err := p.Check(r, m.Now())
	prefix := fmt.Sprintf("%s-risk %s change: ", r.Assessment.Level, r.Model)
	var me *relman.ApprovalsMissingError
	switch {
	case err == nil:
		return prefix + "approvals complete"
	case errors.As(err, &me) && errors.Unwrap(err) == nil:
		parts := make([]string, len(me.Missing))
		for i, mi := range me.Missing {
			parts[i] = mi.String()
		}
		return prefix + "still needs " + strings.Join(parts, " and ")
	}
	return prefix + strings.Join(strings.Fields(trimLib(err.Error())), " ")
}

func approveCmd() *command {
	var role, comment, env string
	c := &command{
		name:    "approve",
		args:    "<id>",
		summary: "record an approval of a release (what the authorize gate counts)",
		help: `
Records the actor's approval of a release, given in a role. The authorize
gate counts approvals against the approval policy for the release's
change model and assessed risk level ('releasectl risk assess' shows what
is needed). The requester and owner may not approve their own release;
an approver's new decision supersedes their earlier one. Approvals are
void when the release's scope, window or risks change afterwards.

releasectl trusts its caller about the role: a host that wraps it puts
its identity system behind the --actor and --role it passes.

  releasectl approve pay-1.2.0 --actor carl --role cab --comment "rollback rehearsed"

('releasectl fire <id> reject' turns down a proposed need; 'releasectl
reject' records an approver's rejection.)`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&role, "role", "", "the role the approval is given in (e.g. cab, change-manager)")
		fs.StringVar(&comment, "comment", "", "why")
		fs.StringVar(&env, "environment", "", "approve the rollout to this `ENVIRONMENT` only (see 'releasectl rollout')")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if env != "" {
			return approveEnvironment(ctx, a, cl, env, role, comment)
		}
		return decide(ctx, a, cl, role, comment, relman.DecisionApprove)
	}
	return c
}

func rejectCmd() *command {
	var role, reason string
	c := &command{
		name:    "reject",
		args:    "<id>",
		summary: "record an approver's rejection (blocks authorize until replanned)",
		help: `
Records the actor's rejection of a release, in a role, with a reason
(required). A rejection in force blocks the authorize gate until the
release is replanned, which voids every decision.

  releasectl reject pay-1.2.0 --actor dana --role cab --reason "no rollback rehearsal"

To turn down a proposed need instead, fire the lifecycle event:
'releasectl fire <id> reject --reason ...'.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&role, "role", "", "the role the decision is given in")
		fs.StringVar(&reason, "reason", "", "why (required)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if reason == "" {
			if err := cl.want("id"); err != nil {
				return err
			}
			return usageErrorf("reject: missing --reason")
		}
		return decide(ctx, a, cl, role, reason, relman.DecisionReject)
	}
	return c
}

func decide(ctx context.Context, a *app, cl *cmdline, role, comment string, d relman.Decision) error {
	if err := cl.want("id"); err != nil {
		return err
	}
	id := cl.args[0]
	s, err := a.open(ctx, cl)
	if err != nil {
		return err
	}
	defer s.close()
	by := cl.actorValue()
	if role != "" {
		by.Roles = append(by.Roles, role)
	}
	var r *relman.Release
	if d == relman.DecisionApprove {
		r, err = s.m.Approve(ctx, id, by, role, comment)
	} else {
		r, err = s.m.RejectApproval(ctx, id, by, role, comment)
	}
	if err != nil {
		return explain(cl, id, err)
	}
	if cl.json() {
		return writeJSON(a.stdout, r)
	}
	as := ""
	if role != "" {
		as = " as " + role
	}
	verb := "approved"
	if d == relman.DecisionReject {
		verb = "rejected"
	}
	fmt.Fprintf(a.stdout, "%s: %s by %s%s\n", id, verb, by.ID, as)
	fmt.Fprintf(a.stdout, "policy: %s\n", approvalState(s.m, r))
	return nil
}

// approveEnvironment records an approval of the release's rollout to env.
func approveEnvironment(ctx context.Context, a *app, cl *cmdline, env, role, comment string) error {
	if err := cl.want("id"); err != nil {
		return err
	}
	id := cl.args[0]
	var ro rolloutOptions
	opts, err := ro.options(a)
	if err != nil {
		return err
	}
	s, err := a.open(ctx, cl, opts...)
	if err != nil {
		return err
	}
	defer s.close()
	by := cl.actorValue()
	if role != "" {
		by.Roles = append(by.Roles, role)
	}
	r, err := s.m.ApproveEnvironment(ctx, id, by, env, role, comment)
	if err != nil {
		return explain(cl, id, err)
	}
	if cl.json() {
		return writeJSON(a.stdout, r)
	}
	fmt.Fprintf(a.stdout, "%s: rollout to %s approved by %s\n", id, env, by.ID)
	return nil
}

func riskCmd() *command {
	var rk relman.Risk
	var status string
	c := &command{
		name:    "risk",
		args:    "add|assess|list|remove <id> [risk-id]",
		summary: "keep the risk register and assess the risk level (with the reasons)",
		help: `
  risk add <id> --risk ID --title T --likelihood N --impact N [--mitigation M] ...
      adds a risk to the release's register, or replaces the one with that id
      (likelihood and impact on the 5×5 matrix; residual values after mitigation)
  risk assess <id>
      assesses the release with every assessor (the register, and a factor model:
      services touched, size, emergency, missing rollback plan or tests, failure rate)
      and records the result; prints the level, every reason, and the approvals the
      policy then requires. Assess again after the release changes: the authorize
      gate refuses a stale assessment.
  risk list <id>
      shows the register with scores, and the current assessment
  risk remove <id> <risk-id>
      removes a risk (prefer --status closed to keep its record)

  releasectl risk add pay-1.2.0 --risk acq --title "new acquirer times out" \
      --likelihood 3 --impact 4 --mitigation "keep old acquirer as fallback" --residual-likelihood 2
  releasectl risk assess pay-1.2.0`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&rk.ID, "risk", "", "add: the risk's id")
		fs.StringVar(&rk.Title, "title", "", "add: what could go wrong")
		fs.StringVar(&rk.Category, "category", "", "add: category (technical, security, …)")
		fs.IntVar(&rk.Likelihood, "likelihood", 0, "add: likelihood, 1–5")
		fs.IntVar(&rk.Impact, "impact", 0, "add: impact, 1–5")
		fs.StringVar(&rk.Mitigation, "mitigation", "", "add: what is done about it")
		fs.StringVar(&rk.Owner, "owner", "", "add: who owns the risk")
		fs.StringVar(&status, "status", "open", "add: open, mitigated, accepted or closed")
		fs.IntVar(&rk.ResidualLikelihood, "residual-likelihood", 0, "add: likelihood after mitigation")
		fs.IntVar(&rk.ResidualImpact, "residual-impact", 0, "add: impact after mitigation")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("risk: missing action: add, assess, list or remove (see 'releasectl risk --help')")
		}
		action := cl.args[0]
		cl.args = cl.args[1:]
		var err error
		switch action {
		case "add":
			err = cl.want("id")
			if err == nil && (rk.ID == "" || rk.Title == "") {
				err = usageErrorf("risk add: missing --risk or --title")
			}
		case "assess", "list":
			err = cl.want("id")
		case "remove":
			err = cl.want("id", "risk-id")
		default:
			return usageErrorf("risk: unknown action %q: want add, assess, list or remove", action)
		}
		if err != nil {
			return err
		}
		id := cl.args[0]
		s, err := a.open(ctx, cl)
		if err != nil {
			return err
		}
		defer s.close()
		var r *relman.Release
		switch action {
		case "add":
			rk.Status = relman.RiskStatus(status)
			r, err = s.m.SetRisk(ctx, id, cl.actorValue(), rk)
		case "remove":
			r, err = s.m.RemoveRisk(ctx, id, cl.actorValue(), cl.args[1])
			if errors.Is(err, relman.ErrNotFound) {
				if _, gerr := s.m.Get(ctx, id); gerr == nil {
					return notFoundf("risk remove: %s: no risk %q in the register", id, cl.args[1])
				}
			}
		case "assess":
			r, err = s.m.Assess(ctx, id, cl.actorValue())
		default:
			r, err = s.m.Get(ctx, id)
		}
		if err != nil {
			return explain(cl, id, err)
		}
		if cl.json() {
			if action == "assess" {
				return writeJSON(a.stdout, r.Assessment)
			}
			return writeJSON(a.stdout, r)
		}
		switch action {
		case "assess":
			return printAssessment(a.stdout, s.m, r)
		case "add":
			sc, lvl, _ := s.m.Matrix().RiskScore(rk)
			fmt.Fprintf(a.stdout, "%s: risk %s recorded, residual score %d (%s); assess again: releasectl risk assess %s\n", id, rk.ID, sc, lvl, id)
			return nil
		case "remove":
			fmt.Fprintf(a.stdout, "%s: risk %s removed\n", id, cl.args[1])
			return nil
		}
		if err := printRegister(a.stdout, s.m, r); err != nil {
			return err
		}
		if r.Assessment != nil {
			fmt.Fprintln(a.stdout)
			return printAssessment(a.stdout, s.m, r)
		}
		return nil
	}
	return c
}

func printRegister(w io.Writer, m *relman.Manager, r *relman.Release) error {
	if len(r.Risks) == 0 {
		fmt.Fprintf(w, "%s: the risk register is empty\n", r.ID)
		return nil
	}
	t := newTable(w, "RISK", "TITLE", "L×I", "RESIDUAL", "LEVEL", "STATUS", "OWNER", "MITIGATION")
	for _, rk := range r.Risks {
		l, i := rk.Residual()
		sc, lvl, _ := m.Matrix().RiskScore(rk)
		t.row(rk.ID, rk.Title, fmt.Sprintf("%d×%d=%d", rk.Likelihood, rk.Impact, rk.Likelihood*rk.Impact),
			fmt.Sprintf("%d×%d=%d", l, i, sc), lvl.String(), string(rk.Status), rk.Owner, rk.Mitigation)
	}
	return t.flush()
}

func printAssessment(w io.Writer, m *relman.Manager, r *relman.Release) error {
	as := r.Assessment
	if as == nil {
		fmt.Fprintf(w, "%s: not assessed\n", r.ID)
		return nil
	}
	stale := ""
	if as.Stale(r) {
		stale = " — STALE: the release changed since; assess again"
	}
	fmt.Fprintf(w, "%s: risk %s (assessed %s)%s\n", r.ID, as.Level, fmtTime(as.At), stale)
	t := newTable(w, "ASSESSOR", "LEVEL", "POINTS", "FACTOR", "WHY")
	for _, res := range as.Results {
		if len(res.Reasons) == 0 {
			t.row(res.Assessor, res.Level.String(), "", "", "nothing of note")
		}
		for _, rs := range res.Reasons {
			t.row(res.Assessor, res.Level.String(), fmt.Sprint(rs.Points), rs.Factor, rs.Explanation)
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "approvals: a %s-risk %s change needs %s\n", as.Level, r.Model, policyNeeds(m.Policy(), r.Model, as.Level))
	return nil
}
