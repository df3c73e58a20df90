package relman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
	"github.com/relman-dev/relman/store/storetest"
)

// bare hides every optional ability of a store: a Manager over it scans
// (with List and a cursor) where it would use an index.
type bare struct{ relman.Store }

// The Manager answers the same through a store's PlanIndex as by
// scanning every planned release: NextSlot (services, dependencies,
// capacity), the conflicts gate of plan, Conflicts and the iCalendar
// export, over 1,200 planned releases (more than a List page).
func TestPlanIndexAgreesWithScan(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	svc := func() string { return fmt.Sprintf("s%02d", rng.IntN(30)) }
	stages := append([]relman.Stage{relman.StageApproved, relman.StageOperating}, relman.PlannedStages...)
	for i := range 1200 {
		r := storetest.Minimal(fmt.Sprintf("r%04d", i))
		r.Stage = stages[rng.IntN(len(stages))]
		if i < 3 {
			r.Stage = relman.StagePlanned // the three the test replans
		}
		r.Services = []string{svc()}
		if rng.IntN(3) == 0 {
			r.Services = append(r.Services, svc())
		}
		switch {
		case i%4 == 0: // no team: the gate asks the index by service only
		case i%8 == 2: // a team through a task only
			r.Tasks = []relman.Task{{Name: "deploy", Team: fmt.Sprintf("t%d", rng.IntN(6)), Duration: time.Hour}}
		default:
			r.Teams = []string{fmt.Sprintf("t%d", rng.IntN(6))}
			if i%8 == 3 { // and a task of another
				r.Tasks = []relman.Task{{Name: "deploy", Team: fmt.Sprintf("t%d", rng.IntN(6)), Duration: time.Hour}}
			}
		}
		start := base.Add(time.Duration(rng.IntN(60*24)) * time.Hour / 2)
		r.Window = &relman.Span{Start: start, End: start.Add(time.Duration(1+rng.IntN(8)) * time.Hour)}
		e := r.Record(relman.AuditEntry{At: base, Actor: "olga", Action: relman.ActionCreate, To: r.Stage})
		if err := st.Create(ctx, r, e); err != nil {
			t.Fatal(err)
		}
	}
	deps := map[string][]string{"s01": {"s02"}, "s02": {"s03"}, "s10": {"s11", "s12"}}
	clock := func() time.Time { return base.Add(24 * time.Hour) }
	for _, capacity := range []int{0, 4} {
		opts := []relman.Option{relman.WithClock(clock), relman.WithDependencies(deps), relman.WithCapacity(capacity)}
		indexed, err := relman.NewManager(st, opts...)
		if err != nil {
			t.Fatal(err)
		}
		scanning, err := relman.NewManager(bare{st}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			cal, err := indexed.Calendar(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all, err := indexed.Planned(ctx)
			if err != nil {
				t.Fatal(err)
			}
			refused, found := 0, 0
			for i := range 60 {
				after := base.Add(time.Duration(rng.IntN(40*24)) * time.Hour)
				d := time.Duration(1+rng.IntN(6)) * time.Hour
				services := []string{svc()}
				if i%5 == 0 {
					services = []string{"s03"} // reached through the dependencies
				}
				horizon := []time.Duration{0, 3 * 24 * time.Hour, 20 * 24 * time.Hour}[i%3]
				a, errA := indexed.NextSlot(ctx, after, d, services, "r0007", horizon)
				b, errB := scanning.NextSlot(ctx, after, d, services, "r0007", horizon)
				if a != b || fmt.Sprint(errA) != fmt.Sprint(errB) {
					t.Errorf("NextSlot(%s, %s, %v, %s): indexed %v %v, scanning %v %v", after, d, services, horizon, a, errA, b, errB)
				}
				// The Manager searches a day, a week, then the horizon: the
				// answer is the one search over every planned release gives.
				want, errW := cal.NextSlot(after, d, services, relman.SlotOptions{Horizon: horizon, Planned: all, Exclude: "r0007",
					Capacity: capacity, Graph: relman.NewDependencyGraph(deps)})
				// (The reason a no-slot error gives may differ: it looks no
				// further than the horizon.)
				if a != want || errors.Is(errA, relman.ErrNoSlot) != errors.Is(errW, relman.ErrNoSlot) || (errA == nil) != (errW == nil) {
					t.Errorf("NextSlot(%s, %s, %v, %s) = %v %v; one search over all: %v %v", after, d, services, horizon, a, errA, want, errW)
				}
				if errA == nil {
					found++
				}
				// NextSlotFor answers the same both ways, and what it
				// proposes passes the conflicts gate of replan.
				for _, id := range []string{"r0000", "r0001", "r0002"} {
					a, errA := indexed.NextSlotFor(ctx, id, after, d, horizon)
					b, errB := scanning.NextSlotFor(ctx, id, after, d, horizon)
					if a != b || fmt.Sprint(errA) != fmt.Sprint(errB) {
						t.Errorf("NextSlotFor(%s, %s, %s, %s): indexed %v %v, scanning %v %v", id, after, d, horizon, a, errA, b, errB)
					}
					if errA != nil {
						continue
					}
					err := indexed.Check(ctx, id, relman.EventReplan, relman.Request{Actor: relman.Actor{ID: "carl"}, Window: &a})
					if errors.As(err, new(*relman.ConflictError)) {
						t.Errorf("replan %s to NextSlotFor's %v: %v", id, a, err)
					}
				}
				w := relman.Span{Start: after, End: after.Add(d)}
				req := relman.Request{Actor: relman.Actor{ID: "carl"}, Window: &w}
				for _, id := range []string{"r0000", "r0001", "r0002"} { // without a team, with one, with a task's
					errA = indexed.Check(ctx, id, relman.EventReplan, req)
					errB = scanning.Check(ctx, id, relman.EventReplan, req)
					if fmt.Sprint(errA) != fmt.Sprint(errB) {
						t.Errorf("check replan of %s to %v: indexed %v, scanning %v", id, w, errA, errB)
					}
					if errors.As(errA, new(*relman.ConflictError)) || errors.As(errA, new(*relman.GateError)) {
						refused++
					}
				}
			}
			if refused == 0 || found < 10 {
				t.Errorf("%d replans refused, %d slots found: the checks compared too little", refused, found)
			}
			ca, errA := indexed.Conflicts(ctx)
			cb, errB := scanning.Conflicts(ctx)
			if errA != nil || errB != nil || len(ca) == 0 {
				t.Fatalf("Conflicts: %d, %v, %v", len(ca), errA, errB)
			}
			if diff := cmp.Diff(cb, ca); diff != "" {
				t.Errorf("Conflicts differ (-scanning +indexed):\n%s", diff)
			}
			var ia, ib bytes.Buffer
			if err := indexed.ExportICS(ctx, &ia); err != nil {
				t.Fatal(err)
			}
			if err := scanning.ExportICS(ctx, &ib); err != nil {
				t.Fatal(err)
			}
			if ia.String() != ib.String() || ia.Len() < 1000 {
				t.Errorf("ExportICS differs: %d and %d bytes", ia.Len(), ib.Len())
			}
		})
	}
}

