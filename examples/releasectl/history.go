package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/relman-dev/relman"
)

// historyResult is history's JSON output.
type historyResult struct {
	ID       string              `json:"id"`
	Entries  []relman.AuditEntry `json:"entries"`
	Verified *bool               `json:"verified,omitempty"` // set with --verify
	Problem  string              `json:"problem,omitempty"`  // why it does not verify
}

func historyCmd() *command {
	var verify bool
	c := &command{
		name:    "history",
		remote:  true,
		args:    "<id>",
		summary: "show the hash-chained audit trail; --verify checks it",
		help: `
Shows every entry of a release's audit trail: who did what, when, from
which stage to which, and why. Entries are hash-chained; with --verify
the chain is checked end to end against the release's head, and an
edited, dropped, inserted or reordered entry makes the command exit 1.
With RELMAN_SIGNING_KEY set (see 'releasectl audit --help'), --verify
checks the signatures too, and that the release document is the one its
signed head names: a resealed chain or an edited release row exits 1.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.BoolVar(&verify, "verify", false, "check the hash chain; exit 1 if it does not verify")
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
		h, err := s.api.History(ctx, id)
		if err != nil {
			return explain(cl, id, err)
		}
		res := historyResult{ID: id, Entries: h}
		var verr error
		if verify {
			verr = verifyHistory(s.m, r, h)
			ok := verr == nil
			res.Verified = &ok
			if verr != nil {
				res.Problem = trimLib(verr.Error())
			}
		}
		if cl.json() {
			if res.Entries == nil {
				res.Entries = []relman.AuditEntry{}
			}
			if err := writeJSON(a.stdout, res); err != nil {
				return err
			}
		} else {
			t := newTable(a.stdout, "SEQ", "AT", "ACTOR", "ACTION", "CHANGE", "REASON", "DETAILS", "HASH")
			for _, e := range h {
				change := ""
				if e.Action == relman.ActionTransition || e.Action == relman.ActionCreate {
					change = string(e.To)
					if e.Event != "" {
						change = fmt.Sprintf("%s: %s → %s", e.Event, orDash(string(e.From)), e.To)
					}
				}
				t.row(fmt.Sprint(e.Seq), fmtTime(e.At), e.Actor, string(e.Action), change, e.Reason, fmtDetails(e.Details), shortHash(e.Hash))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if verify && verr == nil {
				fmt.Fprintf(a.stdout, "verified: %d entries, chain intact, head %s matches\n", len(h), shortHash(r.Head.Hash))
			}
		}
		if verr != nil {
			return explain(cl, id, verr)
		}
		return nil
	}
	return c
}

// verifyHistory checks h against r: the signatures too when m has keys
// (VerifySigned), else the hash chain.
func verifyHistory(m *relman.Manager, r *relman.Release, h []relman.AuditEntry) error {
	if k := m.Keyring(); len(k) > 0 {
		return relman.VerifySigned(r, h, k)
	}
	return relman.VerifyHistory(h, &r.Head)
}

func fmtDetails(d map[string]string) string {
	parts := make([]string, 0, len(d))
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, " ")
}

func lifecycleCmd() *command {
	var format string
	c := &command{
		name:    "lifecycle",
		summary: "show the stages, events and gates (table, Mermaid or DOT)",
		help: `
Shows the lifecycle releasectl runs: every event, the stages it fires
from, the stage it leads to and the gates that judge it. --format mermaid
or dot renders it as a diagram:

  releasectl lifecycle --format dot | dot -Tsvg > lifecycle.svg`,
		noStore: true,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&format, "format", "table", "table, mermaid or dot")
	}
	c.run = func(_ context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		lc := relman.DefaultLifecycle()
		type eventOut struct {
			Event relman.Event   `json:"event"`
			From  []relman.Stage `json:"from"`
			To    relman.Stage   `json:"to"`
			Gates []string       `json:"gates"`
			Doc   string         `json:"doc"`
		}
		var events []eventOut
		for _, e := range lc.Events() {
			g := lc.Gates(e.Name)
			if g == nil {
				g = []string{}
			}
			events = append(events, eventOut{e.Name, e.From, e.To, g, e.Doc})
		}
		switch {
		case format == "mermaid":
			fmt.Fprint(a.stdout, lc.Mermaid())
			return nil
		case format == "dot":
			fmt.Fprint(a.stdout, lc.DOT())
			return nil
		case format != "table":
			return usageErrorf("lifecycle: --format must be table, mermaid or dot, not %q", format)
		case cl.json():
			var terminal []relman.Stage
			for _, st := range lc.Stages() {
				if lc.Terminal(st) {
					terminal = append(terminal, st)
				}
			}
			return writeJSON(a.stdout, map[string]any{
				"initial": lc.Initial(), "stages": lc.Stages(), "terminal": terminal, "events": events})
		}
		t := newTable(a.stdout, "EVENT", "FROM", "TO", "GATES", "MEANING")
		for _, e := range events {
			t.row(string(e.Event), joinStages(e.From), string(e.To), strings.Join(e.Gates, ", "), e.Doc)
		}
		return t.flush()
	}
	return c
}