// A cursor keeps its release's key exactly, in any year relman keeps,
// and is refused for another order or when damaged.
func TestCursorKey(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2027, 3, 1, 9, 0, 0, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1500, 6, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)),
	} {
		q := relman.Query{}
		k, err := relman.Query{After: q.Cursor(&relman.Release{ID: "a.b-1", CreatedAt: at})}.Key()
		if err != nil || !k.Time.Equal(at) || k.ID != "a.b-1" {
			t.Errorf("cursor of %v: %+v, %v", at, k, err)
		}
	}
	c := relman.Query{}.Cursor(&relman.Release{ID: "r", CreatedAt: time.Now()})
	for _, q := range []relman.Query{{After: c, OrderBy: relman.OrderID}, {After: "!!"}, {After: "Yz"}, {After: c, Offset: 3}} {
		if err := q.Validate(); !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

// InvolvedTeams lists what HasTeam reports true for, each once, Teams
// first.
func TestInvolvedTeams(t *testing.T) {
	for _, c := range []struct {
		teams []string
		tasks []string // their teams; "" for none
		want  []string
	}{
		{nil, nil, nil},
		{[]string{"web", "ops", "web"}, nil, []string{"web", "ops"}},
		{nil, []string{"", "db", "db"}, []string{"db"}},
		{[]string{"web"}, []string{"db", "web", ""}, []string{"web", "db"}},
	} {
		r := &relman.Release{Teams: c.teams}
		for i, team := range c.tasks {
			r.Tasks = append(r.Tasks, relman.Task{Name: fmt.Sprint(i), Team: team})
		}
		got := r.InvolvedTeams()
		if !cmp.Equal(got, c.want) {
			t.Errorf("InvolvedTeams of %v with tasks of %v = %v, want %v", c.teams, c.tasks, got, c.want)
		}
		for _, team := range append(got, "nobody") {
			if r.HasTeam(team) != (team != "nobody") {
				t.Errorf("HasTeam(%q) = %v for %v", team, r.HasTeam(team), got)
			}
		}
	}
	if (*relman.Release)(nil).InvolvedTeams() != nil {
		t.Error("a nil release has teams")
	}
}
